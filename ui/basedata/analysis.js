// 交叉分析 on /basedata: per area (grid, community, street or district), people, housing and
// events side by side (GET /api/basedata/analysis), sortable by any column, with bars drawn
// as inline SVG (no chart library is vendored; SVG attributes pass the page's CSP, where a
// style attribute would not); then next quarter's care demand per community with the backtest
// that chose the method (GET /api/basedata/forecast; for the roles that see the care ledger).
// Areas by name, as the server names them from the map; a code only where the map has none.
//
// It starts once the page is signed in (basedata.js shows #basedata) and fills #analysis.

import { $, el } from '../common/dom.js';
import { locale, t } from '../common/i18n.js';
import { ApiError, api, ensureSession, getToken } from '../common/live.js';
import { exposeTestHooks } from '../common/testhooks.js';

const LEVELS = ['grid', 'community', 'street', 'district'];
// [field, kind]: int, share (0–1 shown as %), dec; a bar where the column compares areas best
const COLUMNS = [
  ['residents', 'int', true], ['households', 'int'], ['rental_share', 'share', true], ['rental_per_building', 'dec'],
  ['elderly', 'int'], ['elderly_alone', 'int'], ['elderly_alone_share', 'share', true], ['overdue', 'int'],
  ['cases', 'int'], ['per_1000', 'dec', true],
];
const GROUPS = ['elderly_alone', 'disabled', 'tekun', 'dibao', 'mental_illness', 'child_in_need', 'other'];
const FORECAST_COUNTS = ['elderly', 'over_80', 'turning_60', 'turning_80', 'elderly_alone', 'alone_unenrolled'];
const SVG = 'http://www.w3.org/2000/svg';

const state = { level: 'grid', from: '', to: '', sort: { key: 'per_1000', desc: true }, body: null, forecast: null, asked: 0 };

const ints = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
const decs = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
const pcts = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 });

function shown(value, kind) {
  if (value == null) return '–';
  if (kind === 'share') return pcts.format(value);
  return (kind === 'int' ? ints : decs).format(value);
}

/** An area's name, or its code (copied as is, not translated) where the map has none. */
function areaName(item) {
  return item.name ? el('span', {}, item.name) : el('span', { class: 'code', translate: 'no' }, item.code);
}

/** A bar as inline SVG: `part` of `most`, width by attribute. */
function bar(part, most) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'an-bar');
  svg.setAttribute('viewBox', '0 0 100 6');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-hidden', 'true');
  const rect = document.createElementNS(SVG, 'rect');
  rect.setAttribute('height', '6');
  rect.setAttribute('width', String(most > 0 && part > 0 ? Math.max(1, (100 * part) / most) : 0));
  svg.append(rect);
  return svg;
}

function controls() {
  const level = el('select', { id: 'an-level', 'aria-label': t('analysis.level') },
    LEVELS.map((l) => el('option', { value: l, selected: l === state.level }, t(`analysis.level.${l}`))));
  level.addEventListener('change', () => { state.level = level.value; load(); });
  const dates = ['from', 'to'].map((name) => {
    const input = el('input', { type: 'date', id: `an-${name}`, value: state[name] });
    input.addEventListener('change', () => { if (input.value) { state[name] = input.value; load(); } });
    return el('label', { class: 'an-field' }, el('span', {}, t(`analysis.${name}`)), input);
  });
  const csv = el('button', { class: 'btn', type: 'button', id: 'an-csv' }, t('analysis.csv'));
  csv.addEventListener('click', () => download(`/api/basedata/analysis?${query()}&format=csv`).catch(failed));
  return el('div', { class: 'an-controls' }, el('label', { class: 'an-field' }, el('span', {}, t('analysis.level')), level), dates, csv);
}

// The days asked; none at first: the server's default ends on the city's today (its time zone,
// in whose days it counts events), which a browser elsewhere would not know.
function query() {
  const asked = { level: state.level };
  if (state.from) asked.from = state.from;
  if (state.to) asked.to = state.to;
  return new URLSearchParams(asked).toString();
}

/** The CSV with the page's token (a refusal is shown, not saved), under the server's name. */
async function download(url) {
  await ensureSession();
  const res = await fetch(url, { headers: { Authorization: `Bearer ${getToken() || ''}` } });
  if (!res.ok) throw new ApiError(res.status, `HTTP ${res.status}`, null);
  const name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
  const link = el('a', { href: URL.createObjectURL(await res.blob()), download: name ? name[1] : 'analysis.csv' });
  document.body.append(link);
  link.click();
  link.remove();
}

