// 统计分析 (/stats; officers, emergency staff and admins, as the KPI routes): the cases of the
// caller's jurisdiction by period, source, matter class and area, from /api/stats/* (the
// database aggregates; docs/STATS.md). Summary tiles against the same days last year, the time
// series, the child areas as bars, a map and a table (any of them clicked drills down: city →
// district → street → community → grid), the matters and the top recurring spots; every row
// links to its cases on the desk, and each panel exports CSV or XLSX.
//
// The view lives in the address (state.js): /stats?period=month&date=2026-11-01&area=<code>.

import { $, $$, el } from '../common/dom.js';
import { applyI18n, nameOf, t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { mountNav } from '../common/nav.js';
import { exposeTestHooks } from '../common/testhooks.js';
import { fmtClock, toast } from '../common/util.js';
import { AreaBars, AreaMap, SeriesChart } from './charts.js';
import { loadECharts } from '../common/echarts.js';
import { LEVELS, levelOf, pathCodes, prefixOf } from '../common/areas.js';
import { Controls } from './controls.js';
import { showCrumbs } from '../common/areas.js';
import { downloadExport } from './export.js';
import { ForecastChart, showForecast } from './forecast.js';
import { AREA_KEYS, areaMetric } from './metrics.js';
import { bucketFor, bucketLabels, bucketRange } from './period.js';
import { apiQuery, deskUrl, rangeOf, readState, stateSearch } from './state.js';
import { areaTable, hotspotTable, matterTable } from './tables.js';
import { showTiles } from './tiles.js';

const view = {
  state: readState(),
  me: null,
  top: '',             // the caller's top area (their jurisdiction, or the city)
  names: new Map(),    // area code → name, from the answers and the map
  geo: new Map(),      // level → the map's features at that level (a promise)
  places: new Map(),   // a hotspot cell → the grid it lies in, by name
  areas: null,         // the last /api/stats/areas answer
  metric: 'cases',     // what the bars and the map show
  topN: 20,
  seq: 0,              // the latest load: an older answer arriving late is dropped
};

/** A refusal or failure in words (Chinese by default); the server's reason goes in the title. */
export function errorText(err) {
  const status = err && err.status;
  if (status === 400) return t('stats.err.bad');
  if (status === 403) return t('stats.err.forbidden');
  if (status === 503) return t('stats.err.busy');
  if (status === 0) return t('stats.err.offline');
  return t('stats.err.failed');
}

function setStatus(kind, text, detail = '') {
  const box = $('status');
  box.dataset.state = kind;
  box.textContent = text;
  box.title = detail;
  $('stats').setAttribute('aria-busy', String(kind === 'loading'));
}

/** The view changed (a control, a drill-down, Back): the address follows, then the figures. */
function change(patch, { push = true } = {}) {
  Object.assign(view.state, patch);
  const url = `${location.pathname}${stateSearch(view.state)}`;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
  load();
}

function seriesKeyName(key) {
  return view.state.by === 'source' ? nameOf('source', key) : nameOf('common.matter_class', key);
}

async function load() {
  const seq = ++view.seq;
  const state = view.state;
  view.controls.show(state);
  setStatus('loading', t('stats.loading'));
  const q = apiQuery(state);
  const { from, to } = rangeOf(state);
  const series = { bucket: bucketFor(state.period, from, to), by: state.by };
  try {
    const [summary, now, before, areas, matters, hotspots] = await Promise.all([
      api(`/api/stats/summary?${q}`),
      api(`/api/stats/series?${apiQuery(state, series)}`),
      api(`/api/stats/series?${apiQuery(state, series, 1)}`),
      api(`/api/stats/areas?${q}`),
      api(`/api/stats/matters?${q}`),
      api(`/api/stats/hotspots?${apiQuery(state, { limit: '20' })}`),
    ]);
    if (seq !== view.seq) return;
    view.areaCode = summary.area.code;
    showTiles($('tiles'), summary, deskUrl(state, { area: summary.area.code, from, to }));
    view.series.show({ buckets: bucketLabels(from, to, series.bucket), points: now.points || [],
      lastYear: before.points || [], keyName: seriesKeyName });
    showMatters(matters.rows || []);
    view.hotspots.show((hotspots.rows || []).map((r, i) => ({ ...r, rank: i + 1 })));
    await showAreas(areas, seq);
    if (seq !== view.seq) return;
    loadForecast(summary.area.code, state.matter_class, seq);
    setStatus('ready', t('stats.as_of', { time: fmtClock(new Date().toISOString()) }));
    $('stats').dataset.loaded = String(seq);
  } catch (err) {
    if (seq !== view.seq) return;
    console.warn('stats failed', err);
    setStatus('error', errorText(err), err.message || '');
  } finally {
    document.body.dataset.ready = 'true';
  }
}

/** The forecast and today's alerts: their own requests, so a failure leaves the figures above. */
async function loadForecast(code, klass, seq) {
  const boxes = { panel: $('forecast-panel'), error: $('forecast-error'), classes: $('forecast-classes'),
    alerts: $('alerts-list'), asOf: $('alerts-as-of') };
  try {
    const shown = await showForecast(boxes, view.forecast, code, klass);
    if (seq === view.seq) view.forecastShown = shown;
  } catch (err) {
    console.warn('forecast failed', err);
    if (seq === view.seq) boxes.error.textContent = errorText(err);
  }
}

function showMatters(rows) {
  view.matterRows = rows;
  const top = rows.slice().sort((a, b) => (b.cases || 0) - (a.cases || 0));
  view.matters.show(view.topN > 0 ? top.slice(0, view.topN) : top);
}

/** The area's breadcrumbs, its children as bars, map and table. */
async function showAreas(answer, seq) {
  view.areas = answer;
  const area = answer.area || {};
  const children = answer.children || [];
  view.names.set(area.code, area.name);
  if (answer.parent) view.names.set(answer.parent.code, answer.parent.name);
  for (const c of children) view.names.set(c.code, c.name);
  // a city-wide user's top is the city (the first four digits of any code)
  const top = view.top || area.code.slice(0, 4).padEnd(15, '0');
  const codes = pathCodes(area.code, top);
  if (codes.some((c) => !view.names.has(c))) await nameAncestors(area.code);
  if (seq !== view.seq) return;
  showCrumbs($('crumbs'), codes, view.names, (code) => change({ area: code === top ? '' : code }));
  $('stats').dataset.area = area.code;
  $('stats').dataset.level = area.level || levelOf(area.code);
  $('areas-title').textContent = children.length
    ? t('stats.areas.title', { area: area.name || '', level: t(`stats.level.${childLevel(area.code)}`) })
    : area.name || '';
  $('areas-leaf').hidden = children.length > 0;
  $('area-table-wrap').hidden = children.length === 0;
  drawAreas(children);
  await drawMap(area.code, children, seq);
}

function childLevel(code) {
  return LEVELS[Math.min(LEVELS.length - 1, LEVELS.indexOf(levelOf(code)) + 1)];
}

function drawAreas(children) {
  view.areaTable.show(children);
  drawBars();
}

/** The bars in the table's order (a header clicked sorts both), showing the figure chosen. */
function drawBars() {
  const rows = view.areaTable.sorted();
  $('area-bars').hidden = rows.length === 0;
  if (rows.length) view.bars.show(rows, areaMetric(view.metric));
}

/** A table header clicked: a figure's column becomes what the bars and the map show. */
function sortedBy(key) {
  if (AREA_KEYS.includes(key) && key !== view.metric) {
    view.metric = key;
    $('metric').value = key;
    if (view.areas) drawMap(view.areas.area.code, view.areas.children || [], view.seq);
  }
  drawBars();
}

/** The children's polygons from the city map (GET /api/grids?levels=…, once per level). */
async function drawMap(code, children, seq) {
  if (!children.length) { view.map.show(code, [], [], areaMetric(view.metric)); return; }
  const level = children[0].level || childLevel(code);
  if (!view.geo.has(level)) view.geo.set(level, api(`/api/grids?levels=${level}`).then((d) => d.features || []));
  let features = [];
  try {
    const wanted = new Set(children.map((c) => c.code));
    const prefix = prefixOf(code);
    features = (await view.geo.get(level)).filter((f) => f.properties.code.startsWith(prefix) && wanted.has(f.properties.code));
  } catch (err) {
    view.geo.delete(level);  // asked again next time
    console.warn('area polygons unavailable', err);
  }
  if (seq !== view.seq) return;
  view.map.show(`stats-${code}`, features, children, areaMetric(view.metric));
}

/** Names of the areas between the caller's top and `code` (a deep link): the map's path. */
async function nameAncestors(code) {
  try {
    const found = await api(`/api/grids/${encodeURIComponent(code)}`);
    for (const a of found.path || []) view.names.set(a.code, a.name);
  } catch (err) {
    console.warn('area names unavailable', err);
  }
}

/** A bar of the series clicked: the desk's list of that bucket's cases (of that source). The
 *  desk has no matter-class filter, so split by class a bar opens nothing. */
function openBucket({ bucket, key }) {
  if (view.state.by !== 'source' || !view.areaCode) return;
  const { from, to } = rangeOf(view.state);
  const days = bucketRange(bucket, bucketFor(view.state.period, from, to));
  const url = deskUrl(view.state, { area: view.areaCode, from: days.from < from ? from : days.from,
    to: days.to > to ? to : days.to, source: key });
  if (url) location.assign(url);
}

function drill(row) {
  change({ area: row.code });
}

/** A hotspot's place: the grid its cell's centre lies in, by name (looked up once per cell). */
function placeName(row) {
  const key = `${row.lon},${row.lat}`;
  const span = el('span', { class: 'place' }, view.places.get(key) || '…');
  if (!view.places.has(key)) {
    view.places.set(key, '');
    api(`/api/grids/locate?lon=${row.lon + 0.0005}&lat=${row.lat + 0.0005}`).then((found) => {
      const steps = (found && found.path) || [];  // city … grid: the street and the grid say where
      const name = steps.slice(-2).map((x) => x.name).join(' · ') || t('stats.place_outside');
      view.places.set(key, name);
      for (const cell of $$(`#hotspot-table tr[data-code="${key}"] .place`)) cell.textContent = name;
    }).catch(() => view.places.set(key, t('stats.place_outside')));
  }
  return span;
}

async function exportView(button) {
  const { from, to } = rangeOf(view.state);
  const extra = { view: button.dataset.view, format: button.dataset.format };
  if (extra.view === 'series') Object.assign(extra, { bucket: bucketFor(view.state.period, from, to), by: view.state.by });
  button.disabled = true;
  try {
    const name = await downloadExport(apiQuery(view.state, extra));
    toast(t('stats.export.done', { name }), 'ok');
  } catch (err) {
    toast(errorText(err), 'error');
  } finally {
    button.disabled = false;
  }
}

function wirePanels() {
  for (const button of $$('button[data-export]')) {
    button.dataset.view = button.dataset.export;
    button.addEventListener('click', () => exportView(button));
  }
  $('by').value = view.state.by;
  $('by').addEventListener('change', () => change({ by: $('by').value }));
  $('metric').replaceChildren(...AREA_KEYS.map((k) => new Option(t(`stats.col.${k}`), k)));
  $('metric').addEventListener('change', () => view.areaTable.sortBy($('metric').value, true));
  $('top-n').addEventListener('change', () => { view.topN = Number($('top-n').value); showMatters(view.matterRows || []); });
  window.addEventListener('popstate', () => { view.state = readState(); load(); });
}

async function main() {
  applyI18n(document);
  const me = await mountNav('stats');
  if (!me) return;
  view.me = me;
  view.top = me.jurisdiction ? me.jurisdiction.padEnd(15, '0') : '';
  $('stats').hidden = false;
  view.controls = new Controls({ onChange: (patch) => change(patch) });
  view.areaTable = areaTable($('area-table'), drill, sortedBy);
  view.matters = matterTable($('matter-table'));
  view.hotspots = hotspotTable($('hotspot-table'), placeName);
  try {
    const echarts = await loadECharts();
    view.series = new SeriesChart($('series-chart'), echarts, openBucket);
    view.bars = new AreaBars($('area-bars'), echarts, drill);
    view.map = new AreaMap($('area-map'), echarts, drill);
    view.forecast = new ForecastChart($('forecast-chart'), echarts);
  } catch (err) {
    console.warn('ECharts unavailable', err);
    setStatus('error', t('stats.err.charts'));
    return;
  }
  wirePanels();
  exposeTestHooks({ stats: view, reload: load });
  change({}, { push: false });  // the address written in full (defaults included), then loaded
}

main();
