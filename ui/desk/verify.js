// 视频核查 on the desk: in the open case, a panel per camera check (its state, the camera's
// verdict in words, the incident's snapshot beside the camera's fresh frame, the clip) with
// 确认/驳回 for a verdict that waits for an officer; the case's flags (自行消失, 复发) as
// badges, here and in the case rows; and the queue of verdicts awaiting an officer (待核查确认).
//
// The rows come with the case (GET /api/cases/{id}: `verifications`, `flags`). Case
// announcements on the websocket do not carry them, so the panel asks for the case again when
// the case it shows changed, or when the hub announces a change of one of its rows on the
// `verifications` channel (`verification.updated`: the desk calls `rowChanged`). A suggested
// verdict changes nothing on the case, so the queue's count is asked again on the same news.
// While the camera is still looking, the panel also asks every CHECKING_POLL_MS, and the queue
// every QUEUE_POLL_MS: the fallback while the websocket is down.

import { el, reconcile } from '../common/dom.js';
import { fmtTime, nameOf, t } from '../common/i18n.js';
import { api, post, sameOriginPath } from '../common/live.js';
import { parseTs, toast } from '../common/util.js';
import { shortId } from './timeline.js';

const CHECKING_POLL_MS = 10000;  // the hub announces each change; this only covers a dropped socket
const QUEUE_POLL_MS = 15000;
const MAX_NOTE = 2000;
// Watch rows that ended without news (the case was handled first) are bookkeeping, not shown.
const QUIET_WATCH = new Set(['cancelled', 'unsure']);

/** The badge's state: a suggested verdict waiting for an officer is 待确认, else the row's state. */
export const rowState = (v) => (v.awaiting ? 'awaiting' : v.state);

/** The camera's verdict (or what it is doing) in the reader's language, from the row's facts. */
export function explain(v) {
  const label = nameOf('label', v.label || (v.labels && v.labels[0]), v.label_name || t('verify.something'));
  const zone = v.zone ? nameOf('zone', v.zone, v.zone_name) : t('verify.in_view');
  const outcome = v.outcome || (['cleared', 'present', 'unsure'].includes(v.state) ? v.state : null);
  if (outcome === 'cleared') {
    // The hold is what "cleared" promises; the absence run may be a little longer.
    const s = Math.round(Number(v.hold_s) || Number(v.absent_s) || 0);
    return t('verify.explain.cleared', { zone, label, s });
  }
  if (outcome === 'present') return t('verify.explain.present', { zone, label });
  if (outcome === 'unsure' && Number(v.unchanged_frames) > 0) return t('verify.explain.unsure_same', { zone, label });
  if (outcome === 'unsure') return t('verify.explain.unsure', { s: Math.round(Number(v.looked_s) || Number(v.timeout_s) || 0) });
  if (v.state === 'cancelled') return t('verify.explain.cancelled');
  return t(v.purpose === 'watch' ? 'verify.explain.watch' : 'verify.explain.checking', { zone, label });
}

/** Seconds since the camera started looking. */
function elapsedS(v, now = Date.now()) {
  const start = parseTs(v.created_at);
  return Number.isFinite(start) ? Math.max(0, Math.floor((now - start) / 1000)) : 0;
}

function stateBadge(v) {
  const state = rowState(v);
  return el('span', { class: 'badge verify-state', dataset: { verify: state } }, t(`verify.state.${state}`),
    state === 'checking' ? el('span', { class: 'verify-elapsed num' }, ` · ${t('verify.elapsed', { s: elapsedS(v) })}`) : null);
}

