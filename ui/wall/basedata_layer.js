// The wall's base-data layers (issue 19) over the city map: buildings as circles, coloured by
// their household count (a step scale) or red where a check is overdue, from
// GET /api/basedata/map for the current view once zoomed in to BUILDING_ZOOM (refreshed on
// moveend, debounced); and patrol coverage, each grid filled by the share of its places checked
// today (GET /api/patrols/coverage). A small control on the map switches them, a legend explains
// them. The server scopes both to the caller's area: nothing here filters by jurisdiction.

import { el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { api } from '../common/live.js';

export const BUILDING_ZOOM = 14;   // below this a view holds too many buildings to read as points
const DEBOUNCE_MS = 250;           // a drag or a fly fires many moveends: load once it settles
const COVERAGE_POLL_MS = 60000;    // check-ins arrive through the day
const MODES = ['off', 'households', 'overdue'];
// Households per building → colour: up to 3, 4–7, 8–11, 12 or more.
const HOUSEHOLD_STEPS = [[0, '#6b7d90'], [4, '#4aa3ff'], [8, '#f0b43c'], [12, '#e8590c']];
const OVERDUE = '#ff2d20';
const ON_TIME = '#3ddc84';
// Share of today's due places checked → fill; a grid with none due (-1) stays clear.
const COVER_STOPS = [[0, 'rgba(230,70,60,0.55)'], [0.5, 'rgba(240,180,60,0.55)'], [1, 'rgba(50,200,110,0.55)']];
const COVER_FILL = ['case', ['<', ['coalesce', ['feature-state', 'cover'], -1], 0], 'rgba(0,0,0,0)',
  ['interpolate', ['linear'], ['feature-state', 'cover'], ...COVER_STOPS.flat()]];
const COLOURS = {
  households: ['step', ['get', 'households'], ...HOUSEHOLD_STEPS.flatMap(([lo, colour], i) => (i ? [lo, colour] : [colour]))],
  overdue: ['case', ['boolean', ['get', 'overdue'], false], OVERDUE, ON_TIME],
};

const empty = () => ({ type: 'FeatureCollection', features: [] });

// The page's stylesheets are index.html's; this layer brings its own once.
function addStyles() {
  if (document.querySelector('link[data-part=basedata-layer]')) return;
  document.head.append(el('link', { rel: 'stylesheet', href: '/ui/wall/basedata_layer.css', dataset: { part: 'basedata-layer' } }));
}

/** The node with this background, set through the CSSOM (the CSP refuses style attributes). */
function painted(node, background) {
  node.style.background = background;
  return node;
}

/** A MapLibre control: a node placed in one of the map's corners. */
const control = (node) => ({ onAdd: () => node, onRemove: () => node.remove() });

export class BaseDataLayer {
  /** `cityMap`: map.js's CityMap, once ready. */
  constructor(cityMap) {
    addStyles();
    this.cityMap = cityMap;
    this.map = cityMap.map;
    this.mode = 'off';
    this.coverage = false;
    this.seq = 0;             // the newest buildings request; older answers are dropped
    this.timer = null;
    this.coverTimer = null;
    this.query = null;        // the bbox the shown buildings were asked for
    this.truncated = false;
    this.count = 0;
    this.state = 'off';       // off, zoom (zoom in to see), loading, shown, error
    this.covered = new Set(); // grid codes given a coverage state
    this.coverTotals = null;
    this._addLayers();
    this._addControls();
    this.map.on('moveend', () => this._schedule());
  }

  _addLayers() {
    const m = this.map;
    m.addSource('buildings', { type: 'geojson', data: empty() });
    m.addLayer({
      id: 'coverage-fill', type: 'fill', source: 'fine', filter: ['==', ['get', 'level'], 'grid'],
      layout: { visibility: 'none' }, paint: { 'fill-color': COVER_FILL },
    }, 'fine-line');
    m.addLayer({
      id: 'buildings', type: 'circle', source: 'buildings', minzoom: BUILDING_ZOOM,
      // Overdue ones drawn last: a red circle is never hidden under a neighbour.
      layout: { visibility: 'none', 'circle-sort-key': ['case', ['boolean', ['get', 'overdue'], false], 1, 0] },
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], BUILDING_ZOOM, 3, 18, 9],
        'circle-color': COLOURS.households,
        'circle-stroke-color': '#0d141c',
        'circle-stroke-width': 1,
      },
    }, 'cameras');
  }

  _addControls() {
    const button = (mode) => el('button', {
      type: 'button', class: 'bd-mode', dataset: { mode }, 'aria-pressed': String(mode === this.mode),
      onclick: () => this.setMode(mode),
    }, t(`wall.bd.mode.${mode}`));
    this.buttons = MODES.map(button);
    this.coverBox = el('input', { type: 'checkbox', dataset: { layer: 'coverage' }, onchange: (e) => this.setCoverage(e.target.checked) });
    this.panel = el('div', { class: 'maplibregl-ctrl bd-control', role: 'group', 'aria-label': t('wall.bd.aria') },
      el('span', { class: 'bd-label' }, t('wall.bd.buildings')),
      el('span', { class: 'bd-modes' }, this.buttons),
      el('label', { class: 'bd-cover' }, this.coverBox, t('wall.bd.coverage')));
    this.legend = el('div', { class: 'maplibregl-ctrl bd-legend', hidden: true, 'aria-live': 'polite' });
    this.map.addControl(control(this.panel), 'top-right');
    this.map.addControl(control(this.legend), 'bottom-left');
  }

  /** 'off', 'households' or 'overdue': the building circles and how they are coloured. */
  setMode(mode) {
    if (!MODES.includes(mode)) throw new Error(`unknown building mode ${mode}`);
    this.mode = mode;
    for (const b of this.buttons) b.setAttribute('aria-pressed', String(b.dataset.mode === mode));
    const on = mode !== 'off';
    this.map.setLayoutProperty('buildings', 'visibility', on ? 'visible' : 'none');
    if (!on) {
      this.seq += 1;
      clearTimeout(this.timer);
      this._show(empty(), null);
      this.state = 'off';
      this._renderLegend();
      return Promise.resolve();
    }
    this.map.setPaintProperty('buildings', 'circle-color', COLOURS[mode]);
    return this.refresh();
  }

  _schedule() {
    if (this.mode === 'off') return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), DEBOUNCE_MS);
  }

  /** The view's buildings from the server (nothing below BUILDING_ZOOM). */
  async refresh() {
    clearTimeout(this.timer);
    if (this.mode === 'off') return;
    const seq = ++this.seq;
    if (this.map.getZoom() < BUILDING_ZOOM) {
      this._show(empty(), null);
      this.state = 'zoom';
      this._renderLegend();
      return;
    }
    const b = this.map.getBounds();
    const clamp = (v, lim) => Math.max(-lim, Math.min(lim, v)).toFixed(6);
    const bbox = [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180), clamp(b.getNorth(), 90)].join(',');
    this.state = 'loading';
    try {
      const doc = await api(`/api/basedata/map?bbox=${bbox}`);
      if (seq !== this.seq) return;
      this._show(doc, bbox);
      this.truncated = Boolean(doc.truncated);
      this.state = 'shown';
    } catch (err) {
      if (seq !== this.seq) return;
      console.warn('buildings unavailable', err);
      this.state = 'error';
    }
    this._renderLegend();
  }

  _show(doc, bbox) {
    this.map.getSource('buildings').setData(doc);
    this.query = bbox;
    this.count = (doc.features || []).length;
    this.truncated = false;
    this.panel.dataset.loads = String(Number(this.panel.dataset.loads || 0) + 1); // tests wait on it
  }

  /** Patrol coverage per grid on or off (the open-case fill steps aside meanwhile). */
  async setCoverage(on) {
    this.coverage = Boolean(on);
    this.coverBox.checked = this.coverage;
    clearInterval(this.coverTimer);
    this.map.setLayoutProperty('coverage-fill', 'visibility', this.coverage ? 'visible' : 'none');
    this.map.setLayoutProperty('fine-fill', 'visibility', this.coverage ? 'none' : 'visible');
    this._renderLegend();
    if (!this.coverage) return;
    this.coverTimer = setInterval(() => this.loadCoverage().catch(() => {}), COVERAGE_POLL_MS);
    await this.cityMap.ensureFine(); // the grids' outlines carry the fill
    try {
      await this.loadCoverage();
    } catch (err) {
      console.warn('patrol coverage unavailable', err);
    }
  }

  async loadCoverage() {
    const page = await api('/api/patrols/coverage');
    if (!this.coverage) return;
    const seen = new Set();
    for (const item of (page && page.items) || []) {
      const share = Number.isFinite(item.share) ? item.share : -1;
      this.map.setFeatureState({ source: 'fine', id: item.grid_code }, { cover: share });
      seen.add(item.grid_code);
    }
    for (const code of this.covered) if (!seen.has(code)) this.map.setFeatureState({ source: 'fine', id: code }, { cover: -1 });
    this.covered = seen;
    this.coverTotals = (page && page.totals) || null;
    this.panel.dataset.coverLoads = String(Number(this.panel.dataset.coverLoads || 0) + 1);
    this._renderLegend();
  }

  _renderLegend() {
    const parts = [];
    if (this.mode !== 'off') parts.push(this._buildingLegend());
    if (this.coverage) parts.push(this._coverageLegend());
    this.legend.replaceChildren(...parts);
    this.legend.hidden = !parts.length;
  }

  _buildingLegend() {
    const swatch = (colour, text) => el('li', {}, painted(el('span', { class: 'bd-dot' }), colour), text);
    const rows = this.mode === 'households'
      ? HOUSEHOLD_STEPS.map(([lo, colour], i) => {
        const next = HOUSEHOLD_STEPS[i + 1];
        return swatch(colour, next ? t('wall.bd.households_range', { lo, hi: next[0] - 1 }) : t('wall.bd.households_more', { lo }));
      })
      : [swatch(OVERDUE, t('wall.bd.overdue')), swatch(ON_TIME, t('wall.bd.on_time'))];
    const status = {
      zoom: t('wall.bd.zoom_in'),
      loading: t('wall.bd.loading'),
      error: t('wall.bd.error'),
      shown: this.truncated ? t('wall.bd.truncated', { n: this.count }) : t('wall.bd.count', { n: this.count }),
    }[this.state] || '';
    return el('section', { class: 'bd-part', dataset: { part: 'buildings' } },
      el('h3', {}, t(`wall.bd.legend.${this.mode}`)), el('ul', {}, rows),
      status ? el('p', { class: 'bd-status', dataset: { state: this.state } }, status) : null);
  }

  _coverageLegend() {
    const totals = this.coverTotals;
    const gradient = `linear-gradient(to right, ${COVER_STOPS.map(([at, colour]) => `${colour} ${at * 100}%`).join(', ')})`;
    return el('section', { class: 'bd-part', dataset: { part: 'coverage' } },
      el('h3', {}, t('wall.bd.legend.coverage')),
      painted(el('div', { class: 'bd-ramp' }), gradient),
      el('div', { class: 'bd-ramp-labels' }, el('span', {}, '0%'), el('span', {}, '50%'), el('span', {}, '100%')),
      el('p', { class: 'bd-status' }, totals && totals.due
        ? t('wall.bd.coverage_totals', { checked: totals.checked, due: totals.due })
        : t('wall.bd.coverage_none')));
  }
}
