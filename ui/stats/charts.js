// The statistics page's charts, drawn with Apache ECharts (from npm, served at /vendor/echarts):
// the time series (this year stacked by source or matter class, last year's total as a line),
// the bars per child area and the choropleth of the child areas. Each chart keeps its ECharts
// instance on `.chart` (tests find a bar's or an area's pixel with convertToPixel and click it).
//
// Tooltips are drawn on the canvas (renderMode richText): ECharts' HTML tooltips carry inline
// style attributes, which the page's Content-Security-Policy (style-src 'self') refuses.

import { t } from '../common/i18n.js';
import { shiftLabel } from './period.js';


const TEXT = '#9fb0c3';
const LINE = '#2a3647';
const PALETTE = ['#4aa3ff', '#f0b43c', '#3ddc84', '#ff7a7a', '#b48cff', '#4fd1c5', '#ff9f43', '#8fa9c8'];
const BASE = {
  backgroundColor: 'transparent',
  color: PALETTE,
  textStyle: { color: TEXT, fontFamily: 'system-ui, "Noto Sans CJK SC", "WenQuanYi Zen Hei", sans-serif' },
  tooltip: { renderMode: 'richText', backgroundColor: '#1a2330', borderColor: LINE, textStyle: { color: '#e6edf3' } },
  animationDuration: 300,
};

class Chart {
  constructor(box, echarts) {
    this.box = box;
    this.chart = echarts.init(box, null, { renderer: 'canvas' });
    // The panel changes size with the window and when the phone layout stacks the panels.
    this.observer = new ResizeObserver(() => this.chart.resize());
    this.observer.observe(box);
  }

  draw(option) {
    this.chart.setOption({ ...BASE, ...option }, { notMerge: true });
    this.box.dataset.drawn = String(Number(this.box.dataset.drawn || 0) + 1);
  }
}

/** Cases per bucket: this year's stacked by key, last year's total as a dashed line; a bar
 *  clicked calls onPick({bucket, key}). */
export class SeriesChart extends Chart {
  constructor(box, echarts, onPick) {
    super(box, echarts);
    this.keys = [];
    this.chart.on('click', (ev) => {
      if (ev.seriesType === 'bar' && this.keys[ev.seriesIndex] != null) onPick({ bucket: ev.name, key: this.keys[ev.seriesIndex] });
    });
  }

  /** `buckets`: every bucket of the period (those without cases drawn as 0). */
  show({ buckets: all, points, lastYear, keyName }) {
    const buckets = [...new Set([...all, ...points.map((p) => p.bucket)])].sort();
    const keys = [...new Set(points.map((p) => p.key))].sort();
    this.keys = keys;
    const at = new Map(buckets.map((b, i) => [b, i]));
    const series = keys.map((key) => {
      const data = new Array(buckets.length).fill(0);
      for (const p of points) if (p.key === key) data[at.get(p.bucket)] += p.count;
      return { type: 'bar', stack: 'now', name: keyName(key), data, barMaxWidth: 48, cursor: 'pointer', emphasis: { focus: 'series' } };
    });
    series.push({ type: 'line', name: t('stats.series.last_year'), data: lastYearLine(lastYear, buckets),
      lineStyle: { type: 'dashed', width: 2 }, itemStyle: { color: '#e6edf3' }, symbolSize: 4 });
    this.draw({
      tooltip: { ...BASE.tooltip, trigger: 'axis' },
      legend: { type: 'scroll', top: 0, textStyle: { color: TEXT } },
      grid: { left: 8, right: 12, top: 34, bottom: 8, containLabel: true },
      xAxis: { type: 'category', data: buckets, axisLine: { lineStyle: { color: LINE } } },
      yAxis: { type: 'value', minInterval: 1, splitLine: { lineStyle: { color: LINE } } },
      series,
    });
  }
}

/** Last year's counts summed per bucket, each put under this year's bucket it falls in
 *  (labels moved on a year; a week's or a day's that matches none goes to the one before). */
