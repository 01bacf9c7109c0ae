// Two small SVG bar charts for the wall: today's incidents by hour, and by matter class.
// Plain SVG (no chart library): a few dozen rects redrawn at most once per frame.

import { api } from '../common/live.js';
import { rafBatch } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { isCityToday, zoned } from './labels.js';

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text = '') {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text) node.textContent = text;
  return node;
}

/** Draws `bars` [{label, value, title}] into an <svg> with a fixed viewBox (CSS scales it). */
function barChart(target, bars, { width = 300, height = 110, labelEvery = 1, color = '#4f9bea' } = {}) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const pad = { top: 12, bottom: 16 };
  const slot = width / Math.max(1, bars.length);
  const scale = (height - pad.top - pad.bottom) / max;
  const nodes = [];
  bars.forEach((b, i) => {
    const h = b.value * scale;
    const x = i * slot + slot * 0.12;
    const rect = svg('rect', { x, y: height - pad.bottom - h, width: slot * 0.76, height: Math.max(h, 0.5), fill: color, rx: 1.5 });
    rect.append(svg('title', {}, `${b.title || b.label}: ${b.value}`));
    nodes.push(rect);
    if (b.value) nodes.push(svg('text', { x: x + slot * 0.38, y: height - pad.bottom - h - 2, 'text-anchor': 'middle', class: 'chart-val' }, String(b.value)));
    if (i % labelEvery === 0) nodes.push(svg('text', { x: x + slot * 0.38, y: height - 4, 'text-anchor': 'middle', class: 'chart-label' }, b.label));
  });
  target.setAttribute('viewBox', `0 0 ${width} ${height}`);
  target.replaceChildren(...nodes);
}

export class IncidentCharts {
  constructor(byHour, byClass) {
    this.byHour = byHour;
    this.byClass = byClass;
    this.classOf = new Map(); // matter code -> class (from the Open311 service list: its `group`)
    this.render = rafBatch(() => this._render());
    this.items = [];
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

  _render() {
    const hours = new Array(24).fill(0);
    const classes = new Map();
    for (const inc of this.items) {
      if (!isCityToday(inc.ts)) continue;
      hours[zoned(inc.ts).hour] += 1;
      const cls = this.classOf.get(inc.matter_code) || (inc.matter_code ? t('wall.charts.other') : t('wall.charts.unmatched'));
      classes.set(cls, (classes.get(cls) || 0) + 1);
    }
    barChart(this.byHour, hours.map((v, h) => ({ label: String(h), value: v, title: t('wall.charts.hour', { h }) })), { labelEvery: 3 });
    const bars = [...classes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 7).map(([label, value]) => ({ label, value }));
    barChart(this.byClass, bars.length ? bars : [{ label: '—', value: 0 }], { color: '#f0b43c' });
  }
}
