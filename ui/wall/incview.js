// The incident view: the snapshot full size and the clip in an inline player, the detector's
// box drawn over both, what was seen where and when, its case, and the triage buttons
// (acknowledge, dismiss, confirm dispatch, open the case at the desk, raise incident mode).

import { el } from '../common/dom.js';
import { fmtTime, nameOf, t } from '../common/i18n.js';
import { api, sameOriginPath } from '../common/live.js';
import { parseTs } from '../common/util.js';
import { deviceLine } from './device_layer.js';
import { fmtSpan, incidentWhat, stateBadge, urgencyBadge } from './labels.js';
import { placeBox } from './views.js';

export class IncidentView {
  /**
   * root: #incident-view. getIncident(id) → the feed's copy; cameraName(id), areaName(code).
   */
  constructor(root, { layers, triage, getIncident, cameraName, areaName }) {
    Object.assign(this, { root, layers, triage, getIncident, cameraName, areaName });
    this.inc = null;
    this.parts = null;
    // Boxes follow the pictures' sizes (the layer showing, the window resizing, metadata arriving).
    this.sizes = 'ResizeObserver' in window ? new ResizeObserver(() => this._placeBoxes()) : null;
  }

  /** The incident shown, while the view is open. */
  get current() {
    return this.inc && this.layers.isOpen(this.root) ? this.getIncident(this.inc.id) || this.inc : null;
  }

  /** Opens an incident by id; `given`: its data when the feed does not hold it (a camera's older event). */
  async open(id, given = null) {
    let inc = this.getIncident(id) || given;
    if (!inc) {
      try { inc = await api(`/api/incidents/${encodeURIComponent(id)}`); } catch { return; }
    }
    this._stopMedia(); // the incident shown before (j/k move the view along the feed)
    this.inc = inc;
    this._build();
    this.layers.show(this.root, () => { this._stopMedia(); this.inc = null; });
    this.root.querySelector('[data-action=close]').focus({ preventScroll: true });
  }

  close() {
    if (this.layers.isOpen(this.root)) this.layers.close(this.root);
  }

  /** An incident changed (event or an action's answer): the open one follows. */
  update(inc) {
    if (!this.current || inc.id !== this.inc.id) return;
    const clipBefore = this.inc.clip_url;
    this.inc = { ...this.inc, ...inc };
    this._renderInfo();
    if (!clipBefore && this.inc.clip_url) this._renderClip();
  }

  /** Its case changed (case.updated): state and the confirm-first buttons follow. */
  refresh() {
    if (this.current) this._renderInfo();
  }

  tick(now = Date.now()) {
    const cd = this.parts && this.parts.countdown;
    if (!cd) return;
    const left = parseTs(cd.dataset.confirmBy) - now;
    cd.textContent = left > 0 ? t('wall.confirm.left', { left: fmtSpan(left) }) : t('wall.confirm.due');
  }

  _build() {
    const inc = this.inc;
    const snapshot = sameOriginPath(inc.snapshot_url);
    const shot = el('img', { class: 'ev-media-el ev-snapshot', alt: incidentWhat(inc) });
    const shotBox = el('div', { class: 'ev-box', hidden: true });
    shot.addEventListener('load', () => this._placeBoxes());
    if (snapshot) shot.src = snapshot;
    if (this.sizes) { this.sizes.disconnect(); this.sizes.observe(shot); }
    const clip = el('figure', { class: 'ev-clip' });
    this.parts = {
      head: el('header', { class: 'ev-head' }),
      meta: el('div', { class: 'ev-meta' }),
      actions: el('div', { class: 'ev-actions' }),
      shot, shotBox, clip, clipVideo: null, clipBox: null, countdown: null,
    };
    this.root.replaceChildren(el('div', { class: 'ev-panel ev-incident', dataset: { incidentId: inc.id } },
      this.parts.head,
      this.parts.meta,
      el('div', { class: 'ev-media' },
        el('figure', { class: 'ev-shot' },
          el('div', { class: 'ev-frame' }, snapshot ? shot : el('div', { class: 'ev-pending' }, t('wall.incident.no_image')), shotBox),
          el('figcaption', { class: 'muted small' }, t('wall.incview.snapshot'))),
        clip),
      this.parts.actions));
    this._renderInfo();
    this._renderClip();
  }

