// The statistics page's tables: child areas (a row clicked drills into it), matters (top N,
// with a bar) and top recurring spots. Each sorts by any column (a header clicked; again: the
// other way) and links every figure's row to the cases behind it (`cases_url`: the desk).

import { el } from '../common/dom.js';
import { matterClassName, matterName, t } from '../common/i18n.js';
import { sameOriginPath } from '../common/live.js';
import { fmtCount, fmtRate } from './metrics.js';

/** A link to the cases behind a figure (the server's `cases_url`), or nothing. */
export function casesLink(url, text = t('stats.cases_link')) {
  const href = sameOriginPath(url);
  return href ? el('a', { class: 'cases-link', href }, text) : null;
}

/** A table whose columns sort; `columns`: [{key, label, num?, cell(row) → Node|string, sort?(row)}]. */
export class SortTable {
  constructor(table, columns, { sortKey, onRow = null, onSort = null, rowKey = (r) => r.code, empty = '' }) {
    Object.assign(this, { table, columns, onRow, onSort, rowKey, empty, sortKey, descending: true, rows: [] });
    this.head = el('tr', {}, columns.map((c) => el('th', { scope: 'col', class: c.num ? 'num' : null, dataset: { col: c.key } },
      c.sortable === false ? c.label
        : el('button', { class: 'sort', type: 'button', onclick: () => this.sortBy(c.key) }, c.label))));
    this.body = el('tbody');
    table.replaceChildren(el('thead', {}, this.head), this.body);
  }

  /** Sorts by column `key`: most first, or the other way when it was sorted by it already. */
  sortBy(key, descending = key === this.sortKey ? !this.descending : true) {
    this.descending = descending;
    this.sortKey = key;
    this.render();
    if (this.onSort) this.onSort(key);
  }

  show(rows) {
    this.rows = rows;
    this.render();
  }

  /** The rows in the order shown. */
  sorted() {
    const col = this.columns.find((c) => c.key === this.sortKey) || this.columns[0];
    const value = col.sort || ((r) => r[col.key]);
    const sign = this.descending ? -1 : 1;
    return this.rows.slice().sort((a, b) => {
      const x = value(a);
      const y = value(b);
      if (x == null || y == null) return x == null ? (y == null ? 0 : 1) : -1;  // blanks last either way
      return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), 'zh-CN')) * sign;
    });
  }

  render() {
    for (const th of this.head.children) {
      const on = th.dataset.col === this.sortKey;
      th.setAttribute('aria-sort', on ? (this.descending ? 'descending' : 'ascending') : 'none');
    }
    const rows = this.sorted().map((r) => this.row(r));
    if (!rows.length) rows.push(el('tr', { class: 'empty' }, el('td', { colspan: this.columns.length }, this.empty)));
    this.body.replaceChildren(...rows);
  }

  row(r) {
    const tr = el('tr', { dataset: { code: this.rowKey(r) } },
      this.columns.map((c) => el('td', { class: c.num ? 'num' : null, dataset: { col: c.key } }, c.cell(r))));
    if (this.onRow) {
      tr.classList.add('pick');
      tr.tabIndex = 0;
      tr.addEventListener('click', (ev) => { if (!ev.target.closest('a')) this.onRow(r); });
      tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') this.onRow(r); });
    }
    return tr;
  }
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
