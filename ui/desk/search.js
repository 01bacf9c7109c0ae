// The search form: its selects filled with names (areas of the caller's jurisdiction,
// matters, states, sources, urgencies), read into GET /api/cases parameters.

import { $, el } from '../common/dom.js';
import { nameOf, t } from '../common/i18n.js';
import { areaPrefix } from './lookups.js';

const STATES = ['registered', 'dispatched', 'accepted', 'in_progress', 'feedback', 'verified', 'deferred',
  'closed', 'evaluated', 'merged', 'cancelled'];
const SOURCES = ['video', 'iot', 'citizen', 'worker', 'emergency'];
const URGENCIES = ['immediate', 'urgent', 'routine'];

const option = (value, text) => el('option', { value }, text);

export class SearchForm {
  constructor(form, { lookups, me, onSearch }) {
    this.form = form;
    this.lookups = lookups;
    this.me = me;
    this.onSearch = onSearch;
    $('f-state').append(option('open', t('desk.state.open')), ...STATES.map((s) => option(s, nameOf('state', s))));
    $('f-source').append(...SOURCES.map((s) => option(s, nameOf('source', s))));
    $('f-urgency').append(...URGENCIES.map((u) => option(u, nameOf('urgency', u))));
    $('f-state').value = 'open';
    form.addEventListener('submit', (ev) => { ev.preventDefault(); this.onSearch(); });
    form.addEventListener('reset', () => setTimeout(() => {
      $('f-state').value = 'open';
      this._streets('');
      this.onSearch();
    }));
    $('f-area').addEventListener('change', () => this._streets($('f-area').value));
    this.ready = Promise.all([this._matters(), this._areas()]);
  }

  async _matters() {
    await this.lookups.ready;
    $('f-matter').append(...this.lookups.matters.map((m) => option(m.code, m.name)));
  }

  /** The first select: the areas right under the caller's jurisdiction (the districts, for the city). */
  async _areas() {
    const top = this.me.jurisdiction ? this.me.jurisdiction.padEnd(15, '0') : '';
    const areas = await this.lookups.areasUnder(top);
    $('f-area').append(...areas.map((a) => option(a.code, a.name)));
  }

  /** The second select: the areas under the chosen one. */
  async _streets(code) {
    const select = $('f-street');
    select.replaceChildren(option('', t('desk.any')));
    select.disabled = !code;
    if (!code) return;
    const areas = await this.lookups.areasUnder(code);
    if ($('f-area').value !== code) return; // chosen again meanwhile
    select.append(...areas.map((a) => option(a.code, a.name)));
  }

  /** Filters given in the address (`/desk#grid=440106001&since=…&until=…&matter=…&source=…`,
   *  the statistics page's links) put into the form; whether there were any. A list opened
   *  that way shows every state, unless the address names one. */
  async fromHash(hash) {
    const given = new URLSearchParams(hash.replace(/^#/, ''));
    const keys = ['grid', 'since', 'until', 'matter', 'source', 'state', 'urgency', 'q'];
    if (!keys.some((k) => given.get(k))) return false;
    await this.ready;
    $('f-state').value = '';
    for (const [key, id] of [['since', 'f-since'], ['until', 'f-until'], ['matter', 'f-matter'], ['source', 'f-source'],
      ['state', 'f-state'], ['urgency', 'f-urgency'], ['q', 'f-q']]) {
      if (given.get(key)) $(id).value = given.get(key);
    }
    const grid = given.get('grid');
    if (grid && /^\d{6,15}$/.test(grid)) await this._choose(grid);
    return true;
  }

  /** The two area selects set to the area of a code prefix; one deeper than the second
   *  select's areas is added to it by name. */
  async _choose(prefix) {
    const within = (select) => [...$(select).options].find((o) => o.value && prefix.startsWith(areaPrefix(o.value)));
    const top = within('f-area');
    if (!top) return;
    $('f-area').value = top.value;
    if (areaPrefix(top.value) === prefix) return;
    await this._streets(top.value);
    let second = within('f-street');
    if (second && areaPrefix(second.value) !== prefix) {
      const code = prefix.padEnd(15, '0');
      const area = await this.lookups.areaNamed(code);
      second = option(code, area || code);
      $('f-street').append(second);
    }
    if (second) $('f-street').value = second.value;
  }

  /** The filters as query parameters (empty ones left out). */
  params() {
    const value = (id) => $(id).value.trim();
    const out = {};
    const area = value('f-street') || value('f-area');
    if (area) out.grid = areaPrefix(area);
    for (const [key, id] of [['id', 'f-id'], ['matter', 'f-matter'], ['state', 'f-state'], ['source', 'f-source'],
      ['urgency', 'f-urgency'], ['worker', 'f-worker'], ['q', 'f-q'], ['since', 'f-since'], ['until', 'f-until'],
      ['order', 'f-order']]) {
      if (value(id)) out[key] = value(id);
    }
    return out;
  }
}
