// The hall's 居民消息 (/chats): the grids' service desk (网格服务台). The conversations of the
// officer's jurisdiction, those at the desk (outside office hours, or no one on duty) marked
// 服务台; answering one takes it over for the desk. Live on the hub's `chats` channel, which the
// server scopes by jurisdiction. The panel: ../common/chat_panel.js (the terminal's too).

import { $ } from '../common/dom.js';
import { applyI18n } from '../common/i18n.js';
import { ChatPanel } from '../common/chat_panel.js';
import { mountNav } from '../common/nav.js';
import { exposeTestHooks } from '../common/testhooks.js';

async function start() {
  const me = await mountNav('chats');
  if (!me) return;
  applyI18n(document.body);
  $('chats-main').hidden = false;
  const chat = new ChatPanel({ root: $('chat'), count: $('count-chats'), channels: ['chats'],
    isShown: () => !document.hidden, location: false, showHandler: true });
  exposeTestHooks({ chat });
}

start();
