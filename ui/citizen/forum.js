// 社区 on the citizen page (论坛): search (notices, articles, services, the grids' worker cards),
// the community's 通知公告 and 政策文章, and 讨论区: threads with replies, 发帖 and 回复 for a
// signed-in resident, 举报 on any post. Live: new notices, threads and replies and posts hidden
// or restored show without a reload (community.js's socket), threads already shown kept as they
// are (an open reply box keeps what is typed); a slow poll while it is down.
// API: api/forum.py (docs/RESIDENTS.md).

import { $, el } from '../common/dom.js';
import { fmtTime, t } from '../common/i18n.js';
import { session } from './resident.js';
import { POLL_MS, api, communityPicker, connectLive, failure, liveDot, liveUp, myCommunity, onLive, ownTab } from './community.js';

const ME = '/api/residents/me';
const TYPES = () => ({
  notice: t('community.c.type_notice'), article: t('community.c.type_article'), thread: t('community.c.type_thread'),
  service: t('community.c.type_service'), worker_card: t('community.c.type_card'),
});

function say(text) {
  const box = $('fm-error');
  if (box) { box.textContent = text || ''; box.hidden = !text; }
}

async function guard(work) {
  say('');
  try { await work(); } catch (err) { say(failure(err)); }
}

function reportButton(post) {
  const button = el('button', { class: 'btn btn-small fm-report', type: 'button', dataset: { id: post.id }, onclick: () => {
    if (!session()) { say(t('community.c.sign_in_first')); return; }
    guard(async () => {
      await api('POST', `${ME}/posts/${post.id}/report`, { reason: t('community.c.report_reason') });
      button.textContent = t('community.c.reported');
      button.disabled = true;
    });
  } }, t('community.c.report'));
  return button;
}

function postItem(post, extra = []) {
  return el('li', { class: 'fm-post panel', dataset: { id: post.id } },
    post.title ? el('strong', {}, post.title) : null,
    el('p', { class: 'hint' }, `${post.author_name} · ${fmtTime(post.created_at)}`),
    el('p', { class: 'mine-text' }, post.body), extra);
}

async function openThread(post, box) {
  const full = await api('GET', `/api/community/threads/${post.id}`);
  const reply = el('textarea', { rows: 2, maxlength: 2000, 'aria-label': t('community.c.reply') });
  const form = session() ? el('form', { class: 'fm-reply', onsubmit: (ev) => {
    ev.preventDefault();
    guard(async () => {
      const made = await api('POST', `${ME}/threads/${post.id}/replies`, { body: reply.value });
      if (made.held) say(t('community.c.held'));
      await openThread(post, box);
    });
  } }, reply, el('button', { class: 'btn btn-primary', type: 'submit' }, t('community.c.reply'))) : null;
  box.replaceChildren(el('ul', { class: 'mine-list' }, full.reply_items.map((r) => postItem(r, [reportButton(r)]))), form);
}

function threadItem(post) {
  const box = el('div', { class: 'fm-thread-body' });
  const toggle = el('button', { class: 'btn btn-small fm-toggle', type: 'button', onclick: () => guard(() => openThread(post, box)) },
    t('community.c.replies', { n: post.replies }));
  return postItem(post, [el('div', { class: 'row' }, toggle, reportButton(post)), box]);
}

function searchBox(community) {
  const q = el('input', { id: 'fm-q', type: 'search', maxlength: 30, placeholder: t('community.c.search_hint'), 'aria-label': t('community.c.search') });
  const results = el('ul', { class: 'mine-list', id: 'fm-results' });
  const types = TYPES();
  const form = el('form', { class: 'row', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    if (!q.value.trim()) return;
    guard(async () => {
      const { items } = await api('GET', `/api/community/search?${new URLSearchParams({ q: q.value.trim(), community: community.code })}`);
      results.replaceChildren(...(items.length ? items.map((i) => el('li', { class: 'fm-hit', dataset: { type: i.type } },
        el('span', { class: 'chip' }, types[i.type] || i.type), ' ',
        i.url ? el('a', { href: i.url }, i.title) : el('strong', {}, i.title),
        i.snippet ? el('p', { class: 'hint' }, i.snippet) : null)) : [el('li', { class: 'hint' }, t('community.c.no_hits'))]));
    });
  } }, q, el('button', { class: 'btn', type: 'submit', id: 'fm-search' }, t('community.c.search')));
  return [form, results];
}

