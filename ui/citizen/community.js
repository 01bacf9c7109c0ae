// What the citizen page's 服务 and 社区 tabs share (ui/citizen/services.js, forum.js): the
// resident's community (picked by name or by the phone's position, kept in localStorage), the
// calls (GETs retried on a weak network, changes sent once), the tabs' show/hide (as chat.js),
// and the live socket both tabs listen on.

import { $, el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { LiveSocket, bindIndicator } from '../common/live.js';
import { authHeaders, fetchRetry, session } from './resident.js';

const KEY = 'cc.community';

export function myCommunity() {
  try { return JSON.parse(localStorage.getItem(KEY) || 'null'); } catch { return null; }
}

function keep(community) {
  try { localStorage.setItem(KEY, JSON.stringify(community)); } catch { /* private mode: this visit only */ }
  document.dispatchEvent(new CustomEvent('community-changed', { detail: community }));
}

/** A call to the API: JSON in and out; a refusal throws an Error with the server's reason. */
export async function api(method, path, body) {
  const headers = { ...authHeaders(), ...(body ? { 'Content-Type': 'application/json' } : {}) };
  const options = { method, headers, body: body ? JSON.stringify(body) : undefined };
  // a change is sent once (a retried POST that reached the server would post twice)
  const res = method === 'GET' ? await fetchRetry(path, options) : await fetch(path, options);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const error = new Error(data.error || t('community.c.failed', { status: res.status }));
    error.status = res.status;
    error.detail = data.detail;
    throw error;
  }
  return data;
}

export const failure = (err) => (err instanceof TypeError ? t('community.c.offline') : err.message);

/** 我的社区: the chosen one with 更换, or a search by name and 使用我的位置. */
export function communityPicker() {
  const held = myCommunity();
  const box = el('div', { class: 'cm-picker panel' });
  const results = el('div', { class: 'cm-results' });
  const note = el('p', { class: 'hint', role: 'status' });
  const show = (items) => {
    note.textContent = items.length ? '' : t('community.c.no_community');
    results.replaceChildren(...items.map((c) => el('button', {
      class: 'btn cm-choice', type: 'button', dataset: { code: c.code }, onclick: () => keep(c),
    }, `${c.name}（${c.path.join(' / ')}）`)));
  };
  const search = async (query) => {
    try { show((await api('GET', `/api/community/communities?${new URLSearchParams(query)}`)).items); } catch (err) { note.textContent = failure(err); }
  };
  const input = el('input', { id: 'cm-community-q', maxlength: 30, placeholder: t('community.c.community_hint') });
  const finder = el('form', { class: 'row', onsubmit: (ev) => { ev.preventDefault(); if (input.value.trim()) search({ q: input.value.trim() }); } },
    input, el('button', { class: 'btn', type: 'submit', id: 'cm-community-find' }, t('community.c.find')));
  const here = el('button', { class: 'btn', type: 'button', onclick: () => navigator.geolocation && navigator.geolocation.getCurrentPosition(
    (pos) => search({ lon: pos.coords.longitude, lat: pos.coords.latitude }), () => { note.textContent = t('community.c.no_fix'); }) },
  t('community.c.here'));
  if (held) {
    const change = el('button', { class: 'btn btn-small', type: 'button', onclick: () => { box.replaceChildren(finder, here, note, results); } }, t('community.c.change'));
    box.append(el('p', { class: 'cm-current' }, t('community.c.my_community'), ' ', el('strong', { id: 'cm-community-name' }, held.name), ' ', change));
  } else {
    box.append(el('p', { class: 'hint' }, t('community.c.pick_first')), finder, here, note, results);
  }
  return box;
}

