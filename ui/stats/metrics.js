// The figures the statistics page shows, in words and numbers: their names, how each is
// written (counts, rates as percentages, closing times in hours or days) and which way is
// better (an on-time rate going up is good news; a rework rate going up is not).

import { locale, t } from '../common/i18n.js';

const DASH = '—';
const count = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
const one = new Intl.NumberFormat(locale, { maximumFractionDigits: 1, minimumFractionDigits: 1 });

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
export const fmtCount = (v) => (isNum(v) ? count.format(v) : DASH);
/** A rate from the API (a fraction, 0–1) as a percentage. */
export const fmtRate = (v) => (isNum(v) ? `${one.format(v * 100)}%` : DASH);
/** A closing time in minutes, in the unit people think of it in. */
export function fmtMinutes(v) {
  if (!isNum(v)) return DASH;
  if (v < 90) return t('stats.unit.minutes', { n: count.format(v) });
  if (v < 48 * 60) return t('stats.unit.hours', { n: one.format(v / 60) });
  return t('stats.unit.days', { n: one.format(v / 1440) });
}

// better: +1 when a rise is good, -1 when it is bad, 0 when neither (more cases may mean more found).
export const METRICS = {
  cases: { format: fmtCount, kind: 'count', better: 0 },
  closed: { format: fmtCount, kind: 'count', better: 1 },
  on_time_rate: { format: fmtRate, kind: 'rate', better: 1 },
  closure_rate: { format: fmtRate, kind: 'rate', better: 1 },
  rework_rate: { format: fmtRate, kind: 'rate', better: -1 },
  mean_close_min: { format: fmtMinutes, kind: 'time', better: -1 },
};
export const TILE_KEYS = Object.keys(METRICS);
// What the area bars and the map may show, and the colours the map shades them in.
export const AREA_KEYS = ['cases', 'closed', 'on_time_rate', 'closure_rate', 'rework_rate'];
const GOOD = ['#4a1518', '#ffb020', '#3ddc84'];
const BAD = ['#0f3a24', '#ffb020', '#ff5c5c'];
const NEUTRAL = ['#10304f', '#4aa3ff', '#e6edf3'];

/** A figure of an area row, ready for a chart: {value(row), format(v), colors}. */
export function areaMetric(key) {
  const m = METRICS[key] || METRICS.cases;
  const colors = m.better > 0 ? GOOD : m.better < 0 ? BAD : NEUTRAL;
  return { key, value: (row) => (isNum(row[key]) ? row[key] : 0), format: m.format, colors };
}

/**
 * This period against the same one last year: {text, direction: 'up'|'down'|'flat'|'none',
 * tone: 'good'|'bad'|'neutral'}. Counts and times change in percent, rates in points.
 */
export function change(key, now, before) {
  const m = METRICS[key];
  if (!isNum(now) || !isNum(before)) return { text: t('stats.change.none'), direction: 'none', tone: 'neutral' };
  const diff = now - before;
  const direction = diff > 0 ? 'up' : diff < 0 ? 'down' : 'flat';
  const tone = direction === 'flat' || m.better === 0 ? 'neutral' : (diff > 0) === (m.better > 0) ? 'good' : 'bad';
  const arrow = { up: '↑', down: '↓', flat: '→' }[direction];
  let text;
  if (m.kind === 'rate') text = t('stats.change.points', { n: one.format(Math.abs(diff) * 100) });
  else if (before === 0) text = diff === 0 ? '0%' : t('stats.change.new');
  else text = `${one.format(Math.abs(diff / before) * 100)}%`;
  return { text: `${arrow} ${text}`, direction, tone };
}
