// The hall's case desk (/desk, officers and admins): search every case of the jurisdiction,
// the queue of cases nobody was sent to (待派遣), one case in full with every action the desk
// may take on it, and bulk actions. Live over /ws (`cases`): a row and the open case follow
// each change at once; the list itself is asked again within a second.
//
// Deep link: /desk#case=<id> opens that case (the wall links here).

import { $, $$ } from '../common/dom.js';
import { applyI18n, nameOf, t } from '../common/i18n.js';
import { LiveSocket, api } from '../common/live.js';
import { mountNav } from '../common/nav.js';
import { exposeTestHooks } from '../common/testhooks.js';
import { toast } from '../common/util.js';
import { ActionDialog, errorText } from './actions.js';
import { CaseDetail } from './detail.js';
import { Lookups } from './lookups.js';
import { SearchForm } from './search.js';
import { CaseTable } from './table.js';
import { AwaitingQueue } from './verify.js';

const PAGE = 50;
const RELOAD_MS = 400;  // live changes: the list asked again at most this often

const desk = {
  tab: 'all',
  offset: 0,
  total: 0,
  loading: null,   // the search under way
  again: false,    // asked again while one was under way
  reloadTimer: null,
};

function listParams() {
  const params = desk.tab === 'unrouted' ? { unrouted: '1', order: 'created' } : desk.search.params();
  if (params.id) params.id = params.id.replace(/^…/, '');
  return new URLSearchParams({ ...params, limit: String(PAGE), offset: String(desk.offset) });
}

/** The current tab's page of cases, and the queue's count; one at a time, the latest wins. */
async function load() {
  if (desk.loading) {
    desk.again = true;
    return desk.loading;
  }
  desk.loading = (async () => {
    do {
      desk.again = false;
      try {
        const [page, queue] = await Promise.all([
          desk.tab === 'awaiting' ? desk.awaiting.page(PAGE, desk.offset) : api(`/api/cases?${listParams()}`),
          api('/api/cases?unrouted=1&limit=1'),
          desk.tab === 'awaiting' ? null : desk.awaiting.refresh(),  // 待核查确认's count
        ]);
        desk.total = page.total;
        desk.table.show(page.items || []);
        for (const c of page.items || []) desk.lookups.noteWorker(c.assignee, c.assignee_name);
        $('count-unrouted').textContent = String(queue.total);
        $('tab-unrouted').dataset.waiting = String(queue.total > 0);
        if (desk.tab === 'all') $('count-all').textContent = String(page.total);
        showPager();
      } catch (err) {
        if (err.status === 400) toast(t('desk.err.search'), 'error');
        else if (err.status !== 401) toast(errorText(err), 'error');
      }
    } while (desk.again);
  })().finally(() => { desk.loading = null; });
  return desk.loading;
}

function reloadSoon() {
  if (desk.reloadTimer) return;
  desk.reloadTimer = setTimeout(() => { desk.reloadTimer = null; load(); }, RELOAD_MS);
}

function showPager() {
  const first = desk.total ? desk.offset + 1 : 0;
  const last = Math.min(desk.offset + PAGE, desk.total);
  $('page-info').textContent = t('desk.page_info', { first, last, total: desk.total });
  $('prev').disabled = desk.offset === 0;
  $('next').disabled = desk.offset + PAGE >= desk.total;
}

function setTab(tab) {
  desk.tab = tab;
  desk.offset = 0;
  for (const b of $$('.desk-tab')) b.setAttribute('aria-selected', String(b.dataset.tab === tab));
  $('search').classList.toggle('dimmed', tab !== 'all');
  load();
}

function showPicks() {
  const n = desk.table.selected.size;
  $('bulk').hidden = n === 0;
  $('bulk-count').textContent = t('desk.bulk.count', { n });
}

// ---- the open case ----

