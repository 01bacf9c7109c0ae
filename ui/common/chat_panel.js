// A residents' chat panel for staff (居民消息), over the staff chat API (/api/chats…, scoped by the
// server: a worker their grids' conversations, the hall its jurisdiction's): the list with
// unread counts, a conversation's history (paged by seq), live messages on the hub (chat.message,
// chat.stored, chat.retracted, chat.read), read receipts, text, photos, a location from a phone,
// and 转为案件 in one tap. Back online it asks for what came after the last seq seen.
//
// Used by the terminal's 居民消息 tab (the worker's `tasks:<worker>` channel) and the hall's
// /chats page, the grids' service desk (the `chats` channel).
//
//   const chat = new ChatPanel({ root, count, channels, isShown, location, showHandler });
//   chat.refresh(); chat.markRead();   // when the panel is shown again

import { confirm, dropFrame, keepFrame, merge, refill } from './chat_messages.js';
import { $, el } from './dom.js';
import { fmtTime, t } from './i18n.js';
import { LiveSocket, api, post } from './live.js';
import { toast } from './util.js';

const c = (key, vars) => t(`chat.${key}`, vars);
const PHOTO_EDGE = 1600; // longest side sent: a phone's photo shrunk to well under the 1 MB limit

function bubble(m) {
  const mine = m.from === 'worker' || m.from === 'staff';
  const body = [];
  if (m.kind === 'photo' && m.photo_url) body.push(el('img', { class: 'chat-photo', src: m.photo_url, alt: c('photo') }));
  if (m.kind === 'location' && m.location) {
    body.push(el('span', { class: 'chat-where' }, `📍 ${m.location.lon.toFixed(5)}, ${m.location.lat.toFixed(5)}`));
  }
  if (m.text) body.push(el('span', { class: 'chat-text' }, m.text));
  const meta = [fmtTime(m.created_at, 'time')];
  if (mine && (m.pending || m.read_at)) meta.push(c(m.pending ? 'sending' : 'read'));
  return el('li', { class: `chat-msg from-${m.from}${mine ? ' mine' : ''}${m.pending ? ' pending' : ''}`, dataset: { seq: m.seq || '', id: m.id || '' } },
    m.from === 'system' ? null : el('span', { class: 'chat-sender' }, m.sender),
    el('div', { class: 'chat-bubble' }, body),
    el('span', { class: 'chat-meta' }, meta.join(' · ')));
}

/** Who answers a conversation, in words: 服务台 (the grids' service desk) or the worker's name. */
const handler = (conv) => (conv.at_desk ? c('at_desk') : c('answered_by', { name: conv.answered_by || '' }));

async function shrink(blob) {
  const bitmap = await createImageBitmap(blob);
  const scale = Math.min(1, PHOTO_EDGE / Math.max(bitmap.width, bitmap.height));
  const canvas = Object.assign(document.createElement('canvas'), { width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale) });
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85));
}

export class ChatPanel {
  /**
   * opts: root (the panel's element), count (an element for the unread total, or null),
   * channels (the hub channels carrying this user's chat events), isShown () => bool (read
   * receipts only while the panel is in view), location (offer 位置), showHandler (show who
   * answers: a worker's name or 服务台).
   */
  constructor(opts) {
    this.opts = opts;
    this.state = { list: [], open: null, messages: [], lastSeq: 0, more: false };
    this.timer = null;
    this.socket = new LiveSocket({
      channels: opts.channels,
      onStatus: (s) => { if (s === 'open') this.catchUp(); },
      onEvent: (msg) => {
        if (msg.type === 'chat.message') this.take(msg.data);
        else if (msg.type === 'chat.stored') this.onStored(msg.data);
        else if (msg.type === 'chat.retracted') this.onRetracted(msg.data);
        else if (msg.type === 'chat.read') this.onRead(msg.data);
      },
    });
    this.socket.connect();
    document.addEventListener('visibilitychange', () => this.markRead());
    this.refresh();
  }

