// Grid worker terminal: the worker's tasks, live on `tasks:<worker_id>`, with big action buttons.
// The signed-in worker's own tasks (their account's worker id; `?worker=` only where the account
// has none). An immediate task sounds the alarm until accepted (alarm.js); a task taken away
// (reassigned, or recalled as a false alarm) leaves the list with a word about it.

import { $, $$, el, rafBatch, reconcile } from '../common/dom.js';
import { FRESH_TASK_MS, FreshMarks } from '../common/freshness.js';
import { applyI18n, t } from '../common/i18n.js';
import { LiveSocket, api, bindIndicator } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { mountNav } from '../common/nav.js';
import { retryWithBackoff } from '../common/retry.js';
import { exposeTestHooks } from '../common/testhooks.js';
import {
  Store, caseClosedAt, compareCases, isOpenCase, parseTs, toast,
} from '../common/util.js';
import { unlockAudio } from '../common/sound.js';
import { chime, createAlarm } from './alarm.js';
import { countdownOf, matterOf, pendingNote, taskCard } from './cards.js';
import { setupGoLive } from './golive.js';
import { Outbox, send } from './outbox.js';
import { setupReport } from './report.js';
import { setupRounds } from './rounds.js';
import { setupCollect } from './collect.js';

const OUTBOX_RETRY_MS = 15000;

const store = new Store();
const cards = new Map();        // id -> {node, sig, countdown}
const fresh = new FreshMarks(FRESH_TASK_MS);
const TABS = ['tasks', 'history', 'rounds', 'collect'];
let tab = TABS.find((name) => location.hash === `#${name}`) || 'tasks';
let unseen = 0;
let loadedOnce = false;
let worker = '';      // the worker id whose tasks these are
let workerName = '';
let outbox = null;    // set in start(): it is the worker's own
let alarm = null;
let emergency = null; // ./emergency_tasks.js once loaded
let rounds = null;    // the 巡查 tab (rounds.js), set in start()
let collect = null;   // the 采集 tab (collect.js), set in start()

const done = (action) => t(`terminal.done.${action}`);

function alertNewTask(c) {
  chime();
  fresh.mark(c.id);
  toast(t('terminal.new_task', { matter: matterOf(c) }), 'info', 6000);
  if (document.hidden || tab !== 'tasks') {
    unseen += 1;
    updateTitle();
  }
}

function updateTitle() {
  const who = workerName || worker;
  document.title = `${unseen ? `(${unseen}) ` : ''}${t('terminal.title', { name: who })}`;
}

// ---- rendering ----

const render = rafBatch(renderNow);

function historySort(a, b) {
  const ta = caseClosedAt(a) || parseTs(a.created_at) || 0;
  const tb = caseClosedAt(b) || parseTs(b.created_at) || 0;
  return tb - ta;
}

function renderList(container, items, emptyText, now) {
  const queued = outbox.pending();
  const nodes = items.map((c) => {
    const sig = `${JSON.stringify(c)}|${queued.get(c.id) || ''}`;
    let card = cards.get(c.id);
    if (!card || card.sig !== sig || card.node.parentElement !== container) {
      const keep = card ? pendingNote(card.node) : null;
      card = { ...taskCard(c, { onAction, keep, now, worker, queued: queued.get(c.id) || null }), sig };
      cards.set(c.id, card);
      fresh.apply(c.id, card.node, now);
    }
    return card.node;
  });
  if (!nodes.length) {
    container.replaceChildren(el('p', { class: 'empty' }, emptyText));
  } else {
    const empty = container.querySelector(':scope > .empty');
    if (empty) empty.remove();
    reconcile(container, nodes);
  }
}

function renderNow() {
  const now = Date.now();
  const all = store.values().filter((c) => !c.assignee || c.assignee === worker);
  // Immediate tasks waiting to be accepted first, then the others waiting, then overdue, then by deadline.
  const rank = (c) => (c.state === 'dispatched' ? (c.urgency === 'immediate' ? 0 : 1) : 2);
  const open = all.filter(isOpenCase).sort((a, b) => rank(a) - rank(b) || compareCases(a, b, now));
  const closed = all.filter((c) => !isOpenCase(c)).sort(historySort);
  renderList($('tasks'), open, t('terminal.empty.tasks'), now);
  renderList($('history'), closed, t('terminal.empty.history'), now);
  const ids = new Set(all.map((c) => c.id));
  for (const id of [...cards.keys()]) if (!ids.has(id)) cards.delete(id);
  fresh.prune(now);
  $('count-tasks').textContent = String(open.length);
  $('count-history').textContent = String(closed.length);
  alarm.update(open.filter((c) => c.urgency === 'immediate' && c.state === 'dispatched'));
}

function tick() {
  const now = Date.now();
  for (const [id, card] of cards) {
    const c = store.get(id);
    if (!c || !isOpenCase(c)) continue;
    const left = countdownOf(c, now);
    if (card.countdown.textContent !== left.text) card.countdown.textContent = left.text;
    if (card.countdown.dataset.level !== left.level) {
      card.countdown.dataset.level = left.level;
      card.node.dataset.overdue = String(left.level === 'overdue');
      render();
    }
  }
}

