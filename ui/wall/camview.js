// The camera view: one camera large, live over WebRTC (the server draws the detector's boxes
// into the frames), MJPEG when WebRTC cannot connect; beside it the camera's recent events on a
// 24-hour strip and in a list, each opening the incident view. New incidents join while open.

import { el, reconcile } from '../common/dom.js';
import { fmtTime, t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { parseTs } from '../common/util.js';
import { camStateName } from './cameras.js';
import { incidentWhat, isCityToday, stateBadge, urgencyBadge } from './labels.js';
import { WhepPlayer } from '../common/whep.js';

const EVENTS = 50;
const STRIP_MS = 24 * 60 * 60 * 1000;
const CONNECT_MS = 8000;

export class CameraView {
  /**
   * root: #camera-view. camera(id) → the camera's view from the tiles; areaName(code);
   * urgencyOf(inc); onOpenIncident(incident).
   */
  constructor(root, { layers, camera, areaName, urgencyOf, onOpenIncident }) {
    Object.assign(this, { root, layers, camera, areaName, urgencyOf, onOpenIncident });
    this.cameraId = null;
    this.events = new Map(); // id -> incident
    this.player = null;
  }

  get currentId() { return this.layers.isOpen(this.root) ? this.cameraId : null; }

  open(cameraId) {
    const cam = this.camera(cameraId);
    if (!cam) return;
    this.close();
    this.cameraId = cameraId;
    this.events = new Map();
    this.rows = new Map(); // incident id -> {sig, node} of the list
    this._build(cam);
    this.layers.show(this.root, () => this._stop());
    this.root.querySelector('[data-action=close]').focus();
    this._play(cameraId);
    this._loadEvents(cameraId);
  }

  close() {
    if (this.layers.isOpen(this.root)) this.layers.close(this.root);
  }

  /** A camera's status changed (camera.status): the header follows. */
  updateCamera(cam) {
    if (this.currentId !== cam.id) return;
    const full = this.camera(cam.id) || cam;
    this.parts.state.replaceChildren(camStateName(full.state));
    this.parts.state.dataset.state = full.state || '';
  }

  /** An incident created or changed: if it is this camera's, the list follows. */
  onIncident(inc) {
    if (this.currentId == null || inc.camera_id !== this.cameraId) return;
    this.events.set(inc.id, { ...(this.events.get(inc.id) || {}), ...inc });
    this._renderEvents();
  }

  _build(cam) {
    const video = el('video', { class: 'ev-video', autoplay: true, muted: true, playsinline: true });
    video.muted = true; // the attribute alone does not count for autoplay in every browser
    const mjpeg = el('img', { class: 'ev-video', alt: cam.name || '', hidden: true });
    const status = el('div', { class: 'ev-status' }, t('wall.camview.connecting'));
    const state = el('span', { class: 'badge', dataset: { state: cam.state || '' } }, camStateName(cam.state));
    const strip = el('div', { class: 'ev-strip', 'aria-hidden': 'true' });
    const list = el('ol', { class: 'ev-events' });
    const live = el('div', { class: 'ev-live', dataset: { mode: 'connecting' } }, video, mjpeg, status);
    this.parts = { video, mjpeg, status, state, strip, list, live };
    const where = el('span', { class: 'ev-where muted' }, this.areaName(cam.grid_code) || '');
    this.root.replaceChildren(el('div', { class: 'ev-panel ev-camera', dataset: { cameraId: cam.id } },
      el('header', { class: 'ev-head' },
        el('h2', { class: 'ev-title' }, cam.name && cam.name !== cam.id ? cam.name : t('wall.cameras.unnamed')),
        where,
        state,
        el('button', { class: 'btn ev-close', type: 'button', dataset: { action: 'close' }, onclick: () => this.close() }, t('wall.view.close'))),
      el('div', { class: 'ev-body' },
        live,
        el('aside', { class: 'ev-side' },
          el('h3', {}, t('wall.camview.events')),
          el('div', { class: 'ev-strip-wrap' }, strip,
            el('div', { class: 'ev-strip-axis muted small' }, el('span', {}, t('wall.camview.day_ago')), el('span', {}, t('wall.camview.now')))),
          list))));
    this._renderEvents();
    if (!where.textContent) this._locate(cam, where);
  }

  /** A camera filed under no grid: the grid (or community) where it stands. */
  async _locate(cam, where) {
    const loc = cam.location;
    if (!loc || !Number.isFinite(loc.lon) || !Number.isFinite(loc.lat)) return;
    try {
      const found = await api(`/api/grids/locate?lon=${loc.lon}&lat=${loc.lat}`);
      const path = (found && found.path) || [];
      if (path.length && this.currentId === cam.id) where.textContent = path[path.length - 1].name || '';
    } catch { /* outside the city's grids: no place name */ }
  }

  async _play(cameraId) {
    const { video, status, live } = this.parts;
    const player = new WhepPlayer(video, {
      onState: (s) => {
        if (this.player !== player) return;
        if (s === 'playing') { status.hidden = true; live.dataset.mode = 'webrtc'; }
        if (s === 'failed') this._fallback(cameraId);
      },
    });
    this.player = player;
    // ICE that never connects (no UDP path) fails only after long timeouts: MJPEG sooner.
    setTimeout(() => { if (this.player === player && live.dataset.mode === 'connecting') this._fallback(cameraId); }, CONNECT_MS);
    try {
      await player.play(cameraId);
    } catch (err) {
      console.warn('WebRTC view failed; MJPEG instead', err);
    }
  }

  /** WebRTC could not connect (a network without UDP between here and the server): MJPEG. */
  _fallback(cameraId) {
    if (this.currentId !== cameraId || this.parts.live.dataset.mode === 'mjpeg') return;
    const { video, mjpeg, status, live } = this.parts;
    if (this.player) { const p = this.player; this.player = null; p.stop(); }
    video.hidden = true;
    mjpeg.hidden = false;
    mjpeg.src = `/api/cameras/${encodeURIComponent(cameraId)}/live.mjpg?_=${Date.now()}`;
    mjpeg.addEventListener('load', () => { status.hidden = true; }, { once: true });
    live.dataset.mode = 'mjpeg';
  }

  _stop() {
    if (this.player) { const p = this.player; this.player = null; p.stop(); }
    if (this.parts) this.parts.mjpeg.removeAttribute('src'); // ends the MJPEG response
    this.cameraId = null;
  }

  async _loadEvents(cameraId) {
    try {
      const page = await api(`/api/incidents?camera=${encodeURIComponent(cameraId)}&limit=${EVENTS}`);
      if (this.currentId !== cameraId) return;
      for (const inc of (page && page.items) || []) {
        if (inc.camera_id === cameraId && !this.events.has(inc.id)) this.events.set(inc.id, inc);
      }
      this.parts.list.dataset.loaded = 'true';
      this._renderEvents();
    } catch (err) {
      console.warn('camera events unavailable', err);
      this.parts.list.replaceChildren(el('li', { class: 'empty' }, t('wall.camview.events_failed')));
    }
  }

  _renderEvents() {
    const now = Date.now();
    const items = [...this.events.values()].sort((a, b) => (parseTs(b.ts) || 0) - (parseTs(a.ts) || 0)).slice(0, EVENTS);
    const { strip, list } = this.parts;
    strip.replaceChildren(...items.filter((i) => now - parseTs(i.ts) < STRIP_MS).map((inc) => el('span', {
      class: 'ev-dot', dataset: { urgency: this.urgencyOf(inc) || 'routine', state: inc.state },
      style: `left: ${Math.max(0, Math.min(100, 100 - ((now - parseTs(inc.ts)) / STRIP_MS) * 100)).toFixed(2)}%`,
    })));
    if (!items.length) {
      list.replaceChildren(el('li', { class: 'empty' }, list.dataset.loaded ? t('wall.camview.no_events') : t('wall.camview.loading')));
      return;
    }
    // Rows that did not change stay (focus, hover and a click in progress keep their target).
    const rows = new Map();
    const nodes = items.map((inc) => {
      const sig = JSON.stringify([inc.state, inc.ts, this.urgencyOf(inc), incidentWhat(inc)]);
      const had = this.rows && this.rows.get(inc.id);
      const row = had && had.sig === sig ? had : { sig, node: this._eventRow(inc) };
      rows.set(inc.id, row);
      return row.node;
    });
    this.rows = rows;
    const empty = list.querySelector(':scope > .empty');
    if (empty) empty.remove();
    reconcile(list, nodes);
  }

  _eventRow(inc) {
    return el('li', { class: 'ev-event', dataset: { incidentId: inc.id, state: inc.state } },
      el('button', { class: 'ev-event-btn', type: 'button', onclick: () => this.onOpenIncident(this.events.get(inc.id) || inc) },
        el('time', { class: 'num', datetime: inc.ts || '' }, fmtTime(inc.ts, isCityToday(inc.ts) ? 'time' : 'short')),
        el('span', { class: 'ev-event-what' }, incidentWhat(inc)),
        urgencyBadge(this.urgencyOf(inc)),
        stateBadge(inc.state, 'incident')));
  }
}
