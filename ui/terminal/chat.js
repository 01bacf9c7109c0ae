// 居民消息: residents' conversations with this worker's grids, in the terminal's 居民消息 tab
// (#chat), live on the worker's own `tasks:<worker>` channel, with the unread count on the tab
// (the panel itself: ../common/chat_panel.js, shared with the hall's service desk, /chats).
//
// A module of its own, loaded by index.html.

import { $ } from '../common/dom.js';
import { applyI18n } from '../common/i18n.js';
import { ChatPanel } from '../common/chat_panel.js';
import { api } from '../common/live.js';

async function start() {
  let me;
  try { me = await api('/api/auth/me'); } catch { return; }
  const worker = me.worker_id || new URLSearchParams(location.search).get('worker') || '';
  if (!worker || !$('chat')) return;
  applyI18n($('chat'));
  const chat = new ChatPanel({ root: $('chat'), count: $('count-chat'), channels: [`tasks:${worker}`],
    isShown: () => !$('chat').hidden, location: true, showHandler: false });
  document.querySelector('[data-tab="chat"]')?.addEventListener('click', () => { chat.refresh(); chat.markRead(); });
  window.__chat = { state: chat.state, refresh: chat.refresh };
}

start();
