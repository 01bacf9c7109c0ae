// The hall's wall: KPIs, city map, camera tiles, incident feed with triage, case board and
// charts, kept live over /ws; the event view (a camera or an incident large), the alarm for
// immediate incidents, the keyboard, and incident mode (the `emergency` channel) taking the
// map and the tiles. Signed-in staff only (mountNav); a district officer sees their district.

import { $ } from '../common/dom.js';
import { applyI18n, fmtTime, t } from '../common/i18n.js';
import { LiveSocket, api } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { mountNav } from '../common/nav.js';
import { retryWithBackoff } from '../common/retry.js';
import { exposeTestHooks } from '../common/testhooks.js';
import { toast } from '../common/util.js';
import { Alarm } from './alarm.js';
import { BaseDataLayer } from './basedata_layer.js';
import { CameraGrid } from './cameras.js';
import { CameraView } from './camview.js';
import { CaseBoard } from './cases.js';
import { DeviceLayer, deviceLine } from './device_layer.js';
import { IncidentCharts } from './charts.js';
import { EmergencyLayout } from './emergency.js';
import { watchDelivery } from './health.js';
import { IncidentFeed } from './incidents.js';
import { IncidentView } from './incview.js';
import { HotspotRank } from './hotspot_rank.js';
import { bindKeys } from './keys.js';
import { AreaNames, incidentWhat } from './labels.js';
import { Triage } from './triage.js';
import { Layers } from './views.js';

const params = new URLSearchParams(location.search);
const MAX_LIVE = Math.max(0, Math.min(5, Number(params.get('live') ?? 4) || 0));
const CAMERA_POLL_MS = 15000;
const KPI_POLL_MS = 60000;      // 按期结案率 over the last 30 days (the server's default range) comes from /api/kpi, not from what the board holds
const HOTSPOT_POLL_MS = 60000;

applyI18n();
// Before sign-in: a wall whose deliveries are degraded says so even on the sign-in screen.
watchDelivery($('delivery'), $('conn'));
const me = await mountNav('wall');
if (me) start(me);

/** The wall's parts, wired to each other; nothing is fetched until start(). */
function build() {
  const w = {}; // filled at the end: the callbacks below read it once the wall runs
  const kpis = () => updateKpis(w);
  const wall = { cityMap: null, serverKpi: null, loaded: { cameras: false, incidents: false, cases: false }, inflight: {} };
  const layers = new Layers();
  let feed = null;
  let board = null;
  let incView = null;
  const areas = new AreaNames(() => { if (feed) feed.render(); if (incView) incView.refresh(); });
  const charts = new IncidentCharts($('chart-hour'), $('chart-class'));
  const cameras = new CameraGrid($('cameras'), {
    maxLive: MAX_LIVE,
    onChange: () => { kpis(); if (wall.cityMap) wall.cityMap.setCameras(cameras.cameras()); },
    onOpen: (id) => camView.open(id),
  });
  const describe = (inc) => [incidentWhat(inc), inc.camera_name || cameras.name(inc.camera_id) || deviceLine(inc)].filter(Boolean).join(' · ');
  const emergency = new EmergencyLayout($('emergency'), { cameras, map: () => wall.cityMap });
  const triage = new Triage({
    caseOf: (id) => board.store.get(id),
    upsertIncident: (inc) => onIncident(inc, false),
    upsertCase: (c) => onCase(c, false),
    describe,
    onEmergency: (mode) => { emergency.start(mode); camView.close(); incView.close(); },
  });
  const alarm = new Alarm($('alarm'), {
    urgencyOf: (inc) => triage.urgency(inc),
    describe,
    onOpen: (inc) => { feed.reveal(inc.id); incView.open(inc.id); },
    onAck: (inc) => triage.ack(inc),
    onDismiss: (inc) => triage.dismiss(inc),
  });
  const areaName = (code) => areas.get(code);
  feed = new IncidentFeed($('incidents'), {
    triage,
    cameraName: (id) => cameras.name(id),
    areaName,
    countEl: $('incidents-count'),
    onChange: () => { kpis(); charts.update(feed.store.values()); alarm.update(feed.store.values()); },
    onOpen: (id) => incView.open(id),
  });
  board = new CaseBoard($('cases'), {
    countEl: $('cases-count'),
    onChange: () => {
      kpis();
      if (wall.cityMap) wall.cityMap.setOpenCases(board.openCases());
      feed.render();
      incView.refresh();
      alarm.update(feed.store.values());
    },
  });
  incView = new IncidentView($('incident-view'), {
    layers, triage, getIncident: (id) => feed.get(id), cameraName: (id) => cameras.name(id), areaName,
  });
  const camView = new CameraView($('camera-view'), {
    layers, camera: (id) => cameras.get(id), areaName, urgencyOf: (inc) => triage.urgency(inc),
    onOpenIncident: (inc) => incView.open(inc.id, inc),
  });

  function onIncident(inc, live) {
    feed.upsert(inc, { live });
    if (wall.cityMap) wall.cityMap.upsertIncident(inc);
    camView.onIncident(feed.get(inc.id) || inc);
    incView.update(inc);
  }

  function onCase(c, live) {
    board.upsert(c, { live });
  }

  // 热点 按数量 / 按人口 (issue 19): the ranked list over the map and its switch
  const hotRank = new HotspotRank($('map').closest('.map-panel'), () => loadHotspots(w).catch(() => {}));
  return Object.assign(w, { wall, layers, areas, charts, cameras, emergency, triage, alarm, feed, board, incView, camView, onIncident, onCase, hotRank });
}

