// One case in full: what and where, the actions the desk may take on it, the evidence
// (the snapshot before, the clip of a video case, the worker's feedback and photos after),
// a small map and the timeline in words. Rebuilt when the case changes; the media and the
// map only when what they show changed, so a playing clip is not restarted by a live update.

import { el } from '../common/dom.js';
import { fmtTime, nameOf, t } from '../common/i18n.js';
import { api, sameOriginPath } from '../common/live.js';
import { MiniMap } from './minimap.js';
import { SuggestPanel } from './suggest.js';
import { feedbackNote, shortId, timelineList } from './timeline.js';
import { VerifyPanel } from './verify.js';
import { citizenMedia } from '../common/report_media.js';

// The worker's own steps: the desk does not take them for the worker.
const WORKER_ONLY = new Set(['accept', 'start', 'feedback']);
// The order buttons appear in, most used first; the style of each.
const ORDER = ['dispatch', 'reassign', 'verify', 'close', 'return', 'transfer', 'escalate', 'defer', 'resume',
  'reclassify', 'merge', 'evaluate', 'cancel'];
const STYLE = { verify: 'btn-ok', close: 'btn-ok', dispatch: 'btn-primary', return: 'btn-warn', escalate: 'btn-warn', cancel: 'btn-danger', merge: 'btn-danger' };

/** The time left to a deadline in words: minutes, hours and minutes, or days and hours. */
export function timeLeft(deadline, now = Date.now()) {
  const at = Date.parse(deadline);
  if (!Number.isFinite(at)) return { text: '—', level: 'none' };
  const ms = at - now;
  const min = Math.floor(Math.abs(ms) / 60000);
  let span;
  if (min < 60) span = t('desk.span.m', { m: min });
  else if (min < 1440) span = t('desk.span.hm', { h: Math.floor(min / 60), m: min % 60 });
  else span = t('desk.span.dh', { d: Math.floor(min / 1440), h: Math.floor((min % 1440) / 60) });
  if (ms < 0) return { text: t('desk.left.over', { span }), level: 'overdue' };
  return { text: t('desk.left.in', { span }), level: min < 60 ? 'warn' : 'ok' };
}

/** A case state's badge, coloured by style.css's .badge[data-state]. */
export function stateBadge(state) {
  return el('span', { class: 'badge', dataset: { state } }, nameOf('state', state));
}

export function urgencyBadge(urgency) {
  const u = urgency || 'routine';
  return el('span', { class: 'urgency', dataset: { urgency: u } }, nameOf('urgency', u));
}

/** The actions the desk offers on a case: what its state allows, less the worker's own steps
 *  and the checks its own handler may not make. */
export function deskActions(c, me) {
  const allowed = new Set((c.allowed_actions || []).filter((a) => !WORKER_ONLY.has(a)));
  if (c.handled_by && me && c.handled_by === me.username) ['verify', 'close', 'return'].forEach((a) => allowed.delete(a));
  return ORDER.filter((a) => allowed.has(a));
}

export class CaseDetail {
  constructor(root, { lookups, me, onAction, onClose }) {
    this.root = root;
    this.lookups = lookups;
    this.me = me;
    this.onAction = onAction;
    this.onClose = onClose;
    this.case = null;
    this.map = new MiniMap();
    this.media = null;      // {sig, node}
    this.mapBox = null;     // {sig, node}
    this.clip = new Map();  // incident id -> its clip URL (or '' while none)
    this.suggest = new SuggestPanel({ onCase: (updated) => { if (this.id === updated.id) this.show(updated); } });  // 建议分类
    this.verify = new VerifyPanel({ onCase: (updated) => { if (this.id === updated.id) this.show(updated); } });  // 视频核查
  }

  get id() { return this.case ? this.case.id : null; }