function showTab(name) {
  tab = name;
  for (const b of $$('.tab')) b.setAttribute('aria-selected', String(b.dataset.tab === name));
  for (const p of $$('[data-panel]')) p.hidden = p.dataset.panel !== name;
  history.replaceState(null, '', `${location.pathname}${location.search}${name === 'tasks' ? '' : `#${name}`}`);
  if (name === 'rounds' && rounds) rounds.refresh(); // the route and visits as they are now
  if (name === 'collect' && collect) collect.refresh(); // the grid's buildings as they are now
  if (name === 'tasks') {
    unseen = 0;
    updateTitle();
  }
}

function showCard(id) {
  showTab('tasks');
  const card = cards.get(id);
  if (card) card.node.scrollIntoView({ behavior: 'smooth', block: 'center' });
}

// ---- data ----

/** The task left this worker: recalled (cancelled: a false alarm, or opened in error) or given to someone else. */
function dropTask(c) {
  if (store.delete(c.id)) toast(t(c.state === 'cancelled' ? 'terminal.withdrawn' : 'terminal.reassigned', { matter: matterOf(c) }), 'info', 5000);
  render();
}

function upsertCase(c, { live = false, assigned = false } = {}) {
  if ((c.assignee && c.assignee !== worker) || c.state === 'cancelled') {
    dropTask(c);
    return;
  }
  const prev = store.upsert(c);
  // Alert on a dispatch, or on any task we learn of live after the first load.
  const isNewToMe = !prev && (assigned || loadedOnce);
  if (live && isNewToMe && isOpenCase(c)) alertNewTask(c);
  render();
}

// ---- actions, online or through the offline outbox ----

function makeOutbox() {
  return new Outbox(worker, {
    onSent: (entry, updated) => {
      // A reported clue is a task here only when the dispatcher gave it to this worker.
      if (updated && updated.id != null && (entry.kind !== 'report' || updated.assignee === worker)) upsertCase(updated);
      toast(t('terminal.sent_later', { what: done(entry.action) }), 'ok', 3000);
    },
    onDropped: (entry, err) => {
      if (entry.kind === 'report') {
        toast(t('terminal.report_refused', { reason: err.message }), 'error', 9000);
        return;
      }
      const c = store.get(entry.caseId);
      toast(t('terminal.action_refused', {
        matter: c ? matterOf(c) : '', action: t(`terminal.action.${entry.action}`), reason: err.message,
      }), 'error', 9000);
      api(`/api/cases/${encodeURIComponent(entry.caseId)}`).then((updated) => upsertCase(updated)).catch(() => {});
    },
    onChange: () => render(),
  });
}

async function queueAction(entry) {
  try {
    await outbox.add(entry.caseId, entry.action, entry.note, entry.version, entry.photos);
    toast(t('terminal.saved_offline'), 'info', 5000);
  } catch (err) {
    toast(err.message, 'error', 7000);
  }
}

async function onAction(id, action, note, _card, photos = []) {
  const current = store.get(id);
  // The version we saw: the server applies the action only to that version, so a resend never doubles it.
  const entry = { caseId: id, action, note, version: current ? current.version : undefined, photos };
  if (navigator.onLine === false) return queueAction(entry);
  try {
    const updated = await send(entry, worker);
    if (updated && updated.id != null) upsertCase(updated);
    toast(done(action), 'ok', 1800);
  } catch (err) {
    if (err.status === 0) return queueAction(entry);
    if (err.status === 401) return showLogin({ username: worker });
    toast(err.message, 'error', 7000);
    if (err.status === 409) {
      try { upsertCase(await api(`/api/cases/${encodeURIComponent(id)}`)); } catch { /* keep what we have */ }
    }
  }
  return undefined;
}

/** A hazard found on the rounds became this case: in 任务 at once when it is this worker's. */
async function roundsCase(id) {
  const c = await api(`/api/cases/${encodeURIComponent(id)}`);
  if (c.assignee === worker) upsertCase(c);
  return c;
}

// Set up in start(): the form needs the page's elements, the worker record comes later.
let report = null;

async function fetchTasks() {
  store.beginLoad();
  let items = [];
  let whole = false; // the list is all there is: what it lacks was taken away meanwhile
  try {
    const page = await api(`/api/cases?assignee=${encodeURIComponent(worker)}&limit=100`);
    const listed = (page && page.items) || [];
    whole = listed.length < 100;
    // A recalled case is no task of anyone's: it is not listed, not even in the history.
    items = listed.filter((c) => c.state !== 'cancelled');
  } finally {
    store.endLoad(items, { prune: whole }); // on a failure too: it ends what beginLoad() started
  }
  loadedOnce = true;
  hideBanner();
  render();
}

function onTasksError(err) {
  if (err.status === 401) {
    showLogin({ username: worker, message: t('terminal.sign_in_as', { worker }) });
    return false;
  }
  showBanner(t('terminal.load_failed', { reason: err.message }));
  return true;
}

let loading = null;
/** Loads the worker's tasks, retrying with backoff; a call while a load is under way joins it. */
async function loadTasks() {
  if (loading) return loading;
  loading = retryWithBackoff(fetchTasks, { onError: onTasksError });
  try { await loading; } finally { loading = null; }
  return undefined;
}

async function loadWorker() {
  try {
    const w = await api(`/api/workers/${encodeURIComponent(worker)}`);
    report.setWorker(w);
    workerName = w.name || workerName;
    $('worker-name').textContent = workerName || worker;
    $('worker-grid').textContent = w.grid_name || '';
    $('worker-grid').title = w.grid_code || '';
    const duty = $('worker-duty');
    duty.textContent = t(w.on_duty ? 'terminal.on_duty' : 'terminal.off_duty');
    duty.dataset.state = w.on_duty ? 'online' : 'offline';
    if (w.shift) duty.title = t('terminal.shift', { shift: w.shift });
    updateTitle();
  } catch (err) {
    if (err.status === 401) return showLogin({ username: worker, message: t('terminal.sign_in_as', { worker }) });
    if (err.status === 404) showBanner(t('terminal.unknown_worker'), true);
    else showBanner(t('terminal.worker_failed', { reason: err.message }));
  }
  return undefined;
}

function showBanner(text, persistent = false) {
  const b = $('banner');
  b.textContent = text;
  b.hidden = false;
  b.dataset.persistent = String(persistent);
}

function hideBanner() {
  const b = $('banner');
  if (b.dataset.persistent !== 'true') b.hidden = true;
}

/** Emergency tasks (incident mode) have a module of their own; a terminal without it still works. */
async function mountEmergencyTasks() {
  try {
    emergency = await import('./emergency_tasks.js');
    await emergency.mount($('emergency-tasks'), { workerId: worker });
  } catch (err) {
    emergency = null;
    console.info('emergency tasks unavailable', err);
  }
}

function onLiveMessage(msg) {
  if (emergency) {
    try { emergency.handle(msg.type, msg.data); } catch (err) { console.error('emergency task message', err); }
  }
  if (msg.type === 'verify_tasks.opened') { window.dispatchEvent(new Event('checks:reload')); return; } // new re-check tasks
  if (!msg.data || msg.data.id == null) return;
  if (msg.type === 'task.removed') dropTask(msg.data);
  else if (msg.type === 'task.assigned') upsertCase(msg.data, { live: true, assigned: true });
  else if (msg.type === 'task.updated' || msg.type === 'case.updated' || msg.type === 'case.created') upsertCase(msg.data, { live: true });
}

// ---- start ----

function start(me) {
  applyI18n();
  worker = me.worker_id || (new URLSearchParams(location.search).get('worker') || '').trim();
  if (!worker) {
    $('ask').hidden = false;
    $('ask-worker').focus();
    return;
  }
  workerName = me.worker_id === worker ? me.display_name || '' : '';
  $('app').hidden = false;
  $('worker-name').textContent = workerName || worker;
  updateTitle();
  outbox = makeOutbox();
  alarm = createAlarm({
    banner: $('alarm'),
    onAccept: (id) => onAction(id, 'accept', ''),
    onShow: showCard,
  });
  for (const b of $$('.tab')) b.addEventListener('click', () => showTab(b.dataset.tab));
  showTab(tab);
  // Sound needs a user gesture once; the first tap anywhere enables it.
  window.addEventListener('pointerdown', unlockAudio, { passive: true });
  window.addEventListener('keydown', unlockAudio);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && tab === 'tasks') { unseen = 0; updateTitle(); }
  });

  report = setupReport({ worker, outbox, onReported: (c) => { if (c.assignee === worker) upsertCase(c); } });
  setupGoLive({ worker });
  rounds = setupRounds({
    worker,
    onCase: roundsCase,
    onCount: (n) => { $('count-rounds').textContent = String(n); },
  });
  collect = setupCollect({
    worker,
    onCount: (n) => { $('count-collect').textContent = String(n); },
    show: () => showTab('collect'),
  });
  if (tab === 'collect') collect.refresh(); // opened on #collect: showTab ran before the tab was set up

  const indicator = bindIndicator($('conn'));
  const socket = new LiveSocket({
    channels: [`tasks:${worker}`],
    onStatus: (state, info) => {
      indicator(state, info);
      if (state === 'open') { outbox.flush(); rounds.flush(); collect.flush(); } // back online: send what was saved meanwhile
    },
    onResync: () => loadTasks(),
    onEvent: onLiveMessage,
  });
  socket.connect();
  loadWorker();
  loadTasks();
  mountEmergencyTasks();
  setInterval(tick, 1000);
  setInterval(() => { if (outbox.entries().length) outbox.flush(); }, OUTBOX_RETRY_MS);
  exposeTestHooks({ socket, store, outbox, rounds, collect, reload: loadTasks });
}

const me = await mountNav('terminal');
if (me) start(me);
