// Incident mode (/emergency, laptop and phone): the scene's map with its radius, cameras,
// drones and team members; live video of the pinned drones and the nearest cameras; the
// tasks with who has them and when they are due; the teams as people; the timeline in words;
// start, end, export the handover; admins edit the plans. ?mode=<id> opens a mode (the wall
// links here); ?incident=<id>&class=<class> opens the start form for that incident.
// Live on `emergency` (modes, positions) and `drones`; REST for the first load and resyncs.

import { $, el } from '../common/dom.js';
import { applyI18n, fmtTime, lang, nameOf, t } from '../common/i18n.js';
import { LiveSocket, api, bindIndicator, post } from '../common/live.js';
import { mountNav } from '../common/nav.js';
import { exposeTestHooks } from '../common/testhooks.js';
import { fmtDuration, parseTs, toast } from '../common/util.js';
import { SceneMap } from './map.js';
import { setupPlans } from './plans.js';
import { setupStart } from './start.js';
import { renderTasks, tickDue } from './tasks.js';
import { renderTeams } from './teams.js';
import { renderTimeline } from './timeline.js';
import { VideoWall } from './video.js';

const TEAMS_REFRESH_MS = 30000; // on duty changes with the hour; positions come live
const page = {
  me: null,
  modes: new Map(),    // id -> mode (REST shape)
  selected: null,
  cameras: new Map(),  // id -> camera (names, places, kinds)
  teams: [],
  starting: false,
};
let sceneMap = null;
let videos = null;
let start = null;

const isActive = (m) => m && !m.ended_at;
const selectedMode = () => (page.selected ? page.modes.get(page.selected) : null);
const camName = (id) => (page.cameras.get(id) || {}).name || t('emergency.video.unnamed');

/** A refusal in the reader's words (the server's reasons are for logs and integrators). */
export function problem(err) {
  const known = { 0: 'network', 403: 'forbidden', 404: 'gone', 409: 'conflict', 422: 'invalid' };
  const key = known[err && err.status];
  return key ? t(`emergency.error.${key}`) : t('emergency.error.failed', { status: (err && err.status) || '' });
}

function fail(err) {
  toast(problem(err), 'error');
}

// ---- loading ----

async function loadModes() {
  const { items } = await api('/api/emergency');
  page.modes = new Map(items.map((m) => [m.id, m]));
  const wanted = new URL(location.href).searchParams.get('mode');
  if (wanted && page.modes.has(wanted) && !page.selected) page.selected = wanted;
  if (!page.selected || !page.modes.has(page.selected)) page.selected = (items.find(isActive) || items[0] || {}).id || null;
  render();
}

async function loadCameras() {
  const { items } = await api('/api/cameras');
  page.cameras = new Map(items.map((c) => [c.id, c]));
}

let teamsTimer = null;
async function loadTeams() {
  const mode = selectedMode();
  const near = mode && mode.center ? `?near=${mode.center.lon},${mode.center.lat}` : '';
  try {
    page.teams = (await api(`/api/emergency/teams${near}`)).items;
  } catch (err) {
    fail(err);
    return;
  }
  renderTeams($('teams'), page.teams);
  $('teams-count').textContent = String(page.teams.length);
  for (const team of page.teams) for (const m of team.members) sceneMap.setMember(m.worker_id, m.name, m.position);
  renderTasksNow(); // the reassign choices
}

/** Teams again soon (several events in a burst: one request). */
function refreshTeams() {
  clearTimeout(teamsTimer);
  teamsTimer = setTimeout(loadTeams, 300);
}

// ---- rendering ----

function render() {
  const mode = selectedMode();
  renderBar(mode);
  renderTasksNow();
  renderTimeline($('timeline'), mode ? mode.timeline : []);
  $('note-form').hidden = !isActive(mode);
  sceneMap.showMode(mode);
  const inside = mode ? (mode.cameras || []).map((id) => page.cameras.get(id)).filter(Boolean) : [];
  sceneMap.setCameras(inside);
  const feeds = mode ? [
    ...(mode.drones || []).map((id) => ({ id, name: camName(id), drone: true })),
    ...(mode.cameras || []).filter((id) => !(mode.drones || []).includes(id)).map((id) => ({ id, name: camName(id) })),
  ] : [];
  videos.show(isActive(mode) ? feeds : []);
  for (const id of (mode && mode.drones) || []) {
    const tele = (page.cameras.get(id) || {}).telemetry;
    if (tele) sceneMap.updateDrone({ id, ...tele }, camName(id));
  }
}

function renderBar(mode) {
  const select = $('mode-select');
  const sorted = [...page.modes.values()].sort((a, b) => (isActive(b) - isActive(a)) || String(b.started_at).localeCompare(String(a.started_at)));
  select.replaceChildren(...sorted.map((m) => el('option', { value: m.id, selected: m.id === page.selected },
    `${isActive(m) ? '● ' : ''}${m.title} · ${fmtTime(m.started_at, 'short')}`)));
  select.hidden = sorted.length < 2;
  $('mode-title').textContent = mode ? mode.title : t('emergency.bar.none');
  const state = $('mode-state');
  state.hidden = !mode;
  if (mode) {
    state.dataset.state = isActive(mode) ? 'active' : 'ended';
    state.textContent = t(isActive(mode) ? 'emergency.bar.active' : 'emergency.bar.ended');
    $('mode-meta').textContent = t('emergency.bar.meta', {
      cls: nameOf('emclass', mode.class), place: mode.area_name || t('emergency.bar.point'),
      radius: Math.round(mode.radius_m), cameras: (mode.cameras || []).length, drones: (mode.drones || []).length,
    });
  } else {
    $('mode-meta').textContent = '';
  }
  const links = mode && mode.links;
  $('handover-link').hidden = !links;
  $('export-link').hidden = !links || isActive(mode);
  // In the reader's language (the page's), which the server writes them in.
  if (links) { $('handover-link').href = `${links.html}?lang=${lang}`; $('export-link').href = `${links.zip}?lang=${lang}`; }
  $('end-btn').hidden = !isActive(mode);
  tickClock();
}