/** The tab `id` (its button is #tab-<id>, its section #<id>) shown alone, as chat.js does. */
export function ownTab(id, paint) {
  const tab = $(`tab-${id}`);
  const root = $(id);
  if (!tab || !root) return;
  const show = () => {
    for (const node of document.body.children) {
      if (!['HEADER', 'NAV', 'SCRIPT'].includes(node.tagName) && node.id !== id) node.hidden = true;
    }
    for (const other of document.querySelectorAll('.citizen-tabs .tab')) other.setAttribute('aria-selected', String(other === tab));
    root.hidden = false;
    if (history.replaceState) history.replaceState(null, '', `${location.search}#${id}`);
    paint();
  };
  tab.addEventListener('click', show);
  for (const other of document.querySelectorAll('.citizen-tabs .tab')) {
    if (other !== tab) other.addEventListener('click', () => { root.hidden = true; });
  }
  document.addEventListener('community-changed', () => { if (!root.hidden) paint(); });
  if (location.hash === `#${id}`) show();
}

export const price = (s) => (s.free ? t('community.c.free') : t('community.c.price', { yuan: s.price.toFixed(2) }));

export function stars(onPick) {
  return el('div', { class: 'stars', role: 'group', 'aria-label': t('community.c.rate') },
    [1, 2, 3, 4, 5].map((n) => el('button', { class: 'star', type: 'button', dataset: { stars: n }, 'aria-label': t('community.c.stars', { n }), onclick: () => onPick(n) }, '★')));
}

// ------------------------------------------------------------------ live
// The resident's community socket (/api/residents/me/community/ws, signed in by the cc_resident
// cookie): their own `market:<id>` (their requests, and as a provider those for their services)
// and the `forum:<code>` of the community shown (notices, threads, replies, posts hidden). The
// tabs re-read what they show on an event; a slow poll (POLL_MS) stands in while it is down.

export const POLL_MS = 120000;
const live = { socket: null, code: '', listeners: new Set(), dot: null, resident: '' };

class CommunitySocket extends LiveSocket {
  constructor(code, options) { super(options); this.code = code; }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}/api/residents/me/community/ws?batch=1&community=${encodeURIComponent(this.code)}`;
  }
}

/** The live dot (实时 / 离线…), one node that each tab's paint puts in its heading. */
export function liveDot() {
  if (!live.dot) {
    live.dot = el('span', { class: 'conn', id: 'cm-live', dataset: { state: 'closed' }, role: 'status', 'aria-live': 'polite' },
      el('span', { class: 'conn-text' }, t('common.conn.offline')));
  }
  return live.dot;
}

const tell = (msg) => { for (const listener of live.listeners) listener(msg); };

async function residentId() {
  if (!live.resident) live.resident = (await api('GET', '/api/residents/me')).id;
  return live.resident;
}

/** (Re)connects for the community shown, when signed in; a changed community means a new socket. */
export async function connectLive() {
  if (!session()) { if (live.socket) live.socket.close(); Object.assign(live, { socket: null, resident: '' }); return; }
  let id;
  try { id = await residentId(); } catch { return; } // offline or signed out: the slow poll stands in
  // read after the await, then checked and set with none between: two tabs asking at once open one socket
  const community = myCommunity();
  const code = (community && community.code) || '';
  if (live.socket && live.code === code) return;
  if (live.socket) live.socket.close();
  live.code = code;
  const channels = [`market:${id}`, ...(code ? [`forum:${code}`] : [])];
  const indicator = bindIndicator(liveDot());
  const socket = new CommunitySocket(code, {
    channels,
    onEvent: tell,
    onResync: (channel) => tell({ channel, type: 'resync', data: {} }),
    onStatus: (state, info) => {
      indicator(state, info);
      if (state === 'open' && info.reconnect) tell({ channel: '', type: 'resync', data: {} }); // what came while away
    },
  });
  live.socket = socket;
  socket.connect();
}

/** `listener(msg)` on every live message ({channel, type, data}; type 'resync': re-read all). */
export function onLive(listener) {
  live.listeners.add(listener);
  connectLive();
}

/** Whether the socket is up: the tabs' slow poll runs only while it is not. */
export const liveUp = () => Boolean(live.socket && live.socket.state === 'open');

document.addEventListener('community-changed', () => connectLive());
