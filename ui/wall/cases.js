// Case board: open cases, overdue first then by deadline, live countdowns and officer actions.

import { el, rafBatch, reconcile } from '../common/dom.js';
import { FRESH_ROW_MS, FreshMarks } from '../common/freshness.js';
import { post } from '../common/live.js';
import {
  Store, badge, caseClosedAt, compareCases, deadlineStatus, isOpenCase, parseTs, toast,
} from '../common/util.js';

const OFFICER_ACTIONS = [
  { action: 'verify', label: 'Verify', cls: 'btn-ok', title: 'Check passed' },
  { action: 'close', label: 'Close', cls: 'btn-ok', title: 'Close the case' },
  { action: 'return', label: 'Return', cls: 'btn-warn', title: 'Check failed: back to the worker' },
  { action: 'escalate', label: 'Escalate', cls: 'btn-danger', title: 'Supervise one level up' },
];

export class CaseBoard {
  constructor(tbody, { countEl = null, onChange = () => {}, actor = 'officer' } = {}) {
    this.tbody = tbody;
    this.countEl = countEl;
    this.onChange = onChange;
    this.actor = actor;
    this.store = new Store();
    this.rows = new Map();   // id -> {node, sig, countdown}
    this.fresh = new FreshMarks(FRESH_ROW_MS);
    this.render = rafBatch(() => this._render());
  }

  beginLoad() { this.store.beginLoad(); }

  /**
   * items: every case fetched. openIds: ids of the complete open list, when known: an open case
   * we hold that is not in it changed state while we were not listening. Returns those ids.
   */
  endLoad(items, openIds = null) {
    this.store.endLoad(items);
    const stale = [];
    if (openIds) {
      for (const c of this.store.values()) {
        if (isOpenCase(c) && !openIds.has(c.id)) stale.push(c.id);
      }
    }
    this.render();
    this.onChange();
    return stale;
  }

  /** The signed-in user (from /api/auth/me): recorded as the actor, and decides the review buttons. */
  setActor(name) {
    if (!name || name === this.actor) return;
    this.actor = name;
    this.rows.clear();
    this.render();
  }

  upsert(c, { live = true } = {}) {
    const prev = this.store.upsert(c);
    if (live && !prev) this.fresh.mark(c.id);
    this.render();
    this.onChange();
  }

  openCases(now = Date.now()) {
    return this.store.values().filter(isOpenCase).sort((a, b) => compareCases(a, b, now));
  }

  /** Figures for the header. onTime / closed over the cases we hold (closed = closed or evaluated). */
  kpis(now = Date.now()) {
    let open = 0;
    let overdue = 0;
    let closed = 0;
    let onTime = 0;
    for (const c of this.store.values()) {
      if (isOpenCase(c)) {
        open += 1;
        const dl = parseTs(c.deadline);
        if (Number.isFinite(dl) && dl < now) overdue += 1;
      } else if (c.state === 'closed' || c.state === 'evaluated') {
        closed += 1;
        const at = caseClosedAt(c);
        const dl = parseTs(c.deadline);
        if (Number.isFinite(at) && Number.isFinite(dl) && at <= dl) onTime += 1;
      }
    }
    return { open, overdue, closed, onTime, rate: closed ? onTime / closed : null };
  }

  /** Every second: countdowns; reorders when a case has just become overdue. */
  tick(now = Date.now()) {
    let reorder = false;
    for (const [id, row] of this.rows) {
      const c = this.store.get(id);
      if (!c) continue;
      const st = deadlineStatus(c, now);
      if (row.countdown.textContent !== st.text) row.countdown.textContent = st.text;
      if (row.countdown.dataset.level !== st.level) {
        if (st.level === 'overdue') reorder = true;
        row.countdown.dataset.level = st.level;
        row.node.dataset.overdue = String(st.level === 'overdue');
      }
    }
    if (reorder) {
      this.render();
      this.onChange();
    }
  }

  _render() {
    const now = Date.now();
    const cases = this.openCases(now);
    const nodes = cases.map((c) => {
      const sig = JSON.stringify(c);
      let row = this.rows.get(c.id);
      if (!row || row.sig !== sig) {
        row = this._row(c, now);
        row.sig = sig;
        this.rows.set(c.id, row);
        this.fresh.apply(c.id, row.node, now);
      }
      return row.node;
    });
    const shown = new Set(cases.map((c) => c.id));
    for (const id of [...this.rows.keys()]) if (!shown.has(id)) this.rows.delete(id);
    this.fresh.prune(now);
    if (!nodes.length) {
      this.tbody.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 7 }, 'No open cases')));
    } else {
      const empty = this.tbody.querySelector(':scope > .empty');
      if (empty) empty.remove();
      reconcile(this.tbody, nodes);
    }
    if (this.countEl) this.countEl.textContent = `${cases.length}`;
  }

  _row(c, now) {
    const st = deadlineStatus(c, now);
    const countdown = el('span', { class: 'countdown', dataset: { level: st.level }, title: c.deadline || '' }, st.text);
    const allowed = new Set(Array.isArray(c.allowed_actions) ? c.allowed_actions : []);
    // Who reported the work may not check it (the server refuses too): no Verify/Close for them.
    if (c.handled_by && c.handled_by === this.actor) ['verify', 'close'].forEach((x) => allowed.delete(x));
    const actions = OFFICER_ACTIONS.filter((a) => allowed.has(a.action)).map((a) => el('button', {
      class: `btn ${a.cls}`, type: 'button', title: a.title, dataset: { action: a.action },
      onclick: (ev) => this._act(c.id, a.action, ev),
    }, a.label));
    const level = Number(c.level) > 0 ? el('span', { class: 'badge level', title: 'Escalation level' }, `L${c.level}`) : null;
    const node = el('tr', { class: 'case', dataset: { caseId: c.id, state: c.state, overdue: String(st.level === 'overdue') } },
      el('td', {}, el('div', { class: 'num case-id' }, c.id), el('div', { class: 'muted small' }, c.source || '')),
      el('td', { title: c.matter_code || '' }, c.matter_name || c.matter_code || '—'),
      el('td', {}, el('div', {}, c.grid_name || ''), el('div', { class: 'num muted small' }, c.grid_code || '—')),
      el('td', {}, el('div', {}, c.assignee_name || (c.assignee ? '' : 'unassigned')),
        c.assignee ? el('div', { class: 'num muted small' }, c.assignee) : null),
      el('td', {}, badge(c.state), level),
      el('td', {}, countdown),
      el('td', { class: 'actions-col' }, el('div', { class: 'case-actions' }, actions)));
    return { node, countdown };
  }

  async _act(id, action, ev) {
    const buttons = ev.currentTarget.parentElement.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const updated = await post(`/api/cases/${encodeURIComponent(id)}/${action}`, { actor: this.actor, note: '' });
      if (updated && updated.id != null) this.upsert(updated, { live: false });
      toast(`${id}: ${action} done`, 'ok', 2500);
    } catch (err) {
      toast(`${action} ${id}: ${err.message}`, 'error');
      buttons.forEach((b) => { b.disabled = false; });
      if (err.status === 409 && err.detail && err.detail.state) {
        // The board was behind: show what the server says the case is now.
        const c = this.store.get(id);
        if (c) this.upsert({ ...c, state: err.detail.state, allowed_actions: err.detail.allowed || [] }, { live: false });
      }
    }
  }
}