/** A case's flags as badges; 复发 links to the earlier case. `extra`: a 待确认 badge when a verdict waits. */
export function flagBadges(c) {
  const flags = Array.isArray(c && c.flags) ? c.flags : [];
  const out = flags.filter((f) => f && (f.kind === 'self_resolved' || f.kind === 'recurred')).map((f) => {
    if (f.kind === 'self_resolved') {
      return el('span', { class: 'badge verify-flag', dataset: { flag: f.kind }, title: t('verify.flag.self_resolved_hint') }, t('verify.flag.self_resolved'));
    }
    const earlier = f.earlier_case_id;
    const text = t('verify.flag.recurred');
    const title = `${t('verify.flag.recurred_hint')}${earlier ? ` · ${t('verify.flag.earlier')} ${shortId(earlier)}` : ''}`;
    return earlier
      ? el('a', { class: 'badge verify-flag', dataset: { flag: f.kind, earlier }, title, href: `#case=${encodeURIComponent(earlier)}`, onclick: (ev) => ev.stopPropagation() }, text)
      : el('span', { class: 'badge verify-flag', dataset: { flag: f.kind }, title }, text);
  });
  if (Array.isArray(c && c.verifications) && c.verifications.some((v) => v.awaiting)) {
    out.push(el('span', { class: 'badge verify-flag', dataset: { flag: 'awaiting' } }, t('verify.flag.awaiting')));
  }
  return out;
}

// ---- the enlarged picture ----

let viewer = null;
function enlarge(src, alt) {
  if (!viewer) {
    const img = el('img', { class: 'verify-viewer-img', alt: '' });
    viewer = el('dialog', { class: 'verify-viewer', onclick: () => viewer.close() },
      el('button', { class: 'btn verify-viewer-close', type: 'button', 'aria-label': t('verify.viewer_close') }, '×'), img);
    document.body.append(viewer);
  }
  const img = viewer.querySelector('img');
  img.src = src;
  img.alt = alt;
  if (!viewer.open) viewer.showModal();
}

function picture(cls, url, caption, missing) {
  const src = sameOriginPath(url);
  return el('figure', { class: `verify-figure ${cls}` }, el('figcaption', {}, caption), src
    ? el('button', { class: 'verify-zoom', type: 'button', title: t('verify.enlarge'), onclick: () => enlarge(src, caption) },
      el('img', { src, alt: caption, loading: 'lazy' }))
    : el('p', { class: 'muted verify-missing' }, missing));
}

// ---- the panel ----

export class VerifyPanel {
  /** onCase(case): the case after an officer's decision (the desk shows it at once). */
  constructor({ onCase = () => {} } = {}) {
    this.onCase = onCase;
    this.caseId = null;
    this.seen = null;        // the case's version the rows were last asked for at
    this.rows = new Map();   // verification id -> {sig, node, v}
    this.section = null;
    this.timer = null;       // the next look while the camera is still looking
    this.ticker = null;      // the elapsed seconds
  }

  /** The panel for case `c` (the same node while the case stays open, updated in place). */
  node(c) {
    if (!this.section || this.caseId !== c.id) {
      this.caseId = c.id;
      this.rows.clear();
      this.seen = null;
      this.section = el('section', { class: 'verify-panel', dataset: { verifyFor: c.id }, hidden: true },
        el('h3', {}, t('verify.title')), el('div', { class: 'verify-flags' }), el('ol', { class: 'verify-list' }));
    }
    const sig = `${c.state}:${c.version}`;
    const given = Array.isArray(c.verifications);
    if (given) this._render(c.verifications, c.flags);
    // A live update carries the case without its rows (or with the ones the desk had): ask again.
    if (this.seen === null ? !given : this.seen !== sig) this._refresh();
    this.seen = sig;
    return this.section;
  }

  /** The hub announced a change of verification `v` (a row as the API shows it). */
  rowChanged(v) {
    if (v && v.case_id === this.caseId) this._refresh();
  }

  async _refresh() {
    const id = this.caseId;
    try {
      const c = await api(`/api/cases/${encodeURIComponent(id)}`);
      if (this.caseId === id && c) this._render(c.verifications || [], c.flags);
    } catch { /* the rows shown stay; the next change asks again */ }
  }

