// The wall's IoT device layer (issue 20): each registered device a circle on the city map,
// coloured by its state (online green, alarm red and pulsing, offline grey), from
// GET /api/devices (the server scopes it to the caller's area) and kept live by the hub: the
// `devices` channel (device.updated, device.offline) and the `incidents` channel (an IoT
// alarm's incident.created names its device, the quickest word of an alarm). A slow reload
// catches what the events cannot say (a device heard from again while the loop's cache was
// stale). A click opens the device panel: name, kind, grid, state, last seen, battery and a
// sparkline per reading from GET /api/devices/{id}.

import { el } from '../common/dom.js';
import { fmtTime, nameOf, t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { fmtValue, sparkline } from '../common/sparkline.js';

const PAGE = 1000;
const MAX_PAGES = 20;              // 20,000 devices: more than a city's wall draws legibly anyway
const RELOAD_MS = 60000;
const PANEL_POLL_MS = 10000;       // an open panel's readings follow the device
const PULSE_MS = 90;
export const STATE_COLOURS = { online: '#3ddc84', alarm: '#ff2d20', offline: '#8a96a3' };
export const BOOLEAN_READINGS = new Set(['alarm', 'open']);

const empty = () => ({ type: 'FeatureCollection', features: [] });
const control = (node) => ({ onAdd: () => node, onRemove: () => node.remove() });

function addStyles() {
  if (document.querySelector('link[data-part=device-layer]')) return;
  document.head.append(el('link', { rel: 'stylesheet', href: '/ui/wall/device_layer.css', dataset: { part: 'device-layer' } }));
}

/** 烟感 · 测试烟感1: an IoT incident's device in words (the feed's line where a camera's name goes). */
export function deviceLine(inc) {
  if (!inc || inc.source !== 'iot') return '';
  const kind = nameOf('device_kind', inc.device_kind, inc.device_kind_name);
  return [inc.device_name || inc.address || '', kind].filter(Boolean).join(' · ');
}

export class DeviceLayer {
  /** `cityMap`: map.js's CityMap, once ready. */
  constructor(cityMap) {
    addStyles();
    this.map = cityMap.map;
    this.devices = new Map();   // id -> the device as the API or an event gave it
    this.alarmAt = new Map();   // id -> Date.now() when the layer drew it in alarm (tests measure it)
    this.visible = true;
    this.loads = 0;
    this.seen = {};             // hub messages taken, by type (tests and the devtools console read it)
    this.openId = null;
    this.pulse = null;
    this._addLayers();
    this._addControls();
    this.map.on('click', 'devices', (e) => { const f = e.features && e.features[0]; if (f) this.open(f.properties.id); });
    this.map.on('mouseenter', 'devices', () => { this.map.getCanvas().style.cursor = 'pointer'; });
    this.map.on('mouseleave', 'devices', () => { this.map.getCanvas().style.cursor = ''; });
    setInterval(() => { if (!document.hidden) this.load().catch(() => {}); }, RELOAD_MS);
  }

  _addLayers() {
    const m = this.map;
    m.addSource('devices', { type: 'geojson', data: empty() });
    const alarm = ['==', ['get', 'state'], 'alarm'];
    m.addLayer({
      id: 'devices-halo', type: 'circle', source: 'devices', filter: alarm,
      paint: { 'circle-radius': 9, 'circle-color': STATE_COLOURS.alarm, 'circle-opacity': 0.35, 'circle-stroke-width': 0 },
    });
    m.addLayer({
      id: 'devices', type: 'circle', source: 'devices',
      layout: { 'circle-sort-key': ['match', ['get', 'state'], 'alarm', 2, 'online', 1, 0] }, // alarms on top
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 9, 3.5, 16, 7],
        'circle-color': ['match', ['get', 'state'], 'alarm', STATE_COLOURS.alarm, 'online', STATE_COLOURS.online, STATE_COLOURS.offline],
        'circle-stroke-color': '#0d141c',
        'circle-stroke-width': 1,
      },
    });
  }

  _addControls() {
    this.box = el('input', { type: 'checkbox', checked: true, dataset: { layer: 'devices' }, onchange: (e) => this.setVisible(e.target.checked) });
    this.counts = el('span', { class: 'dv-counts', 'aria-live': 'polite' });
    this.panel = el('div', { class: 'maplibregl-ctrl dv-control', role: 'group', 'aria-label': t('wall.devices.aria') },
      el('label', { class: 'dv-toggle' }, this.box, t('wall.devices.layer')), this.counts);
    this.card = el('div', { class: 'maplibregl-ctrl dv-panel', hidden: true, role: 'dialog', 'aria-label': t('wall.devices.panel') });
    this.map.addControl(control(this.panel), 'top-left');
    this.map.addControl(control(this.card), 'bottom-right');
  }

  setVisible(on) {
    this.visible = Boolean(on);
    this.box.checked = this.visible;
    for (const id of ['devices', 'devices-halo']) this.map.setLayoutProperty(id, 'visibility', this.visible ? 'visible' : 'none');
    if (!this.visible) this.close();
    this._pulse();
  }

  /** Every device of the caller's area, page by page. */
  async load() {
    const found = new Map();
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const doc = await api(`/api/devices?limit=${PAGE}&offset=${page * PAGE}`);
      for (const d of (doc && doc.items) || []) found.set(d.id, d);
      if (!doc || !doc.items || doc.items.length < PAGE) break;
    }
    for (const [id, d] of found) {
      const had = this.devices.get(id);
      // A live alarm newer than this page (the page was read before the event) stays.
      if (had && had.state === 'alarm' && d.state !== 'alarm' && had.liveAt && Date.now() - had.liveAt < RELOAD_MS / 2) d.state = 'alarm';
      this._mark(id, d.state);
    }
    this.devices = found;
    this.loads += 1;
    this._redraw();
  }

  /** A hub message of the `devices` or `incidents` channel. */
  onEvent(msg) {
    const { type, data } = msg;
    if (!data) return;
    if (msg.channel === 'devices') this.seen[type] = (this.seen[type] || 0) + 1;
    if (type === 'device.updated' || type === 'device.offline') {
      this.update({ ...data, id: data.device_id, state: data.state || (type === 'device.offline' ? 'offline' : undefined) });
    } else if (type === 'incident.created' && data.source === 'iot' && data.device_id && !data.closed_at) {
      this.update({ id: data.device_id, state: data.rule === 'offline' ? 'offline' : 'alarm' });
    }
  }

  /** One device's new fields (at least its id); a device not loaded yet is added where it has a place. */
  update(part) {
    if (!part.id) return;
    const had = this.devices.get(part.id);
    const next = { ...(had || {}), ...Object.fromEntries(Object.entries(part).filter(([, v]) => v !== undefined)) };
    if (part.location && Number.isFinite(part.location.lon)) Object.assign(next, { lon: part.location.lon, lat: part.location.lat });
    if (!Number.isFinite(next.lon) || !Number.isFinite(next.lat)) return;
    next.liveAt = Date.now();
    this._mark(part.id, next.state);
    this.devices.set(part.id, next);
    this._redraw();
    if (this.openId === part.id) this._renderPanel(next, this.readings);
  }

  _mark(id, state) {
    const had = this.devices.get(id);
    if (state === 'alarm' && !(had && had.state === 'alarm')) this.alarmAt.set(id, Date.now());
    if (state !== 'alarm') this.alarmAt.delete(id);
  }

  stateOf(id) {
    const d = this.devices.get(id);
    return d ? d.state : undefined;
  }

  _redraw() {
    const features = [];
    const tally = { online: 0, alarm: 0, offline: 0 };
    for (const d of this.devices.values()) {
      if (!Number.isFinite(d.lon) || !Number.isFinite(d.lat)) continue;
      const state = d.state in tally ? d.state : 'offline';
      tally[state] += 1;
      features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: [d.lon, d.lat] }, properties: { id: d.id, state, kind: d.kind } });
    }
    this.map.getSource('devices').setData({ type: 'FeatureCollection', features });
    this.counts.replaceChildren(...['alarm', 'online', 'offline'].map((s) => el('span', { class: 'dv-count', dataset: { state: s } },
      el('span', { class: 'dv-dot', dataset: { state: s } }), t('wall.devices.count', { state: nameOf('device_state', s), n: tally[s] }))));
    this.tally = tally;
    this._pulse();
  }

  /** The alarm halo breathes while any device is in alarm and the layer shows. */
  _pulse() {
    const on = this.visible && this.tally && this.tally.alarm > 0;
    if (on && !this.pulse) {
      const start = performance.now();
      this.pulse = setInterval(() => {
        const phase = ((performance.now() - start) % 1200) / 1200;
        this.map.setPaintProperty('devices-halo', 'circle-radius', 7 + 9 * phase);
        this.map.setPaintProperty('devices-halo', 'circle-opacity', 0.55 * (1 - phase));
      }, PULSE_MS);
    } else if (!on && this.pulse) {
      clearInterval(this.pulse);
      this.pulse = null;
    }
  }

  // ---- the device panel ----

  async open(id) {
    this.openId = id;
    clearInterval(this.panelTimer);
    this.readings = null;
    const device = this.devices.get(id) || { id };
    this._renderPanel(device, null);
    await this._loadPanel(id);
    this.panelTimer = setInterval(() => this._loadPanel(id), PANEL_POLL_MS);
  }

  async _loadPanel(id) {
    try {
      const doc = await api(`/api/devices/${encodeURIComponent(id)}`);
      if (this.openId !== id) return;
      this.readings = doc.readings || {};
      const live = this.devices.get(id);
      // The map's state may be newer than the answer (an event came meanwhile).
      const state = live && live.liveAt && Date.now() - live.liveAt < PANEL_POLL_MS ? live.state : doc.state;
      this._renderPanel({ ...doc, state }, this.readings);
    } catch (err) {
      if (this.openId !== id) return;
      console.warn('device unavailable', err);
      this.card.dataset.error = 'true';
    }
  }

  close() {
    this.openId = null;
    clearInterval(this.panelTimer);
    this.card.hidden = true;
    this.card.replaceChildren();
  }

  _renderPanel(d, readings) {
    const battery = Number.isFinite(d.battery) ? `${Math.round(d.battery * 100)}%` : '—';
    const row = (key, value, data = {}) => el('div', { class: 'dv-row', dataset: data }, el('dt', {}, t(`wall.devices.${key}`)), el('dd', {}, value));
    const series = readings == null
      ? el('p', { class: 'muted' }, t('wall.devices.loading'))
      : Object.keys(readings).length
        ? el('ul', { class: 'dv-series' }, Object.entries(readings).map(([name, points]) => seriesRow(name, points)))
        : el('p', { class: 'muted' }, t('wall.devices.no_readings'));
    const close = el('button', { class: 'btn dv-close', type: 'button', 'aria-label': t('wall.devices.close'), onclick: () => this.close() }, '×');
    this.card.dataset.deviceId = d.id;
    this.card.dataset.state = d.state || '';
    delete this.card.dataset.error;
    this.card.replaceChildren(
      el('header', { class: 'dv-head' }, el('h3', {}, d.name || t('wall.devices.unnamed')), close),
      el('dl', { class: 'dv-facts' },
        row('kind', nameOf('device_kind', d.kind, d.kind)),
        row('grid', d.grid_name || '—'),
        row('state', el('span', { class: 'badge dv-state', dataset: { state: d.state || '' } }, nameOf('device_state', d.state, '—')), { field: 'state' }),
        row('last_seen', fmtTime(d.last_seen, 'short')),
        row('battery', battery)),
      series);
    this.card.hidden = false;
  }
}

/** One reading's name, last value and sparkline. */
export function seriesRow(name, points) {
  const boolean = BOOLEAN_READINGS.has(name);
  const label = nameOf('device_reading', name, name);
  const last = points.length ? points[points.length - 1].value : null;
  return el('li', { class: 'dv-reading', dataset: { reading: name } },
    el('span', { class: 'dv-reading-name' }, label),
    sparkline(points, { label }),
    el('span', { class: 'num dv-reading-value' }, last == null ? '—' : fmtValue(last, boolean, t('wall.devices.yes'), t('wall.devices.no'))));
}
