// The wall's city map: MapLibre GL JS (installed by `make` from npm, served under /vendor/maplibre/)
// over a blank style: no tile server is needed, the hall may be offline. Everything drawn comes from
// our API: area outlines from /api/grids (GeoJSON), open-case counts from the case board, hotspots,
// cameras, incident markers, drones with their tracks, and the emergency circle.

import { LngLatBounds, Map as MapLibre, Marker } from '/vendor/maplibre/maplibre-gl.mjs';
import { api } from '../common/live.js';
import { el } from '../common/dom.js';
import { addBasemap } from '../common/basemap.js';
import { nameOf } from '../common/i18n.js';
import { circle, hasLoc, point } from '../common/geo.js';
import { moveDrone } from '../common/drones.js';

const COARSE = 'district,street';   // small: drawn at city zoom
const FINE = 'community,grid';      // big (~20,000 grids at reference scale): fetched when zoomed in
const FINE_ZOOM_STEP = 2;           // grids appear this many zoom levels closer than the city view
const MAX_MARKERS = 60;             // incident markers kept on the map, newest first
const MARKER_TTL_MS = 30 * 60 * 1000;

const BLANK_STYLE = {
  version: 8,
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#0d141c' } }],
};

// Open cases per area → fill colour; feature-state keeps this cheap (no source rewrite per event).
const OPEN_FILL = ['interpolate', ['linear'], ['coalesce', ['feature-state', 'open'], 0],
  0, 'rgba(80,140,200,0.06)', 1, 'rgba(240,180,60,0.35)', 5, 'rgba(230,80,60,0.55)'];
const HOT_LINE = ['case', ['boolean', ['feature-state', 'hot'], false], '#ff4d4f', '#3b5a78'];

const empty = () => ({ type: 'FeatureCollection', features: [] });

export class CityMap {
  constructor(container, { onIncidentClick = () => {} } = {}) {
    this.container = container;
    this.onIncidentClick = onIncidentClick;
    this.markers = new Map();   // incident id -> {marker, ts}
    this.drones = new Map();    // drone id -> {marker, track}
    this.counts = new Map();    // area code -> open cases (last applied)
    this.hot = new Set();
    this.fineLoaded = false;
    this.cityZoom = 10;
    this.cityBounds = null;
    this.savedView = null;
    this.map = new MapLibre({
      container,
      style: BLANK_STYLE,
      center: [113.3, 23.13],
      zoom: 9,
      attributionControl: false,
      // Screenshots of the wall (and tests) read the canvas back.
      canvasContextAttributes: { preserveDrawingBuffer: true },
    });
    this.ready = new Promise((resolve) => this.map.on('load', resolve)).then(() => this._setup());
  }

  async _setup() {
    const m = this.map;
    this.basemap = addBasemap(m); // the city's street tiles if configured, beneath the layers below
    const src = (id, data = empty(), extra = {}) => m.addSource(id, { type: 'geojson', data, ...extra });
    src('coarse', empty(), { promoteId: 'code' });
    src('fine', empty(), { promoteId: 'code' });
    src('cameras');
    src('tracks');
    src('emergency');
    m.addLayer({ id: 'fine-fill', type: 'fill', source: 'fine', filter: ['==', ['get', 'level'], 'grid'], paint: { 'fill-color': OPEN_FILL } });
    m.addLayer({ id: 'fine-line', type: 'line', source: 'fine', paint: { 'line-color': HOT_LINE, 'line-width': ['case', ['==', ['get', 'level'], 'community'], 1.2, 0.5], 'line-opacity': 0.7 } });
    m.addLayer({ id: 'district-fill', type: 'fill', source: 'coarse', filter: ['==', ['get', 'level'], 'district'], paint: { 'fill-color': OPEN_FILL } });
    m.addLayer({ id: 'street-line', type: 'line', source: 'coarse', filter: ['==', ['get', 'level'], 'street'], paint: { 'line-color': HOT_LINE, 'line-width': 0.8, 'line-opacity': 0.8 } });
    m.addLayer({ id: 'district-line', type: 'line', source: 'coarse', filter: ['==', ['get', 'level'], 'district'], paint: { 'line-color': ['case', ['boolean', ['feature-state', 'hot'], false], '#ff4d4f', '#7fb2e5'], 'line-width': 2 } });
    m.addLayer({ id: 'emergency-fill', type: 'fill', source: 'emergency', paint: { 'fill-color': 'rgba(255,60,60,0.18)' } });
    m.addLayer({ id: 'emergency-line', type: 'line', source: 'emergency', paint: { 'line-color': '#ff4d4f', 'line-width': 2.5, 'line-dasharray': [2, 1] } });
    m.addLayer({ id: 'tracks', type: 'line', source: 'tracks', paint: { 'line-color': '#4fd1c5', 'line-width': 2, 'line-opacity': 0.8 } });
    m.addLayer({ id: 'cameras', type: 'circle', source: 'cameras', paint: { 'circle-radius': 4, 'circle-color': ['match', ['get', 'state'], 'online', '#3ddc84', 'offline', '#ff4d4f', '#f0b43c'], 'circle-stroke-color': '#0d141c', 'circle-stroke-width': 1 } });

    const coarse = await api(`/api/grids?levels=${COARSE}`);
    m.getSource('coarse').setData(coarse);
    this._fitCity(coarse);
    m.on('zoomend', () => this._maybeLoadFine());
    this._applyStates();
  }

