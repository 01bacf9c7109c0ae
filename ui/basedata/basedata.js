// The hall's base data (/basedata, 人口房屋; officers and admins): on the left the caller's
// area as grids by name with their addresses, buildings, households, people, organisations
// and overdue re-checks (GET /api/basedata/counts), with a bar of people per grid; a grid
// picked, on the right its records by kind in pages (GET /api/basedata/{kind}?area=<grid>),
// optionally only those due for re-checking. ID numbers and phones come masked from the
// server; records.js draws the rows, reveal.js the audited 查看.
//
// Deep link: /basedata#grid=<code>&kind=<buildings|households|people|organisations>.

import { $, $$, el } from '../common/dom.js';
import { applyI18n, t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { mountNav } from '../common/nav.js';
import { exposeTestHooks } from '../common/testhooks.js';
import { toast } from '../common/util.js';
import { RecordTable } from './records.js';
import { RevealDialog } from './reveal.js';

const PAGE = 50;
const KINDS = ['buildings', 'households', 'people', 'organisations'];
const COUNTED = ['addresses', 'buildings', 'households', 'people', 'organisations', 'overdue'];

const state = {
  grids: [],        // /api/basedata/counts' items
  names: new Map(), // grid code → name (the counts carry the map's names)
  grid: null,
  kind: 'people',
  due: false,
  offset: 0,
  total: 0,
  asked: 0,         // the latest list asked for: an older answer arriving late is dropped
};

/** A grid's name; one no longer on the map by its code (a code is copied, not translated). */
function gridName(code) {
  const name = state.names.get(code);
  return name ? el('span', {}, name) : el('span', { class: 'code', translate: 'no' }, code);
}

function countCells(row) {
  return COUNTED.map((key) => {
    const n = Number(row[key] || 0);
    return el('td', { class: `num${key === 'overdue' && n > 0 ? ' overdue' : ''}`, dataset: { col: key } }, String(n));
  });
}

function showGrids(body) {
  state.grids = body.items || [];
  state.names = new Map(state.grids.map((g) => [g.grid_code, g.name]));
  const rows = state.grids.map((g) => {
    const tr = el('tr', { class: 'grid-row', tabindex: '0', dataset: { grid: g.grid_code } },
      el('th', { scope: 'row', class: 'grid-name' }, gridName(g.grid_code)), countCells(g));
    tr.addEventListener('click', () => pickGrid(g.grid_code));
    tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); pickGrid(g.grid_code); } });
    return tr;
  });
  if (!rows.length) rows.push(el('tr', { class: 'empty' }, el('td', { colspan: 7 }, t('basedata.no_grids'))));
  $('grid-rows').replaceChildren(...rows);
  $('grid-totals').replaceChildren(el('tr', { class: 'totals' },
    el('th', { scope: 'row' }, t('basedata.totals')), countCells(body.totals || {})));
  showChart();
  markPicked();
}

/** People per grid as bars (plain CSS: no chart library is vendored), the overdue beside. */
function showChart() {
  const most = Math.max(1, ...state.grids.map((g) => g.people));
  $('chart-bars').replaceChildren(...state.grids.map((g) => el('div', { class: 'bar-row', dataset: { grid: g.grid_code } },
    el('span', { class: 'bar-label' }, gridName(g.grid_code)),
    el('span', { class: 'bar-track' }, el('span', { class: 'bar', style: `width:${(100 * g.people) / most}%` })),
    el('span', { class: 'bar-value num' }, String(g.people)),
    g.overdue > 0 ? el('span', { class: 'bar-overdue' }, t('basedata.chart.overdue', { n: g.overdue })) : null)));
  $('grid-chart').hidden = state.grids.length === 0;
}

function markPicked() {
  for (const tr of $$('#grid-rows .grid-row')) tr.classList.toggle('picked', tr.dataset.grid === state.grid);
}

function pickGrid(code) {
  state.grid = code;
  state.offset = 0;
  writeHash();
  markPicked();
  loadRecords();
  if (window.matchMedia('(max-width: 1100px)').matches) $('records').scrollIntoView({ block: 'start' });
}

function setKind(kind) {
  state.kind = kind;
  state.offset = 0;
  writeHash();
  loadRecords();
}

function writeHash() {
  history.replaceState(history.state, '', `#grid=${encodeURIComponent(state.grid)}&kind=${state.kind}`);
}

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const kind = params.get('kind');
  if (KINDS.includes(kind)) state.kind = kind;
  const grid = params.get('grid');
  if (grid && /^\d{1,15}$/.test(grid)) state.grid = grid;
}

/** The picked grid's page of the chosen kind; the latest asked wins. */
async function loadRecords() {
  if (!state.grid) return;
  const asked = ++state.asked;
  const { grid, kind } = state;
  $('records-hint').hidden = true;
  $('tabs').hidden = false;
  $('records-wrap').hidden = false;
  $('records-title').replaceChildren(gridName(grid));
  $('records').dataset.grid = grid;
  $('records').dataset.kind = kind;
  $('records').dataset.loaded = 'false';
  for (const b of $$('.bd-tab')) b.setAttribute('aria-selected', String(b.dataset.kind === kind));
  const query = new URLSearchParams({ area: grid, due: state.due ? '1' : '0', limit: String(PAGE), offset: String(state.offset) });
  try {
    const page = await api(`/api/basedata/${kind}?${query}`);
    if (asked !== state.asked) return;
    state.total = page.total;
    state.table.show(kind, page.items || []);
    showPager();
    $('records').dataset.loaded = 'true';
  } catch (err) {
    if (asked === state.asked && err.status !== 401) toast(t('basedata.err.load', { msg: err.message }), 'error');
  }
}

function showPager() {
  const first = state.total ? state.offset + 1 : 0;
  const last = Math.min(state.offset + PAGE, state.total);
  $('pager').hidden = false;
  $('page-info').textContent = t('basedata.page_info', { first, last, total: state.total });
  $('prev').disabled = state.offset === 0;
  $('next').disabled = state.offset + PAGE >= state.total;
}

async function loadGrids() {
  try {
    showGrids(await api('/api/basedata/counts'));
  } catch (err) {
    if (err.status !== 401) toast(t('basedata.err.load', { msg: err.message }), 'error');
  }
}

async function main() {
  applyI18n();
  const me = await mountNav('basedata');
  if (!me) return;
  $('basedata').hidden = false;
  // 查看 is offered to admins (config basedata.reveal_roles' default); a 403 takes it away.
  const reveal = new RevealDialog(me.role === 'admin');
  // A stale re-check: the counts and the list as they stand now.
  state.table = new RecordTable({ reveal, onStale: () => { loadGrids(); loadRecords(); }, onChange: loadGrids });
  for (const b of $$('.bd-tab')) b.addEventListener('click', () => setKind(b.dataset.kind));
  $('due-only').addEventListener('change', (ev) => { state.due = ev.target.checked; state.offset = 0; loadRecords(); });
  $('prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - PAGE); loadRecords(); });
  $('next').addEventListener('click', () => { state.offset += PAGE; loadRecords(); });
  readHash();
  exposeTestHooks({ basedata: state, reload: () => Promise.all([loadGrids(), loadRecords()]) });
  await loadGrids();
  if (state.grid) await loadRecords();
  document.body.dataset.ready = 'true';
}

main();
