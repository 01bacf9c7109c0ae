// The search's results as a table: urgency, id, matter, grid, worker, state, time left and
// source in words; a checkbox per row for the bulk actions; a row opens the case. Rows are
// kept by case id, so a live update redraws one row, and the selection survives a reload.

import { el, reconcile } from '../common/dom.js';
import { nameOf, t } from '../common/i18n.js';
import { stateBadge, timeLeft, urgencyBadge } from './detail.js';
import { shortId } from './timeline.js';
import { flagBadges } from './verify.js';

const DONE = new Set(['closed', 'evaluated', 'merged', 'cancelled']);

export class CaseTable {
  constructor(tbody, { onOpen, onPick }) {
    this.tbody = tbody;
    this.onOpen = onOpen;
    this.onPick = onPick;
    this.items = [];
    this.rows = new Map();       // id -> {node, sig, left}
    this.selected = new Map();   // id -> case, kept across pages and reloads
    this.openId = null;
  }

  /** The page of cases to show, in order. */
  show(items) {
    this.items = items;
    const nodes = items.map((c) => this._row(c));
    const shown = new Set(items.map((c) => c.id));
    for (const id of [...this.rows.keys()]) if (!shown.has(id)) this.rows.delete(id);
    if (!nodes.length) {
      this.tbody.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 9 }, t('desk.none_found'))));
      return;
    }
    reconcile(this.tbody, nodes);
  }

  /** A live update: the row redrawn in place when the case is on this page. True if it was. */
  update(c) {
    const at = this.items.findIndex((x) => x.id === c.id);
    if (at < 0) return false;
    this.items[at] = { ...this.items[at], ...c };
    if (this.selected.has(c.id)) this.selected.set(c.id, this.items[at]);
    const node = this._row(this.items[at]);
    const old = this.tbody.children[at];
    if (old !== node) reconcile(this.tbody, this.items.map((x) => this.rows.get(x.id).node));
    return true;
  }

  setOpen(id) {
    this.openId = id;
    for (const [rowId, row] of this.rows) row.node.classList.toggle('open', rowId === id);
  }

  /** Every second: the time left. */
  tick(now = Date.now()) {
    for (const [id, row] of this.rows) {
      const c = this.items.find((x) => x.id === id);
      if (!c || DONE.has(c.state)) continue;
      const left = timeLeft(c.deadline, now);
      if (row.left.textContent !== left.text) row.left.textContent = left.text;
      row.left.dataset.level = left.level;
    }
  }

  pickAll(on) {
    for (const c of this.items) {
      if (on) this.selected.set(c.id, c);
      else this.selected.delete(c.id);
      const row = this.rows.get(c.id);
      if (row) row.node.querySelector('input[type=checkbox]').checked = on;
    }
    this.onPick();
  }

  clearPicks() {
    this.selected.clear();
    for (const row of this.rows.values()) row.node.querySelector('input[type=checkbox]').checked = false;
    this.onPick();
  }

  _row(c) {
    const sig = JSON.stringify([c.state, c.urgency, c.matter_name, c.grid_name, c.assignee_name, c.department, c.deadline, c.level, c.source, c.flags]);
    const kept = this.rows.get(c.id);
    if (kept && kept.sig === sig) return kept.node;
    const done = DONE.has(c.state);
    const left = done ? { text: '—', level: 'none' } : timeLeft(c.deadline);
    const leftNode = el('span', { class: 'countdown', dataset: { level: left.level } }, left.text);
    const pick = el('input', {
      type: 'checkbox', 'aria-label': t('desk.pick', { id: shortId(c.id) }),
      onclick: (ev) => ev.stopPropagation(),
      onchange: (ev) => {
        if (ev.target.checked) this.selected.set(c.id, c);
        else this.selected.delete(c.id);
        this.onPick();
      },
    });
    pick.checked = this.selected.has(c.id);
    const who = c.assignee_name || c.department || (c.assignee ? t('desk.tl.a_worker') : t('desk.unassigned'));
    const node = el('tr', {
      class: `case-row${c.id === this.openId ? ' open' : ''}`, tabindex: 0,
      dataset: { caseId: c.id, state: c.state, urgency: c.urgency || 'routine' },
      onclick: () => this.onOpen(c.id),
      onkeydown: (ev) => { if (ev.key === 'Enter') this.onOpen(c.id); },
    },
    el('td', { class: 'col-pick' }, pick),
    el('td', { class: 'col-urgency' }, urgencyBadge(c.urgency)),
    el('td', { class: 'col-id num', title: c.id, translate: 'no' }, shortId(c.id)),
    el('td', {}, c.matter_name || t('desk.unknown_matter'),
      Number(c.level) > 0 ? el('span', { class: 'badge level' }, t('desk.level', { n: c.level })) : null, flagBadges(c)),
    el('td', { class: 'col-grid' }, c.grid_name || t('desk.unknown_area')),
    el('td', { class: 'col-worker' }, who),
    el('td', {}, stateBadge(c.state)),
    el('td', {}, leftNode),
    el('td', { class: 'col-source' }, nameOf('source', c.source)));
    this.rows.set(c.id, { node, sig, left: leftNode });
    return node;
  }
}