  _fitCity(doc) {
    const bounds = new LngLatBounds();
    for (const f of doc.features || []) {
      for (const ring of f.geometry.coordinates) for (const c of ring) bounds.extend(c);
    }
    if (bounds.isEmpty()) return;
    this.cityBounds = bounds;
    this.map.fitBounds(bounds, { padding: 16, animate: false });
    this.cityZoom = this.map.getZoom();
    this.coarse = doc;
    const fineFrom = this.cityZoom + FINE_ZOOM_STEP;
    // District fill fades out where the grids take over; streets only once one can tell them apart.
    this.map.setLayerZoomRange('district-fill', 0, fineFrom);
    this.map.setLayerZoomRange('street-line', this.cityZoom + 0.8, 24);
    this.map.setLayerZoomRange('fine-fill', fineFrom, 24);
    this.map.setLayerZoomRange('fine-line', fineFrom, 24);
  }

  /**
   * A district officer's map: zoomed to the areas under `prefix` (their jurisdiction), which
   * the home button returns to. Returns the name of the largest such area ('' if none).
   */
  focusArea(prefix) {
    const features = ((this.coarse && this.coarse.features) || []).filter((f) => String(f.properties.code || '').startsWith(prefix));
    if (!features.length) return '';
    const bounds = new LngLatBounds();
    for (const f of features) for (const ring of f.geometry.coordinates) for (const c of ring) bounds.extend(c);
    this.cityBounds = bounds;
    this.map.fitBounds(bounds, { padding: 16, animate: false });
    const order = ['district', 'street', 'community', 'grid'];
    const top = features.slice().sort((a, b) => order.indexOf(a.properties.level) - order.indexOf(b.properties.level))[0];
    return top.properties.name || '';
  }

  /** The grids' outlines whatever the zoom (basedata_layer.js fills them): resolves once loaded. */
  ensureFine() {
    return this._maybeLoadFine(true);
  }

  _maybeLoadFine(force = false) {
    if (this.fineLoading) return this.fineLoading;
    if (!force && this.map.getZoom() < this.cityZoom + FINE_ZOOM_STEP) return Promise.resolve();
    this.fineLoaded = true;
    this.fineLoading = api(`/api/grids?levels=${FINE}`).then((doc) => {
      this.map.getSource('fine').setData(doc);
      this._applyStates();
    }).catch((err) => {
      this.fineLoaded = false; // try again on the next zoom
      this.fineLoading = null;
      console.warn('loading grids failed', err);
    });
    return this.fineLoading;
  }

  /** Open cases per grid code (from the case board); rolled up to community, street and district. */
  setOpenCases(cases) {
    const counts = new Map();
    for (const c of cases) {
      const code = String(c.grid_code || '');
      if (code.length !== 15) continue;
      for (const n of [6, 9, 12, 15]) counts.set(code.slice(0, n), (counts.get(code.slice(0, n)) || 0) + 1);
    }
    this.pendingCounts = counts;
    this._applyStates();
  }

