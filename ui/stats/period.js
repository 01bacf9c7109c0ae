// The statistics page's periods: 日/周/月/季/年 around an anchor day, or a custom from–to,
// as the API's inclusive `from`/`to` days (YYYY-MM-DD in the city's time zone) with the
// bucket the time series is drawn in, and the same days one year earlier.
//
// Days are handled as UTC midnights so that no browser time zone or DST shift moves them.

import { timeZone } from '../common/i18n.js';

export const PERIODS = ['day', 'week', 'month', 'quarter', 'year', 'custom'];
const DAY_MS = 86400000;
const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `text` is a real calendar day written YYYY-MM-DD. */
export function isDay(text) {
  if (typeof text !== 'string' || !ISO_DAY.test(text)) return false;
  const d = parse(text);
  return !Number.isNaN(d.getTime()) && iso(d) === text;
}

const parse = (text) => new Date(`${text}T00:00:00Z`);
const iso = (d) => d.toISOString().slice(0, 10);
const utc = (y, m, day) => new Date(Date.UTC(y, m, day));

/** Today in the city's zone (not the browser's), YYYY-MM-DD. */
export function cityToday(now = new Date()) {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(now);
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** `text` moved by `days` (negative: back). */
export function addDays(text, days) {
  return iso(new Date(parse(text).getTime() + days * DAY_MS));
}

/** The same calendar day `years` later (29 Feb → 28 Feb in a common year). */
export function addYears(text, years) {
  const d = parse(text);
  const y = d.getUTCFullYear() + years;
  const last = utc(y, d.getUTCMonth() + 1, 0).getUTCDate();
  return iso(utc(y, d.getUTCMonth(), Math.min(d.getUTCDate(), last)));
}

/** Days from `from` to `to`, both included. */
export const spanDays = (from, to) => Math.round((parse(to) - parse(from)) / DAY_MS) + 1;

/** The period of kind `kind` holding `anchor`: {from, to} (inclusive days). */
export function periodRange(kind, anchor) {
  const d = parse(anchor);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  switch (kind) {
    case 'day': return { from: anchor, to: anchor };
    case 'week': { // weeks start on Monday, as the city's calendar does
      const back = (d.getUTCDay() + 6) % 7;
      const from = addDays(anchor, -back);
      return { from, to: addDays(from, 6) };
    }
    case 'month': return { from: iso(utc(y, m, 1)), to: iso(utc(y, m + 1, 0)) };
    case 'quarter': {
      const q = Math.floor(m / 3) * 3;
      return { from: iso(utc(y, q, 1)), to: iso(utc(y, q + 3, 0)) };
    }
    default: return { from: iso(utc(y, 0, 1)), to: iso(utc(y, 11, 31)) };
  }
}

/** The anchor of the period before (`step` -1) or after (+1) the one holding `anchor`. */
export function stepAnchor(kind, anchor, step) {
  const d = parse(anchor);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  switch (kind) {
    case 'day': return addDays(anchor, step);
    case 'week': return addDays(anchor, 7 * step);
    case 'month': return iso(utc(y, m + step, 1));
    case 'quarter': return iso(utc(y, m + 3 * step, 1));
    default: return iso(utc(y + step, 0, 1));
  }
}

/** The series' bucket for a period: a handful to a few dozen points on the chart. */
export function bucketFor(kind, from, to) {
  if (kind === 'year') return 'month';
  if (kind === 'quarter') return 'week';
  if (kind !== 'custom') return 'day';
  const days = spanDays(from, to);
  if (days <= 62) return 'day';
  if (days <= 200) return 'week';
  return days <= 1100 ? 'month' : 'quarter';
}

/** A bucket label (2025-03, 2025-03-04, 2025-W09, 2025-Q1, 2025) moved on by a year, for
 *  drawing last year's line under this year's buckets. */
export function shiftLabel(label, years) {
  const m = /^(\d{4})(.*)$/.exec(String(label));
  return m ? `${Number(m[1]) + years}${m[2]}` : String(label);
}

/** The ISO week label of a day (2026-W09: the week's Thursday names its year). */
export function isoWeek(text) {
  const d = parse(text);
  const thursday = new Date(d.getTime() + (3 - ((d.getUTCDay() + 6) % 7)) * DAY_MS);
  const jan1 = utc(thursday.getUTCFullYear(), 0, 1);
  const week = Math.floor((thursday - jan1) / DAY_MS / 7) + 1;
  return `${thursday.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** A day's bucket label, as the API writes it (docs/STATS.md). */
export function bucketOf(text, bucket) {
  if (bucket === 'day') return text;
  if (bucket === 'week') return isoWeek(text);
  if (bucket === 'month') return text.slice(0, 7);
  if (bucket === 'quarter') return `${text.slice(0, 4)}-Q${Math.floor((Number(text.slice(5, 7)) + 2) / 3)}`;
  return text.slice(0, 4);
}

/** Every bucket of the days from–to, in order (the API leaves out those without cases). */
export function bucketLabels(from, to, bucket) {
  const labels = [];
  for (let day = from; day <= to; day = addDays(day, 1)) {
    const label = bucketOf(day, bucket);
    if (labels[labels.length - 1] !== label) labels.push(label);
  }
  return labels;
}

/** The days of bucket `label` ({from, to}, inclusive), as bucketOf names them. */
export function bucketRange(label, bucket) {
  const y = Number(label.slice(0, 4));
  if (bucket === 'day') return { from: label, to: label };
  if (bucket === 'month') return periodRange('month', `${label}-01`);
  if (bucket === 'year') return periodRange('year', `${label}-01-01`);
  if (bucket === 'quarter') return periodRange('quarter', iso(utc(y, (Number(label.slice(6)) - 1) * 3, 1)));
  // ISO week: week 1 holds 4 January; weeks start on Monday
  const jan4 = utc(y, 0, 4);
  const monday = addDays(iso(jan4), -((jan4.getUTCDay() + 6) % 7) + (Number(label.slice(6)) - 1) * 7);
  return { from: monday, to: addDays(monday, 6) };
}