  // ---- painting ----

  paintCount() {
    const unread = this.state.list.reduce((n, conv) => n + (conv.unread || 0), 0);
    if (!this.opts.count) return;
    this.opts.count.textContent = String(unread);
    this.opts.count.dataset.unread = String(unread > 0);
  }

  paintList() {
    const { root, showHandler } = this.opts;
    root.replaceChildren();
    dropFrame(root);
    this.paintCount();
    if (!this.state.list.length) { root.append(el('p', { class: 'muted chat-empty' }, c('none'))); return; }
    root.append(el('ul', { class: 'chat-list' }, this.state.list.map((conv) => el('li', {},
      el('button', { class: 'chat-item', type: 'button', dataset: { id: conv.id }, onclick: () => this.openChat(conv.id) },
        el('span', { class: 'chat-item-grid' }, conv.grid_name || conv.grid_code),
        showHandler ? el('span', { class: 'chat-item-who', dataset: { atDesk: String(Boolean(conv.at_desk)) } }, handler(conv)) : null,
        conv.unread ? el('span', { class: 'tab-count chat-unread' }, String(conv.unread)) : null,
        el('span', { class: 'chat-item-last muted' }, conv.last_text || ''),
        conv.case_id ? el('span', { class: 'badge' }, c('case_made', { id: conv.case_id })) : null)))));
  }

  paintChat() {
    const { state, opts } = this;
    const conv = state.list.find((x) => x.id === state.open) || { id: state.open };
    const root = opts.root;
    keepFrame(root, state.open, () => [
      el('div', { class: 'chat-slot chat-head-slot' }),
      el('button', { class: 'btn chat-older', type: 'button', hidden: true, onclick: () => this.older() }, c('older')),
      el('ul', { class: 'chat-messages', id: 'chat-messages' }),
      el('form', { class: 'chat-compose', onsubmit: (ev) => this.sendText(ev) },
        el('input', { id: 'chat-input', class: 'chat-input', maxlength: 1000, placeholder: c('type_here'), autocomplete: 'off' }),
        el('label', { class: 'btn', for: 'chat-file' }, c('photo')),
        el('input', { class: 'file-input', id: 'chat-file', type: 'file', accept: 'image/*', onchange: (ev) => this.sendPhoto(ev) }),
        opts.location ? el('button', { class: 'btn', type: 'button', onclick: () => this.sendLocation() }, c('location')) : null,
        el('button', { class: 'btn btn-ok', type: 'submit', id: 'chat-send' }, c('send')))]);
    const who = opts.showHandler && conv.grid_code ? handler(conv) : '';
    refill(root.querySelector('.chat-head-slot'), JSON.stringify([conv.grid_name, who, conv.case_id]), () =>
      el('div', { class: 'chat-head' },
        el('button', { class: 'btn', type: 'button', id: 'chat-back', onclick: () => { state.open = null; this.refresh(); } }, c('back')),
        el('strong', {}, conv.grid_name || ''),
        who ? el('span', { class: 'muted chat-head-who' }, who) : null,
        conv.case_id
          ? el('span', { class: 'badge', id: 'chat-case' }, c('case_made', { id: conv.case_id }))
          : el('button', { class: 'btn btn-primary', type: 'button', id: 'chat-to-case', onclick: () => this.toCase() }, c('to_case'))));
    root.querySelector('.chat-older').hidden = !state.more;
    const list = root.querySelector('.chat-messages');
    list.replaceChildren(...state.messages.map(bubble));
    list.scrollTop = list.scrollHeight;
  }

  // ---- loading and reading ----

  async refresh() {
    const { state } = this;
    try {
      state.list = (await api('/api/chats')).items;
    } catch (err) { if (err.status) toast(err.message); return; }
    for (const conv of state.list) state.lastSeq = Math.max(state.lastSeq, conv.last_seq || 0);
    if (state.open) this.paintChat(); else this.paintList();
  }