// ---- KPIs ----

function setKpi(id, text, level = '') {
  const node = $(id);
  node.textContent = text;
  if (level) node.dataset.level = level;
  else delete node.dataset.level;
}

function updateKpis(w) {
  const { wall, cameras, feed, board } = w;
  if (!board || !feed) return;
  const cams = cameras.cameras();
  if (cams.length) {
    const online = cams.filter((c) => c.state === 'online').length;
    setKpi('kpi-cameras', `${online}/${cams.length}`, online === cams.length ? 'ok' : online === 0 ? 'bad' : 'warn');
  }
  if (wall.loaded.incidents) {
    const today = feed.todayCount();
    setKpi('kpi-incidents-today', `${today.count}${today.more ? '+' : ''}`);
  }
  if (!wall.loaded.cases) return;
  const k = board.kpis();
  setKpi('kpi-open-cases', String(k.open));
  setKpi('kpi-overdue', String(k.overdue), k.overdue ? 'bad' : 'ok');
  // The server's figure covers every case (on-time closures ÷ (due − deferred)); the board's is a fallback.
  const { serverKpi } = wall;
  const rate = serverKpi ? serverKpi.rate : k.rate;
  if (rate == null) { setKpi('kpi-ontime', '–'); return; }
  const pct = Math.round(rate * 1000) / 10;
  setKpi('kpi-ontime', `${pct}%`, pct >= 90 ? 'ok' : pct >= 75 ? 'warn' : 'bad');
  $('kpi-ontime').title = serverKpi
    ? t('wall.kpi.ontime_server', { on: serverKpi.onTime, due: serverKpi.due })
    : t('wall.kpi.ontime_board', { on: k.onTime, closed: k.closed });
}

// ---- REST loads (initial and on resync) ----

/** GET a list with the largest page the server accepts (a server that caps `limit` answers 400/422). */
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

function loaders(w) {
  const { wall, cameras, feed, board } = w;
  return {
    async cameras() {
      const page = await api('/api/cameras');
      cameras.setAll((page && page.items) || []);
      if (!wall.loaded.cameras) feed.invalidate(); // names were unknown until now
      wall.loaded.cameras = true;
    },
    async incidents() {
      feed.beginLoad();
      const page = await getList('/api/incidents', [200, 50]);
      wall.loaded.incidents = true;
      feed.endLoad(page);
      if (wall.cityMap) for (const inc of feed.store.values()) wall.cityMap.upsertIncident(inc);
    },
    async cases() {
      board.beginLoad();
      const [open, all] = await Promise.all([getList('/api/cases?open=true', [500, 100]), getList('/api/cases', [500, 100])]);
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
      updateKpis(w);
    },
  };
}

async function loadKpi(w) {
  const page = await api('/api/kpi?group=district');
  let onTime = 0;
  let due = 0;
  for (const row of (page && page.items) || []) {
    onTime += row.closed_on_time || 0;
    due += (row.cases || 0) - (row.deferred || 0);
  }
  w.wall.serverKpi = { onTime, due, rate: due > 0 ? onTime / due : null };
  updateKpis(w);
  showVerifyKpi((page && page.items) || []);
}

