// Camera tiles. A browser opens at most 6 HTTP/1.1 connections per host and every MJPEG
// stream holds one for good, so only `maxLive` tiles stream live; the others show a
// snapshot refreshed every few seconds. Clicking a tile opens the camera large (the camera
// view, camview.js: live over WebRTC, with its recent events) and makes the tile live (the
// least recently chosen live tile drops back to snapshots).

import { el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { badge } from '../common/util.js';

const SNAPSHOT_MS = 3000;
const RETRY_MS = 5000;
const ASPECT = 16 / 9;

const camUrl = (id, what) => `/api/cameras/${encodeURIComponent(id)}/${what}`;
/** A cache-busting query parameter, so a restarted stream or new snapshot is really fetched. */
const fresh = (url) => `${url}${url.includes('?') ? '&' : '?'}_=${Date.now()}`;
const isDrone = (cam) => cam.kind === 'drone' || !!cam.telemetry;
const fixed = (v, n) => (Number.isFinite(v) ? v.toFixed(n) : '–');
const CAM_STATES = ['online', 'offline', 'stalled', 'starting'];
/** 在线 / 离线 / 卡顿 / 启动中. */
export const camStateName = (state) => t(`wall.camstate.${CAM_STATES.includes(state) ? state : 'starting'}`);

export class CameraGrid {
  constructor(container, { maxLive = 4, onChange = () => {}, onOpen = () => {} } = {}) {
    this.container = container;
    this.onOpen = onOpen;
    this.area = container.parentElement;
    this.maxLive = maxLive;
    this.onChange = onChange;
    this.tiles = new Map();   // id -> tile record
    this.liveIds = [];        // ids streaming live, least recently chosen first
    this.pinned = [];         // emergency mode: its drones and cameras, shown first and live
    this._snapTimer = setInterval(() => this._refreshSnapshots(), SNAPSHOT_MS);
    if ('ResizeObserver' in window) new ResizeObserver(() => this._fit()).observe(this.area);
    window.addEventListener('resize', () => this._fit());
  }

  /** Full list (initial load or resync). */
  setAll(cameras) {
    const ids = new Set(cameras.map((c) => c.id));
    for (const id of [...this.tiles.keys()]) {
      if (!ids.has(id)) this._remove(id);
    }
    for (const cam of cameras) this.update(cam, { quiet: true });
    this._order();
    this._chooseLive();
    this._fit();
    this.onChange();
  }

  /** One camera changed (camera.status). */
  update(cam, { quiet = false } = {}) {
    let tile = this.tiles.get(cam.id);
    const isNew = !tile;
    if (isNew) tile = this._create(cam);
    const prevState = tile.cam.state;
    tile.cam = { ...tile.cam, ...cam };
    this._paint(tile);
    // A camera coming back online: restart its stream (the old response ended).
    if (tile.mode === 'live' && prevState !== 'online' && tile.cam.state === 'online' && !isNew) {
      this._startLive(tile);
    }
    if (!quiet) {
      if (isNew) {
        this._order();
        this._chooseLive();
        this._fit();
      }
      this.onChange();
    }
  }

  cameras() {
    return [...this.tiles.values()].map((t) => t.cam);
  }

  /** The camera's name; '' for one this wall does not know (never its id: people read names). */
  name(id) {
    const tile = this.tiles.get(id);
    return tile && tile.cam.name && tile.cam.name !== id ? tile.cam.name : '';
  }

  get(id) {
    const tile = this.tiles.get(id);
    return tile ? tile.cam : undefined;
  }

  // ---- tiles ----

  _create(cam) {
    const img = el('img', { class: 'cam-img', alt: cam.name || '', decoding: 'async' });
    const name = el('span', { class: 'cam-name' });
    const stateBox = el('span', { class: 'cam-state' });
    const fps = el('span', { class: 'cam-fps num' });
    const tele = el('div', { class: 'cam-tele num' });
    const notice = el('div', { class: 'cam-notice' });
    const root = el('figure', {
      class: 'cam-tile',
      dataset: {
        cameraId: cam.id, state: cam.state || 'starting', kind: cam.kind || '', stream: 'snapshot',
        liveLabel: t('wall.cameras.live'), lostLabel: t('wall.cameras.lost'), // drawn by wall.css (::before)
      },
      tabindex: 0,
      title: t('wall.cameras.open_title'),
      'aria-label': cam.name || '',
    }, img, notice, el('figcaption', { class: 'cam-caption' },
      el('div', { class: 'cam-line' }, name, stateBox),
      el('div', { class: 'cam-line cam-sub' }, fps, tele)));
    const tile = { root, img, name, stateBox, fps, tele, notice, cam, mode: 'snapshot', loading: false, retry: null };
    const open = () => { this.promote(cam.id); this.onOpen(cam.id); };
    root.addEventListener('click', open);
    root.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); ev.stopPropagation(); open(); }
    });
    img.addEventListener('error', () => this._onImgError(tile));
    img.addEventListener('load', () => { root.dataset.loaded = 'true'; });
    this.tiles.set(cam.id, tile);
    this.container.append(root);
    return tile;
  }

  _paint(tile) {
    const { cam } = tile;
    tile.root.dataset.state = cam.state || 'starting';
    tile.root.dataset.kind = cam.kind || '';
    tile.name.textContent = cam.name && cam.name !== cam.id ? cam.name : t('wall.cameras.unnamed');
    tile.root.setAttribute('aria-label', tile.name.textContent);
    tile.stateBox.replaceChildren(badge(cam.state || 'starting', camStateName(cam.state)));
    const dropped = Number.isFinite(cam.dropped) && cam.dropped > 0 ? ` · ${t('wall.cameras.dropped', { n: cam.dropped })}` : '';
    tile.fps.textContent = `${fixed(cam.fps_in, 1)}/${fixed(cam.fps_out, 1)} fps${dropped}`;
    const tele = cam.telemetry;
    if (isDrone(cam) && tele) {
      const heading = Number.isFinite(tele.heading) ? ` · ${Math.round(tele.heading)}°` : '';
      tile.tele.textContent = `${fixed(tele.lat, 5)}, ${fixed(tele.lon, 5)} · ${t('wall.cameras.alt', { alt: fixed(tele.alt, 0) })}${heading}`;
      tile.tele.hidden = false;
    } else {
      tile.tele.hidden = true;
    }
    let notice = '';
    if (cam.state === 'offline') notice = t('wall.cameras.offline');
    else if (cam.state === 'stalled') notice = t('wall.cameras.stalled', { s: fixed(cam.last_frame_age_s, 0) });
    else if (cam.state === 'starting') notice = t('wall.cameras.starting');
    tile.notice.textContent = notice;
    tile.notice.hidden = !notice;
  }

  _remove(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    clearTimeout(tile.retry);
    tile.img.removeAttribute('src');
    tile.root.remove();
    this.tiles.delete(id);
    this.liveIds = this.liveIds.filter((x) => x !== id);
  }

  /** Emergency mode: these ids first and streaming live; [] restores the usual order. */
  setPinned(ids) {
    this.pinned = ids.filter((id) => this.tiles.has(id));
    for (const t of this.tiles.values()) t.root.dataset.pinned = String(this.pinned.includes(t.cam.id));
    this._order();
    for (const id of [...this.pinned].reverse().slice(0, this.maxLive)) this.promote(id);
    this._fit();
  }

  /** Pinned first (emergency mode), then drones (they move and matter most), then by name. */
  _order() {
    const rank = (cam) => {
      const i = this.pinned.indexOf(cam.id);
      return i < 0 ? this.pinned.length : i;
    };
    const tiles = [...this.tiles.values()].sort((a, b) => {
      const d = rank(a.cam) - rank(b.cam) || Number(isDrone(b.cam)) - Number(isDrone(a.cam));
      return d || String(a.cam.name || a.cam.id).localeCompare(String(b.cam.name || b.cam.id));
    });
    tiles.forEach((t, i) => {
      if (this.container.children[i] !== t.root) this.container.insertBefore(t.root, this.container.children[i] || null);
    });
  }

  // ---- live vs snapshot ----

  promote(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    this.liveIds = this.liveIds.filter((x) => x !== id);
    this.liveIds.push(id);
    while (this.liveIds.length > this.maxLive) this._toSnapshot(this.tiles.get(this.liveIds.shift()));
    if (tile.mode !== 'live') this._startLive(tile);
  }

  _chooseLive() {
    this.liveIds = this.liveIds.filter((id) => this.tiles.has(id));
    const ordered = [...this.container.children].map((n) => this.tiles.get(n.dataset.cameraId)).filter(Boolean);
    const candidates = ordered.filter((t) => t.cam.state !== 'offline').concat(ordered.filter((t) => t.cam.state === 'offline'));
    for (const t of candidates) {
      if (this.liveIds.length >= this.maxLive) break;
      if (!this.liveIds.includes(t.cam.id)) this.liveIds.push(t.cam.id);
    }
    for (const t of this.tiles.values()) {
      const live = this.liveIds.includes(t.cam.id);
      if (live && t.mode !== 'live') this._startLive(t);
      if (!live && t.mode !== 'snapshot') this._toSnapshot(t);
      if (!live && !t.img.getAttribute('src')) this._loadSnapshot(t);
    }
  }

  _startLive(tile) {
    clearTimeout(tile.retry);
    tile.mode = 'live';
    tile.root.dataset.stream = 'live';
    tile.root.title = t('wall.cameras.open_title');
    tile.img.src = fresh(camUrl(tile.cam.id, 'live.mjpg')); // same-origin: the session cookie signs it in
  }

  _toSnapshot(tile) {
    if (!tile) return;
    clearTimeout(tile.retry);
    tile.mode = 'snapshot';
    tile.root.dataset.stream = 'snapshot';
    tile.root.title = t('wall.cameras.open_title');
    // Set the snapshot directly: this also ends the MJPEG response and frees its connection.
    tile.img.src = fresh(camUrl(tile.cam.id, 'snapshot.jpg'));
  }

  /** Loads a fresh snapshot off-screen, then swaps it in (no flicker, one request at a time). */
  _loadSnapshot(tile) {
    if (tile.loading) return;
    tile.loading = true;
    const probe = new Image();
    const src = fresh(camUrl(tile.cam.id, 'snapshot.jpg'));
    probe.onload = () => {
      tile.loading = false;
      if (tile.mode === 'snapshot') tile.img.src = src;
    };
    probe.onerror = () => { tile.loading = false; };
    probe.src = src;
  }

  _refreshSnapshots() {
    if (document.hidden) return;
    for (const tile of this.tiles.values()) {
      if (tile.mode === 'snapshot' && tile.cam.state !== 'offline') this._loadSnapshot(tile);
    }
  }

  _onImgError(tile) {
    if (tile.mode !== 'live') return;
    tile.root.dataset.stream = 'error';
    clearTimeout(tile.retry);
    tile.retry = setTimeout(() => {
      if (tile.mode === 'live' && this.tiles.has(tile.cam.id)) this._startLive(tile);
    }, RETRY_MS);
  }

  // ---- layout: the column count that gives the biggest 16:9 tiles without scrolling ----

  _fit() {
    const n = this.tiles.size;
    if (!n) return;
    const gap = parseFloat(getComputedStyle(this.container).columnGap) || 8;
    const box = getComputedStyle(this.area);
    const w = this.area.clientWidth - (parseFloat(box.paddingLeft) || 0) - (parseFloat(box.paddingRight) || 0) - 1;
    const h = this.area.clientHeight - (parseFloat(box.paddingTop) || 0) - (parseFloat(box.paddingBottom) || 0) - 1;
    if (w <= 0 || h <= 0) return;
    let best = { cols: 1, width: 0 };
    for (let cols = 1; cols <= n; cols += 1) {
      const rows = Math.ceil(n / cols);
      const byWidth = (w - gap * (cols - 1)) / cols;
      const byHeight = ((h - gap * (rows - 1)) / rows) * ASPECT;
      const width = Math.min(byWidth, byHeight);
      if (width > best.width) best = { cols, width };
    }
    // Never shrink tiles below a readable size: let the panel scroll instead.
    const minWidth = Math.min(w, 11 * parseFloat(getComputedStyle(document.documentElement).fontSize));
    const width = Math.max(best.width, minWidth);
    const cols = Math.max(1, Math.min(best.cols, Math.floor((w + gap) / (width + gap)) || 1));
    this.container.style.setProperty('--cols', String(cols));
    this.container.style.setProperty('--tile-w', `${Math.floor(width)}px`);
  }
}

