// 成本效益's tables and charts: child areas, matters, classes and categories as sortable tables
// (the statistics page's SortTable), and two ECharts bar charts of the child areas (cost per
// case; cost stacked by category). A row or a bar clicked drills into its area.

import { el } from '../common/dom.js';
import { locale, matterClassName, matterName, t } from '../common/i18n.js';
import { SortTable } from '../common/sort_table.js';

export const CATEGORIES = ['staff', 'services', 'other', 'equipment', 'iot', 'video'];
const TEXT = '#9fb0c3';
const LINE = '#2a3647';
const PALETTE = ['#4aa3ff', '#f0b43c', '#8fa9c8', '#3ddc84', '#4fd1c5', '#b48cff'];
const TOOLTIP = { renderMode: 'richText', backgroundColor: '#1a2330', borderColor: LINE, textStyle: { color: '#e6edf3' } };

/** Yuan as people read it: ¥12,345.67; a missing figure is a dash. */
export const fmtMoney = (v) => (v == null ? '—'
  : `¥${Number(v).toLocaleString(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
export const fmtCount = (v) => (v == null ? '—' : Number(v).toLocaleString(locale));
export const fmtShare = (v) => (v == null ? '—' : `${(v * 100).toFixed(1)}%`);
const COMPACT = new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 });
export const categoryName = (k) => t(`costs.category.${k}`);

const num = (key, format) => ({ key, num: true, label: t(`costs.col.${key}`), cell: (r) => format(r[key]) });

export function areaTable(table, onPick) {
  return new SortTable(table, [
    { key: 'name', label: t('costs.col.area'), cell: (r) => r.name, sort: (r) => r.name },
    num('budget', fmtMoney), num('cost', fmtMoney), num('cases', fmtCount), num('cost_per_case', fmtMoney),
    num('residents', fmtCount), num('cost_per_resident', fmtMoney), num('early_share', fmtShare),
    num('sensed', fmtCount), num('citizen', fmtCount),
  ], { sortKey: 'cost', onRow: onPick, empty: t('costs.none') });
}

export function matterTable(table) {
  return new SortTable(table, [
    { key: 'name', label: t('costs.col.matter'), cell: (r) => (r.class === 'rounds' ? t(`costs.matter.${r.code}`) : matterName(r.code, r.name)),
      sort: (r) => r.name },
    { key: 'class_name', label: t('costs.col.class'), cell: (r) => (r.class === 'rounds' ? t('costs.class.rounds')
      : matterClassName(r.code, r.class_name)) },
    num('cases', fmtCount), num('cost', fmtMoney), num('cost_per_case', fmtMoney), num('early_share', fmtShare),
  ], { sortKey: 'cost', empty: t('costs.none') });
}

export function classTable(table) {
  return new SortTable(table, [
    { key: 'class_name', label: t('costs.col.class'), cell: (r) => (r.class === 'rounds' ? t('costs.class.rounds')
      : matterClassName(r.class, r.class_name)) },
    num('cases', fmtCount), num('cost', fmtMoney), num('cost_per_case', fmtMoney),
  ], { sortKey: 'cost', rowKey: (r) => r.class, empty: t('costs.none') });
}

export function categoryTable(table) {
  return new SortTable(table, [
    { key: 'category', label: t('costs.col.category'), cell: (r) => categoryName(r.category) },
    num('budget', fmtMoney), num('cost', fmtMoney), num('unattributed', fmtMoney),
  ], { sortKey: 'budget', rowKey: (r) => r.category, empty: t('costs.none') });
}

export function lineTable(table, areaName) {
  return new SortTable(table, [
    { key: 'area_code', label: t('costs.col.area'), cell: (r) => areaName(r.area_code) },
    { key: 'category', label: t('costs.col.category'), cell: (r) => categoryName(r.category) },
    { key: 'grade', label: t('costs.col.grade'), cell: (r) => r.grade || '—' },
    num('amount', fmtMoney),
    { key: 'note', label: t('costs.col.note'), cell: (r) => el('span', {}, r.note || '') },
  ], { sortKey: 'amount', rowKey: (r) => r.id, empty: t('costs.lines.none') });
}

class Bars {
  constructor(box, echarts, onPick) {
    this.box = box;
    this.rows = [];
    this.chart = echarts.init(box, null, { renderer: 'canvas' });
    new ResizeObserver(() => this.chart.resize()).observe(box);
    this.chart.on('click', (ev) => { if (this.rows[ev.dataIndex]) onPick(this.rows[ev.dataIndex]); });
  }

  draw(option) {
    this.chart.setOption({ backgroundColor: 'transparent', color: PALETTE, animationDuration: 300,
      textStyle: { color: TEXT }, grid: { left: 8, right: 16, top: 34, bottom: 8, containLabel: true }, ...option },
    { notMerge: true });
    this.box.dataset.drawn = String(Number(this.box.dataset.drawn || 0) + 1);
  }

  axes(rows) {
    this.rows = rows;
    return {
      yAxis: { type: 'category', data: rows.map((r) => r.name), axisLabel: { width: 96, overflow: 'truncate', color: TEXT } },
      xAxis: { type: 'value', splitLine: { lineStyle: { color: LINE } }, axisLabel: { formatter: (v) => COMPACT.format(v) } },
    };
  }
}

/** Cost per case by child area, most first (top to bottom). */
export class PerCaseBars extends Bars {
  show(children) {
    const rows = children.filter((r) => r.cost_per_case != null)
      .sort((a, b) => a.cost_per_case - b.cost_per_case).slice(-40);
    this.box.style.height = `${Math.max(12, rows.length * 1.6 + 4)}rem`;
    this.chart.resize();
    this.draw({ ...this.axes(rows), title: { text: t('costs.chart.per_case'), textStyle: { color: TEXT, fontSize: 13 } },
      grid: { left: 8, right: 96, top: 34, bottom: 8, containLabel: true },  // room for the bars' labels
      tooltip: { ...TOOLTIP, trigger: 'item', formatter: (p) => `${p.name}：${fmtMoney(p.value)}` },
      series: [{ type: 'bar', data: rows.map((r) => r.cost_per_case), cursor: 'pointer',
        label: { show: true, position: 'right', color: TEXT, formatter: (p) => fmtMoney(p.value) } }] });
  }
}

/** The cost of each child area stacked by category. */
export class CategoryBars extends Bars {
  show(children) {
    const rows = children.filter((r) => r.cost > 0).sort((a, b) => a.cost - b.cost).slice(-40);
    this.box.style.height = `${Math.max(12, rows.length * 1.6 + 5)}rem`;
    this.chart.resize();
    this.draw({ ...this.axes(rows), legend: { type: 'scroll', top: 0, textStyle: { color: TEXT } },
      tooltip: { ...TOOLTIP, trigger: 'item', formatter: (p) => `${p.name} · ${p.seriesName}：${fmtMoney(p.value)}` },
      series: CATEGORIES.map((k) => ({ type: 'bar', stack: 'cost', name: categoryName(k), cursor: 'pointer',
        data: rows.map((r) => (r.by_category && r.by_category[k]) || 0) })) });
  }
}