function failed(err) {
  if (err.status === 401) return;
  $('an-error').textContent = t('analysis.err', { msg: err.message });
}

function header() {
  const cells = [['name', null], ...COLUMNS].map(([key]) => {
    const label = t(key === 'name' ? 'analysis.col.area' : `analysis.col.${key}`);
    const sorted = state.sort.key === key;
    const th = el('th', { scope: 'col', class: key === 'name' ? '' : 'num', dataset: { col: key },
      'aria-sort': sorted ? (state.sort.desc ? 'descending' : 'ascending') : 'none' },
    el('button', { type: 'button', class: 'an-sort', title: t('analysis.sorted_by', { col: label }) }, label));
    th.firstChild.addEventListener('click', () => {
      state.sort = { key, desc: sorted ? !state.sort.desc : key !== 'name' };
      showTable();
    });
    return th;
  });
  return el('tr', {}, cells);
}

/** Rows in the chosen order; an area without a figure (no residents: no rate) goes last either way. */
function ordered(items) {
  const { key, desc } = state.sort;
  const value = (i) => (key === 'name' ? (i.name || i.code) : i[key]);
  return [...items].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    if (x == null || y == null) return (x == null) - (y == null);
    const order = key === 'name' ? String(x).localeCompare(String(y), locale) : x - y;
    return desc ? -order : order;
  });
}

function showTable() {
  const { items, totals } = state.body;
  const most = Object.fromEntries(COLUMNS.map(([key]) => [key, Math.max(0, ...items.map((i) => i[key] || 0))]));
  const rows = ordered(items).map((item) => el('tr', { dataset: { code: item.code } },
    el('th', { scope: 'row', class: 'an-name' }, areaName(item)),
    COLUMNS.map(([key, kind, withBar]) => el('td', { class: `num${key === 'overdue' && item[key] > 0 ? ' overdue' : ''}`, dataset: { col: key } },
      el('span', { class: 'an-value' }, shown(item[key], kind)), withBar ? bar(item[key] || 0, most[key]) : null))));
  if (!rows.length) rows.push(el('tr', { class: 'empty' }, el('td', { colspan: COLUMNS.length + 1 }, t('analysis.empty'))));
  const foot = el('tr', { class: 'totals' }, el('th', { scope: 'row' }, t('analysis.totals')),
    COLUMNS.map(([key, kind]) => el('td', { class: 'num', dataset: { col: key } }, shown(totals[key], kind))));
  $('an-table').replaceChildren(el('thead', {}, header()), el('tbody', { id: 'an-rows' }, rows), el('tfoot', {}, foot));
}

async function load() {
  const asked = ++state.asked;
  const section = $('analysis');
  section.dataset.loaded = 'false';
  $('an-error').textContent = '';
  try {
    const [body, forecast] = await Promise.all([api(`/api/basedata/analysis?${query()}`), loadForecast()]);
    if (asked !== state.asked) return;
    state.body = body;
    state.forecast = forecast;
    for (const name of ['from', 'to']) {  // the range the server used, shown in the pickers
      state[name] = body[name];
      $(`an-${name}`).value = body[name];
    }
    showTable();
    showForecast();
    section.dataset.loaded = 'true';
  } catch (err) {
    if (asked === state.asked) failed(err);
  }
}

/** The forecast per community (or the level picked above it); a role without the ledger: null. */
async function loadForecast() {
  const level = state.level === 'grid' ? 'community' : state.level;
  try {
    return await api(`/api/basedata/forecast?level=${level}`);
  } catch (err) {
    if (err.status === 403) return null;
    return { failed: err.message };  // the analysis above still shows
  }
}

function groupCell(item, group) {
  const found = item.groups.find((g) => g.group === group);
  if (!found) return el('td', { class: 'num muted', dataset: { group } }, '–');
  if (found.suppressed) {
    return el('td', { class: 'num muted', dataset: { group }, title: t('analysis.forecast.small_title', { n: state.forecast.min_cell }) },
      t('analysis.forecast.small', { n: state.forecast.min_cell }));
  }
  return el('td', { class: 'num', dataset: { group } },
    t('analysis.forecast.cell', { active: shown(found.active, 'int'), expected: shown(found.expected, 'dec') }));
}

