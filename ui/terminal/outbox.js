// Offline outbox for the worker terminal. A phone in a basement or a lift loses the network; an
// action taken meanwhile is kept in localStorage and sent when the network is back.
//
// No duplicates: every action carries the case `version` the worker saw. The server applies an
// action only against that version (409 "case changed meanwhile" otherwise), so a resend of an
// action that did reach the server (its answer was lost) is refused instead of applied twice; we
// then look at the case and drop the entry when its timeline already shows our action.
// A reported clue (`kind: 'report'`) carries a client id instead: the server answers a resend
// with the case the first one made, and each photo leaves the entry once it is uploaded.

import { t } from '../common/i18n.js';
import { api, post } from '../common/live.js';

const MAX_PHOTO_CHARS = 1_500_000; // a data URL per photo; localStorage holds about 5 MB per origin

export class Outbox {
  constructor(worker, { onSent = () => {}, onDropped = () => {}, onChange = () => {} } = {}) {
    this.key = `cc.outbox.${worker}`;
    this.worker = worker;
    this.onSent = onSent;
    this.onDropped = onDropped;
    this.onChange = onChange;
    this.flushing = null;
    window.addEventListener('online', () => this.flush());
  }

  entries() {
    try { return JSON.parse(localStorage.getItem(this.key) || '[]'); } catch { return []; }
  }

  _save(list) {
    localStorage.setItem(this.key, JSON.stringify(list));
    this.onChange(list);
  }

  /** The case ids with an action waiting, and which action (reported clues have no case yet). */
  pending() {
    return new Map(this.entries().filter((e) => e.kind !== 'report').map((e) => [e.caseId, e.action]));
  }

  /** Queues a clue report: `body` for POST /api/cases, photos as File/Blob objects. */
  async addReport(clientId, body, photos = []) {
    const dataUrls = await Promise.all(photos.map(readAsDataUrl));
    if (dataUrls.some((u) => u.length > MAX_PHOTO_CHARS)) throw new Error(t('terminal.photo_too_large'));
    const entry = { key: `report:${clientId}`, kind: 'report', action: 'report', clientId, body, photos: dataUrls, at: Date.now() };
    this._save([...this.entries().filter((e) => e.key !== entry.key), entry]);
    return entry;
  }

  /** Queues one action; photos are File/Blob objects, kept as data URLs until sent. */
  async add(caseId, action, note, version, photos = []) {
    const dataUrls = await Promise.all(photos.map(readAsDataUrl));
    if (dataUrls.some((u) => u.length > MAX_PHOTO_CHARS)) throw new Error(t('terminal.photo_too_large'));
    const entry = { key: `${caseId}:${action}:${version}`, caseId, action, note, version, photos: dataUrls, at: Date.now() };
    const list = this.entries().filter((e) => e.key !== entry.key);
    list.push(entry);
    this._save(list);
    return entry;
  }

  /** Sends what is queued, oldest first; one run at a time. */
  flush() {
    if (!this.flushing) this.flushing = this._flush().finally(() => { this.flushing = null; });
    return this.flushing;
  }

  async _flush() {
    for (const entry of this.entries()) {
      try {
        const updated = entry.kind === 'report'
          ? await sendReport(entry, (left) => this._update(entry.key, { photos: left }))
          : await send(entry, this.worker);
        this._remove(entry.key);
        this.onSent(entry, updated);
      } catch (err) {
        if (err.status === 0 || err.status >= 500 || err.status === 401) return; // still offline (or signed out): later
        const applied = err.status === 409 && entry.kind !== 'report' ? await alreadyApplied(entry, this.worker) : null;
        this._remove(entry.key);
        if (applied) this.onSent(entry, applied);
        else this.onDropped(entry, err);
      }
    }
  }

  _remove(key) {
    this._save(this.entries().filter((e) => e.key !== key));
  }

  _update(key, fields) {
    this._save(this.entries().map((e) => (e.key === key ? { ...e, ...fields } : e)));
  }
}

/** Uploads the photos, then posts the action with their ids and the version seen. */
export async function send(entry, worker) {
  const ids = [];
  for (const photo of entry.photos || []) {
    const blob = typeof photo === 'string' ? blobOf(photo) : photo;
    const form = new FormData();
    form.append('photo', blob, 'photo.jpg');
    const up = await api(`/api/cases/${encodeURIComponent(entry.caseId)}/photos`, { method: 'POST', body: form, timeoutMs: 60000 });
    ids.push(up.id);
  }
  const body = { actor: worker, note: entry.note || '' };
  if (Number.isInteger(entry.version)) body.version = entry.version;
  if (ids.length) body.photos = ids;
  return post(`/api/cases/${encodeURIComponent(entry.caseId)}/${entry.action}`, body);
}

/**
 * Reports a clue, then uploads its photos; `onPhotoSent(left)` hears the photos still to go
 * after each one (so a resend does not upload one twice). Posting again with the same client
 * id is safe: the server returns the case the first post made. Resolves to the case.
 */
export async function sendReport(entry, onPhotoSent = () => {}) {
  const c = await post('/api/cases', { ...entry.body, client_id: entry.clientId });
  const left = [...(entry.photos || [])];
  while (left.length) {
    const blob = typeof left[0] === 'string' ? blobOf(left[0]) : left[0];
    const form = new FormData();
    form.append('photo', blob, 'clue.jpg');
    await api(`/api/cases/${encodeURIComponent(c.id)}/photos`, { method: 'POST', body: form, timeoutMs: 60000 });
    left.shift();
    onPhotoSent(left);
  }
  return c;
}

/** The case as it is now when its timeline already holds our action after the version we sent. */
async function alreadyApplied(entry, worker) {
  try {
    const c = await api(`/api/cases/${encodeURIComponent(entry.caseId)}`);
    const mine = (c.timeline || []).some((t) => t.action === entry.action && t.actor === worker
      && Date.parse(t.ts) >= entry.at - 5 * 60 * 1000);
    return mine ? c : null;
  } catch {
    return null;
  }
}

/**
 * A kept data URL back to a Blob, decoded here: fetch() of a data: URL is a connection that
 * the Content-Security-Policy (connect-src 'self') rightly refuses.
 */
function blobOf(dataUrl) {
  const [head, payload = ''] = dataUrl.split(',', 2);
  const type = (head.match(/^data:([^;,]+)/) || [])[1] || 'application/octet-stream';
  const bytes = head.includes(';base64') ? atob(payload) : decodeURIComponent(payload);
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 1) out[i] = bytes.charCodeAt(i);
  return new Blob([out], { type });
}

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}