  show(c) {
    this.case = c;
    this.root.hidden = false;
    this.root.dataset.caseId = c.id;
    this.root.dataset.state = c.state;
    const head = el('div', { class: 'panel-head detail-head' },
      el('h2', {}, c.matter_name || this.lookups.matterName(c.matter_code, t('desk.unknown_matter'))),
      urgencyBadge(c.urgency), stateBadge(c.state),
      Number(c.level) > 0 ? el('span', { class: 'badge level' }, t('desk.level', { n: c.level })) : null,
      el('button', { class: 'btn detail-close', type: 'button', 'aria-label': t('desk.close_detail'), onclick: () => this.onClose() }, '×'));
    const left = timeLeft(c.deadline);
    const facts = el('dl', { class: 'facts' },
      fact(t('desk.d.id'), el('span', { class: 'num', title: c.id, translate: 'no' }, c.id)),
      fact(t('desk.d.grid'), c.grid_name || t('desk.unknown_area')),
      fact(t('desk.d.worker'), c.assignee_name || c.department || t('desk.unassigned')),
      fact(t('desk.d.source'), nameOf('source', c.source)),
      c.device_id ? fact(t('desk.d.device'), el('span', { dataset: { deviceId: c.device_id } }, // an IoT case's device (issue 20)
        c.device_name || t('terminal.device.unnamed'), ' · ', nameOf('device_kind', c.device_kind, c.device_kind || ''))) : null,
      fact(t('desk.d.created'), fmtTime(c.created_at)),
      fact(t('desk.d.deadline'), el('span', {}, fmtTime(c.deadline), ' ',
        c.state !== 'cancelled' && !['closed', 'evaluated', 'merged'].includes(c.state)
          ? el('span', { class: 'countdown', dataset: { level: left.level } }, left.text) : null)),
      Number(c.returns) > 0 ? fact(t('desk.d.returns'), String(c.returns)) : null,
      c.merged_into ? fact(t('desk.d.merged_into'), el('a', { href: `#case=${encodeURIComponent(c.merged_into)}`, translate: 'no' }, shortId(c.merged_into))) : null,
      fact(t('desk.d.description'), c.description || '—'));
    const actions = deskActions(c, this.me);
    const bar = el('div', { class: 'detail-actions' }, actions.length
      ? actions.map((a) => el('button', { class: `btn ${STYLE[a] || ''}`, type: 'button', dataset: { action: a }, onclick: () => this.onAction(a, c) }, nameOf('action', a)))
      : el('span', { class: 'muted' }, t('desk.no_actions')));
    const feedback = feedbackNote(c, this.lookups);
    const said = feedback ? el('div', { class: 'feedback-note' },
      el('h3', {}, t('desk.feedback')), el('p', {}, feedback.note || '—'), el('p', { class: 'muted small' }, fmtTime(feedback.ts))) : null;
    this.root.replaceChildren(head, el('div', { class: 'detail-body' },
      facts, bar, said, this.suggest.node(c), this.verify.node(c), this._media(c), this._mapNode(c),
      el('section', { class: 'detail-timeline' }, el('h3', {}, t('desk.timeline')), timelineList(c, this.lookups))));
  }

  hide() {
    this.case = null;
    this.root.hidden = true;
    delete this.root.dataset.caseId;
  }

  _mapNode(c) {
    const lon = c.location && c.location.lon;
    const lat = c.location && c.location.lat;
    const sig = `${c.id}:${lon}:${lat}`;
    if (!this.mapBox || this.mapBox.sig !== sig) {
      const node = el('section', { class: 'detail-map' }, el('h3', {}, t('desk.place')), el('div', { class: 'minimap' }));
      this.mapBox = { sig, node };
      this.map.show(node.lastChild, Number(lon), Number(lat));
    }
    return this.mapBox.node;
  }

  _media(c) {
    const sig = JSON.stringify([c.id, c.snapshot_url, c.incident_ids && c.incident_ids[0], c.photos]);
    if (this.media && this.media.sig === sig) return this.media.node;
    const before = el('figure', { class: 'media-before' }, el('figcaption', {}, t('desk.before')));
    const snapshot = sameOriginPath(c.snapshot_url);
    before.append(snapshot
      ? el('a', { href: snapshot, target: '_blank', rel: 'noopener' }, el('img', { class: 'photo-before', src: snapshot, alt: t('desk.before'), loading: 'lazy' }))
      : el('p', { class: 'muted' }, t('desk.no_snapshot')));
    const after = el('figure', { class: 'media-after' }, el('figcaption', {}, t('desk.after')));
    const photos = el('div', { class: 'photos' });
    after.append(photos);
    this._photos(c, photos);
    const clip = c.source === 'video' && c.incident_ids && c.incident_ids.length ? this._clip(c.incident_ids[0]) : null;
    // a citizen's report: their photos, voice note and video (ui/common/report_media.js)
    const citizen = c.source === 'citizen' ? citizenMedia(c.id, api) : null;
    const node = el('section', { class: 'detail-media' }, el('h3', {}, t('desk.evidence')), el('div', { class: 'media-grid' }, before, citizen, clip, after));
    this.media = { sig, node };
    return node;
  }

  /** Photos after: those the feedback and checks attached, and any others uploaded for the case. */
  async _photos(c, box) {
    const urls = [...(c.photos || [])];
    try {
      const listed = await api(`/api/cases/${encodeURIComponent(c.id)}/photos`);
      for (const p of (listed && listed.items) || []) if (!urls.includes(p.url)) urls.push(p.url);
    } catch { /* the attached ones still show */ }
    const safe = urls.map(sameOriginPath).filter(Boolean);
    box.replaceChildren(...(safe.length
      ? safe.map((u) => el('a', { href: u, target: '_blank', rel: 'noopener' }, el('img', { class: 'photo-after', src: u, alt: t('desk.after'), loading: 'lazy' })))
      : [el('p', { class: 'muted' }, t('desk.no_photos'))]));
  }

  /** The incident's clip in a player; "being made" until the recorder has it. */
  _clip(incidentId) {
    const fig = el('figure', { class: 'media-clip' }, el('figcaption', {}, t('desk.clip')));
    const body = el('p', { class: 'muted' }, t('desk.clip_loading'));
    fig.append(body);
    api(`/api/incidents/${encodeURIComponent(incidentId)}`).then((inc) => {
      const url = sameOriginPath(inc && inc.clip_url);
      body.replaceWith(url
        ? el('video', { class: 'clip', src: url, controls: true, preload: 'metadata', playsinline: true })
        : el('p', { class: 'muted' }, t('desk.clip_pending')));
    }).catch(() => body.replaceWith(el('p', { class: 'muted' }, t('desk.clip_none'))));
    return fig;
  }
}

function fact(label, value) {
  return [el('dt', {}, label), el('dd', {}, value)];
}
