// The worker terminal's emergency tasks (应急任务): plan tasks of a running incident mode given
// to this worker or to their team. The terminal (ui/terminal/terminal.js) mounts it and hands
// it every message of the worker's own channel `tasks:<worker id>`:
//
//   import * as emergencyTasks from './emergency_tasks.js';
//   emergencyTasks.mount(section, { workerId });   // loads GET /api/emergency/mine
//   emergencyTasks.handle(msg.type, msg.data);      // acts on 'emergency.task'
//
// An `emergency.task` carries one mode in brief and the worker's tasks in it, all of them: the
// cards of that mode are replaced (none left: it was taken from them, or the mode ended).
// Each card is [data-emergency-task="<mode id>/<task id>"] with 收到 (ack) and 完成 (done, with a
// note). While the worker holds an open task the phone reports where it is every POSITION_MS
// (POST /api/workers/{id}/position), which the emergency page shows on its map; never otherwise.

import { el } from '../common/dom.js';
import { nameOf, t } from '../common/i18n.js';
import { api, post } from '../common/live.js';
import { fmtRemaining, parseTs, toast } from '../common/util.js';

const POSITION_MS = 15000;
const state = {
  container: null,
  workerId: '',
  modes: new Map(), // mode id -> {mode, tasks}
  timer: null,
  watch: null,   // geolocation watch id
  sender: null,  // the interval that posts the last fix
  lastFix: null,
};

function ensureStyle() {
  if (document.querySelector('link[data-emergency-tasks]')) return;
  document.head.append(el('link', { rel: 'stylesheet', href: '/ui/terminal/emergency_tasks.css', dataset: { emergencyTasks: '' } }));
}

export async function mount(container, { workerId } = {}) {
  ensureStyle();
  state.container = container;
  state.workerId = workerId || '';
  container.classList.add('em-term');
  render();
  try {
    const { items } = await api('/api/emergency/mine');
    for (const item of items) state.modes.set(item.mode.id, item);
  } catch (err) {
    if (err.status !== 401) console.warn('emergency tasks not loaded', err);
  }
  render();
  if (!state.timer) state.timer = setInterval(tick, 1000);
}

export function handle(type, data) {
  if (type !== 'emergency.task' || !data || !data.mode) return;
  const had = state.modes.get(data.mode.id);
  const before = new Set(had ? had.tasks.map((x) => x.id) : []);
  const open = (data.tasks || []).filter((x) => !x.done);
  if (data.mode.ended_at || !open.length) state.modes.delete(data.mode.id);
  else state.modes.set(data.mode.id, { mode: data.mode, tasks: open });
  const fresh = open.filter((x) => !before.has(x.id));
  if (fresh.length) {
    toast(t('emergency.term.new', { task: fresh[0].title }), 'error');
    if (navigator.vibrate) navigator.vibrate([300, 150, 300]);
  }
  if (had && !state.modes.has(data.mode.id) && data.mode.ended_at) toast(t('emergency.term.ended', { title: data.mode.title }));
  render();
}

/** Every open task, oldest mode first. */
function allTasks() {
  return [...state.modes.values()].flatMap(({ mode, tasks }) => tasks.map((task) => ({ mode, task })));
}

function render() {
  const box = state.container;
  if (!box) return;
  const items = allTasks();
  box.hidden = !items.length;
  box.replaceChildren(el('h2', { class: 'em-term-head' }, t('emergency.term.title', { n: items.length })),
    ...items.map(({ mode, task }) => card(mode, task)));
  tick();
  trackPosition(items.length > 0);
}

function assignedText(task) {
  const a = task.assignee || {};
  if (a.kind === 'team') return t('emergency.term.to_team', { team: a.name || '' });
  return t('emergency.term.to_you');
}

