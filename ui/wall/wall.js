// The duty officer's wall: KPIs, camera tiles, incident feed and case board, kept live over /ws.

import { LiveSocket, api, bindIndicator } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { toast } from '../common/util.js';
import { CameraGrid } from './cameras.js';
import { CaseBoard } from './cases.js';
import { IncidentFeed } from './incidents.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const MAX_LIVE = Math.max(0, Math.min(5, Number(params.get('live') ?? 4) || 0));
const CAMERA_POLL_MS = 15000;

const cameras = new CameraGrid($('cameras'), { maxLive: MAX_LIVE, onChange: () => updateKpis() });
const feed = new IncidentFeed($('incidents'), {
  cameraName: (id) => cameras.name(id),
  countEl: $('incidents-count'),
  onChange: () => updateKpis(),
});
const board = new CaseBoard($('cases'), { countEl: $('cases-count'), onChange: () => updateKpis() });

const loaded = { cameras: false, incidents: false, cases: false };

// ---- KPIs ----

function setKpi(id, text, level = '') {
  const node = $(id);
  node.textContent = text;
  if (level) node.dataset.level = level;
  else delete node.dataset.level;
}

function updateKpis() {
  const cams = cameras.cameras();
  if (cams.length) {
    const online = cams.filter((c) => c.state === 'online').length;
    setKpi('kpi-cameras', `${online}/${cams.length}`, online === cams.length ? 'ok' : online === 0 ? 'bad' : 'warn');
  }
  if (loaded.incidents) {
    const today = feed.todayCount();
    setKpi('kpi-incidents-today', `${today.count}${today.more ? '+' : ''}`);
  }
  if (loaded.cases) {
    const k = board.kpis();
    setKpi('kpi-open-cases', String(k.open));
    setKpi('kpi-overdue', String(k.overdue), k.overdue ? 'bad' : 'ok');
    if (k.rate == null) setKpi('kpi-ontime', '–');
    else {
      const pct = Math.round(k.rate * 1000) / 10;
      setKpi('kpi-ontime', `${pct}%`, pct >= 90 ? 'ok' : pct >= 75 ? 'warn' : 'bad');
      $('kpi-ontime').title = `${k.onTime} of ${k.closed} closed cases closed before the deadline`;
    }
  }
}

// ---- REST loads (initial and on resync) ----

/**
 * GET a list with the largest page the server accepts: a server that caps `limit` with a
 * 400/422 gets asked again with the documented page size.
 */
async function getList(path, limits) {
  for (let i = 0; ; i += 1) {
    const sep = path.includes('?') ? '&' : '?';
    try {
      return await api(`${path}${sep}limit=${limits[i]}`);
    } catch (err) {
      if (i + 1 >= limits.length || (err.status !== 400 && err.status !== 422)) throw err;
    }
  }
}

async function loadCameras() {
  const page = await api('/api/cameras');
  cameras.setAll((page && page.items) || []);
  if (!loaded.cameras) feed.invalidate(); // names were unknown until now
  loaded.cameras = true;
}

async function loadIncidents() {
  feed.beginLoad();
  const page = await getList('/api/incidents', [200, 50]);
  loaded.incidents = true;
  feed.endLoad(page);
}

async function loadCases() {
  board.beginLoad();
  const [open, all] = await Promise.all([
    getList('/api/cases?open=true', [500, 100]),
    getList('/api/cases', [500, 100]),
  ]);
  const openItems = (open && open.items) || [];
  const complete = !(open && Number.isFinite(open.total) && open.total > openItems.length);
  loaded.cases = true;
  const stale = board.endLoad([...((all && all.items) || []), ...openItems], complete ? new Set(openItems.map((c) => c.id)) : null);
  // Cases that left the open list while we were away: fetch their current state.
  await Promise.all(stale.slice(0, 50).map(async (id) => {
    try {
      board.upsert(await api(`/api/cases/${encodeURIComponent(id)}`), { live: false });
    } catch (err) {
      if (err.status === 404) board.store.delete(id);
    }
  }));
  board.render();
  updateKpis();
}

const loaders = { cameras: loadCameras, incidents: loadIncidents, cases: loadCases };
const inflight = {};

/** Loads a channel via REST, retrying with backoff; concurrent requests for a channel share one run. */
function reload(channel) {
  if (inflight[channel]) {
    inflight[channel].again = true;
    return inflight[channel].promise;
  }
  const state = { again: false };
  state.promise = (async () => {
    let delay = 1000;
    for (;;) {
      try {
        await loaders[channel]();
        if (!state.again) break;
        state.again = false;
      } catch (err) {
        if (err.status === 401) {
          showLogin({ message: 'Your session has ended or you are not signed in.' });
          break;
        }
        console.warn(`loading ${channel} failed`, err);
        toast(`Loading ${channel} failed: ${err.message}; retrying`, 'error', 4000);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 15000);
      }
    }
    delete inflight[channel];
  })();
  inflight[channel] = state;
  return state.promise;
}

// ---- live events ----

function onEvent(msg) {
  const { type, data } = msg;
  if (!data) return;
  switch (type) {
    case 'incident.created':
    case 'incident.updated':
      feed.upsert(data, { live: type === 'incident.created' });
      break;
    case 'case.created':
    case 'case.updated':
      board.upsert(data, { live: type === 'case.created' });
      break;
    case 'camera.status':
      cameras.update(data);
      break;
    default:
      break;
  }
}

const socket = new LiveSocket({
  channels: ['incidents', 'cases', 'cameras'],
  onEvent,
  onResync: (channel) => { if (loaders[channel]) reload(channel); },
  onStatus: bindIndicator($('conn')),
});

// ---- clocks ----

function tick() {
  const now = new Date();
  $('clock').textContent = now.toLocaleTimeString([], { hour12: false });
  board.tick(now.getTime());
  updateKpis();
}

function start() {
  socket.connect();
  for (const channel of Object.keys(loaders)) reload(channel);
  tick();
  setInterval(tick, 1000);
  // camera.status events carry changes; a slow poll keeps fps figures fresh if the server only sends on state changes.
  setInterval(() => { if (!document.hidden && !inflight.cameras) reload('cameras'); }, CAMERA_POLL_MS);
}

start();

// For debugging from the console and for tests.
window.cc = { socket, cameras, feed, board, reload };
