// The duty officer's wall: KPIs, city map, camera tiles, incident feed, case board and charts,
// kept live over /ws; emergency mode (the `emergency` channel) takes the map and the tiles.

import { $ } from '../common/dom.js';
import { LiveSocket, api, bindIndicator } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { retryWithBackoff } from '../common/retry.js';
import { exposeTestHooks } from '../common/testhooks.js';
import { toast } from '../common/util.js';
import { CameraGrid } from './cameras.js';
import { CaseBoard } from './cases.js';
import { IncidentCharts } from './charts.js';
import { watchDelivery } from './health.js';
import { IncidentFeed } from './incidents.js';

const params = new URLSearchParams(location.search);
const MAX_LIVE = Math.max(0, Math.min(5, Number(params.get('live') ?? 4) || 0));
const CAMERA_POLL_MS = 15000;
const KPI_POLL_MS = 60000;      // 按期结案率 over the last 30 days (the server's default range) comes from /api/kpi, not from what the board holds
const HOTSPOT_POLL_MS = 60000;

// What the wall knows beyond its panels, in one place: the panels' callbacks, the REST loads,
// the live events and emergency mode all read and change it here.
const wall = {
  // The map loads MapLibre from /vendor/ (installed by `make`); until then, or without it, null.
  cityMap: null,
  serverKpi: null,  // {rate, onTime, due} from /api/kpi
  loaded: { cameras: false, incidents: false, cases: false },  // a first REST load finished
  inflight: {},     // channel -> {again, promise}: its REST load under way
  emergency: null,  // the emergency mode that holds the wall, or null
};

