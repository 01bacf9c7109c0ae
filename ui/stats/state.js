// What the statistics page shows, kept in its address (/stats?period=month&date=…&area=…), so
// that a link or a reload reproduces the view and the browser's Back steps out of a drill-down.

import { prefixOf } from '../common/areas.js';
import { PERIODS, addYears, bucketFor, cityToday, isDay, periodRange } from './period.js';

const AREA = /^\d{15}$/;
export const SERIES_BY = ['source', 'matter_class'];

/** The view in the address; anything malformed falls back to the default, never an error. */
export function readState(search = location.search) {
  const q = new URLSearchParams(search);
  const period = PERIODS.includes(q.get('period')) ? q.get('period') : 'month';
  const state = {
    period,
    date: isDay(q.get('date')) ? q.get('date') : cityToday(),
    from: isDay(q.get('from')) ? q.get('from') : '',
    to: isDay(q.get('to')) ? q.get('to') : '',
    area: AREA.test(q.get('area') || '') ? q.get('area') : '',
    source: (q.get('source') || '').slice(0, 40),
    matter_class: (q.get('matter_class') || '').slice(0, 40),
    by: SERIES_BY.includes(q.get('by')) ? q.get('by') : 'source',
  };
  if (period === 'custom' && !(state.from && state.to && state.from <= state.to)) {
    Object.assign(state, { period: 'month', from: '', to: '' });
  }
  return state;
}

/** The address of a view (only what differs from the default is written). */
export function stateSearch(state) {
  const q = new URLSearchParams();
  q.set('period', state.period);
  if (state.period === 'custom') {
    q.set('from', state.from);
    q.set('to', state.to);
  } else {
    q.set('date', state.date);
  }
  for (const key of ['area', 'source', 'matter_class']) if (state[key]) q.set(key, state[key]);
  if (state.by !== 'source') q.set('by', state.by);
  return `?${q}`;
}

/** The inclusive days the view covers. */
export function rangeOf(state) {
  return state.period === 'custom' ? { from: state.from, to: state.to } : periodRange(state.period, state.date);
}

/** The API's query for the view: from, to, bucket, area, source, matter_class (+ `extra`). */
export function apiQuery(state, extra = {}, yearsBack = 0) {
  const { from, to } = rangeOf(state);
  const q = new URLSearchParams({
    from: addYears(from, -yearsBack),
    to: addYears(to, -yearsBack),
    bucket: bucketFor(state.period, from, to),
  });
  for (const key of ['area', 'source', 'matter_class']) if (state[key]) q.set(key, state[key]);
  for (const [key, value] of Object.entries(extra)) if (value) q.set(key, value);
  return q;
}

/**
 * The desk's list of the cases behind a figure, as the API's `cases_url` writes it
 * (docs/STATS.md): /desk#grid=<code prefix>&since=…&until=…&source=…. The desk has no
 * matter-class filter: with one set, null (a link would list more cases than were counted).
 */
export function deskUrl(state, { area, from, to, source = state.source }) {
  if (state.matter_class) return null;
  const q = new URLSearchParams({ grid: prefixOf(area), since: from, until: to });
  if (source) q.set('source', source);
  return `/desk#${q}`;
}
