// A table whose columns sort (a header clicked; again: the other way), blanks last either way,
// text in the Chinese collation; a row may open what it stands for (click or Enter).

import { el } from './dom.js';

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
