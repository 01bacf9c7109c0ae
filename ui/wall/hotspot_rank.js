// 热点 on the wall, ranked 按数量 (reports in the last hour) or 按人口 (per 1,000 residents,
// GET /api/hotspots?per=1000: the base data's residents of each hot area). The map outlines
// every hot area either way; this list over the map names the first few with the figure the
// ranking is by. An area with no residents recorded says so instead of a rate. The choice is
// kept in localStorage `cc.wall.hotspots`.

import { el } from '../common/dom.js';
import { locale, t } from '../common/i18n.js';

const KEY = 'cc.wall.hotspots';
const SHOWN = 5;
const rates = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });

function stored() {
  try { return localStorage.getItem(KEY) === 'population'; } catch { return false; }
}

export class HotspotRank {
  /** Buttons in the map panel's head, the list over the map; `onChange` reloads the hotspots. */
  constructor(panel, onChange) {
    document.head.append(el('link', { rel: 'stylesheet', href: '/ui/wall/hotspot_rank.css' }));
    this.byPopulation = stored();
    this.buttons = ['count', 'population'].map((mode) => {
      const button = el('button', { type: 'button', class: 'btn hot-mode', dataset: { mode } },
        t(mode === 'count' ? 'wall.hot.by_count' : 'wall.hot.by_population'));
      button.addEventListener('click', () => this.choose(mode === 'population', onChange));
      return button;
    });
    const group = el('div', { class: 'hot-toggle', role: 'group', 'aria-label': t('wall.hot.mode') }, this.buttons);
    const head = panel.querySelector('.panel-head');
    head.insertBefore(group, head.querySelector('#map-home'));
    this.list = el('ol', { class: 'hot-rank', id: 'hot-rank', 'aria-label': t('wall.hot.title') });
    panel.querySelector('.map-body').append(this.list);
    this.mark();
  }

  get path() {
    return this.byPopulation ? '/api/hotspots?per=1000' : '/api/hotspots';
  }

  choose(byPopulation, onChange) {
    if (byPopulation === this.byPopulation) return;
    this.byPopulation = byPopulation;
    try { localStorage.setItem(KEY, byPopulation ? 'population' : 'count'); } catch { /* not kept */ }
    this.mark();
    onChange();
  }

  mark() {
    for (const b of this.buttons) b.setAttribute('aria-pressed', String((b.dataset.mode === 'population') === this.byPopulation));
    this.list.dataset.mode = this.byPopulation ? 'population' : 'count';
  }

  figure(item) {
    if (!this.byPopulation) return t('wall.hot.count', { n: item.recent });
    if (item.rate == null) return t('wall.hot.no_residents', { n: item.recent });
    return t('wall.hot.rate', { rate: rates.format(item.rate) });
  }

  /** The first SHOWN of an /api/hotspots answer, in the server's order (per=1000: by rate). */
  show(page) {
    const items = ((page && page.items) || []).slice(0, SHOWN);
    const name = (i) => (i.name ? el('span', { class: 'hot-name' }, i.name)
      : el('span', { class: 'hot-name code', translate: 'no' }, i.code));
    this.list.replaceChildren(...(items.length
      ? items.map((i) => el('li', { dataset: { code: i.code } }, name(i), el('span', { class: 'hot-figure' }, this.figure(i))))
      : [el('li', { class: 'muted' }, t('wall.hot.none'))]));
    this.list.dataset.loaded = this.byPopulation ? 'population' : 'count';
  }
}