/** 核查按期率: base-data re-check tasks done by their deadline (the verify_* fields of /api/kpi). */
function showVerifyKpi(items) {
  let onTime = 0;
  let due = 0;
  for (const row of items) { onTime += row.verify_on_time || 0; due += row.verify_due || 0; }
  if (!$('kpi-verify')) { // a tile of its own after 按期结案率, made once
    const tile = document.createElement('li');
    tile.className = 'kpi';
    tile.dataset.kpi = 'verify';
    tile.innerHTML = '<span class="kpi-value num" id="kpi-verify">–</span><span class="kpi-label"></span>';
    tile.querySelector('.kpi-label').textContent = t('wall.kpi.verify');
    document.querySelector('.kpis').append(tile);
  }
  const pct = due > 0 ? Math.round((onTime / due) * 1000) / 10 : null;
  setKpi('kpi-verify', pct == null ? '–' : `${pct}%`, pct == null ? '' : pct >= 90 ? 'ok' : pct >= 75 ? 'warn' : 'bad');
  $('kpi-verify').title = t('wall.kpi.verify_title', { on: onTime, due });
}

async function loadHotspots(w) {
  const page = await api(w.hotRank.path);
  if (w.wall.cityMap) w.wall.cityMap.setHotspots(((page && page.items) || []).map((h) => h.code).filter(Boolean));
  w.hotRank.show(page);
}

/** Loads a channel via REST, retrying with backoff; a request while one runs loads once more after it. */
function reloader(w) {
  const load = loaders(w);
  const { inflight } = w.wall;
  return (channel) => {
    const running = inflight[channel];
    if (running) { running.again = true; return running.promise; }
    const run = { again: false };
    const untilCurrent = async () => {
      do { run.again = false; await load[channel](); } while (run.again);
    };
    run.promise = retryWithBackoff(untilCurrent, {
      onError: (err) => {
        if (err.status === 401) { showLogin({ message: t('wall.signed_out') }); return false; }
        console.warn(`loading ${channel} failed`, err);
        toast(t('wall.error.load', { what: t(`wall.channel.${channel}`) }), 'error', 4000);
        return true;
      },
    }).finally(() => { delete inflight[channel]; });
    inflight[channel] = run;
    return run.promise;
  };
}

// ---- live ----

function bindConn(node) {
  const label = node.querySelector('.conn-text');
  return (state, info = {}) => {
    node.dataset.state = state === 'open' ? 'open' : 'closed';
    node.classList.toggle('connecting', state === 'connecting');
    if (state === 'open') label.textContent = t('wall.conn.open');
    else if (state === 'connecting') label.textContent = t('wall.conn.connecting');
    else if (info.retryInMs != null) label.textContent = t('wall.conn.retry', { s: Math.max(1, Math.round(info.retryInMs / 1000)) });
    else label.textContent = t('wall.conn.closed');
  };
}

function onEvent(w, msg) {
  const { type, data } = msg;
  if (!data) return;
  const map = w.wall.cityMap;
  // IoT devices (issue 20): their own channel, and an IoT alarm's incident marks its device at once
  if (w.wall.devices && (msg.channel === 'devices' || msg.channel === 'incidents')) w.wall.devices.onEvent(msg);
  if (msg.channel === 'devices') return;
  switch (type) {
    case 'incident.created':
    case 'incident.updated':
      w.onIncident(data, type === 'incident.created');
      break;
    case 'case.created':
    case 'case.updated':
      w.onCase(data, type === 'case.created');
      break;
    case 'camera.status':
      w.cameras.update(data);
      w.camView.updateCamera(data);
      break;
    case 'drone.position':
      if (map) map.updateDrone(data);
      break;
    case 'emergency.started':
    case 'emergency.updated':
      if (data.ended_at) w.emergency.end(data);
      else w.emergency.start(data);
      break;
    case 'emergency.ended':
      w.emergency.end(data);
      break;
    default:
      if (msg.channel === 'hotspots') loadHotspots(w).catch(() => {});
      break;
  }
}

