// 联系网格员 on the citizen page: the resident's conversations with their grid's worker (or its
// service desk), text, a photo and their location both ways, live over the resident's own
// socket (/api/residents/me/chats/ws, signed in by the cc_resident cookie, hearing only their
// own `chat:<id>`), history in pages, 已读 under what the worker has read, and "已转为案件 #…"
// when the worker turned it into a case. Back online it asks for what came after the last seq
// it saw, so nothing sent meanwhile is lost. The grid is chosen by code (the public worker
// card's link brings ?grid=) or by the phone's position.

import { $, el } from '../common/dom.js';
import { confirm, dropFrame, keepFrame, merge, refill } from '../common/chat_messages.js';
import { applyI18n, fmtTime, t } from '../common/i18n.js';
import { authHeaders, fetchRetry, session } from './resident.js';

const API = '/api/residents/me/chats';
const c = (key, vars) => t(`chat.${key}`, vars);
const PHOTO_EDGE = 1600; // a phone's photo shrunk well under the server's 1 MB limit
const state = { resident: '', list: [], open: null, messages: [], lastSeq: 0, more: false, ws: null, retry: 500 };

async function call(method, path, body, raw) {
  const headers = { ...authHeaders(), ...(body && !raw ? { 'Content-Type': 'application/json' } : {}) };
  if (raw) headers['Content-Type'] = 'image/jpeg';
  const res = await fetchRetry(`${API}${path}`, { method, headers, body: raw || (body ? JSON.stringify(body) : undefined) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const error = new Error(data.error || c('failed', { status: res.status }));
    error.status = res.status;
    throw error;
  }
  return data;
}

function say(text) {
  const box = $('chat-error');
  if (!box) return;
  box.textContent = text || '';
  box.hidden = !text;
}

// ------------------------------------------------------------------ tabs

function showChat() {
  for (const node of document.body.children) {
    if (!['HEADER', 'NAV', 'SCRIPT'].includes(node.tagName) && node.id !== 'chat') node.hidden = true;
  }
  for (const tab of document.querySelectorAll('.citizen-tabs .tab')) tab.setAttribute('aria-selected', String(tab.id === 'tab-chat'));
  $('chat').hidden = false;
  if (history.replaceState) history.replaceState(null, '', `${location.search}#chat`);
  paint();
  if (session()) { refresh(); connect(); }
}

// ------------------------------------------------------------------ painting

function bubble(m) {
  const mine = m.from === 'resident';
  const body = [];
  if (m.kind === 'photo' && m.photo_url) body.push(el('img', { class: 'chat-photo', src: m.photo_url, alt: c('photo') }));
  if (m.kind === 'location' && m.location) body.push(el('span', {}, `📍 ${m.location.lon.toFixed(5)}, ${m.location.lat.toFixed(5)}`));
  if (m.text) body.push(el('span', { class: 'chat-text' }, m.text));
  const meta = [fmtTime(m.created_at, 'time')];
  if (mine) meta.push(m.pending ? c('sending') : m.read_at ? c('read') : c('unread'));
  return el('li', { class: `chat-msg from-${m.from}${mine ? ' mine' : ''}${m.pending ? ' pending' : ''}`, dataset: { seq: m.seq || '', id: m.id || '' } },
    m.from === 'system' || mine ? null : el('span', { class: 'chat-sender' }, m.sender),
    el('div', { class: 'chat-bubble' }, body),
    el('span', { class: 'chat-meta' }, meta.join(' · ')));
}

function opener() {
  const grid = new URLSearchParams(location.search).get('grid') || '';
  return el('form', { class: 'chat-open', id: 'chat-open', onsubmit: (ev) => { ev.preventDefault(); start({ grid_code: $('chat-grid').value.trim() }); } },
    el('label', { for: 'chat-grid' }, c('grid_code')),
    el('input', { id: 'chat-grid', inputmode: 'numeric', maxlength: 15, value: grid, placeholder: '440104…' }),
    el('div', { class: 'row' },
      el('button', { class: 'btn btn-primary', type: 'submit', id: 'chat-start' }, c('contact')),
      el('button', { class: 'btn', type: 'button', onclick: startHere }, c('by_location'))));
}

function paint() {
  const root = $('chat');
  if (!session()) {
    dropFrame(root);
    root.replaceChildren(el('p', { class: 'hint' }, c('sign_in_first')),
      el('button', { class: 'btn btn-primary', type: 'button', onclick: () => $('tab-account').click() }, c('sign_in')));
    return;
  }
  if (state.open) { paintChat(root); return; }
  dropFrame(root);
  root.replaceChildren(el('h2', {}, c('title')), opener(),
    el('p', { class: 'banner', id: 'chat-error', role: 'alert', hidden: true }),
    el('ul', { class: 'chat-list' }, state.list.map((conv) => el('li', {},
      el('button', { class: 'chat-item', type: 'button', onclick: () => openChat(conv.id) },
        el('span', { class: 'chat-item-grid' }, `${conv.grid_name || conv.grid_code} · ${conv.answered_by}`),
        conv.unread ? el('span', { class: 'chip' }, String(conv.unread)) : null,
        el('span', { class: 'chat-item-last hint' }, conv.last_text || '')))))); // fmt
}

function paintChat(root) {
  const conv = state.list.find((x) => x.id === state.open) || {};
  keepFrame(root, state.open, () => [
    el('div', { class: 'chat-slot chat-head-slot' }),
    el('button', { class: 'btn chat-older', type: 'button', hidden: true, onclick: older }, c('older')),
    el('ul', { class: 'chat-messages', id: 'chat-messages' }),
    el('p', { class: 'banner', id: 'chat-error', role: 'alert', hidden: true }),
    el('form', { class: 'chat-compose', onsubmit: sendText },
      el('input', { id: 'chat-input', class: 'chat-input', maxlength: 1000, placeholder: c('type_here'), autocomplete: 'off' }),
      el('label', { class: 'btn file-button', for: 'chat-file' }, c('photo')),
      el('input', { class: 'file-input', id: 'chat-file', type: 'file', accept: 'image/*', onchange: sendPhoto }),
      el('button', { class: 'btn', type: 'button', onclick: sendLocation }, c('location')),
      el('button', { class: 'btn btn-primary', type: 'submit', id: 'chat-send' }, c('send')))]);
  refill(root.querySelector('.chat-head-slot'), JSON.stringify([conv.grid_name, conv.answered_by, conv.case_id]), () => [
    el('div', { class: 'chat-head' },
      el('button', { class: 'btn', type: 'button', onclick: () => { state.open = null; refresh(); } }, c('back')),
      el('strong', {}, `${conv.grid_name || ''} · ${conv.answered_by || ''}`)),
    conv.case_id ? el('p', { class: 'chip', id: 'chat-case' }, c('case_made', { id: conv.case_id })) : null]);
  root.querySelector('.chat-older').hidden = !state.more;
  const list = root.querySelector('.chat-messages');
  list.replaceChildren(...state.messages.map(bubble));
  list.scrollTop = list.scrollHeight;
}

// ------------------------------------------------------------------ the conversations

async function refresh() {
  try {
    const found = await call('GET', '');
    state.list = found.items;
    state.resident = found.resident_id;
    for (const conv of state.list) state.lastSeq = Math.max(state.lastSeq, conv.last_seq || 0);
  } catch (err) { say(err.message); return; }
  paint();
}

async function start(where) {
  try {
    const conv = await call('POST', '', where);
    await refresh();
    openChat(conv.id);
  } catch (err) { say(err.message); }
}

function startHere() {
  if (!navigator.geolocation) { say(c('no_gps')); return; }
  navigator.geolocation.getCurrentPosition((p) => start({ lon: p.coords.longitude, lat: p.coords.latitude }),
    () => say(c('no_gps')), { timeout: 10000 });
}

async function openChat(id, before) {
  const page = await call('GET', `/${encodeURIComponent(id)}/messages${before ? `?before=${before}` : ''}`);
  state.open = id;
  state.messages = before ? [...page.items, ...state.messages] : page.items;
  state.more = page.more;
  paint();
  markRead();
}

function older() { if (state.messages.length) openChat(state.open, state.messages[0].seq); }

async function markRead() {
  const theirs = state.messages.filter((m) => m.from !== 'resident' && !m.read_at);
  if (!theirs.length || document.hidden || $('chat').hidden) return;
  const upto = Math.max(0, ...theirs.map((m) => m.seq || 0)); // a pending one is read once stored
  if (!upto) return;
  try { await call('POST', `/${state.open}/read`, { upto }); } catch { return; }
  for (const m of theirs) m.read_at = new Date().toISOString();
}

async function send(body, raw) {
  try {
    take(await call('POST', `/${state.open}/${raw ? 'photos' : 'messages'}`, body, raw));
    say('');
    return true;
  } catch (err) { say(err.message); return false; }
}

async function sendText(ev) {
  ev.preventDefault();
  const input = $('chat-input');
  const text = input.value.trim();
  if (!text) return;
  input.value = '';
  if (!(await send({ text })) && !input.value) input.value = text; // kept to send again, unless a new one is being typed
}

function sendLocation() {
  if (!navigator.geolocation) { say(c('no_gps')); return; }
  navigator.geolocation.getCurrentPosition((p) => send({ kind: 'location', lon: p.coords.longitude, lat: p.coords.latitude }),
    () => say(c('no_gps')), { timeout: 10000 });
}

async function sendPhoto(ev) {
  const picked = ev.target.files && ev.target.files[0];
  ev.target.value = ''; // the input stays (keepFrame): the same photo picked again still sends
  if (!picked) return;
  try {
    const bitmap = await createImageBitmap(picked);
    const scale = Math.min(1, PHOTO_EDGE / Math.max(bitmap.width, bitmap.height));
    const canvas = Object.assign(document.createElement('canvas'), { width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale) });
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    await send(null, await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85)));
  } catch (err) { say(err.message || String(err)); }
}