  /** Hotspot area codes (from /api/hotspots and the `hotspots` channel) get a red outline. */
  setHotspots(codes) {
    this.pendingHot = new Set(codes);
    this._applyStates();
  }

  _applyStates() {
    const m = this.map;
    if (!m.getSource('coarse')) return;
    const set = (code, state) => {
      const source = code.length <= 9 ? 'coarse' : 'fine';
      if (source === 'fine' && !this.fineLoaded) return;
      m.setFeatureState({ source, id: code }, state);
    };
    if (this.pendingCounts) {
      for (const code of this.counts.keys()) if (!this.pendingCounts.has(code)) set(code, { open: 0 });
      for (const [code, n] of this.pendingCounts) set(code, { open: n });
      this.counts = this.pendingCounts;
    }
    if (this.pendingHot) {
      for (const code of this.hot) if (!this.pendingHot.has(code)) set(code, { hot: false });
      for (const code of this.pendingHot) set(code, { hot: true });
      this.hot = this.pendingHot;
    }
  }

  setCameras(cameras) {
    const features = cameras.filter((c) => hasLoc(c.location) && c.kind !== 'drone')
      .map((c) => point(c.location.lon, c.location.lat, { id: c.id, state: c.state || 'starting' }));
    const source = this.map.getSource('cameras');
    if (source) source.setData({ type: 'FeatureCollection', features });
  }

  /** An incident marker (new ones pulse); acked ones dim, dismissed ones leave the map. */
  upsertIncident(inc) {
    const have = this.markers.get(inc.id);
    if (inc.state === 'dismissed' || !hasLoc(inc.location)) {
      if (have) { have.marker.remove(); this.markers.delete(inc.id); }
      return;
    }
    if (have) {
      have.marker.getElement().dataset.state = inc.state;
      return;
    }
    const node = el('div', {
      class: 'inc-marker', title: inc.rule ? nameOf('rule', inc.rule, inc.rule_name) : '',
      dataset: { incidentId: inc.id, state: inc.state || 'new', rule: inc.rule || '' },
    });
    node.addEventListener('click', () => this.onIncidentClick(inc.id));
    const marker = new Marker({ element: node }).setLngLat([inc.location.lon, inc.location.lat]).addTo(this.map);
    this.markers.set(inc.id, { marker, ts: Date.parse(inc.ts) || Date.now() });
    this._pruneMarkers();
  }

  _pruneMarkers() {
    const cutoff = Date.now() - MARKER_TTL_MS;
    const byAge = [...this.markers.entries()].sort((a, b) => b[1].ts - a[1].ts);
    byAge.forEach(([id, m], i) => {
      if (i >= MAX_MARKERS || m.ts < cutoff) { m.marker.remove(); this.markers.delete(id); }
    });
  }

  /** drone.position {id, lon, lat, alt, heading, track: [[lon, lat], ...]}: a moving marker and its track. */
  updateDrone(d) {
    moveDrone(this.map, this.drones, d, d.name || '');
  }

  /** Emergency mode: fly to the scene and draw its radius; `null` restores the city view. */
  showEmergency(em) {
    const source = this.map.getSource('emergency');
    if (!em) {
      if (source) source.setData(empty());
      if (this.savedView) this.map.flyTo({ ...this.savedView, duration: 1200 });
      else if (this.cityBounds) this.map.fitBounds(this.cityBounds, { padding: 16 });
      this.savedView = null;
      return;
    }
    const c = em.center || {};
    if (!Number.isFinite(c.lon) || !Number.isFinite(c.lat)) return;
    if (!this.savedView) this.savedView = { center: this.map.getCenter(), zoom: this.map.getZoom() };
    const radius = Number(em.radius_m) > 0 ? Number(em.radius_m) : 500;
    const ring = circle(c.lon, c.lat, radius);
    if (source) source.setData({ type: 'FeatureCollection', features: [ring] });
    const bounds = new LngLatBounds();
    for (const p of ring.geometry.coordinates[0]) bounds.extend(p);
    this.map.fitBounds(bounds, { padding: 40, duration: 1500, maxZoom: 17 });
  }

  flyTo(loc) {
    if (hasLoc(loc)) this.map.flyTo({ center: [loc.lon, loc.lat], zoom: Math.max(this.map.getZoom(), this.cityZoom + FINE_ZOOM_STEP + 1) });
  }
}