  _renderInfo() {
    const inc = this.current || this.inc;
    const { head, meta, actions } = this.parts;
    const urgency = this.triage.urgency(inc);
    this.root.firstElementChild.dataset.state = inc.state;
    head.replaceChildren(...[
      el('h2', { class: 'ev-title' }, incidentWhat(inc)),
      urgencyBadge(urgency),
      stateBadge(inc.state, 'incident'),
      el('button', { class: 'btn ev-close', type: 'button', dataset: { action: 'close' }, onclick: () => this.close() }, t('wall.view.close')),
    ].filter(Boolean));
    const c = inc.case_id ? this.triage.caseOf(inc.case_id) : null;
    const score = Number.isFinite(inc.score) ? `${Math.round(inc.score * 100)}%` : '';
    const fact = (label, value, cls = '') => (value ? el('div', { class: `ev-fact ${cls}` }, el('span', { class: 'muted' }, label), el('span', {}, value)) : null);
    meta.replaceChildren(...[
      fact(t('wall.incview.time'), fmtTime(inc.ts)),
      inc.source === 'iot'
        ? fact(t('wall.incview.device'), deviceLine(inc) || t('wall.unknown')) // a sensor's alarm: no camera
        : fact(t('wall.incview.camera'), inc.camera_name || this.cameraName(inc.camera_id) || t('wall.unknown')),
      fact(t('wall.incview.grid'), this.areaName(inc.grid_code)),
      fact(t('wall.incview.matter'), inc.matter_name),
      fact(t('wall.incview.object'), inc.label ? nameOf('label', inc.label, inc.label_name) : inc.label_name),
      fact(t('wall.incview.score'), score, 'num'),
      fact(t('wall.incview.case'), c ? nameOf('state', c.state) : (inc.case_id ? t('wall.incview.case_linked') : '')),
    ].filter(Boolean));
    this.parts.countdown = null;
    const busy = () => actions.querySelectorAll('button');
    const act = (action, label, cls, run) => el('button', {
      class: `btn ${cls}`, type: 'button', dataset: { action }, onclick: () => run(inc, busy()),
    }, label);
    const waiting = this.triage.waiting(inc);
    const items = [];
    if (waiting) {
      this.parts.countdown = el('span', { class: 'confirm-countdown num', dataset: { confirmBy: waiting.confirm_by } });
      items.push(el('span', { class: 'ev-waiting' }, t('wall.confirm.waiting'), ' ', this.parts.countdown),
        act('confirm', t('wall.action.confirm'), 'btn-ok', (i, b) => this.triage.confirm(i, b)),
        act('dismiss', t('wall.action.dismiss_false'), 'btn-danger', (i, b) => this.triage.dismiss(i, b)));
    } else if (inc.state === 'new') {
      items.push(act('ack', t('wall.action.ack'), 'btn-ok', (i, b) => this.triage.ack(i, b)),
        act('dismiss', t('wall.action.dismiss'), 'btn-danger', (i, b) => this.triage.dismiss(i, b)));
    }
    if (inc.case_id) {
      items.push(el('a', { class: 'btn', href: `/desk#case=${encodeURIComponent(inc.case_id)}`, dataset: { action: 'case' } }, t('wall.action.open_case')));
    }
    if (inc.state !== 'dismissed') items.push(act('emergency', t('wall.action.emergency'), 'btn-warn', (i, b) => this.triage.raise(i, b)));
    actions.replaceChildren(...items);
    this.tick();
  }

  _renderClip() {
    const { clip } = this.parts;
    const url = sameOriginPath(this.inc.clip_url);
    if (!url) {
      clip.replaceChildren(el('div', { class: 'ev-frame' }, el('div', { class: 'ev-pending', dataset: { part: 'clip-pending' } }, t('wall.incview.clip_pending'))),
        el('figcaption', { class: 'muted small' }, t('wall.incview.clip')));
      return;
    }
    const video = el('video', { class: 'ev-media-el ev-clip-video', controls: true, playsinline: true, preload: 'metadata', src: url });
    const box = el('div', { class: 'ev-box', hidden: true });
    video.addEventListener('loadedmetadata', () => this._placeBoxes());
    if (this.sizes) this.sizes.observe(video);
    this.parts.clipVideo = video;
    this.parts.clipBox = box;
    clip.replaceChildren(el('div', { class: 'ev-frame' }, video, box), el('figcaption', { class: 'muted small' }, t('wall.incview.clip')));
  }

  /** The detector's box (snapshot pixels) over the snapshot and over the clip (no per-frame track: the same box). */
  _placeBoxes() {
    if (!this.parts || !this.inc) return;
    const { shot, shotBox, clipVideo, clipBox } = this.parts;
    const srcW = shot.naturalWidth || 0;
    const srcH = shot.naturalHeight || 0;
    placeBox(shot, shotBox, this.inc.box, srcW, srcH);
    if (clipVideo) placeBox(clipVideo, clipBox, this.inc.box, srcW, srcH);
  }

  _stopMedia() {
    if (this.parts && this.parts.clipVideo) this.parts.clipVideo.pause();
  }
}