function renderTasksNow() {
  const mode = selectedMode();
  const startForm = $('start-form');
  startForm.hidden = !page.starting;
  $('tasks').hidden = page.starting;
  if (page.starting) return;
  const open = renderTasks($('tasks'), mode, page.teams, { assign, ack: (task) => act(task, 'ack'), done: doneTask });
  $('tasks-count').textContent = mode ? t('emergency.tasks.open', { n: open }) : '';
}

function tickClock() {
  const mode = selectedMode();
  const clock = $('mode-clock');
  if (!mode) { clock.textContent = ''; return; }
  const end = mode.ended_at ? parseTs(mode.ended_at) : Date.now();
  clock.textContent = t(isActive(mode) ? 'emergency.bar.running' : 'emergency.bar.lasted', { time: fmtDuration(end - parseTs(mode.started_at)) });
}

// ---- changes ----

function upsert(mode) {
  const had = page.modes.get(mode.id) || {};
  page.modes.set(mode.id, { ...had, ...mode, active: !mode.ended_at });
  const current = selectedMode();
  if (!current || (isActive(mode) && !isActive(current))) page.selected = mode.id;
  if (mode.id === page.selected) { render(); refreshTeams(); } else renderBar(current);
}

async function assign(task, body) {
  try {
    upsert(await post(`/api/emergency/${encodeURIComponent(page.selected)}/tasks/${encodeURIComponent(task.id)}/assign`, body));
  } catch (err) { fail(err); }
}

async function act(task, action, body = {}) {
  try {
    upsert(await post(`/api/emergency/${encodeURIComponent(page.selected)}/tasks/${encodeURIComponent(task.id)}/${action}`, body));
  } catch (err) { fail(err); }
}

function doneTask(task) {
  const note = prompt(t('emergency.tasks.done_prompt', { task: task.title }), '');
  if (note !== null) act(task, 'done', { note: note.trim() });
}

function wireBar() {
  $('mode-select').addEventListener('change', (ev) => {
    page.selected = ev.target.value;
    page.starting = false;
    render();
    loadTeams();
  });
  $('end-btn').addEventListener('click', async () => {
    const mode = selectedMode();
    if (!mode) return;
    const note = prompt(t('emergency.bar.end_prompt', { title: mode.title }), '');
    if (note === null) return;
    try {
      upsert(await post(`/api/emergency/${encodeURIComponent(mode.id)}/end`, { note: note.trim() }));
      toast(t('emergency.bar.ended_toast'), 'ok');
    } catch (err) { fail(err); }
  });
  $('new-btn').addEventListener('click', () => start.open());
  $('note-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = ev.target.elements.text;
    if (!page.selected || !input.value.trim()) return;
    try {
      upsert(await post(`/api/emergency/${encodeURIComponent(page.selected)}/timeline`, { text: input.value.trim() }));
      input.value = '';
    } catch (err) { fail(err); }
  });
}

function onEvent(msg) {
  if (msg.channel === 'drones' && msg.type === 'drone.position') {
    const mode = selectedMode();
    if (mode && (mode.drones || []).includes(msg.data.id)) sceneMap.updateDrone(msg.data, camName(msg.data.id));
    return;
  }
  if (msg.type === 'team.position') {
    const d = msg.data;
    sceneMap.setMember(d.worker_id, d.name || '', d);
    for (const team of page.teams) for (const m of team.members) if (m.worker_id === d.worker_id) m.position = d;
    renderTeams($('teams'), page.teams);
    return;
  }
  if (msg.type && msg.type.startsWith('emergency.')) upsert(msg.data);
}

async function main() {
  applyI18n();
  const me = await mountNav('emergency');
  if (!me) return;
  page.me = me;
  $('app').hidden = false;
  sceneMap = new SceneMap($('map'), { onPick: (p) => start && start.pick(p) });
  videos = new VideoWall($('videos'), { onCount: (n) => { $('video-count').textContent = n ? String(n) : ''; } });
  start = setupStart({
    map: sceneMap,
    onOpen: () => { page.starting = true; renderTasksNow(); },
    onClose: () => { page.starting = false; renderTasksNow(); },
    onStarted: (mode) => { page.selected = mode.id; upsert(mode); },
  });
  wireBar();
  if (me.role === 'admin' && !me.jurisdiction) setupPlans($('plans-btn'));
  const socket = new LiveSocket({
    channels: ['emergency', 'drones'],
    onEvent,
    onResync: () => loadModes().catch(fail),
    onStatus: bindIndicator($('conn')),
  });
  socket.connect();
  try {
    await loadCameras();
  } catch (err) { fail(err); }
  await loadModes().catch(fail);
  await loadTeams();
  if (!page.modes.size || new URL(location.href).searchParams.has('incident')) start.open();
  setInterval(() => { tickClock(); tickDue($('tasks')); }, 1000);
  setInterval(loadTeams, TEAMS_REFRESH_MS);
  exposeTestHooks({ socket, modes: page.modes, page, reload: loadModes, map: () => sceneMap, videos: () => videos });
}

main();