// ------------------------------------------------------------------ live

/** A message, live or caught up: shown once (by its id, else its seq), in seq order. */
function take(m) {
  if (m.seq) state.lastSeq = Math.max(state.lastSeq, m.seq);
  if (state.open === m.conversation_id) {
    merge(state.messages, m);
    if (!$('chat').hidden) { paint(); markRead(); }
  }
  const conv = state.list.find((x) => x.id === m.conversation_id);
  if (!conv || m.from === 'system') refreshSoon(); // a new conversation, a handover, a case
}

function onStored(data) {
  state.lastSeq = Math.max(state.lastSeq, data.seq);
  if (confirm(state.messages, data) && !$('chat').hidden) { paint(); markRead(); }
}

function onRetracted(data) {
  const before = state.messages.length;
  state.messages = state.messages.filter((x) => x.id !== data.id);
  if (state.messages.length !== before && !$('chat').hidden) paint();
}

let timer = null;
function refreshSoon() { clearTimeout(timer); timer = setTimeout(refresh, 150); }

function onRead(data) {
  if (data.by === 'resident') return;
  for (const m of state.messages) if (m.from === 'resident' && m.seq <= data.upto) m.read_at = data.read_at;
  if (state.open === data.conversation_id && !$('chat').hidden) paint();
}

