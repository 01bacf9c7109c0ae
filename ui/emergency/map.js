// The scene's map: MapLibre (served from /vendor/maplibre) over the city's basemap when one is
// configured (ui/common/basemap.js), centred on the emergency with its radius; the cameras
// inside it, the pinned drones' positions and tracks (drone.position on `drones`), and the
// team members' last positions (team.position on `emergency`). A click picks a point (the
// start form uses it).

import { LngLatBounds, Map as MapLibre, Marker } from '/vendor/maplibre/maplibre-gl.mjs';
import { addBasemap } from '../common/basemap.js';
import { el } from '../common/dom.js';
import { fmtTime, t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { circle, hasLoc } from '../common/geo.js';
import { moveDrone } from '../common/drones.js';

const STYLE = { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#0d141c' } }] };
const empty = () => ({ type: 'FeatureCollection', features: [] });

export class SceneMap {
  constructor(container, { onPick = () => {} } = {}) {
    this.container = container;
    this.onPick = onPick;
    this.drones = new Map();   // id -> {marker, track}
    this.members = new Map();  // worker id -> marker
    this.cameraMarkers = [];
    this.center = null;
    this.map = new MapLibre({
      container, style: STYLE, center: [113.3, 23.13], zoom: 10, attributionControl: false,
      canvasContextAttributes: { preserveDrawingBuffer: true }, // tests and screenshots read the canvas
    });
    this.ready = new Promise((resolve) => this.map.on('load', resolve)).then(() => this._setup());
    this.map.on('click', (ev) => this.onPick({ lon: ev.lngLat.lng, lat: ev.lngLat.lat }));
    // A resized panel (a phone turned, the window moved to the wall screen) frames the scene again.
    let timer = null;
    if ('ResizeObserver' in window) {
      new ResizeObserver(() => { clearTimeout(timer); timer = setTimeout(() => this.frame(), 250); }).observe(container);
    }
  }

  /** The scene's circle in view. */
  frame() {
    if (!this.radius) return;
    const bounds = new LngLatBounds();
    for (const p of this.radius.geometry.coordinates[0]) bounds.extend(p);
    this.map.resize();
    this.map.fitBounds(bounds, { padding: 30, duration: 0, maxZoom: 17 });
  }

  async _setup() {
    const m = this.map;
    addBasemap(m);
    m.addSource('radius', { type: 'geojson', data: empty() });
    m.addSource('tracks', { type: 'geojson', data: empty() });
    m.addSource('streets', { type: 'geojson', data: empty() });
    m.addLayer({ id: 'streets-line', type: 'line', source: 'streets', paint: { 'line-color': '#3b5a78', 'line-width': 1 } });
    m.addLayer({ id: 'radius-fill', type: 'fill', source: 'radius', paint: { 'fill-color': 'rgba(255,60,60,0.16)' } });
    m.addLayer({ id: 'radius-line', type: 'line', source: 'radius', paint: { 'line-color': '#ff4d4f', 'line-width': 2.5, 'line-dasharray': [2, 1] } });
    m.addLayer({ id: 'tracks', type: 'line', source: 'tracks', paint: { 'line-color': '#4fd1c5', 'line-width': 2, 'line-opacity': 0.85 } });
    this.container.dataset.ready = 'true';
    try {
      m.getSource('streets').setData(await api('/api/grids?levels=street')); // where the teams are
    } catch { /* the map works without them */ }
  }

  /** The mode's scene: centre, radius circle, and the map framed on it. `null` clears it. */
  async showMode(mode) {
    await this.ready;
    const src = this.map.getSource('radius');
    if (this.centerMarker) { this.centerMarker.remove(); this.centerMarker = null; }
    if (!mode || !hasLoc(mode.center)) { src.setData(empty()); this.radius = null; this.container.dataset.mode = ''; return; }
    const c = mode.center;
    const ring = circle(c.lon, c.lat, Number(mode.radius_m) > 0 ? Number(mode.radius_m) : 500);
    src.setData({ type: 'FeatureCollection', features: [ring] });
    this.radius = ring; // what is drawn (tests and the devtools console read it)
    this.centerMarker = new Marker({ element: el('div', { class: 'em-center-marker', title: mode.title }) })
      .setLngLat([c.lon, c.lat]).addTo(this.map);
    if (this.container.dataset.mode !== mode.id) this.frame();
    this.container.dataset.mode = mode.id;
  }

  /** Cameras in the radius: small squares with their names. */
  async setCameras(cameras) {
    await this.ready;
    for (const m of this.cameraMarkers) m.remove();
    this.cameraMarkers = cameras.filter((c) => hasLoc(c.location) && c.kind !== 'drone').map((c) =>
      new Marker({ element: el('div', { class: 'em-camera-marker', title: c.name || '', dataset: { cameraId: c.id } }) })
        .setLngLat([c.location.lon, c.location.lat]).addTo(this.map));
  }

  /** drone.position {id, lon, lat, heading, track}: a moving marker and its track. */
  updateDrone(d, name) {
    moveDrone(this.map, this.drones, d, name || '');
  }

  /** A team member's last fix: a yellow dot titled with their name and the time. */
  setMember(workerId, name, fix) {
    let marker = this.members.get(workerId);
    if (!hasLoc(fix)) { if (marker) { marker.remove(); this.members.delete(workerId); } return; }
    const title = t('emergency.map.member_at', { name, time: fmtTime(fix.ts, 'time') });
    if (!marker) {
      marker = new Marker({ element: el('div', { class: 'em-member-marker', dataset: { workerId } }) }).addTo(this.map);
      this.members.set(workerId, marker);
    }
    marker.getElement().title = title;
    marker.setLngLat([fix.lon, fix.lat]);
  }

  /** Where the start form's point is (a marker until the mode starts). */
  setPick(point) {
    if (this.pick) this.pick.remove();
    this.pick = hasLoc(point) ? new Marker({ color: '#ff4d4f' }).setLngLat([point.lon, point.lat]).addTo(this.map) : null;
  }
}