function caseInHash() {
  const m = /(?:^#|&)case=([^&]+)/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : null;
}

async function openFromHash() {
  const id = caseInHash();
  if (!id) {
    desk.detail.hide();
    desk.table.setOpen(null);
    document.body.classList.remove('has-detail');
    return;
  }
  try {
    const c = await api(`/api/cases/${encodeURIComponent(id)}`);
    if (caseInHash() !== id) return;
    desk.detail.show(c);
    desk.table.setOpen(id);
    document.body.classList.add('has-detail');
    if (window.matchMedia('(max-width: 900px)').matches) $('detail').scrollIntoView({ block: 'start' });
  } catch (err) {
    toast(err.status === 404 ? t('desk.err.not_found') : errorText(err), 'error');
  }
}

function openCase(id) {
  const hash = `#case=${encodeURIComponent(id)}`;
  if (location.hash === hash) openFromHash();
  else location.hash = hash;
}

function closeCase() {
  history.replaceState(history.state, '', `${location.pathname}${location.search}`);
  openFromHash();
}

function actOn(action, c) {
  desk.dialog.open(action, [c], {
    onDone: (updated) => {
      toast(t('desk.done', { action: nameOf('action', action) }), 'ok', 2500);
      if (updated && updated.id) {
        desk.detail.show(updated);
        desk.table.update(updated);
      }
      reloadSoon();
    },
  });
}

function bulk(action) {
  const cases = [...desk.table.selected.values()];
  if (!cases.length) return;
  desk.dialog.open(action, cases, {
    onDone: (answer) => {
      const results = (answer && answer.results) || [];
      const ok = results.filter((r) => r.ok).length;
      toast(t('desk.bulk.result', { ok, failed: results.length - ok }), ok === results.length ? 'ok' : 'error', 4000);
      for (const r of results) if (r.ok) desk.table.selected.delete(r.id);
      desk.table.clearPicks();
      reloadSoon();
      if (desk.detail.id && results.some((r) => r.id === desk.detail.id)) openFromHash();
    },
  });
}

// ---- live ----

function onEvent(msg) {
  if (msg.channel === 'verifications') {  // 视频核查: a check started, decided or was confirmed
    desk.detail.verify.rowChanged(msg.data);
    if (desk.tab === 'awaiting') reloadSoon();
    else desk.awaiting.refresh();
    return;
  }
  const data = msg.data && msg.data.case ? msg.data.case : msg.data; // case.warning/overdue wrap it
  if (!data || !data.id) return;
  desk.table.update(data);
  if (desk.detail.id === data.id) desk.detail.show({ ...desk.detail.case, ...data });
  reloadSoon();
}

function bindConnection(node) {
  const text = node.querySelector('.conn-text');
  return (state) => {
    node.dataset.state = state === 'open' ? 'open' : 'closed';
    node.classList.toggle('connecting', state === 'connecting');
    text.textContent = t(`desk.conn.${state}`);
  };
}

async function main() {
  applyI18n();
  const me = await mountNav('desk');
  if (!me) return;
  $('desk').hidden = false;
  desk.lookups = new Lookups(me);
  desk.table = new CaseTable($('rows'), { onOpen: openCase, onPick: showPicks });
  desk.detail = new CaseDetail($('detail'), { lookups: desk.lookups, me, onAction: actOn, onClose: closeCase });
  desk.dialog = new ActionDialog({ lookups: desk.lookups });
  desk.awaiting = new AwaitingQueue({ count: $('count-awaiting'), tab: $('tab-awaiting') });
  desk.search = new SearchForm($('search'), {
    lookups: desk.lookups, me, onSearch: () => { desk.offset = 0; if (desk.tab !== 'all') setTab('all'); else load(); },
  });
  for (const b of $$('.desk-tab')) b.addEventListener('click', () => setTab(b.dataset.tab));
  $('prev').addEventListener('click', () => { desk.offset = Math.max(0, desk.offset - PAGE); load(); });
  $('next').addEventListener('click', () => { desk.offset += PAGE; load(); });
  $('pick-all').addEventListener('change', (ev) => desk.table.pickAll(ev.target.checked));
  $('bulk-clear').addEventListener('click', () => { $('pick-all').checked = false; desk.table.clearPicks(); });
  for (const b of $$('[data-bulk]')) b.addEventListener('click', () => bulk(b.dataset.bulk));
  window.addEventListener('hashchange', openFromHash);

  const socket = new LiveSocket({ channels: ['cases', 'verifications'], onEvent, onResync: () => load(), onStatus: bindConnection($('conn')) });
  socket.connect();
  setInterval(() => desk.table.tick(), 1000);
  exposeTestHooks({ socket, desk, reload: load });
  await desk.search.fromHash(location.hash); // a link from the statistics page: its filters
  await Promise.all([load(), openFromHash()]);
  document.body.dataset.ready = 'true';
}

main();
