// The 采集 tab's queue (cc.collect.<worker> in localStorage): every form the worker sends,
// online or not, waits here and is sent in order, a person after the household it lives in.
// Kept apart from ./outbox.js (case actions) on purpose: its entries, checks and conflicts
// are base data's own.
//
// Sent once. A new record carries a client id made here; the server answers a resend of it
// with the record the first send made (api/basedata_collect.py), so a send whose answer was
// lost (a lift, a basement) is simply sent again. A change carries the version the worker
// read: a stale one is a conflict (409 with the record as it stands), kept here for the
// worker to settle, keep theirs (sent again on the current version) or drop theirs. A change
// whose own first answer was lost reads as applied when the record now holds exactly it.
// A door-plate photo waits as a data URL and is uploaded first (POST /api/field-photos),
// once: its id is kept with the entry.
//
// A form still waiting can be changed (revise): the entry keeps its key and client id, so
// the server still makes one record of it. Only before its first send: once a send began,
// its answer may have been lost and the server may hold the first version already.

import { t } from '../common/i18n.js';
import { api, post } from '../common/live.js';
import { today } from './duty.js';
import { uploadDataUrl } from './field_photo.js';

export const PLURAL = { address: 'addresses', building: 'buildings', household: 'households', person: 'people', organisation: 'organisations' };
export const KEY_FIELD = { address: 'code', building: 'code', household: 'id', person: 'id', organisation: 'id' };
const c = (key, vars) => t(`terminal.collect.${key}`, vars);

