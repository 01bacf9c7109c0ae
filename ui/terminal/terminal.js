// Grid worker terminal: the worker's tasks, live on `tasks:<worker_id>`, with big action buttons.

import { $, $$, el, rafBatch, reconcile } from '../common/dom.js';
import { FRESH_TASK_MS, FreshMarks } from '../common/freshness.js';
import { LiveSocket, api, bindIndicator } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { retryWithBackoff } from '../common/retry.js';
import { exposeTestHooks } from '../common/testhooks.js';
import {
  Store, caseClosedAt, compareCases, deadlineStatus, isOpenCase, parseTs, toast,
} from '../common/util.js';
import { pendingNote, taskCard } from './cards.js';
import { setupGoLive } from './golive.js';
import { Outbox, send } from './outbox.js';
import { setupReport } from './report.js';

const worker = (new URLSearchParams(location.search).get('worker') || '').trim();
const DONE_TEXT = {
  accept: 'Task accepted', start: 'Work started', feedback: 'Report sent', close: 'Task closed', report: 'Clue reported',
};
const OUTBOX_RETRY_MS = 15000;

const store = new Store();
const cards = new Map();        // id -> {node, sig, countdown}
const fresh = new FreshMarks(FRESH_TASK_MS);
let tab = location.hash === '#history' ? 'history' : 'tasks';
let unseen = 0;
let loadedOnce = false;

// ---- alerts: vibration, a short beep, a highlight ----

let audio = null;
function unlockAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  if (!audio) audio = new Ctx();
  if (audio.state === 'suspended') audio.resume().catch(() => {});
}

function beep() {
  if (!audio || audio.state !== 'running') return; // browsers allow sound only after a tap
  const t0 = audio.currentTime;
  for (const [offset, freq] of [[0, 880], [0.22, 1175]]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t0 + offset);
    gain.gain.exponentialRampToValueAtTime(0.3, t0 + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + offset + 0.18);
    osc.connect(gain).connect(audio.destination);
    osc.start(t0 + offset);
    osc.stop(t0 + offset + 0.2);
  }
}

function alertNewTask(c) {
  try {
    if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
  } catch { /* not allowed without a user gesture in some browsers */ }
  try { beep(); } catch { /* audio unavailable */ }
  fresh.mark(c.id);
  toast(`New task: ${c.matter_name || c.matter_code || c.id}`, 'info', 6000);
  if (document.hidden || tab !== 'tasks') {
    unseen += 1;
    updateTitle();
  }
}

function updateTitle() {
  document.title = `${unseen ? `(${unseen}) ` : ''}Tasks · ${worker}`;
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
  // Tasks waiting to be accepted first, then overdue, then by deadline.
  const waiting = (c) => (c.state === 'dispatched' ? 0 : 1);
  const open = all.filter(isOpenCase).sort((a, b) => waiting(a) - waiting(b) || compareCases(a, b, now));
  const done = all.filter((c) => !isOpenCase(c)).sort(historySort);
  renderList($('tasks'), open, 'No open tasks. New tasks appear here as they are dispatched.', now);
  renderList($('history'), done, 'No closed tasks yet.', now);
  const ids = new Set(all.map((c) => c.id));
  for (const id of [...cards.keys()]) if (!ids.has(id)) cards.delete(id);
  fresh.prune(now);
  $('count-tasks').textContent = String(open.length);
  $('count-history').textContent = String(done.length);
}

function tick() {
  const now = Date.now();
  for (const [id, card] of cards) {
    const c = store.get(id);
    if (!c || !isOpenCase(c)) continue;
    const st = deadlineStatus(c, now);
    if (card.countdown.textContent !== st.text) card.countdown.textContent = st.text;
    if (card.countdown.dataset.level !== st.level) {
      card.countdown.dataset.level = st.level;
      card.node.dataset.overdue = String(st.level === 'overdue');
      render();
    }
  }
}

function showTab(name) {
  tab = name;
  for (const b of $$('.tab')) b.setAttribute('aria-selected', String(b.dataset.tab === name));
  for (const p of $$('[data-panel]')) p.hidden = p.dataset.panel !== name;
  history.replaceState(null, '', `${location.pathname}${location.search}${name === 'history' ? '#history' : ''}`);
  if (name === 'tasks') {
    unseen = 0;
    updateTitle();
  }
}

// ---- data ----

