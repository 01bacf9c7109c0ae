// Time, case and data helpers shared by the wall and the worker terminal (DOM helpers: dom.js).

import { el } from './dom.js';
import { nameOf, t, timeZone } from './i18n.js';
import { isRefusal } from './live.js';

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

let clockFormat = null;
/** A time's fields in the city's zone (i18n.js timeZone, Asia/Shanghai unless configured), not the browser's. */
function cityFields(ms) {
  if (!clockFormat || clockFormat.resolvedOptions().timeZone !== timeZone) {
    clockFormat = new Intl.DateTimeFormat('en-GB', {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    });
  }
  const f = Object.fromEntries(clockFormat.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return { day: `${f.year}-${f.month}-${f.day}`, month: f.month, date: f.day, hms: `${f.hour}:${f.minute}:${f.second}`, hm: `${f.hour}:${f.minute}` };
}

export function isToday(iso, now = new Date()) {
  const t = parseTs(iso);
  if (!Number.isFinite(t)) return false;
  return cityFields(t).day === cityFields(now.getTime()).day;
}

/** "14:03:22" today, "05-01 14:03" on other days, in the city's zone. */
export function fmtClock(iso) {
  const t = parseTs(iso);
  if (!Number.isFinite(t)) return '—';
  const f = cityFields(t);
  return isToday(iso) ? f.hms : `${f.month}-${f.date} ${f.hm}`;
}

/** Duration as "2天 03:04:05" ("2d …" in English), "03:04:05" or "04:05" (absolute value). */
export function fmtDuration(ms) {
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const hms = h || d ? `${pad(h)}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
  return d ? t('common.duration.days', { d, hms }) : hms;
}

/**
 * Time left in words a phone user reads at a glance: minutes under an hour ("剩余 12 分钟"),
 * else hours and minutes, else days and hours; overdue as "已超时 …". `ms` < 0 is overdue.
 */
export function fmtRemaining(ms) {
  const late = ms < 0;
  const min = Math.floor(Math.abs(ms) / 60000);
  let span;
  if (min < 1) span = t('common.span.under_minute');
  else if (min < 60) span = t('common.span.minutes', { m: min });
  else if (min < 24 * 60) span = t('common.span.hours', { h: Math.floor(min / 60), m: min % 60 });
  else span = t('common.span.days', { d: Math.floor(min / 1440), h: Math.floor((min % 1440) / 60) });
  return t(late ? 'common.span.overdue' : 'common.span.left', { span });
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

// An incident's states (new, acked, dismissed) are named under `incident.`, a case's under `state.`.
const INCIDENT_STATES = new Set(['new', 'acked', 'dismissed']);
/** A case's or an incident's state in words (names.json). */
export const stateLabel = (s) => (s ? nameOf(INCIDENT_STATES.has(s) ? 'incident' : 'state', s) : '—');

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

  /** `prune`: `items` is the whole list, so what it lacks (and no live update brought) goes. */
  endLoad(items, { prune = false } = {}) {
    const touched = this._touched || new Set();
    this._touched = null;
    const listed = new Set();
    for (const item of items || []) {
      const id = item[this.key];
      listed.add(id);
      if (!touched.has(id)) this.map.set(id, item);
    }
    if (prune) {
      for (const id of [...this.map.keys()]) if (!listed.has(id) && !touched.has(id)) this.map.delete(id);
    }
  }
}

// ---- feedback ----

let toastBox = null;

let refusalShown = false;

/**
 * A short message in the corner; kind: 'info' | 'ok' | 'error'. The API's refusals (403: the
 * role may not) are told once per page, in words: a page making many such calls stays readable.
 */
export function toast(message, kind = 'info', ms = 5000) {
  if (isRefusal(message)) {
    if (refusalShown) return;
    refusalShown = true;
    message = t('common.forbidden');
  }
  if (!toastBox) {
    toastBox = el('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastBox);
  }
  const item = el('div', { class: 'toast', dataset: { kind } }, message);
  toastBox.append(item);
  while (toastBox.children.length > 3) toastBox.firstElementChild.remove();
  setTimeout(() => item.remove(), ms);
}
