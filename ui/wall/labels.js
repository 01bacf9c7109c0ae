// The words the wall shows for its data: names, never identifiers (a rule key, a camera id or a
// worker id stays in data-* attributes for tests and tools). Newer incidents carry their names
// (rule_name, camera_name…); older stored ones fall back to the catalogue and the camera list.

import { el } from '../common/dom.js';
import { nameOf, t, timeZone } from '../common/i18n.js';
import { api } from '../common/live.js';
import { parseTs } from '../common/util.js';

const pad = (n) => String(n).padStart(2, '0');

let dayFormat = null;

/** The day ('YYYY-MM-DD') and hour of a time in the city's zone, not the browser's. */
export function zoned(value) {
  const ms = typeof value === 'number' ? value : parseTs(value);
  if (!Number.isFinite(ms)) return { day: '', hour: NaN };
  if (!dayFormat || dayFormat.resolvedOptions().timeZone !== timeZone) {
    dayFormat = new Intl.DateTimeFormat('en-CA', {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23',
    });
  }
  const parts = Object.fromEntries(dayFormat.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return { day: `${parts.year}-${parts.month}-${parts.day}`, hour: Number(parts.hour) };
}

/** Whether a time falls on today in the city's zone. */
export const isCityToday = (value, now = Date.now()) => {
  const { day } = zoned(value);
  return !!day && day === zoned(now).day;
};

/** What was seen: the rule's name (违章停车), with the label's when it adds something. */
export function incidentWhat(inc) {
  // The catalogue's name in the page's language first; the server's (written in Chinese) for a rule it lacks.
  const rule = inc.rule ? nameOf('rule', inc.rule, inc.rule_name) : inc.rule_name;
  return rule || inc.matter_name || t('wall.incident.generic');
}

/** A badge whose colour follows the state (style.css .badge[data-state]), in words. */
export function stateBadge(state, kind = 'state') {
  return el('span', { class: 'badge', dataset: { state: state || '' } }, nameOf(kind, state, t('wall.unknown')));
}

/** 特急 / 紧急 (一般 shows nothing: most of the feed is routine, a badge there would be noise). */
export function urgencyBadge(urgency) {
  if (urgency !== 'immediate' && urgency !== 'urgent') return null;
  return el('span', { class: 'badge urgency', dataset: { urgency } }, nameOf('urgency', urgency));
}

/** A duration as "2天 03:04:05", "03:04:05" or "04:05" (absolute value). */
export function fmtSpan(ms) {
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const hms = h || d ? `${pad(h)}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
  return d ? t('wall.span.days', { d, hms }) : hms;
}

/**
 * Area names by code, fetched once each (GET /api/grids/{code}) and kept: incidents carry a
 * grid code only. `onName` runs when names arrived, so lists can show them.
 */
export class AreaNames {
  constructor(onName = () => {}) {
    this.names = new Map(); // code -> name ('' while asked)
    this.onName = onName;
  }

  /** The name if known (else '' and it is asked for). */
  get(code) {
    if (!code) return '';
    if (!this.names.has(code)) this._fetch(code);
    return this.names.get(code) || '';
  }

  set(code, name) {
    if (code && name) this.names.set(code, name);
  }

  async _fetch(code) {
    this.names.set(code, '');
    try {
      const area = await api(`/api/grids/${encodeURIComponent(code)}`);
      if (area && area.name) {
        this.names.set(code, area.name);
        this.onName(code);
      }
    } catch { /* outside the jurisdiction or gone: no name, the row shows none */ }
  }
}
