// The summary tiles: 案件数, 结案数, 按期结案率, 结案率, 返工率, 平均办结时长, each with its
// change against the same days last year (↑↓, green when better, red when worse). Each tile
// keeps the API's number in data-value (the browser test compares it with the API).

import { el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { METRICS, TILE_KEYS, change } from './metrics.js';
import { casesLink } from './tables.js';

/** `casesUrl`: the desk's list of the cases counted (the 案件数 tile links there), or null. */
export function showTiles(box, summary, casesUrl) {
  const now = summary.current || {};
  const before = summary.last_year || {};
  box.replaceChildren(...TILE_KEYS.map((key) => {
    const delta = change(key, now[key], before[key]);
    const value = now[key];
    return el('div', { class: 'tile', dataset: { key, value: value == null ? '' : String(value) } },
      el('span', { class: 'tile-name' }, t(`stats.tile.${key}`)),
      el('strong', { class: 'tile-value num' }, METRICS[key].format(value)),
      el('span', { class: 'tile-change', dataset: { direction: delta.direction, tone: delta.tone },
        title: t('stats.tile.last_year', { v: METRICS[key].format(before[key]) }) },
      el('span', { class: 'tile-vs' }, t('stats.tile.vs')), ' ', delta.text),
      key === 'cases' ? casesLink(casesUrl) : null);
  }));
}
