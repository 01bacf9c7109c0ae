// Case board: open cases, overdue first then by deadline, with live countdowns. The hall acts
// on a case at the desk (/desk), where actions that end or return work ask for a reason: each
// row links there.

import { el, rafBatch, reconcile } from '../common/dom.js';
import { FRESH_ROW_MS, FreshMarks } from '../common/freshness.js';
import { nameOf, t } from '../common/i18n.js';
import {
  Store, caseClosedAt, compareCases, deadlineStatus, isOpenCase, parseTs,
} from '../common/util.js';
import { fmtSpan, stateBadge, urgencyBadge } from './labels.js';

/** The countdown's words: time left, or how long overdue. */
function leftText(st) {
  if (st.level === 'none') return '—';
  return st.level === 'overdue' ? t('wall.cases.overdue_by', { span: fmtSpan(st.remainingMs) }) : fmtSpan(st.remainingMs);
}

export class CaseBoard {
  constructor(tbody, { countEl = null, onChange = () => {} } = {}) {
    this.tbody = tbody;
    this.countEl = countEl;
    this.onChange = onChange;
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
      const text = leftText(st);
      if (row.countdown.textContent !== text) row.countdown.textContent = text;
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
      this.tbody.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 7 }, t('wall.cases.empty'))));
    } else {
      const empty = this.tbody.querySelector(':scope > .empty');
      if (empty) empty.remove();
      reconcile(this.tbody, nodes);
    }
    if (this.countEl) this.countEl.textContent = `${cases.length}`;
  }

  _row(c, now) {
    const st = deadlineStatus(c, now);
    const countdown = el('span', { class: 'countdown', dataset: { level: st.level }, title: c.deadline || '' }, leftText(st));
    const level = Number(c.level) > 0
      ? el('span', { class: 'badge level', title: t('wall.cases.level_title') }, t('wall.cases.level', { n: c.level })) : null;
    const desk = el('a', { class: 'btn', href: `/desk#case=${encodeURIComponent(c.id)}`, dataset: { action: 'desk' } }, t('wall.cases.open_desk'));
    const node = el('tr', { class: 'case', dataset: { caseId: c.id, state: c.state, overdue: String(st.level === 'overdue'), urgency: c.urgency || null } },
      el('td', {}, el('div', { class: 'num case-id', translate: 'no' }, c.id), el('div', { class: 'muted small' }, nameOf('source', c.source, ''))),
      el('td', {}, el('span', {}, c.matter_name || nameOf('matter', c.matter_code, t('wall.unknown'))), ' ', urgencyBadge(c.urgency)),
      el('td', { title: c.grid_code || '' }, c.grid_name || t('wall.unknown')),
      el('td', {}, c.assignee_name || (c.assignee ? t('wall.cases.assigned') : el('span', { class: 'muted' }, t('wall.cases.unassigned')))),
      el('td', {}, stateBadge(c.state), level),
      el('td', {}, countdown),
      el('td', { class: 'actions-col' }, el('div', { class: 'case-actions' }, desk)));
    return { node, countdown };
  }
}