function card(mode, task) {
  const id = `${mode.id}/${task.id}`;
  const note = el('input', { name: 'note', maxlength: 2000, placeholder: t('emergency.term.note_hint'), 'aria-label': t('emergency.term.note_hint') });
  const doneForm = el('form', { class: 'em-term-done', hidden: true },
    note, el('button', { class: 'btn btn-ok btn-big', type: 'submit', dataset: { act: 'confirm-done' } }, t('emergency.term.submit')));
  doneForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(mode, task, 'done', { note: note.value.trim() }, doneForm.querySelector('button'));
  });
  const ack = el('button', { class: 'btn btn-big', type: 'button', dataset: { act: 'ack' }, hidden: task.state === 'acked' }, t('emergency.term.ack'));
  ack.addEventListener('click', () => act(mode, task, 'ack', {}, ack));
  const done = el('button', { class: 'btn btn-ok btn-big', type: 'button', dataset: { act: 'done' } }, t('emergency.term.done'));
  done.addEventListener('click', () => { doneForm.hidden = false; note.focus(); });
  const c = mode.center || {};
  return el('article', { class: 'em-term-card', dataset: { emergencyTask: id, state: task.state || '' } },
    el('div', { class: 'em-term-mode' }, `${nameOf('emclass', mode.class)} · ${mode.title}`),
    el('div', { class: 'em-term-title' }, task.title),
    el('div', { class: 'em-term-meta' }, t('emergency.term.kind', { kind: task.role || '—' }), ' · ', assignedText(task)),
    el('div', { class: 'em-term-due', dataset: { due: task.due_at } }),
    task.state === 'acked' ? el('div', { class: 'em-term-acked' }, t('emergency.term.acked', { who: task.acked_by_name || '' })) : null,
    el('div', { class: 'em-term-actions' }, ack, done,
      Number.isFinite(c.lat) ? el('a', { class: 'btn btn-big', href: `geo:${c.lat},${c.lon}` }, t('emergency.term.navigate')) : null),
    doneForm);
}

async function act(mode, task, action, body, button) {
  if (button) button.disabled = true;
  try {
    const updated = await post(`/api/emergency/${encodeURIComponent(mode.id)}/tasks/${encodeURIComponent(task.id)}/${action}`, body);
    // The channel will say the same; this answers at once.
    const mine = updated.tasks.filter((x) => (x.workers || []).includes(state.workerId) || x.id === task.id);
    handle('emergency.task', { mode, tasks: mine });
    if (action === 'done') toast(t('emergency.term.done_toast', { task: task.title }), 'ok');
  } catch (err) {
    const key = { 409: 'emergency.term.conflict', 403: 'emergency.term.not_yours' }[err.status] || 'emergency.term.failed';
    toast(t(key), 'error');
    if (button) button.disabled = false;
  }
}

function tick() {
  if (!state.container) return;
  const now = Date.now();
  for (const node of state.container.querySelectorAll('[data-due]')) {
    const ms = parseTs(node.dataset.due) - now;
    node.textContent = fmtRemaining(ms);
    node.dataset.late = String(ms < 0);
  }
}

/** Where the phone is, while (and only while) the worker holds an open emergency task. */
function trackPosition(on) {
  if (!on || !state.workerId || !('geolocation' in navigator)) {
    if (state.watch != null) { navigator.geolocation.clearWatch(state.watch); state.watch = null; }
    clearInterval(state.sender);
    state.sender = null;
    return;
  }
  if (state.watch == null) {
    state.watch = navigator.geolocation.watchPosition(
      (pos) => { state.lastFix = pos.coords; },
      () => { /* refused or unavailable: the page shows nothing else */ },
      { enableHighAccuracy: true, maximumAge: 10000 },
    );
  }
  if (!state.sender) {
    state.sender = setInterval(sendFix, POSITION_MS);
    setTimeout(sendFix, 2000); // the first fix soon after the task arrives
  }
}

async function sendFix() {
  const fix = state.lastFix;
  if (!fix || !allTasks().length) return;
  try {
    await post(`/api/workers/${encodeURIComponent(state.workerId)}/position`,
      { lon: fix.longitude, lat: fix.latitude, accuracy: Math.min(100000, Math.round(fix.accuracy || 0)) });
  } catch { /* 409: the task just ended; offline: the next one */ }
}