function upsertCase(c, { live = false, assigned = false } = {}) {
  if (c.assignee && c.assignee !== worker) {
    // Reassigned to someone else.
    if (store.delete(c.id)) toast(`${c.id} was reassigned`, 'info');
    render();
    return;
  }
  const prev = store.upsert(c);
  // Alert on a dispatch, or on any task we learn of live after the first load.
  const isNewToMe = !prev && (assigned || loadedOnce);
  if (live && isNewToMe && isOpenCase(c)) alertNewTask(c);
  render();
}

// ---- actions, online or through the offline outbox ----

const outbox = new Outbox(worker, {
  onSent: (entry, updated) => {
    // A reported clue is a task here only when the dispatcher gave it to this worker.
    if (updated && updated.id != null && (entry.kind !== 'report' || updated.assignee === worker)) upsertCase(updated);
    toast(`${DONE_TEXT[entry.action] || 'Done'} (sent after reconnecting)`, 'ok', 3000);
  },
  onDropped: (entry, err) => {
    if (entry.kind === 'report') {
      toast(`The saved clue report was refused: ${err.message}`, 'error', 9000);
      return;
    }
    toast(`${entry.caseId}: the saved “${entry.action}” was refused: ${err.message}`, 'error', 9000);
    api(`/api/cases/${encodeURIComponent(entry.caseId)}`).then((c) => upsertCase(c)).catch(() => {});
  },
  onChange: () => render(),
});

async function queueAction(entry) {
  try {
    await outbox.add(entry.caseId, entry.action, entry.note, entry.version, entry.photos);
    toast('No network: saved, it is sent when you are back online', 'info', 5000);
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
    toast(DONE_TEXT[action] || 'Done', 'ok', 1800);
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

// Set up in start(): the form needs the page's elements, the worker record comes later.
let report = null;

async function fetchTasks() {
  store.beginLoad();
  let items = [];
  try {
    const page = await api(`/api/cases?assignee=${encodeURIComponent(worker)}&limit=100`);
    items = (page && page.items) || [];
  } finally {
    store.endLoad(items); // on a failure too: it ends what beginLoad() started
  }
  loadedOnce = true;
  hideBanner();
  render();
}

function onTasksError(err) {
  if (err.status === 401) {
    showLogin({ username: worker, message: `Sign in as ${worker}` });
    return false;
  }
  showBanner(`Could not load tasks: ${err.message}. Retrying…`);
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
    $('worker-name').textContent = w.name || w.id || worker;
    $('worker-grid').textContent = [w.grid_name, w.grid_code].filter(Boolean).join(' · ');
    const duty = $('worker-duty');
    duty.textContent = w.on_duty ? 'On duty' : 'Off duty';
    duty.dataset.state = w.on_duty ? 'online' : 'offline';
    if (w.shift) duty.title = `Shift: ${w.shift}`;
  } catch (err) {
    if (err.status === 401) return showLogin({ username: worker, message: `Sign in as ${worker}` });
    $('worker-name').textContent = worker;
    if (err.status === 404) showBanner(`Unknown worker ${worker}. Check the ID.`, true);
    else showBanner(`Could not load worker: ${err.message}`);
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

// ---- start ----

function start() {
  if (!worker) {
    $('ask').hidden = false;
    $('ask-worker').focus();
    return;
  }
  $('app').hidden = false;
  $('worker-name').textContent = worker;
  updateTitle();
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

  const channel = `tasks:${worker}`;
  const indicator = bindIndicator($('conn'));
  const socket = new LiveSocket({
    channels: [channel],
    onStatus: (state, info) => {
      indicator(state, info);
      if (state === 'open') outbox.flush(); // back online: send what was saved meanwhile
    },
    onResync: () => loadTasks(),
    onEvent: (msg) => {
      if (!msg.data || msg.data.id == null) return;
      if (msg.type === 'task.assigned') upsertCase(msg.data, { live: true, assigned: true });
      else if (msg.type === 'task.updated' || msg.type === 'case.updated' || msg.type === 'case.created') upsertCase(msg.data, { live: true });
    },
  });
  socket.connect();
  loadWorker();
  loadTasks();
  setInterval(tick, 1000);
  setInterval(() => { if (outbox.entries().length) outbox.flush(); }, OUTBOX_RETRY_MS);
  exposeTestHooks({ socket, store, outbox, reload: loadTasks });
}

start();