  _render(items, flags) {
    const section = this.section;
    // Newest first, as the server lists them, but a verdict waiting for the officer on top.
    const shown = items.filter((v) => v && v.id && !(v.purpose === 'watch' && QUIET_WATCH.has(v.state)))
      .sort((a, b) => Number(Boolean(b.awaiting)) - Number(Boolean(a.awaiting)));
    const nodes = shown.map((v) => this._row(v));
    for (const id of [...this.rows.keys()]) if (!shown.some((v) => v.id === id)) this.rows.delete(id);
    reconcile(section.querySelector('.verify-list'), nodes);
    const badges = flagBadges({ flags });
    section.querySelector('.verify-flags').replaceChildren(...badges);
    section.hidden = !nodes.length && !badges.length;
    this._schedule(shown.some((v) => v.state === 'checking'));
  }

  /** While a camera is looking: the elapsed seconds each second, the rows again every few. */
  _schedule(checking) {
    clearTimeout(this.timer);
    this.timer = null;
    if (!checking) {
      clearInterval(this.ticker);
      this.ticker = null;
      return;
    }
    const id = this.caseId;
    this.timer = setTimeout(() => {
      if (this.caseId !== id) return;
      if (this._visible()) this._refresh();
      else this._schedule(true);  // the case is closed for now: look again later, without asking
    }, CHECKING_POLL_MS);
    if (!this.ticker) this.ticker = setInterval(() => this._tick(), 1000);
  }

  _visible() {
    return Boolean(this.section && this.section.isConnected && !this.section.closest('[hidden]'));
  }

  _tick(now = Date.now()) {
    if (!this._visible()) return;
    for (const { node, v } of this.rows.values()) {
      const out = node.querySelector('.verify-elapsed');
      if (out) out.textContent = ` · ${t('verify.elapsed', { s: elapsedS(v, now) })}`;
    }
  }

  _row(v) {
    const sig = JSON.stringify(v);
    const kept = this.rows.get(v.id);
    if (kept && kept.sig === sig) return kept.node;
    const state = rowState(v);
    const verdict = explain(v);
    const decided = (v.state === 'confirmed' || v.state === 'rejected') && v.decided_by
      ? el('p', { class: 'verify-decided muted' },
        el('span', { class: 'verify-who', translate: 'no' }, v.decided_by), ' ',  // a user name, as it is
        t('verify.decided', { time: fmtTime(v.decided_at), what: t(`verify.decided.${v.state}`) }),
        v.note ? el('span', { class: 'verify-officer-note' }, ` ${t('verify.officer_note', { note: v.note })}`) : null)
      : null;
    const done = v.case_action && ['verify', 'return'].includes(v.case_action)
      ? el('p', { class: 'verify-result', dataset: { caseAction: v.case_action } }, t(`verify.result.${v.case_action}`)) : null;
    const decidedYet = v.state !== 'checking' && v.state !== 'cancelled';
    const media = v.purpose === 'watch' && !decidedYet ? null : el('div', { class: 'verify-media' },
      picture('verify-before', v.before_url, t('verify.before'), t('verify.no_before')),
      picture('verify-after', v.after_url, t('verify.after'), t(decidedYet ? 'verify.after_pending' : 'verify.state.checking')),
      sameOriginPath(v.clip_url) ? el('figure', { class: 'verify-figure verify-clip' }, el('figcaption', {}, t('verify.clip')),
        el('video', { src: sameOriginPath(v.clip_url), controls: true, preload: 'metadata', playsinline: true, muted: true })) : null);
    const node = el('li', { class: 'verify-row', dataset: { verificationId: v.id, state: v.state, verify: state, outcome: v.outcome || null } },
      el('div', { class: 'verify-head' }, stateBadge(v),
        el('span', { class: 'verify-purpose' }, t(`verify.purpose.${v.purpose === 'watch' ? 'watch' : 'verify'}`)),
        el('span', { class: 'muted' }, t(`verify.mode.${v.mode === 'suggest' ? 'suggest' : 'auto'}`)),
        v.camera_name ? el('span', { class: 'muted verify-camera' }, t('verify.camera', { name: v.camera_name })) : null,
        el('time', { class: 'muted verify-time', datetime: v.created_at }, fmtTime(v.decided_at || v.created_at))),
      el('p', { class: 'verify-explain' }, v.awaiting ? t('verify.verdict', { text: verdict }) : verdict),
      done, decided, media,
      v.awaiting ? this._decide(v) : null);
    this.rows.set(v.id, { sig, node, v });
    return node;
  }

