// Incident feed: newest first, each with its snapshot, names, urgency and the triage buttons;
// a confirm-first incident counts down to its automatic dispatch. One row is selected (the
// keyboard moves it); a click or Enter opens the incident view.

import { el, rafBatch, reconcile } from '../common/dom.js';
import { FRESH_ROW_MS, FreshMarks } from '../common/freshness.js';
import { fmtTime, nameOf, t } from '../common/i18n.js';
import { sameOriginPath } from '../common/live.js';
import { Store, parseTs } from '../common/util.js';
import { deviceLine } from './device_layer.js';
import { fmtSpan, incidentWhat, isCityToday, stateBadge, urgencyBadge } from './labels.js';

export class IncidentFeed {
  /**
   * triage: the actions (triage.js); cameraName(id) / areaName(code): names; onOpen(incident):
   * open it large; onChange(): the feed's content changed (KPIs, charts, alarm).
   */
  constructor(list, { triage, cameraName, areaName, countEl = null, maxRows = 150, onChange = () => {}, onOpen = () => {} }) {
    Object.assign(this, { list, triage, cameraName, areaName, countEl, maxRows, onChange, onOpen });
    this.store = new Store();
    this.total = null;            // server-side total from the last REST load
    this.loadedCount = 0;
    this.rows = new Map();        // id -> {node, sig, countdown}
    this.order = [];              // ids as shown
    this.selected = null;
    this.fresh = new FreshMarks(FRESH_ROW_MS);
    this.render = rafBatch(() => this._render());
  }

  beginLoad() { this.store.beginLoad(); }

  endLoad(page) {
    const items = (page && page.items) || [];
    this.store.endLoad(items);
    this.total = page && Number.isFinite(page.total) ? page.total : null;
    this.loadedCount = items.length;
    this.render();
    this.onChange();
  }

  /** From the websocket (created or updated) or an action's answer. */
  upsert(incident, { live = true } = {}) {
    const prev = this.store.upsert(incident);
    if (live && !prev) {
      this.fresh.mark(incident.id);
      if (this.total != null) this.total += 1;
    }
    this.render();
    this.onChange();
  }

  /** Rebuilds every row (names or cases became known). */
  invalidate() {
    this.rows.clear();
    this.render();
  }

  get(id) { return this.store.get(id); }

  /** Incidents today among those known; `more` when the server holds older pages we did not load. */
  todayCount() {
    const items = this.store.values();
    const count = items.filter((i) => isCityToday(i.ts)).length;
    const truncated = this.total != null && this.total > this.loadedCount;
    const allToday = this.loadedCount > 0 && count >= this.loadedCount;
    return { count, more: truncated && allToday };
  }

  // ---- selection (the keyboard's) ----

  selectedIncident() { return this.selected ? this.store.get(this.selected) : undefined; }

  select(id, { scroll = true } = {}) {
    if (this.selected === id) return;
    const before = this.rows.get(this.selected);
    if (before) before.node.setAttribute('aria-selected', 'false');
    this.selected = id;
    const row = this.rows.get(id);
    if (row) {
      row.node.setAttribute('aria-selected', 'true');
      if (scroll) row.node.scrollIntoView({ block: 'nearest' });
    }
  }

  /** One row down (+1) or up (−1); the first row when none is selected. Returns the incident. */
  move(delta) {
    if (!this.order.length) return undefined;
    const at = this.order.indexOf(this.selected);
    const next = at < 0 ? 0 : Math.max(0, Math.min(this.order.length - 1, at + delta));
    this.select(this.order[next]);
    return this.store.get(this.order[next]);
  }

  /** Scrolls to an incident (a map marker was clicked) and selects it. */
  reveal(id) {
    if (this.store.has(id)) this.select(id);
  }

  /** Every second: the confirm-first countdowns. */
  tick(now = Date.now()) {
    for (const row of this.rows.values()) {
      if (!row.countdown) continue;
      const left = row.confirmBy - now;
      const text = left > 0 ? t('wall.confirm.left', { left: fmtSpan(left) }) : t('wall.confirm.due');
      if (row.countdown.textContent !== text) row.countdown.textContent = text;
    }
  }

  _sorted() {
    return this.store.values().sort((a, b) => {
      const ta = parseTs(a.ts) || 0;
      const tb = parseTs(b.ts) || 0;
      if (ta !== tb) return tb - ta;
      return String(b.id).localeCompare(String(a.id), undefined, { numeric: true });
    });
  }

