// The statistics page's tables: child areas (a row clicked drills into it), matters (top N,
// with a bar) and top recurring spots. Each sorts by any column (a header clicked; again: the
// other way) and links every figure's row to the cases behind it (`cases_url`: the desk).

import { el } from '../common/dom.js';
import { matterClassName, matterName, t } from '../common/i18n.js';
import { sameOriginPath } from '../common/live.js';
import { fmtCount, fmtRate } from './metrics.js';
import { SortTable } from '../common/sort_table.js';

/** A link to the cases behind a figure (the server's `cases_url`), or nothing. */
export function casesLink(url, text = t('stats.cases_link')) {
  const href = sameOriginPath(url);
  return href ? el('a', { class: 'cases-link', href }, text) : null;
}


const num = (key, format) => ({ key, num: true, label: t(`stats.col.${key}`), cell: (r) => format(r[key]) });

export function areaTable(table, onPick, onSort) {
  return new SortTable(table, [
    { key: 'name', label: t('stats.col.area'), cell: (r) => el('span', { class: 'area-name' }, r.name), sort: (r) => r.name },
    num('cases', fmtCount), num('closed', fmtCount), num('on_time_rate', fmtRate), num('closure_rate', fmtRate),
    num('rework_rate', fmtRate),
    { key: 'link', label: t('stats.col.cases'), sortable: false, cell: (r) => casesLink(r.cases_url) },
  ], { sortKey: 'cases', onRow: onPick, onSort, empty: t('stats.no_children') });
}

/** A count with a bar as long as its share of the largest (CSSOM width: the CSP allows it). */
function countBar(n, most) {
  const bar = el('span', { class: 'bar' });
  bar.style.width = `${most > 0 ? (100 * n) / most : 0}%`;
  return el('span', { class: 'count-bar' }, el('span', { class: 'bar-track' }, bar), el('span', { class: 'num' }, fmtCount(n)));
}

export function matterTable(table) {
  const tableRef = {};
  const most = () => Math.max(0, ...tableRef.t.rows.map((r) => r.cases || 0));
  tableRef.t = new SortTable(table, [
    { key: 'name', label: t('stats.col.matter'), cell: (r) => matterName(r.code, r.name), sort: (r) => r.name },
    { key: 'class', label: t('stats.col.class'), cell: (r) => matterClassName(r.code, r.class_name), sort: (r) => r.class_name },
    { key: 'cases', num: true, label: t('stats.col.cases_n'), cell: (r) => countBar(r.cases, most()) },
    num('closed', fmtCount), num('on_time_rate', fmtRate),
    { key: 'link', label: t('stats.col.cases'), sortable: false, cell: (r) => casesLink(r.cases_url) },
  ], { sortKey: 'cases', empty: t('stats.no_rows') });
  return tableRef.t;
}

export function hotspotTable(table, placeName) {
  return new SortTable(table, [
    { key: 'rank', label: t('stats.col.rank'), num: true, cell: (r) => String(r.rank) },
    { key: 'place', label: t('stats.col.place'), cell: (r) => placeName(r), sort: (r) => r.rank },
    { key: 'top_matter', label: t('stats.col.top_matter'), cell: (r) => matterName(r.top_matter, r.top_matter_name),
      sort: (r) => r.top_matter_name },
    num('cases', fmtCount),
    { key: 'link', label: t('stats.col.cases'), sortable: false, cell: (r) => casesLink(r.cases_url) },
  ], { sortKey: 'cases', rowKey: (r) => `${r.lon},${r.lat}`, empty: t('stats.no_rows') });
}
