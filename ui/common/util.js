// Time, case and data helpers shared by the wall and the worker terminal (DOM helpers: dom.js).

import { el } from './dom.js';

// ---- time ----

/** Parses an ISO 8601 time; one without a zone is taken as UTC (what a server's naive utcnow() gives). */
export function parseTs(iso) {
  if (!iso) return NaN;
  if (typeof iso === 'number') return iso < 1e12 ? iso * 1000 : iso;
  const naive = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(iso);
  const t = Date.parse(naive ? `${iso}Z` : iso);
  return Number.isFinite(t) ? t : NaN;
}

const pad = (n) => String(n).padStart(2, '0');

export function isToday(iso, now = new Date()) {
  const t = parseTs(iso);
  if (!Number.isFinite(t)) return false;
  const d = new Date(t);
  return d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
}

/** "14:03:22" today, "05-01 14:03" on other days. */
export function fmtClock(iso) {
  const t = parseTs(iso);
  if (!Number.isFinite(t)) return '—';
  const d = new Date(t);
  if (isToday(iso)) return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Duration as "2d 03:04:05", "03:04:05" or "04:05" (absolute value). */
export function fmtDuration(ms) {
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const hms = h || d ? `${pad(h)}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
  return d ? `${d}d ${hms}` : hms;
}

// ---- cases ----

export const CLOSED_STATES = new Set(['closed', 'evaluated', 'merged', 'cancelled']);
export const isOpenCase = (c) => !CLOSED_STATES.has(c.state);

/** When the time limit started: the dispatch in the timeline, else creation. */
export function caseStart(c) {
  const timeline = Array.isArray(c.timeline) ? c.timeline : [];
  const dispatched = timeline.find((t) => t.to_state === 'dispatched');
  const t = parseTs(dispatched && dispatched.ts);
  return Number.isFinite(t) ? t : parseTs(c.created_at);
}

/** When the case was closed (the last transition into 'closed'), or NaN. */
export function caseClosedAt(c) {
  const timeline = Array.isArray(c.timeline) ? c.timeline : [];
  for (let i = timeline.length - 1; i >= 0; i -= 1) {
    const t = timeline[i];
    if (t.to_state === 'closed' || t.action === 'close') return parseTs(t.ts);
  }
  return NaN;
}

/**
 * Deadline status of an open case: {level: 'overdue'|'warn'|'ok'|'none', remainingMs, text}.
 * 'warn' when less than 25% of the time limit is left.
 */
export function deadlineStatus(c, now = Date.now()) {
  const deadline = parseTs(c.deadline);
  if (!Number.isFinite(deadline)) return { level: 'none', remainingMs: Infinity, text: '—' };
  const remainingMs = deadline - now;
  if (remainingMs < 0) return { level: 'overdue', remainingMs, text: `−${fmtDuration(remainingMs)}` };
  const total = deadline - caseStart(c);
  const level = Number.isFinite(total) && total > 0 && remainingMs < total * 0.25 ? 'warn' : 'ok';
  return { level, remainingMs, text: fmtDuration(remainingMs) };
}

/** Open cases: overdue first, then by deadline (no deadline last), then id. */
export function compareCases(a, b, now = Date.now()) {
  const da = parseTs(a.deadline);
  const db = parseTs(b.deadline);
  const oa = Number.isFinite(da) && da < now ? 0 : 1;
  const ob = Number.isFinite(db) && db < now ? 0 : 1;
  if (oa !== ob) return oa - ob;
  const va = Number.isFinite(da) ? da : Infinity;
  const vb = Number.isFinite(db) ? db : Infinity;
  if (va !== vb) return va < vb ? -1 : 1;
  return String(a.id).localeCompare(String(b.id));
}

export const STATE_LABELS = {
  reported: 'Reported', registered: 'Registered', dispatched: 'Dispatched', accepted: 'Accepted',
  in_progress: 'In progress', feedback: 'Feedback', verified: 'Verified', closed: 'Closed',
  evaluated: 'Evaluated', merged: 'Merged', new: 'New', acked: 'Acked', dismissed: 'Dismissed',
};
export const stateLabel = (s) => STATE_LABELS[s] || String(s || '—');

/** A badge whose colour follows the state (see .badge[data-state] in style.css). */
export function badge(state, text = stateLabel(state)) {
  return el('span', { class: 'badge', dataset: { state } }, text);
}

// ---- data ----

/**
 * Items keyed by id. Live updates that arrive while a REST load is in flight win over
 * the (older) REST copy: call beginLoad() before fetching and endLoad(items) after.
 */
export class Store {
  constructor(key = 'id') {
    this.key = key;
    this.map = new Map();
    this._touched = null;
  }

  get size() { return this.map.size; }
  get(id) { return this.map.get(id); }
  has(id) { return this.map.has(id); }
  values() { return [...this.map.values()]; }
  delete(id) { return this.map.delete(id); }

  /** Returns the previous copy (undefined when the item is new). */
  upsert(item) {
    const id = item[this.key];
    const prev = this.map.get(id);
    this.map.set(id, prev ? { ...prev, ...item } : item);
    if (this._touched) this._touched.add(id);
    return prev;
  }

  beginLoad() {
    this._touched = new Set();
  }

  endLoad(items) {
    const touched = this._touched || new Set();
    this._touched = null;
    for (const item of items || []) {
      const id = item[this.key];
      if (!touched.has(id)) this.map.set(id, item);
    }
  }
}

// ---- feedback ----

let toastBox = null;

/** A short message in the corner; kind: 'info' | 'ok' | 'error'. */
export function toast(message, kind = 'info', ms = 5000) {
  if (!toastBox) {
    toastBox = el('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastBox);
  }
  const item = el('div', { class: 'toast', dataset: { kind } }, message);
  toastBox.append(item);
  while (toastBox.children.length > 3) toastBox.firstElementChild.remove();
  setTimeout(() => item.remove(), ms);
}