async function catchUp() {
  try {
    const missed = await call('GET', `/messages?after=${state.lastSeq}`);
    for (const m of missed.items) take(m);
  } catch { /* the next reconnect asks again */ }
}

function connect() {
  if (state.ws || !session()) return;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}${API}/ws?batch=1`);
  state.ws = ws;
  ws.onopen = async () => {
    state.retry = 500;
    if (!state.resident) await refresh();
    ws.send(JSON.stringify({ op: 'subscribe', channels: [`chat:${state.resident}`] }));
    catchUp();
  };
  ws.onmessage = (ev) => {
    const frame = JSON.parse(ev.data);
    for (const msg of Array.isArray(frame) ? frame : [frame]) {
      if (msg.type === 'chat.message') take(msg.data);
      else if (msg.type === 'chat.stored') onStored(msg.data);
      else if (msg.type === 'chat.retracted') onRetracted(msg.data);
      else if (msg.type === 'chat.read') onRead(msg.data);
    }
  };
  ws.onclose = () => {
    state.ws = null;
    if (!session()) return;
    setTimeout(connect, state.retry);
    state.retry = Math.min(state.retry * 2, 10000);
  };
}

export function setUpChat() {
  const tab = $('tab-chat');
  if (!tab || !$('chat')) return;
  applyI18n($('chat'));
  tab.addEventListener('click', showChat);
  for (const other of document.querySelectorAll('.citizen-tabs .tab')) {
    if (other !== tab) other.addEventListener('click', () => { $('chat').hidden = true; });
  }
  document.addEventListener('visibilitychange', markRead);
  window.__chat = { state, refresh };
  if (location.hash === '#chat' || new URLSearchParams(location.search).get('grid')) showChat();
}

setUpChat();