function forecastRows(f, groups) {
  const most = Math.max(0, ...f.items.map((i) => i.visits_per_month || 0));
  return f.items.map((item) => el('tr', { dataset: { code: item.code } },
    el('th', { scope: 'row', class: 'an-name' }, areaName(item)),
    FORECAST_COUNTS.map((key) => el('td', { class: 'num', dataset: { col: key } }, item[key] == null
      ? el('span', { class: 'muted', title: t('analysis.forecast.small_title', { n: f.min_cell }) }, t('analysis.forecast.small', { n: f.min_cell }))
      : shown(item[key], 'int'))),
    groups.map((g) => groupCell(item, g)),
    el('td', { class: 'num', dataset: { col: 'visits' } },
      el('span', { class: 'an-value' }, `${item.rounded ? `${t('analysis.forecast.rounded')} ` : ''}${shown(item.visits_per_month, 'dec')}`),
      bar(item.visits_per_month || 0, most)),
    el('td', { class: 'num', dataset: { col: 'potential' } }, shown(item.potential_visits_per_month, 'dec'))));
}

/** "2026Q3" in words: 2026年第3季度. */
function quarterName(label) {
  const [year, n] = String(label).split('Q');
  return t('analysis.quarter', { year, n });
}

function backtestLine(f) {
  const b = f.backtest;
  const method = t(`analysis.forecast.method.${b.method}`);
  const wape = b.wape[b.method];
  if (wape == null) return t('analysis.forecast.backtest_none', { quarter: quarterName(b.quarter), method });
  return t('analysis.forecast.backtest', { quarter: quarterName(b.quarter), forecast: shown(b.forecast, 'dec'), actual: shown(b.actual, 'int'),
    wape: pcts.format(wape), method });
}

function showForecast() {
  const box = $('an-forecast');
  const f = state.forecast;
  if (!f || f.failed) {
    box.replaceChildren(f ? el('p', { class: 'dialog-error' }, t('analysis.err', { msg: f.failed }))
      : el('p', { class: 'muted', id: 'an-denied' }, t('analysis.forecast.denied')));
    return;
  }
  const groups = GROUPS.filter((g) => f.items.some((i) => i.groups.some((x) => x.group === g)));
  const head = el('tr', {}, el('th', { scope: 'col' }, t('analysis.forecast.col.community')),
    FORECAST_COUNTS.map((key) => el('th', { scope: 'col', class: 'num' }, t(`analysis.forecast.col.${key}`))),
    groups.map((g) => el('th', { scope: 'col', class: 'num' }, t(`analysis.group.${g}`))),
    el('th', { scope: 'col', class: 'num' }, t('analysis.forecast.col.visits')),
    el('th', { scope: 'col', class: 'num' }, t('analysis.forecast.col.potential')));
  const rows = forecastRows(f, groups);
  if (!rows.length) rows.push(el('tr', { class: 'empty' }, el('td', { colspan: 9 + groups.length }, t('analysis.forecast.empty'))));
  box.replaceChildren(
    el('h3', { id: 'an-forecast-title' }, t('analysis.forecast.title'), ' · ',
      t('analysis.forecast.quarter', { quarter: quarterName(f.quarter), from: f.from, to: f.to })),
    el('p', { class: 'an-backtest', id: 'an-backtest', dataset: { method: f.method } }, backtestLine(f)),
    el('div', { class: 'table-wrap' }, el('table', { class: 'bd-table an-table', id: 'an-forecast-table' },
      el('thead', {}, head), el('tbody', {}, rows))),
    el('p', { class: 'muted small an-note' }, t('analysis.forecast.note', { n: f.min_cell })));
}

function start() {
  state.to = '';
  state.from = '';
  $('analysis').replaceChildren(
    el('div', { class: 'panel-head' }, el('h2', { id: 'analysis-title' }, t('analysis.title')),
      el('span', { class: 'muted hint' }, t('analysis.hint'))),
    controls(),
    el('p', { class: 'dialog-error an-error', id: 'an-error', role: 'alert' }),
    el('div', { class: 'table-wrap' }, el('table', { class: 'bd-table an-table an-sortable', id: 'an-table' })),
    el('p', { class: 'muted small an-note' }, t('analysis.defs')),
    el('div', { class: 'an-forecast', id: 'an-forecast' }));
  $('analysis').hidden = false;
  exposeTestHooks({ analysis: state, reloadAnalysis: load });
  load();
}

// basedata.js unhides #basedata once signed in (and leaves it hidden for a role without the page).
const page = $('basedata');
if (!page.hidden) start();
else {
  const watch = new MutationObserver(() => { if (!page.hidden) { watch.disconnect(); start(); } });
  watch.observe(page, { attributes: true, attributeFilter: ['hidden'] });
}