function lastYearLine(points, buckets) {
  const line = new Array(buckets.length).fill(0);
  if (!buckets.length) return line;
  for (const p of points) {
    const label = shiftLabel(p.bucket, 1);
    let i = buckets.length - 1;
    while (i > 0 && buckets[i] > label) i -= 1;
    line[i] += p.count;
  }
  return line;
}

/** One bar per child area, in the table's order; a bar clicked drills into its area. */
export class AreaBars extends Chart {
  constructor(box, echarts, onPick) {
    super(box, echarts);
    this.rows = [];
    this.chart.on('click', (ev) => { if (this.rows[ev.dataIndex]) onPick(this.rows[ev.dataIndex]); });
  }

  show(rows, metric) {
    this.rows = rows.slice(0, 40).reverse();  // top to bottom as in the table
    this.box.style.height = `${Math.max(12, this.rows.length * 1.6 + 3)}rem`;
    this.chart.resize();
    this.draw({
      tooltip: { ...BASE.tooltip, trigger: 'item', formatter: (p) => `${p.name}：${metric.format(p.value)}` },
      grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: 'value', splitLine: { lineStyle: { color: LINE } }, axisLabel: { formatter: (v) => metric.format(v) } },
      yAxis: { type: 'category', data: this.rows.map((r) => r.name), axisLine: { lineStyle: { color: LINE } },
        axisLabel: { width: 96, overflow: 'truncate', color: TEXT } },
      series: [{ type: 'bar', data: this.rows.map((r) => metric.value(r)), cursor: 'pointer',
        label: { show: true, position: 'right', color: TEXT, formatter: (p) => metric.format(p.value) } }],
    });
  }

  /** The pixel centre of the bar of area `code` (tests click there). */
  pixelOf(code) {
    const i = this.rows.findIndex((r) => r.code === code);
    if (i < 0) return null;
    const [x, y] = this.chart.convertToPixel({ seriesIndex: 0 }, [0, i]);
    const [x2] = this.chart.convertToPixel({ seriesIndex: 0 }, [this.chart.getOption().series[0].data[i], i]);
    return { x: (x + x2) / 2, y };
  }
}

/** The child areas coloured by a figure (a choropleth); an area clicked drills into it. */
export class AreaMap extends Chart {
  constructor(box, echarts, onPick) {
    super(box, echarts);
    this.echarts = echarts;
    this.rows = new Map();
    this.features = [];
    this.chart.on('click', (ev) => { const row = this.rows.get(ev.name); if (row) onPick(row); });
  }

  /** `features`: the children's GeoJSON polygons (properties.code, name, lon, lat). */
  show(key, features, rows, metric) {
    this.rows = new Map(rows.map((r) => [r.code, r]));
    this.features = features;
    this.box.hidden = features.length === 0;
    if (!features.length) return;
    // Regions are keyed by code (nameProperty), so two areas with one name stay apart.
    this.echarts.registerMap(key, { type: 'FeatureCollection', features });
    const values = rows.map((r) => metric.value(r));
    this.draw({
      tooltip: { ...BASE.tooltip, trigger: 'item',
        formatter: (p) => `${(this.rows.get(p.name) || {}).name || ''}：${metric.format(p.value)}` },
      visualMap: { min: Math.min(0, ...values), max: Math.max(1, ...values), calculable: false, orient: 'horizontal',
        left: 'center', bottom: 0, itemHeight: 120, textStyle: { color: TEXT }, formatter: (v) => metric.format(v),
        inRange: { color: metric.colors } },
      series: [{ type: 'map', map: key, nameProperty: 'code', roam: false, top: 8, bottom: 36, selectedMode: false,
        itemStyle: { borderColor: '#0b0f14', areaColor: '#223044' }, emphasis: { label: { show: false }, itemStyle: { areaColor: '#4aa3ff' } },
        data: rows.map((r) => ({ name: r.code, value: metric.value(r) })) }],
    });
  }

  /** The pixel of area `code`'s centre point (tests click there). */
  pixelOf(code) {
    const f = this.features.find((x) => x.properties.code === code);
    if (!f) return null;
    const [x, y] = this.chart.convertToPixel({ seriesIndex: 0 }, [f.properties.lon, f.properties.lat]);
    return { x, y };
  }
}
