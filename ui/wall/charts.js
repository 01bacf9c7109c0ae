// Two small bar charts for the wall: today's incidents by hour, and by matter class, drawn with
// Apache ECharts (from npm, served at /vendor/echarts, as on the stats page). The counts are
// made here from the live feed; ECharts redraws them at most once per frame.
//
// Tooltips are drawn on the canvas (renderMode richText): ECharts' HTML tooltips carry inline
// style attributes, which the page's Content-Security-Policy (style-src 'self') refuses.

import { api } from '../common/live.js';
import { rafBatch } from '../common/dom.js';
import { loadECharts } from '../common/echarts.js';
import { t } from '../common/i18n.js';
import { isCityToday, zoned } from './labels.js';

const MUTED = '#9fb0c3';

/** An ECharts bar chart in `box`, resized with it; null when the library is missing (no chart then). */
async function barChart(box) {
  let echarts;
  try {
    echarts = await loadECharts();
  } catch (err) {
    console.warn('ECharts unavailable: the wall shows no charts', err);
    return null;
  }
  const chart = echarts.init(box, null, { renderer: 'canvas' });
  new ResizeObserver(() => chart.resize()).observe(box);
  return chart;
}

/** The option drawing `bars` [{label, value, title}] (every `labelEvery`-th label on the axis). */
function barOption(bars, { labelEvery = 1, color = '#4f9bea' } = {}) {
  return {
    backgroundColor: 'transparent',
    animation: false,  // redrawn on every incident: a wall does not need bars growing each time
    grid: { left: 2, right: 2, top: 14, bottom: 2, containLabel: true },
    tooltip: { trigger: 'item', renderMode: 'richText', backgroundColor: '#1a2330', textStyle: { color: '#e6edf3' },
      formatter: (p) => `${bars[p.dataIndex].title || bars[p.dataIndex].label}: ${p.value}` },
    xAxis: { type: 'category', data: bars.map((b) => b.label), axisTick: { show: false },
      axisLine: { lineStyle: { color: '#2a3647' } }, axisLabel: { color: MUTED, fontSize: 9, interval: labelEvery - 1 } },
    yAxis: { type: 'value', show: false, minInterval: 1 },
    series: [{ type: 'bar', data: bars.map((b) => b.value), barWidth: '76%', itemStyle: { color, borderRadius: 1.5 },
      label: { show: true, position: 'top', color: MUTED, fontSize: 9, formatter: (p) => (p.value ? String(p.value) : '') } }],
  };
}

export class IncidentCharts {
  constructor(byHour, byClass) {
    this.byHour = byHour;
    this.byClass = byClass;
    this.classOf = new Map(); // matter code -> class (from the Open311 service list: its `group`)
    this.render = rafBatch(() => this._render());
    this.items = [];
    this.ready = Promise.all([barChart(byHour), barChart(byClass)]).then(([hour, klass]) => {
      this.hourChart = hour;
      this.classChart = klass;
      this.render();
    });
  }

  async loadClasses() {
    try {
      const services = await api('/open311/v2/services.json');
      for (const s of services || []) if (s.service_code) this.classOf.set(s.service_code, s.group || t('wall.charts.other'));
      this.render();
    } catch (err) {
      console.warn('matter classes unavailable', err);
    }
  }

  /** incidents: every incident the feed holds; only today's count. */
  update(incidents) {
    this.items = incidents;
    this.render();
  }

  /** Today's counts: {hours: [24 numbers], classes: [{label, value}] (most first, at most 7)}. */
  counts() {
    const hours = new Array(24).fill(0);
    const classes = new Map();
    for (const inc of this.items) {
      if (!isCityToday(inc.ts)) continue;
      hours[zoned(inc.ts).hour] += 1;
      const cls = this.classOf.get(inc.matter_code) || (inc.matter_code ? t('wall.charts.other') : t('wall.charts.unmatched'));
      classes.set(cls, (classes.get(cls) || 0) + 1);
    }
    const bars = [...classes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 7).map(([label, value]) => ({ label, value }));
    return { hours, classes: bars };
  }

  _render() {
    if (!this.hourChart || !this.classChart) return;  // not loaded yet (or no library): drawn once it is
    const { hours, classes } = this.counts();
    this.hourChart.setOption(barOption(hours.map((v, h) => ({ label: String(h), value: v, title: t('wall.charts.hour', { h }) })), { labelEvery: 3 }), { notMerge: true });
    this.classChart.setOption(barOption(classes.length ? classes : [{ label: '—', value: 0 }], { color: '#f0b43c' }), { notMerge: true });
    this.byHour.dataset.total = String(hours.reduce((a, b) => a + b, 0));
    this.byClass.dataset.total = String(classes.reduce((a, b) => a + b.value, 0));
  }
}
