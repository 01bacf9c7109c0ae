// The search form: its selects filled with names (areas of the caller's jurisdiction,
// matters, states, sources, urgencies), read into GET /api/cases parameters.

import { $, el } from '../common/dom.js';
import { nameOf, t } from '../common/i18n.js';
import { areaPrefix } from './lookups.js';

const STATES = ['registered', 'dispatched', 'accepted', 'in_progress', 'feedback', 'verified', 'deferred',
  'closed', 'evaluated', 'merged', 'cancelled'];
const SOURCES = ['video', 'citizen', 'worker', 'emergency'];
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