  refreshSoon() { clearTimeout(this.timer); this.timer = setTimeout(() => this.refresh(), 150); }

  async openChat(id, before) {
    const { state } = this;
    const q = before ? `?before=${before}` : '';
    const page = await api(`/api/chats/${encodeURIComponent(id)}/messages${q}`);
    state.open = id;
    state.messages = before ? [...page.items, ...state.messages] : page.items;
    state.more = page.more;
    this.paintChat();
    this.markRead();
  }

  older() { if (this.state.messages.length) this.openChat(this.state.open, this.state.messages[0].seq); }

  async markRead() {
    const { state } = this;
    const theirs = state.messages.filter((m) => m.from === 'resident' && !m.read_at);
    if (!theirs.length || document.hidden || !this.opts.isShown()) return;
    const upto = Math.max(0, ...theirs.map((m) => m.seq || 0)); // a pending one is read once stored
    if (!upto) return;
    try { await post(`/api/chats/${state.open}/read`, { upto }); } catch { return; }
    for (const m of theirs) m.read_at = new Date().toISOString();
    const conv = state.list.find((x) => x.id === state.open);
    if (conv) conv.unread = 0;
    this.paintCount();
  }

  async catchUp() {
    if (!this.state.lastSeq) { this.refresh(); return; }
    try {
      const missed = await api(`/api/chats/messages?after=${this.state.lastSeq}`);
      for (const m of missed.items) this.take(m);
    } catch { /* the next reconnect tries again */ }
    this.refresh();
  }

  // ---- sending ----

  async send(body, path = 'messages') {
    try {
      this.take(await api(`/api/chats/${this.state.open}/${path}`, { method: 'POST', body }));
    } catch (err) { toast(err.message); }
  }

  sendText(ev) {
    ev.preventDefault();
    const text = $('chat-input').value.trim();
    if (!text) return;
    $('chat-input').value = '';
    this.send({ text });
  }

  sendLocation() {
    if (!navigator.geolocation) { toast(c('no_gps')); return; }
    navigator.geolocation.getCurrentPosition(
      (p) => this.send({ kind: 'location', lon: p.coords.longitude, lat: p.coords.latitude }),
      () => toast(c('no_gps')), { timeout: 10000 });
  }

  async sendPhoto(ev) {
    const picked = ev.target.files && ev.target.files[0];
    ev.target.value = ''; // the input stays (keepFrame): the same photo picked again still sends
    if (!picked) return;
    try {
      await this.send(await shrink(picked), 'photos');
    } catch (err) { toast(err.message || String(err)); }
  }

  async toCase() {
    try {
      const made = await post(`/api/chats/${this.state.open}/case`, {});
      toast(c('case_made', { id: made.id }));
      await this.refresh();
    } catch (err) { toast(err.message); }
  }

  // ---- live events ----

  /** A message for this user, live or caught up: shown once (by its id, else its seq), in seq order. */
  take(m) {
    const { state } = this;
    if (m.seq) state.lastSeq = Math.max(state.lastSeq, m.seq);
    if (state.open === m.conversation_id) {
      merge(state.messages, m);
      this.paintChat();
      this.markRead();
    }
    this.refreshSoon();
  }

  onStored(data) {
    const { state } = this;
    state.lastSeq = Math.max(state.lastSeq, data.seq);
    if (!confirm(state.messages, data)) return;
    this.paintChat();
    this.markRead();
  }

  onRetracted(data) {
    const before = this.state.messages.length;
    this.state.messages = this.state.messages.filter((x) => x.id !== data.id);
    if (this.state.messages.length !== before) this.paintChat();
  }

  onRead(data) {
    const { state } = this;
    if (data.by === 'resident' && state.open === data.conversation_id) {
      for (const m of state.messages) if (m.from !== 'resident' && m.seq <= data.upto && !m.read_at) m.read_at = data.read_at;
      this.paintChat();
    }
  }
}