/** A form's own id, 8 to 64 of [A-Za-z0-9_-] as the server asks (no crypto.randomUUID: plain-HTTP pages lack it). */
export function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return `c-${Date.now().toString(36)}-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export class CollectQueue {
  constructor(worker, { onSent = () => {}, onDropped = () => {}, onConflict = () => {}, onChange = () => {} } = {}) {
    this.key = `cc.collect.${worker}`;
    this.hooks = { onSent, onDropped, onConflict, onChange };
    this.state = 'idle'; // 'sending' | 'offline' (the last try found no network) | 'idle'
    this.current = null; // the key of the entry being sent now
    this.flushing = null;
    window.addEventListener('online', () => this.flush());
  }

  entries() {
    try { return JSON.parse(localStorage.getItem(this.key) || '[]'); } catch { return []; }
  }

  /** Waiting to be sent (not counting conflicts the worker has to settle). */
  waiting() { return this.entries().filter((e) => e.state !== 'conflict'); }

  conflicts() { return this.entries().filter((e) => e.state === 'conflict'); }

  _save(list) {
    try {
      localStorage.setItem(this.key, JSON.stringify(list));
    } catch {
      throw new Error(c('queue.full')); // the phone's storage for this page is full (photos, mostly)
    }
    this.hooks.onChange(list);
  }

  _update(key, fields) { this._save(this.entries().map((e) => (e.key === key ? { ...e, ...fields } : e))); }

  _remove(key) { this._save(this.entries().filter((e) => e.key !== key)); }

  /**
   * Queues a form. `entry`: {op: 'create'|'update'|'leave'|'return', kind, body, label, grid,
   * building?, id?, version?, photo?} (id and version for a change, id for a person's 迁出 or its
   * undoing; photo a data URL). Returns the entry.
   */
  add(entry) {
    const clientId = entry.op === 'create' ? newClientId() : null;
    const kept = { ...entry, key: clientId || `u-${newClientId()}`, clientId, sends: 0, state: 'waiting', at: Date.now() };
    this._save([...this.entries(), kept]);
    return kept;
  }

  /** Takes back a form not sent yet; a household's people queued with it go too (they would have no home). */
  withdraw(key) {
    const entry = this.entries().find((e) => e.key === key);
    if (!entry) return;
    const home = entry.op === 'create' && entry.kind === 'household' ? entry.id : null;
    this._save(this.entries().filter((e) => e.key !== key
      && !(home && e.op === 'create' && e.kind === 'person' && e.body.household_id === home && e.sends === 0)));
  }

  /** Whether a form may still be changed in the queue: not sent yet (no send began, so no
   *  answer can have been lost), not a conflict, not being sent now. */
  editable(entry) { return Boolean(entry) && entry.sends === 0 && entry.state === 'waiting' && this.current !== entry.key; }

  /** The waiting change of a record, if one is queued (a second form then revises it: two
   *  changes on one version would conflict with each other). */
  pendingUpdate(kind, id) {
    return this.entries().find((e) => e.op === 'update' && e.kind === kind && e.id === id && e.state === 'waiting') || null;
  }

  /** A form still waiting, changed: same entry, same client id, so it is still sent once.
   *  `photo` null keeps the one taken before. False when it can no longer be changed. */
  revise(key, { body, photo, label, id }) {
    const entry = this.entries().find((e) => e.key === key);
    if (!this.editable(entry)) return false;
    this._update(key, { body, ...(photo ? { photo, photoId: null } : {}), ...(label ? { label } : {}), ...(id ? { id } : {}) });
    return true;
  }

  /** A conflict settled by keeping the worker's version: their fields again, on the version now stored. */
  keepMine(key) {
    const entry = this.entries().find((e) => e.key === key);
    if (!entry || !entry.current) return;
    const current = entry.current;
    this._update(key, { op: 'update', id: current[KEY_FIELD[entry.kind]], version: current.version, state: 'waiting',
      current: null, sends: 0 });
    this.flush();
  }

  /** A conflict settled by dropping the worker's version: the record stays as it is now. */
  dropMine(key) { this._remove(key); }

  /** Sends what waits, oldest first; one run at a time. Stops at the first sign of no network. */
  flush() {
    if (!this.flushing) this.flushing = this._flush().finally(() => { this.flushing = null; this.hooks.onChange(this.entries()); });
    return this.flushing;
  }

  async _flush() {
    for (const { key } of this.waiting()) {
      const entry = this.entries().find((e) => e.key === key);
      if (!entry || entry.state === 'conflict') continue;
      this.state = 'sending';
      this.hooks.onChange(this.entries());
      try {
        const result = await this._send(entry);
        this._remove(key);
        this.hooks.onSent(entry, result);
      } catch (err) {
        if (err.status === 0 || err.status >= 500 || err.status === 401) { this.state = 'offline'; return; } // later
        const current = err.status === 409 && err.detail && typeof err.detail === 'object' ? err.detail.current : null;
        if (current && entry.op === 'update' && entry.sends > 0 && applied(entry, current)) {
          this._remove(key); // the lost first answer had been a yes
          this.hooks.onSent(entry, current);
        } else if (current) {
          this._update(key, { state: 'conflict', current });
          this.hooks.onConflict(entry, current);
        } else {
          this._remove(key);
          this.hooks.onDropped(entry, err);
        }
      }
    }
    this.state = 'idle';
  }

  async _send(queued) {
    this.current = queued.key; // from here on it is not changed in the queue (editable)
    let entry = queued;
    try {
      if (entry.photo && !entry.photoId) {
        const up = await uploadDataUrl(entry.grid, entry.photo);
        this._update(entry.key, { photoId: up.id, photo: null }); // uploaded once, whatever happens next
      }
      entry = this.entries().find((e) => e.key === queued.key) || entry; // as it stands now
      return await this._request(entry);
    } finally {
      this.current = null;
    }
  }

  _request(entry) {
    const { photoId } = entry;
    const body = { ...entry.body, ...(photoId ? { plate_photo_id: photoId } : {}) };
    this._update(entry.key, { sends: entry.sends + 1 });
    const path = `/api/basedata/${PLURAL[entry.kind]}`;
    if (entry.op === 'create') return post(path, { ...body, client_id: entry.clientId });
    const one = `${path}/${encodeURIComponent(entry.id)}`;
    if (entry.op === 'leave') return api(one, { method: 'DELETE' }); // marked once: a resend answers as the first
    if (entry.op === 'return') { // 409: not (or no longer) moved out, which is what was asked
      return post(`${one}/return`, {}).catch((err) => { if (err.status === 409) return null; throw err; });
    }
    return api(`${path}/${encodeURIComponent(entry.id)}`, { method: 'PATCH', body: { ...body, version: entry.version } });
  }
}

const digits = (v) => String(v || '').replace(/\D/g, '');

/** Whether `current` is this change applied once: the next version, holding every field sent. */
function applied(entry, current) {
  if (current.version !== entry.version + 1) return false;
  if (entry.photoId && current.plate_photo_id !== entry.photoId) return false;
  return Object.entries(entry.body).every(([name, value]) => {
    if (name === 'verified') return !value || current.verified_at === today();
    if (name === 'id_number' || name === 'phone' || name === 'contact_phone') { // masked: its last four digits tell
      return value == null ? current[name] == null : digits(current[name]).slice(-4) === digits(value).slice(-4);
    }
    return String(current[name] ?? '') === String(value ?? '');
  });
}