  _render() {
    const items = this._sorted().slice(0, this.maxRows);
    const now = Date.now();
    const nodes = items.map((inc) => {
      const waiting = this.triage.waiting(inc);
      const c = inc.case_id ? this.triage.caseOf(inc.case_id) : null;
      const sig = JSON.stringify([inc, waiting && waiting.confirm_by, c && c.state, this.cameraName(inc.camera_id), this.areaName(inc.grid_code)]);
      let row = this.rows.get(inc.id);
      if (!row || row.sig !== sig) {
        row = this._row(inc, waiting, c);
        row.sig = sig;
        this.rows.set(inc.id, row);
        this.fresh.apply(inc.id, row.node, now);
      }
      row.node.setAttribute('aria-selected', String(inc.id === this.selected));
      return row.node;
    });
    this.order = items.map((i) => i.id);
    const shown = new Set(this.order);
    for (const id of [...this.rows.keys()]) if (!shown.has(id)) this.rows.delete(id);
    this.fresh.prune(now);
    if (!nodes.length) {
      this.list.replaceChildren(el('li', { class: 'empty' }, t('wall.feed.empty')));
    } else {
      const empty = this.list.querySelector(':scope > .empty');
      if (empty) empty.remove();
      reconcile(this.list, nodes);
    }
    this.tick(now);
    if (this.countEl) {
      const total = this.total != null ? this.total : this.store.size;
      const pending = items.filter((i) => i.state === 'new').length;
      this.countEl.textContent = t('wall.feed.count', { pending, total });
    }
  }

  _row(inc, waiting, c) {
    const what = incidentWhat(inc);
    const score = Number.isFinite(inc.score) ? `${Math.round(inc.score * 100)}%` : '';
    const snapshot = sameOriginPath(inc.snapshot_url); // only this site's evidence is loaded
    const thumb = snapshot
      ? el('div', { class: 'thumb' }, el('img', { src: snapshot, alt: what, loading: 'lazy', decoding: 'async' }))
      : el('div', { class: 'thumb thumb-empty' }, t('wall.incident.no_image'));
    const actions = el('div', { class: 'inc-actions' });
    const act = (action, label, cls, title = '') => el('button', {
      class: `btn ${cls}`, type: 'button', title: title || null, dataset: { action },
      onclick: (ev) => { ev.stopPropagation(); this._act(action, inc.id, actions.querySelectorAll('button')); },
    }, label);
    if (waiting) {
      actions.append(act('confirm', t('wall.action.confirm'), 'btn-ok'), act('dismiss', t('wall.action.dismiss_false'), 'btn-danger'));
    } else if (inc.state === 'new') {
      actions.append(act('ack', t('wall.action.ack'), 'btn-ok'), act('dismiss', t('wall.action.dismiss'), 'btn-danger', t('wall.action.dismiss_title')));
    }
    if (inc.emergency_class && inc.state !== 'dismissed') actions.append(act('emergency', t('wall.action.emergency'), 'btn-warn'));
    let countdown = null;
    if (waiting) countdown = el('span', { class: 'confirm-countdown num', dataset: { confirmBy: waiting.confirm_by } });
    const urgency = this.triage.urgency(inc);
    const node = el('li', {
      class: 'inc', tabindex: -1,
      dataset: { incidentId: inc.id, state: inc.state, urgency: urgency || 'routine', waiting: waiting ? 'true' : null },
      onclick: () => { this.select(inc.id, { scroll: false }); this.onOpen(inc.id); },
    },
    thumb,
    el('div', { class: 'inc-body' },
      el('div', { class: 'inc-line' },
        el('time', { class: 'num', datetime: inc.ts || '' }, fmtTime(inc.ts, isCityToday(inc.ts) ? 'time' : 'short')),
        el('span', { class: 'inc-cam', dataset: { deviceId: inc.device_id || null } }, inc.camera_name || this.cameraName(inc.camera_id) || deviceLine(inc) || t('wall.unknown')),
        stateBadge(inc.state, 'incident')),
      el('div', { class: 'inc-line inc-what' }, el('strong', {}, what), urgencyBadge(urgency), score ? el('span', { class: 'num score' }, score) : null),
      el('div', { class: 'inc-line muted' },
        el('span', { class: 'inc-matter' }, inc.matter_name || ''),
        el('span', { class: 'inc-grid' }, this.areaName(inc.grid_code)),
        c ? el('span', { class: 'inc-case' }, t('wall.incident.case_state', { state: nameOf('state', c.state) })) : null),
      countdown ? el('div', { class: 'inc-line confirm-line' }, el('span', { class: 'badge', dataset: { state: 'registered' } }, t('wall.confirm.waiting')), countdown) : null),
    actions);
    return { node, countdown, confirmBy: waiting ? parseTs(waiting.confirm_by) : NaN };
  }

  _act(action, id, buttons) {
    const inc = this.store.get(id);
    if (!inc) return;
    const run = { ack: 'ack', dismiss: 'dismiss', confirm: 'confirm', emergency: 'raise' }[action];
    this.triage[run](inc, buttons);
  }
}
