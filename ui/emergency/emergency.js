// Emergency mode page: start a mode, work its tasks and timeline, end it, export CAP 1.2.
// Live through the `emergency` channel; REST for the first load and after a resync.

import { $, el } from '../common/dom.js';
import { LiveSocket, api, bindIndicator, post } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { exposeTestHooks } from '../common/testhooks.js';
import { fmtClock, toast } from '../common/util.js';

const modes = new Map(); // id → mode (event shape, plus `active` from REST)
let selected = null;

function isActive(mode) {
  return !mode.ended_at;
}

function handle(err) {
  if (err.status === 401) return showLogin({ message: 'Sign in to coordinate emergency mode.' });
  toast(err.message || String(err), 'error');
}

async function load() {
  try {
    const { items } = await api('/api/emergency');
    modes.clear();
    for (const mode of items) modes.set(mode.id, mode);
    if (!selected || !modes.has(selected)) selected = items.find(isActive)?.id || items[0]?.id || null;
    render();
  } catch (err) {
    handle(err);
  }
}

function upsert(mode) {
  modes.set(mode.id, { ...modes.get(mode.id), ...mode });
  const current = selected && modes.get(selected);
  if (!current || (isActive(mode) && !isActive(current))) selected = mode.id;
  render();
}

function render() {
  renderList();
  renderMode(selected ? modes.get(selected) : null);
}

function renderList() {
  const sorted = [...modes.values()].sort(
    (a, b) => (isActive(b) - isActive(a)) || String(b.started_at).localeCompare(String(a.started_at)));
  $('modes').replaceChildren(...sorted.map((m) => el('li', {
    'aria-current': m.id === selected ? 'true' : 'false',
    onclick: () => { selected = m.id; render(); },
  }, `${isActive(m) ? '● ' : ''}${m.title} · ${m.class}`, el('span', { class: 'muted' }, ` ${fmtClock(m.started_at)}`))));
  if (!sorted.length) $('modes').replaceChildren(el('li', { class: 'empty' }, 'No emergency modes yet'));
}

function renderMode(mode) {
  const active = mode && isActive(mode);
  $('mode-title').textContent = mode ? `${active ? 'Active' : 'Ended'}: ${mode.title}` : 'No emergency mode selected';
  $('end-btn').hidden = !active;
  $('note-form').hidden = !active;
  $('cap-link').hidden = !mode;
  if (!mode) {
    $('mode-summary').textContent = '';
    $('tasks').replaceChildren();
    $('timeline').replaceChildren();
    return;
  }
  $('cap-link').href = `/api/emergency/${encodeURIComponent(mode.id)}/cap.xml`; // the session cookie signs it in
  const c = mode.center || {};
  $('mode-summary').textContent = `${mode.class} · ${Math.round(mode.radius_m)} m around ${c.lat?.toFixed(5)}, ${c.lon?.toFixed(5)}`
    + ` · cameras: ${(mode.cameras || []).join(', ') || '—'} · drones pinned: ${(mode.drones || []).join(', ') || '—'}`
    + (mode.ended_at ? ` · ended ${fmtClock(mode.ended_at)}` : '');
  $('tasks').replaceChildren(...(mode.tasks || []).map((t) => el('li', { class: t.done ? 'done' : '' },
    el('span', { class: 'em-task-title' }, t.title),
    el('span', { class: 'muted' }, `${t.role} · due ${fmtClock(t.due_at)}`),
    t.done
      ? el('span', { class: 'muted' }, `done by ${t.done_by} ${fmtClock(t.done_at)}`)
      : active && el('button', { class: 'btn btn-ok', type: 'button', onclick: () => markDone(mode.id, t.id) }, 'Done'))));
  $('timeline').replaceChildren(...(mode.timeline || []).map((e) => el('li', {},
    el('span', { class: 'num' }, fmtClock(e.ts)), ` ${e.actor} · ${e.action}: ${e.text}`)));
}

async function markDone(modeId, taskId) {
  try {
    upsert(await post(`/api/emergency/${encodeURIComponent(modeId)}/tasks/${encodeURIComponent(taskId)}/done`));
  } catch (err) {
    handle(err);
  }
}

$('start-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const body = { class: form.get('class'), title: String(form.get('title') || '').trim() };
  const incident = String(form.get('incident_id') || '').trim();
  if (incident) body.incident_id = incident;
  else { body.lon = Number(form.get('lon')); body.lat = Number(form.get('lat')); }
  $('start-error').textContent = '';
  try {
    const mode = await post('/api/emergency', body);
    selected = mode.id;
    upsert(mode);
    ev.target.reset();
  } catch (err) {
    if (err.status === 401) handle(err);
    else $('start-error').textContent = err.message;
  }
});

$('note-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = ev.target.elements.text;
  if (!selected || !input.value.trim()) return;
  try {
    upsert(await post(`/api/emergency/${encodeURIComponent(selected)}/timeline`, { text: input.value.trim() }));
    input.value = '';
  } catch (err) {
    handle(err);
  }
});

$('end-btn').addEventListener('click', async () => {
  if (!selected || !confirm('End emergency mode and restore camera settings?')) return;
  try {
    upsert(await post(`/api/emergency/${encodeURIComponent(selected)}/end`));
  } catch (err) {
    handle(err);
  }
});

const socket = new LiveSocket({
  channels: ['emergency'],
  onEvent: (msg) => {
    if (msg.type && msg.type.startsWith('emergency.')) upsert(msg.data);
  },
  onResync: () => load(),
  onStatus: bindIndicator($('conn')),
});

socket.connect();
load();
api('/api/auth/me').then((me) => {
  $('admin-link').hidden = !(me && me.role === 'admin'); // the admin console: admins (district ones too)
}).catch(() => { /* 401: load() brings up the sign-in */ });

exposeTestHooks({ socket, modes, reload: load });