const charts = new IncidentCharts($('chart-hour'), $('chart-class'));
const cameras = new CameraGrid($('cameras'), {
  maxLive: MAX_LIVE,
  onChange: () => { updateKpis(); if (wall.cityMap) wall.cityMap.setCameras(cameras.cameras()); },
});
const feed = new IncidentFeed($('incidents'), {
  cameraName: (id) => cameras.name(id),
  countEl: $('incidents-count'),
  onChange: () => { updateKpis(); charts.update(feed.store.values()); },
});
const board = new CaseBoard($('cases'), {
  countEl: $('cases-count'),
  onChange: () => { updateKpis(); if (wall.cityMap) wall.cityMap.setOpenCases(board.openCases()); },
});
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
  if (wall.loaded.incidents) {
    const today = feed.todayCount();
    setKpi('kpi-incidents-today', `${today.count}${today.more ? '+' : ''}`);
  }
  if (wall.loaded.cases) {
    const k = board.kpis();
    setKpi('kpi-open-cases', String(k.open));
    setKpi('kpi-overdue', String(k.overdue), k.overdue ? 'bad' : 'ok');
    // The server's figure covers every case (on-time closures ÷ (due − deferred)); the board's is a fallback.
    const { serverKpi } = wall;
    const rate = serverKpi ? serverKpi.rate : k.rate;
    if (rate == null) setKpi('kpi-ontime', '–');
    else {
      const pct = Math.round(rate * 1000) / 10;
      setKpi('kpi-ontime', `${pct}%`, pct >= 90 ? 'ok' : pct >= 75 ? 'warn' : 'bad');
      $('kpi-ontime').title = serverKpi
        ? `按期结案率: ${serverKpi.onTime} closed on time of ${serverKpi.due} due (deferred excluded)`
        : `${k.onTime} of ${k.closed} closed cases closed before the deadline`;
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
  if (!wall.loaded.cameras) feed.invalidate(); // names were unknown until now
  wall.loaded.cameras = true;
}

async function loadIncidents() {
  feed.beginLoad();
  const page = await getList('/api/incidents', [200, 50]);
  wall.loaded.incidents = true;
  feed.endLoad(page);
  if (wall.cityMap) for (const inc of feed.store.values()) wall.cityMap.upsertIncident(inc);
}

async function loadCases() {
  board.beginLoad();
  const [open, all] = await Promise.all([
    getList('/api/cases?open=true', [500, 100]),
    getList('/api/cases', [500, 100]),
  ]);
  const openItems = (open && open.items) || [];
  const complete = !(open && Number.isFinite(open.total) && open.total > openItems.length);
  wall.loaded.cases = true;
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

async function loadKpi() {
  const page = await api('/api/kpi?group=district');
  let onTime = 0;
  let due = 0;
  for (const row of (page && page.items) || []) {
    onTime += row.closed_on_time || 0;
    due += (row.cases || 0) - (row.deferred || 0);
  }
  wall.serverKpi = { onTime, due, rate: due > 0 ? onTime / due : null };
  updateKpis();
}

async function loadHotspots() {
  const page = await api('/api/hotspots');
  if (wall.cityMap) wall.cityMap.setHotspots(((page && page.items) || []).map((h) => h.code).filter(Boolean));
}

const loaders = { cameras: loadCameras, incidents: loadIncidents, cases: loadCases };

/**
 * Loads a channel via REST, retrying with backoff. A request while a load is under way joins
 * it, and the channel is loaded once more after it (what changed meanwhile may be missing).
 */
function reload(channel) {
  const running = wall.inflight[channel];
  if (running) {
    running.again = true;
    return running.promise;
  }
  const run = { again: false };
  const loadUntilCurrent = async () => {
    do {
      run.again = false;
      await loaders[channel]();
    } while (run.again);
  };
  run.promise = retryWithBackoff(loadUntilCurrent, {
    onError: (err) => {
      if (err.status === 401) {
        showLogin({ message: 'Your session has ended or you are not signed in.' });
        return false;
      }
      console.warn(`loading ${channel} failed`, err);
      toast(`Loading ${channel} failed: ${err.message}; retrying`, 'error', 4000);
      return true;
    },
  }).finally(() => { delete wall.inflight[channel]; });
  wall.inflight[channel] = run;
  return run.promise;
}

// ---- live events ----

function onEvent(msg) {
  const { type, data } = msg;
  if (!data) return;
  switch (type) {
    case 'incident.created':
    case 'incident.updated':
      feed.upsert(data, { live: type === 'incident.created' });
      if (wall.cityMap) wall.cityMap.upsertIncident(data);
      break;
    case 'case.created':
    case 'case.updated':
      board.upsert(data, { live: type === 'case.created' });
      break;
    case 'camera.status':
      cameras.update(data);
      break;
    case 'drone.position':
      if (wall.cityMap) wall.cityMap.updateDrone(data);
      break;
    case 'emergency.started':
    case 'emergency.updated':
      if (data.ended_at) endEmergency(data);
      else startEmergency(data);
      break;
    case 'emergency.ended':
      endEmergency(data);
      break;
    default:
      if (msg.channel === 'hotspots') loadHotspots().catch(() => {});
      break;
  }
}

// ---- emergency mode ----

function startEmergency(em) {
  wall.emergency = em;
  const banner = $('emergency');
  const where = em.center ? ` · ${Number(em.radius_m) || 500} m around ${em.center.lat?.toFixed?.(4)}, ${em.center.lon?.toFixed?.(4)}` : '';
  banner.textContent = `Emergency mode: ${em.title || em.class || em.id}${where}`;
  banner.hidden = false;
  // The scene's drones first, then its cameras (drone feeds are pinned in emergency mode).
  cameras.setPinned([...(em.drones || []), ...(em.cameras || [])].map(String));
  if (wall.cityMap) wall.cityMap.showEmergency(em);
}

/** An emergency mode already running when the wall (re)loads: the newest active one takes the wall. */
async function loadEmergency() {
  const page = await api('/api/emergency');
  const active = ((page && page.items) || []).filter((m) => !m.ended_at)
    .sort((a, b) => String(b.started_at).localeCompare(String(a.started_at)));
  if (active.length) startEmergency(active[0]);
  else if (wall.emergency) endEmergency(wall.emergency);
}

function endEmergency(em) {
  if (wall.emergency && em && em.id && wall.emergency.id !== em.id) return; // another incident's end
  wall.emergency = null;
  $('emergency').hidden = true;
  cameras.setPinned([]);
  if (wall.cityMap) wall.cityMap.showEmergency(null);
}

const socket = new LiveSocket({
  channels: ['incidents', 'cases', 'cameras', 'drones', 'hotspots', 'emergency'],
  onEvent,
  onResync: (channel) => {
    if (loaders[channel]) reload(channel);
    else if (channel === 'hotspots') loadHotspots().catch(() => {});
    else if (channel === 'emergency') loadEmergency().catch(() => {});
  },
  onStatus: bindIndicator($('conn')),
});

// ---- clocks ----

function tick() {
  const now = new Date();
  $('clock').textContent = now.toLocaleTimeString([], { hour12: false });
  board.tick(now.getTime());
  updateKpis();
}

async function startMap() {
  try {
    const { CityMap } = await import('./map.js');
    const cityMap = new CityMap($('map'), { onIncidentClick: (id) => feed.reveal?.(id) });
    wall.cityMap = cityMap;
    $('map-home').addEventListener('click', () => cityMap.showEmergency(wall.emergency));
    await cityMap.ready;
    cityMap.setCameras(cameras.cameras());
    cityMap.setOpenCases(board.openCases());
    for (const inc of feed.store.values()) cityMap.upsertIncident(inc);
    if (wall.emergency) cityMap.showEmergency(wall.emergency);
    loadHotspots().catch((err) => console.warn('hotspots unavailable', err));
  } catch (err) {
    // No WebGL, or MapLibre not installed (run `make`): say so in the panel, keep the rest live.
    console.warn('map unavailable', err);
    $('map').parentElement.dataset.error = `Map unavailable: ${err.message || err}`;
  }
}

function start() {
  socket.connect();
  watchDelivery($('delivery'), $('conn'));
  for (const channel of Object.keys(loaders)) reload(channel);
  startMap();
  charts.loadClasses();
  loadEmergency().catch((err) => console.warn('emergency modes unavailable', err));
  api('/api/auth/me').then((me) => {
    board.setActor(me && me.username);
    $('admin-link').hidden = !(me && me.role === 'admin'); // publish keys and accounts: admins only
  }).catch(() => { /* 401: the overlay handles it */ });
  const kpiLoop = () => loadKpi().catch((err) => console.warn('kpi unavailable', err));
  kpiLoop();
  setInterval(kpiLoop, KPI_POLL_MS);
  setInterval(() => { if (wall.cityMap) loadHotspots().catch(() => {}); }, HOTSPOT_POLL_MS);
  tick();
  setInterval(tick, 1000);
  // camera.status events carry changes; a slow poll keeps fps figures fresh if the server only sends on state changes.
  setInterval(() => { if (!document.hidden && !wall.inflight.cameras) reload('cameras'); }, CAMERA_POLL_MS);
}

start();

exposeTestHooks({ socket, cameras, feed, board, charts, reload, map: () => wall.cityMap });
