// The citizens' page as an app (PWA), served as /citizen-sw.js with the scope /citizen.
//
// Shell: the page, its scripts, styles, icons and the message catalogues are kept in a cache
// and answered from the network first (a fresh page when online), from the cache when not.
// Reports: a POST /api/citizen/reports that cannot reach the server is kept in IndexedDB
// (its fields and files, and the sign-in header) and answered 202 {queued}; it is sent when the
// network is back (Background Sync where the browser has it, else the page's "online" message
// and every start of the worker). Once only: each queued report carries a `client_ref` made
// here, from which the server derives the report's id, so a resend whose first answer was lost
// gets the report already made instead of a second one.

const SHELL = 'citizen-shell-v1';
const SHELL_FILES = [
  '/citizen', '/ui/common/style.css', '/ui/common/dom.js', '/ui/common/i18n.js', '/ui/common/suggest.js',
  '/ui/citizen/citizen.css', '/ui/citizen/report.css', '/ui/citizen/citizen.js', '/ui/citizen/resident.js',
  '/ui/citizen/report.js', '/ui/citizen/icon-192.png', '/citizen/manifest.webmanifest',
];
const DB = 'citizen-outbox';
const STORE = 'reports';
const REPORTS = '/api/citizen/reports';
let flushing = null;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(SHELL_FILES)).catch(() => {}).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(Promise.all([
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k.startsWith('citizen-shell-') && k !== SHELL).map((k) => caches.delete(k)))),
    self.clients.claim(),
  ]).then(() => flush()));
});

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'ref' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const result = work(t.objectStore(STORE));
    t.oncomplete = () => resolve(result.result);
    t.onerror = () => reject(t.error);
  });
}

function newRef() {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${day}-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The request kept: its fields and files (IndexedDB holds Blobs), and who sent it. */
async function keep(request) {
  const form = await request.formData();
  const ref = form.get('client_ref') || newRef();
  const parts = [];
  for (const [name, value] of form.entries()) {
    if (name === 'client_ref') continue;
    if (typeof value !== 'string' && !value.name && !value.size) continue; // an empty file input: no file
    parts.push(typeof value === 'string' ? { name, value } : { name, blob: value, filename: value.name || name });
  }
  await tx('readwrite', (s) => s.put({ ref, parts, auth: request.headers.get('Authorization'), at: Date.now() }));
  try { await self.registration.sync?.register('citizen-reports'); } catch { /* no Background Sync: flushed on "online" */ }
  return new Response(JSON.stringify({ queued: true, client_ref: ref }), { status: 202, headers: { 'Content-Type': 'application/json' } });
}

async function sendOne(entry) {
  const body = new FormData();
  for (const part of entry.parts) {
    if (part.blob) body.append(part.name, part.blob, part.filename); else body.append(part.name, part.value);
  }
  body.append('client_ref', entry.ref);
  const res = await fetch(REPORTS, { method: 'POST', body, headers: entry.auth ? { Authorization: entry.auth } : {} });
  // Sent (201, or 200: made by an earlier try) or refused for good (4xx but 408/429): leaves the queue.
  if (res.ok || (res.status >= 400 && res.status < 500 && ![408, 429].includes(res.status))) {
    await tx('readwrite', (s) => s.delete(entry.ref));
    const answer = await res.json().catch(() => ({}));
    const clients = await self.clients.matchAll({ includeUncontrolled: true });
    for (const client of clients) client.postMessage({ type: res.ok ? 'sent' : 'refused', id: answer.service_request_id, error: answer.error });
  }
}

function flush() {
  // One flush at a time: two would send one entry twice.
  if (!flushing) {
    flushing = (async () => {
      const entries = await tx('readonly', (s) => s.getAll()).catch(() => []);
      for (const entry of entries || []) {
        try { await sendOne(entry); } catch { break; } // still offline: the rest wait too
      }
    })().finally(() => { flushing = null; });
  }
  return flushing;
}

self.addEventListener('sync', (event) => { if (event.tag === 'citizen-reports') event.waitUntil(flush()); });
self.addEventListener('message', (event) => { if (event.data?.type === 'flush') event.waitUntil(flush()); });

async function networkFirst(request) {
  const cache = await caches.open(SHELL);
  try {
    const res = await fetch(request);
    if (res.ok) cache.put(request, res.clone());
    return res;
  } catch (err) {
    const kept = await cache.match(request, { ignoreSearch: request.mode === 'navigate' });
    if (kept) return kept;
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === 'POST' && url.pathname === REPORTS) {
    const copy = request.clone(); // the body is read once: one for the network, one to keep
    event.respondWith(fetch(request).then((res) => { flush(); return res; }, () => keep(copy)));
    return;
  }
  if (request.method !== 'GET') return;
  const shell = request.mode === 'navigate' || url.pathname.startsWith('/ui/') || url.pathname.startsWith('/api/i18n/')
    || url.pathname === '/citizen/manifest.webmanifest' || url.pathname === '/open311/v2/services.json';
  if (shell) event.respondWith(networkFirst(request));
});