  /** 确认核实 / 确认退回 and 驳回, with an optional note. */
  _decide(v) {
    const note = el('textarea', { class: 'verify-note', rows: 2, maxlength: MAX_NOTE, placeholder: t('verify.note_hint') });
    const error = el('p', { class: 'dialog-error verify-error', role: 'alert' });
    const present = v.outcome === 'present';
    const confirm = el('button', { class: `btn ${present ? 'btn-warn' : 'btn-ok'}`, type: 'button', dataset: { decide: 'confirm' } },
      t(present ? 'verify.confirm_present' : 'verify.confirm_cleared'));
    const reject = el('button', { class: 'btn', type: 'button', dataset: { decide: 'reject' } }, t('verify.reject'));
    const send = async (decision) => {
      confirm.disabled = true;
      reject.disabled = true;
      error.textContent = '';
      try {
        const answer = await post(`/api/verifications/${encodeURIComponent(v.id)}/${decision}`, note.value.trim() ? { note: note.value.trim() } : {});
        toast(t(decision === 'confirm' ? 'verify.done.confirmed' : 'verify.done.rejected'), 'ok', 2500);
        if (answer && answer.case && answer.case.id) {
          if (Array.isArray(answer.case.verifications) && this.caseId === answer.case.id) this._render(answer.case.verifications, answer.case.flags);
          this.onCase(answer.case);
        } else {
          this._refresh();
        }
      } catch (err) {
        error.textContent = err.status === 409 ? t('verify.err.stale') : t('verify.err.failed');
        error.title = err.message || '';
        confirm.disabled = false;
        reject.disabled = false;
        if (err.status === 409) this._refresh();
      }
    };
    confirm.addEventListener('click', () => send('confirm'));
    reject.addEventListener('click', () => send('reject'));
    return el('div', { class: 'verify-decide' },
      el('label', { class: 'field' }, el('span', {}, t('verify.note_label')), note),
      el('div', { class: 'verify-buttons' }, confirm, reject), error);
  }
}

// ---- the queue: verdicts awaiting an officer ----

export class AwaitingQueue {
  /** count: the tab's count node; tab: the tab button (hidden when the caller may not see the rows). */
  constructor({ count, tab }) {
    this.count = count;
    this.tab = tab;
    setInterval(() => this.refresh(), QUEUE_POLL_MS);
  }

  show(total) {
    this.count.textContent = String(total);
    this.tab.dataset.waiting = String(total > 0);
  }

  async refresh() {
    try {
      const page = await api('/api/verifications?awaiting=1&limit=1');
      this.show(Number(page && page.total) || 0);
    } catch (err) {
      if (err.status === 403 || err.status === 404) this.tab.hidden = true;
    }
  }

  /** A page of the cases whose verdicts wait ({items: cases, total: rows}), oldest verdict last. */
  async page(limit, offset) {
    const page = await api(`/api/verifications?awaiting=1&limit=${limit}&offset=${offset}`);
    const total = Number(page && page.total) || 0;
    this.show(total);
    const ids = [...new Set(((page && page.items) || []).map((v) => v.case_id))];
    const cases = await Promise.all(ids.map((id) => api(`/api/cases/${encodeURIComponent(id)}`).catch(() => null)));
    return { total, items: cases.filter(Boolean) };
  }
}
