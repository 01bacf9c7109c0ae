// Shared client plumbing: token handling, the REST helper and the live websocket.
// Plain ES module, no dependencies; works offline and same-origin with the API.
//
// The token lives in localStorage (`cc.token`) and goes out only as the Authorization
// header of api() calls, which are same-origin. Images, MJPEG, clip links and the
// websocket carry no token: the server's HttpOnly SameSite=Strict cookie signs them in.
// A token in the page's URL is never read or kept, and is wiped from the address bar.

import { t } from './i18n.js';

const TOKEN_KEY = 'cc.token';
let session = null; // ensureSession()'s promise

/** The bearer token kept by sign-in (localStorage `cc.token`), or ''. */
export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the session cookie alone signs the page in */ }
  session = null;
}

/** A link that planted a token (`?token=`) must not sign anyone in, nor leave it in the history. */
function dropTokenFromAddress() {
  try {
    const url = new URL(location.href);
    if (!url.searchParams.has('token')) return;
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url.toString());
  } catch { /* no history API: nothing to clean */ }
}
dropTokenFromAddress();

/**
 * `url` when it is a path on this site ("/api/…"), else ''. Only such URLs may be loaded by
 * the page (<img src>, links that carry the session): an outside URL would receive the cookie
 * or tell another server who looks at what.
 */
export function sameOriginPath(url) {
  if (typeof url !== 'string' || !url.startsWith('/') || url.startsWith('//') || url.startsWith('/\\')) return '';
  try {
    return new URL(url, location.href).origin === location.origin ? url : '';
  } catch {
    return '';
  }
}

/** Kept for old call sites: a same-origin path unchanged (the cookie signs it in), else ''. Adds no token. */
export function withToken(url) {
  return sameOriginPath(url);
}

/**
 * Once per page: a stored token is shown to GET /api/auth/me, which answers with the session
 * cookie too, so that images and the websocket are signed in even when the cookie had expired
 * or been cleared while the stored token is still good. Never rejects.
 */
export function ensureSession() {
  if (!session) {
    const token = getToken();
    if (!token) return Promise.resolve();
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), 10000);
    session = fetch('/api/auth/me', { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' }, signal: ctrl.signal })
      .then(() => {}, () => {})
      .finally(() => clearTimeout(timer));
  }
  return session;
}

export class ApiError extends Error {
  constructor(status, error, detail) {
    super(formatError(error, detail));
    this.name = 'ApiError';
    this.status = status;
    this.error = error;
    this.detail = detail;
  }
}