function newThread(community) {
  const title = el('input', { id: 'fm-title', maxlength: 60, required: true });
  const body = el('textarea', { id: 'fm-body', rows: 3, maxlength: 2000, required: true });
  return el('details', { id: 'fm-new' }, el('summary', {}, t('community.c.new_thread')),
    el('form', { onsubmit: (ev) => {
      ev.preventDefault();
      guard(async () => {
        const made = await api('POST', `${ME}/threads`, { community: community.code, title: title.value, body: body.value });
        await paint();
        if (made.held) say(t('community.c.held'));
      });
    } }, el('label', { for: 'fm-title' }, t('community.c.title')), title,
    el('label', { for: 'fm-body' }, t('community.c.body')), body,
    el('p', {}, el('button', { class: 'btn btn-primary', type: 'submit', id: 'fm-post' }, t('community.c.post')))));
}

async function paint() {
  const root = $('forum');
  const community = myCommunity();
  const parts = [el('h2', {}, t('community.c.forum_title'), ' ', liveDot()), communityPicker(), el('p', { id: 'fm-error', class: 'banner', role: 'alert', hidden: true })];
  connectLive();
  if (!community) { root.replaceChildren(...parts); return; }
  try {
    const where = new URLSearchParams({ community: community.code });
    const [notices, articles, threads] = await Promise.all(['notices', 'articles', 'threads'].map((kind) => api('GET', `/api/community/${kind}?${where}`)));
    const none = el('li', { class: 'hint' }, t('community.c.none'));
    parts.push(...searchBox(community),
      el('h2', {}, t('community.c.notices')), el('ul', { class: 'mine-list', id: 'fm-notices' }, notices.items.length ? notices.items.map((p) => postItem(p)) : none.cloneNode(true)),
      el('h2', {}, t('community.c.articles')), el('ul', { class: 'mine-list', id: 'fm-articles' }, articles.items.length ? articles.items.map((p) => postItem(p)) : none.cloneNode(true)),
      el('h2', {}, t('community.c.threads')), session() ? newThread(community) : el('p', { class: 'hint' }, t('community.c.sign_in_to_post')),
      el('ul', { class: 'mine-list', id: 'fm-threads' }, threads.items.length ? threads.items.map(threadItem) : none.cloneNode(true)));
  } catch (err) {
    parts.push(el('p', { class: 'banner', role: 'alert' }, failure(err)));
  }
  root.replaceChildren(...parts);
}

/** The board re-read in place: notices and articles anew, threads by id (one already shown keeps
 * its node, its open replies and what is typed in them; its count of replies is updated). */
async function refreshBoard() {
  const community = myCommunity();
  if ($('forum').hidden || !community || !$('fm-threads')) return;
  const where = new URLSearchParams({ community: community.code });
  try {
    const [notices, articles, threads] = await Promise.all(['notices', 'articles', 'threads'].map((kind) => api('GET', `/api/community/${kind}?${where}`)));
    const none = () => el('li', { class: 'hint' }, t('community.c.none'));
    for (const [id, answer] of [['fm-notices', notices], ['fm-articles', articles]]) {
      $(id).replaceChildren(...(answer.items.length ? answer.items.map((p) => postItem(p)) : [none()]));
    }
    const shown = new Map([...$('fm-threads').children].map((node) => [node.dataset.id, node]));
    $('fm-threads').replaceChildren(...(threads.items.length ? threads.items.map((post) => {
      const node = shown.get(post.id);
      if (!node) return threadItem(post);
      const toggle = node.querySelector('.fm-toggle');
      if (toggle) toggle.textContent = t('community.c.replies', { n: post.replies });
      return node;
    }) : [none()]));
  } catch { /* a weak network: the board stays as it was */ }
}

/** A reply in a thread whose replies are open, and nothing typed there: shown at once. */
function reopen(threadId) {
  const node = $('fm-threads') && $('fm-threads').querySelector(`:scope > .fm-post[data-id='${CSS.escape(threadId || '')}']`);
  const box = node && node.querySelector('.fm-thread-body');
  const typing = box && box.querySelector('textarea') && box.querySelector('textarea').value;
  if (box && box.childElementCount && !typing) guard(() => openThread({ id: threadId }, box));
}

function onEvent(msg) {
  if (!msg.channel.startsWith('forum:') && msg.type !== 'resync') return;
  if (msg.type === 'reply.posted') reopen(msg.data.thread_id);
  if (msg.type !== 'service.published' && msg.type !== 'service.closed') refreshBoard();
}

ownTab('forum', paint);
onLive(onEvent);
setInterval(() => { if (!liveUp()) refreshBoard(); }, POLL_MS);
