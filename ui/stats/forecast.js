// 预测预警 on the statistics page: next week's cases of the area shown (and the matter class
// chosen) from GET /api/stats/forecast — the last 8 weeks and the next 7 days with an 80 % band
// (ECharts line), the error on 8 held-out weeks against seasonal-naive, next week per class —
// and today's alerts from GET /api/stats/alerts (areas and ~100 m cells with far more cases
// than the same weekday of the last 8 weeks up to this time). Docs: docs/STATS.md.

import { el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { fmtCount } from './metrics.js';

const one = (v) => (typeof v === 'number' ? v.toFixed(1) : '—');

/** The forecast's chart: actual cases, the forecast and its band (lo stacked under hi − lo). */
export class ForecastChart {
  constructor(box, echarts) {
    this.box = box;
    this.chart = echarts.init(box, null, { renderer: 'canvas' });
    new ResizeObserver(() => this.chart.resize()).observe(box);
  }

  show(body) {
    const days = [...body.history.map((h) => h.day), ...body.forecast.map((f) => f.day)];
    const pad = (values, before) => [...new Array(before).fill(null), ...values];
    const n = body.history.length;
    const last = body.history.length ? body.history[n - 1].count : null;
    this.chart.setOption({
      animation: false,  // drawn at once: the band and the forecast line appear with the history
      backgroundColor: 'transparent',
      textStyle: { color: '#9fb0c3' },
      tooltip: { trigger: 'axis', renderMode: 'richText', backgroundColor: '#1a2330', textStyle: { color: '#e6edf3' } },
      legend: { top: 0, textStyle: { color: '#9fb0c3' }, data: [t('stats_forecast.actual'), t('stats_forecast.predicted')] },
      grid: { left: 8, right: 12, top: 30, bottom: 8, containLabel: true },
      xAxis: { type: 'category', data: days.map((d) => d.slice(5)), boundaryGap: false },
      yAxis: { type: 'value', minInterval: 1, splitLine: { lineStyle: { color: '#2a3647' } } },
      series: [
        { type: 'line', name: t('stats_forecast.actual'), data: body.history.map((h) => h.count), symbolSize: 3, itemStyle: { color: '#4aa3ff' } },
        { type: 'line', name: 'lo', stack: 'band', data: pad(body.forecast.map((f) => f.lo), n), lineStyle: { opacity: 0 }, symbol: 'none', tooltip: { show: false } },
        { type: 'line', name: 'band', stack: 'band', data: pad(body.forecast.map((f) => f.hi - f.lo), n), lineStyle: { opacity: 0 },
          areaStyle: { color: 'rgba(240, 180, 60, 0.25)' }, symbol: 'none', tooltip: { show: false } },
        { type: 'line', name: t('stats_forecast.predicted'), data: pad([last, ...body.forecast.map((f) => f.count)], n - 1),
          lineStyle: { type: 'dashed', width: 2 }, itemStyle: { color: '#f0b43c' }, symbolSize: 4 },
      ],
    }, { notMerge: true });
    this.box.dataset.drawn = String(Number(this.box.dataset.drawn || 0) + 1);
  }
}

function errorLine(error) {
  if (error.mase == null) return t('stats_forecast.no_error');
  return t('stats_forecast.error', { weeks: error.weeks, mape: one(error.mape), mase: error.mase.toFixed(2),
    naive_mape: one(error.naive_mape), naive_mase: error.naive_mase == null ? '—' : error.naive_mase.toFixed(2) });
}

function classRows(body) {
  return body.classes.map((c) => el('tr', { 'data-code': c.class },
    el('td', {}, t(`common.matter_class.${c.class}`) || c.class_name),
    el('td', { class: 'num' }, fmtCount(c.last_week)),
    el('td', { class: 'num' }, fmtCount(Math.round(c.next_week))),
    el('td', { class: 'num muted' }, `${fmtCount(Math.round(c.lo))}–${fmtCount(Math.round(c.hi))}`)));
}

function alertItem(row, kind) {
  const where = kind === 'area' ? `${row.name} · ${t(`common.matter_class.${row.class}`) || row.class_name}`
    : t('stats_forecast.cell', { lon: row.lon.toFixed(3), lat: row.lat.toFixed(3) });
  return el('li', { class: 'sf-alert', 'data-kind': kind },
    el('a', { href: row.cases_url }, where),
    el('span', { class: 'num' }, t('stats_forecast.observed', { observed: row.observed, expected: one(row.expected) })));
}

/** Load and draw both panels for the area (its code) and class ('' for all). */
export async function showForecast(boxes, chart, areaCode, klass) {
  const q = new URLSearchParams({ area: areaCode });
  if (klass) q.set('class', klass);
  const [body, alerts] = await Promise.all([api(`/api/stats/forecast?${q}`), api(`/api/stats/alerts?area=${areaCode}`)]);
  chart.show(body);
  boxes.error.textContent = errorLine(body.error);
  boxes.classes.replaceChildren(...classRows(body));
  const items = [...alerts.areas.map((r) => alertItem(r, 'area')), ...alerts.cells.map((r) => alertItem(r, 'cell'))];
  boxes.alerts.replaceChildren(...(items.length ? items : [el('li', { class: 'muted' }, t('stats_forecast.no_alerts'))]));
  boxes.asOf.textContent = t('stats_forecast.as_of', { day: alerts.day, time: alerts.as_of }) +
    (alerts.holiday ? ` · ${t('stats_forecast.holiday')}` : '');
  boxes.panel.dataset.loaded = String(Number(boxes.panel.dataset.loaded || 0) + 1);
  return { body, alerts };
}