function formatError(error, detail) {
  if (detail == null || detail === '') return String(error);
  if (typeof detail === 'string') return `${error}: ${detail}`;
  if (typeof detail === 'object' && !Array.isArray(detail)) {
    const parts = Object.entries(detail).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : JSON.stringify(v)}`);
    return `${error} (${parts.join('; ')})`;
  }
  return `${error}: ${JSON.stringify(detail)}`;
}

/**
 * fetch() wrapper for the JSON API. `opts.body` objects are sent as JSON.
 * Resolves to the parsed body; throws ApiError (message built from the server's error/detail) on non-2xx.
 */
export async function api(path, opts = {}) {
  const { timeoutMs = 15000, ...init } = opts;
  await ensureSession();
  const headers = new Headers(init.headers || {});
  headers.set('Accept', 'application/json');
  let body = init.body;
  if (body != null && typeof body === 'object' && !(body instanceof FormData) && !(body instanceof Blob)) {
    body = JSON.stringify(body);
    headers.set('Content-Type', 'application/json');
  }
  const token = getToken();
  if (token && !headers.has('Authorization')) headers.set('Authorization', `Bearer ${token}`);

  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  let res;
  try {
    res = await fetch(path, { ...init, headers, body, signal: init.signal || ctrl.signal });
  } catch (err) {
    throw new ApiError(0, t(err.name === 'AbortError' ? 'common.error.timeout' : 'common.error.network'), null);
  } finally {
    clearTimeout(timer);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!res.ok) {
    const error = (data && typeof data === 'object' && data.error) || res.statusText || `HTTP ${res.status}`;
    const detail = data && typeof data === 'object' ? data.detail : (data || null);
    const err = new ApiError(res.status, error, detail);
    if (res.status === 403 && error === 'forbidden') refusals.add(err.message);
    throw err;
  }
  return data;
}

// The messages of the policy's refusals (403 "forbidden") this page was given. A page that
// calls what its role may not would toast each one; util.toast() shows the first and drops
// the rest, so a wrong page never fills with refusals.
const refusals = new Set();

/** Whether `message` (a toast's text) carries a refusal the API gave this page. */
export function isRefusal(message) {
  const text = String(message);
  for (const refusal of refusals) if (text.includes(refusal)) return true;
  return false;
}

/** POST helper with a JSON body. */
export function post(path, body = {}) {
  return api(path, { method: 'POST', body });
}

/**
 * Websocket client for `/ws` with per-channel seq tracking, reconnect with exponential
 * backoff (0.5 s doubling to a 10 s cap, with jitter) and `since` replay on re-subscribe.
 * It asks for batched frames (`?batch=1`): a busy server may send a JSON array of messages.
 *
 * Callbacks:
 *   onEvent(msg)              a channel event {channel, seq, type, data}, in order, duplicates dropped
 *   onResync(channel, why)    refetch this channel via REST (why: 'server' | 'gap' | 'reconnect')
 *   onStatus(state, info)     state: 'connecting' | 'open' | 'closed'; info.retryInMs when closed
 */
export class LiveSocket {
  constructor({
    channels = [], onEvent = () => {}, onResync = () => {}, onStatus = () => {},
    path = '/ws', pingMs = 20000, minDelayMs = 500, maxDelayMs = 10000,
  } = {}) {
    this.channels = new Set(channels);
    this.onEvent = onEvent;
    this.onResync = onResync;
    this.onStatus = onStatus;
    this.path = path;
    this.pingMs = pingMs;
    this.minDelayMs = minDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.lastSeq = {};          // channel -> last seq seen
    this.ws = null;
    this.state = 'closed';
    this._attempt = 0;
    this._everOpen = false;
    this._stopped = false;
    this._retryTimer = null;
    this._pingTimer = null;
    this._lastRx = 0;
    this._opening = false;
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}${this.path}?batch=1`; // signed in by the session cookie
  }

  connect() {
    this._stopped = false;
    clearTimeout(this._retryTimer);
    if (this.ws && (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)) return;
    if (this._opening) return;
    this._setStatus('connecting', {});
    this._opening = true;
    // The cookie first: the handshake carries no token of its own.
    ensureSession().then(() => {
      this._opening = false;
      if (!this._stopped) this._open();
    });
  }

  _open() {
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => this._handleOpen(ws);
    ws.onmessage = (ev) => this._handleMessage(ev);
    ws.onclose = (ev) => this._handleClose(ws, ev);
    ws.onerror = () => { /* onclose follows */ };
  }

  close() {
    this._stopped = true;
    clearTimeout(this._retryTimer);
    clearInterval(this._pingTimer);
    if (this.ws) this.ws.close(1000, 'client closing');
    this.ws = null;
    this._setStatus('closed', {});
  }

  /** Adds channels; subscribes at once when connected. */
  subscribe(channels) {
    const added = channels.filter((c) => !this.channels.has(c));
    added.forEach((c) => this.channels.add(c));
    if (added.length && this.state === 'open') this._sendSubscribe(added);
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(obj));
      return true;
    }
    return false;
  }

  _sendSubscribe(channels) {
    const since = {};
    for (const ch of channels) {
      if (Number.isFinite(this.lastSeq[ch])) since[ch] = this.lastSeq[ch];
    }
    const msg = { op: 'subscribe', channels };
    if (Object.keys(since).length) msg.since = since;
    this.send(msg);
  }

  _handleOpen(ws) {
    if (ws !== this.ws) return;
    this._lastRx = Date.now();
    const reconnect = this._everOpen;
    this._everOpen = true;
    this._setStatus('open', { reconnect });
    const channels = [...this.channels];
    if (channels.length) this._sendSubscribe(channels);
    // Channels with no seq seen yet cannot be replayed: whatever happened meanwhile must be refetched.
    if (reconnect) {
      for (const ch of channels) {
        if (!Number.isFinite(this.lastSeq[ch])) this._resync(ch, 'reconnect');
      }
    }
    clearInterval(this._pingTimer);
    this._pingTimer = setInterval(() => this._ping(), this.pingMs);
  }

  _ping() {
    // A half-open connection gets no pong or heartbeat: drop it and reconnect.
    if (Date.now() - this._lastRx > this.pingMs * 2 + 5000) {
      if (this.ws) this.ws.close(4000, 'no traffic');
      return;
    }
    this.send({ op: 'ping' });
  }

  _handleMessage(ev) {
    this._lastRx = Date.now();
    this._attempt = 0; // the server talks to us: the next outage starts from the short delay again
    let frame;
    try { frame = JSON.parse(ev.data); } catch { return; }
    for (const msg of Array.isArray(frame) ? frame : [frame]) this._handleOne(msg);
  }

  _handleOne(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'resync') {
      if (msg.channel) {
        delete this.lastSeq[msg.channel];
        this._resync(msg.channel, 'server');
      }
      return;
    }
    if (msg.type === 'pong' || msg.type === 'heartbeat' || msg.type === 'subscribed') return;
    if (!msg.channel) return;
    if (Number.isFinite(msg.seq)) {
      const last = this.lastSeq[msg.channel];
      if (Number.isFinite(last)) {
        if (msg.seq <= last) return; // duplicate from a replay
        if (msg.seq > last + 1) this._resync(msg.channel, 'gap');
      }
      this.lastSeq[msg.channel] = msg.seq;
    }
    try {
      this.onEvent(msg);
    } catch (err) {
      console.error('live event handler failed', err, msg);
    }
  }

  _resync(channel, why) {
    try {
      this.onResync(channel, why);
    } catch (err) {
      console.error('resync handler failed', err);
    }
  }

  _handleClose(ws, ev) {
    if (ws !== this.ws) return;
    clearInterval(this._pingTimer);
    this.ws = null;
    // 4401: the session ended (signed out elsewhere, password or role changed, token expired):
    // ask /api/auth/me again before the next try, in case the stored token is newer.
    if (ev && ev.code === 4401) session = null;
    if (this._stopped) {
      this._setStatus('closed', {});
      return;
    }
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    const base = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** this._attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this._attempt += 1;
    this._setStatus('closed', { retryInMs: Math.min(delay, this.maxDelayMs) });
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => this.connect(), Math.min(delay, this.maxDelayMs));
  }

  _setStatus(state, info) {
    this.state = state;
    try {
      this.onStatus(state, info);
    } catch (err) {
      console.error('status handler failed', err);
    }
  }
}

/** Binds a LiveSocket's status to an indicator element (data-state="open"|"closed", plus text). */
export function bindIndicator(elem) {
  const label = elem.querySelector('.conn-text') || elem;
  return (state, info = {}) => {
    elem.dataset.state = state === 'open' ? 'open' : 'closed';
    elem.classList.toggle('connecting', state === 'connecting');
    if (state === 'open') label.textContent = t('common.conn.live');
    else if (state === 'connecting') label.textContent = t('common.conn.connecting');
    else if (info.retryInMs != null) label.textContent = t('common.conn.retry', { s: Math.max(1, Math.round(info.retryInMs / 1000)) });
    else label.textContent = t('common.conn.offline');
  };
}