async function startMap(w, me) {
  const { wall } = w;
  try {
    const { CityMap } = await import('./map.js');
    const cityMap = new CityMap($('map'), { onIncidentClick: (id) => { w.feed.reveal(id); w.incView.open(id); } });
    wall.cityMap = cityMap;
    $('map-home').addEventListener('click', () => cityMap.showEmergency(w.emergency.mode));
    await cityMap.ready;
    if (me.jurisdiction) {
      const name = cityMap.focusArea(me.jurisdiction);
      if (name) showScope(me, name);
    }
    cityMap.setCameras(w.cameras.cameras());
    cityMap.setOpenCases(w.board.openCases());
    for (const inc of w.feed.store.values()) cityMap.upsertIncident(inc);
    if (w.emergency.mode) cityMap.showEmergency(w.emergency.mode);
    loadHotspots(w).catch((err) => console.warn('hotspots unavailable', err));
    // Buildings and patrol coverage (issue 19): off until switched on from the map's control.
    exposeTestHooks({ basedata: new BaseDataLayer(cityMap) });
    // IoT devices by state (issue 20): on by default, switched from the map's top-left corner.
    wall.devices = new DeviceLayer(cityMap);
    exposeTestHooks({ devices: wall.devices });
    wall.devices.load().catch((err) => console.warn('devices unavailable', err));
  } catch (err) {
    // No WebGL, or MapLibre not installed (run `make`): say so in the panel, keep the rest live.
    console.warn('map unavailable', err);
    $('map').parentElement.dataset.error = t('wall.map.unavailable');
  }
}

/** The header says whose wall this is: the district's name for a district officer, else 全市. */
function showScope(me, areaName = '') {
  const name = me.jurisdiction ? me.jurisdiction_name || areaName : t('wall.scope.city');
  $('scope').textContent = name ? `· ${name}` : '';
  $('scope').dataset.jurisdiction = me.jurisdiction || '';
  if (me.jurisdiction && name) $('map-home').textContent = name;
}

function start(me) {
  const w = build();
  const reload = reloader(w);
  showScope(me);
  const socket = new LiveSocket({
    channels: ['incidents', 'cases', 'cameras', 'drones', 'hotspots', 'emergency', 'devices'],
    onEvent: (msg) => onEvent(w, msg),
    onResync: (channel) => {
      if (['cameras', 'incidents', 'cases'].includes(channel)) reload(channel);
      else if (channel === 'hotspots') loadHotspots(w).catch(() => {});
      else if (channel === 'emergency') w.emergency.load().catch(() => {});
      else if (channel === 'devices' && w.wall.devices) w.wall.devices.load().catch(() => {});
    },
    onStatus: bindConn($('conn')),
  });
  socket.connect();
  for (const channel of ['cameras', 'incidents', 'cases']) reload(channel);
  startMap(w, me);
  w.charts.loadClasses();
  w.emergency.load().catch((err) => console.warn('emergency modes unavailable', err));
  const help = $('keys-help');
  $('keys-button').addEventListener('click', () => help.showModal());
  bindKeys({ feed: w.feed, incView: w.incView, layers: w.layers, triage: w.triage, help });
  const kpiLoop = () => loadKpi(w).catch((err) => console.warn('kpi unavailable', err));
  kpiLoop();
  setInterval(kpiLoop, KPI_POLL_MS);
  loadHotspots(w).catch((err) => console.warn('hotspots unavailable', err));  // the list, with or without a map
  setInterval(() => loadHotspots(w).catch(() => {}), HOTSPOT_POLL_MS);
  const tick = () => {
    const now = Date.now();
    $('clock').textContent = fmtTime(now, 'time');
    w.board.tick(now);
    w.feed.tick(now);
    w.incView.tick(now);
    w.alarm.update(w.feed.store.values(), now);
    updateKpis(w);
  };
  tick();
  setInterval(tick, 1000);
  // camera.status events carry changes; a slow poll keeps fps figures fresh if the server only sends on state changes.
  setInterval(() => { if (!document.hidden && !w.wall.inflight.cameras) reload('cameras'); }, CAMERA_POLL_MS);
  exposeTestHooks({
    socket, reload, cameras: w.cameras, feed: w.feed, board: w.board, charts: w.charts, alarm: w.alarm,
    triage: w.triage, camView: w.camView, incView: w.incView, emergency: w.emergency, map: () => w.wall.cityMap,
  });
}
