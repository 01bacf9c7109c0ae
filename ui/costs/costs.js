// 成本效益 (/costs; officers and admins): an area's month of costs attributed to matters and
// child areas (GET /api/costs/summary: the database's sums, docs/COSTS.md). Tiles, the cost per
// case by child area and the cost stacked by category as ECharts bars, sortable tables of the
// child areas (a row or a bar drills down: city → district → street → community → grid), the
// matters, the classes and the categories; CSV/XLSX exports; for admins the month's budget
// lines of the area and their import from a CSV or XLSX file (every problem shown by row and
// column, nothing stored).
//
// The view lives in the address: /costs?area=<code>&month=2026-11.

import { $, $$, el } from '../common/dom.js';
import { applyI18n, t } from '../common/i18n.js';
import { api, ApiError, ensureSession, getToken } from '../common/live.js';
import { mountNav } from '../common/nav.js';
import { exposeTestHooks } from '../common/testhooks.js';
import { fmtClock, toast } from '../common/util.js';
import { pathCodes, showCrumbs } from '../common/areas.js';
import { loadECharts } from '../common/echarts.js';
import {
  CategoryBars, PerCaseBars, areaTable, categoryTable, classTable, fmtCount, fmtMoney, fmtShare, lineTable, matterTable,
} from './views.js';

const TILES = [['budget', fmtMoney], ['cost', fmtMoney], ['cost_per_case', fmtMoney], ['cost_per_resident', fmtMoney],
  ['early_share', fmtShare], ['cases', fmtCount]];
const MONTH = /^\d{4}-\d{2}$/;
const AREA = /^\d{15}$/;
const view = { state: readState(), me: null, top: '', names: new Map(), seq: 0, summary: null };

function readState() {
  const q = new URLSearchParams(location.search);
  const month = q.get('month') || '';
  const area = q.get('area') || '';
  return { month: MONTH.test(month) ? month : thisMonth(), area: AREA.test(area) ? area : '' };
}

function thisMonth() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

function shiftMonth(month, by) {
  const [y, m] = month.split('-').map(Number);
  const d = new Date(y, m - 1 + by, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

function query(extra = {}) {
  const q = new URLSearchParams({ month: view.state.month, ...extra });
  if (view.state.area) q.set('area', view.state.area);
  return q;
}

function change(patch, { push = true } = {}) {
  Object.assign(view.state, patch);
  const q = query();
  const url = `${location.pathname}?${q}`;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
  load();
}

function setStatus(kind, text, detail = '') {
  const box = $('status');
  box.dataset.state = kind;
  box.textContent = text;
  box.title = detail;
}

function errorText(err) {
  if (err && err.status === 400) return t('costs.err.bad');
  if (err && err.status === 403) return t('costs.err.forbidden');
  return t('costs.err.failed');
}

async function load() {
  const seq = ++view.seq;
  $('f-month').value = view.state.month;
  setStatus('loading', t('costs.loading'));
  try {
    const summary = await api(`/api/costs/summary?${query()}`);
    if (seq !== view.seq) return;
    view.summary = summary;
    await show(summary);
    if (view.me.role === 'admin') await loadLines();
    if (seq !== view.seq) return;
    setStatus('ready', t('costs.as_of', { time: fmtClock(new Date().toISOString()) }));
    $('costs').dataset.area = summary.area.code;
    $('costs').dataset.loaded = String(seq);
  } catch (err) {
    if (seq !== view.seq) return;
    console.warn('costs failed', err);
    setStatus('error', errorText(err), err.message || '');
  } finally {
    document.body.dataset.ready = 'true';
  }
}

async function show(summary) {
  const { area, children } = summary;
  view.names.set(area.code, area.name);
  if (summary.parent) view.names.set(summary.parent.code, summary.parent.name);
  for (const c of children) view.names.set(c.code, c.name);
  const top = view.top || area.code.slice(0, 4).padEnd(15, '0');
  const codes = pathCodes(area.code, top);
  if (codes.some((c) => !view.names.has(c))) await nameAncestors(area.code);
  showCrumbs($('crumbs'), codes, view.names, (code) => change({ area: code === top ? '' : code }));
  const tiles = summary.totals.unattributed > 0 ? [...TILES, ['unattributed', fmtMoney]] : TILES;
  $('tiles').replaceChildren(...tiles.map(([key, format]) => {
    const value = summary.totals[key];
    return el('div', { class: 'tile', dataset: { key, value: value == null ? '' : String(value) } },
      el('span', { class: 'tile-name' }, t(`costs.col.${key}`)), el('strong', { class: 'tile-value num' }, format(value)));
  }));
  $('areas-title').textContent = children.length ? t('costs.areas.of', { area: area.name }) : area.name;
  $('areas-leaf').hidden = children.length > 0;
  $('area-figures').hidden = !children.some((c) => c.cost > 0);  // nothing to draw: no empty axes
  $('area-table-wrap').hidden = children.length === 0;
  view.areaTable.show(children);
  if (children.length) { view.perCase.show(children); view.byCategory.show(children); }
  view.matters.show(summary.matters);
  view.classes.show(summary.classes);
  view.categories.show(summary.categories);
}

async function nameAncestors(code) {
  try {
    const found = await api(`/api/grids/${encodeURIComponent(code)}`);
    for (const a of found.path || []) view.names.set(a.code, a.name);
  } catch (err) {
    console.warn('area names unavailable', err);
  }
}

async function loadLines() {
  const answer = await api(`/api/costs/lines?${query({ limit: '1000' })}`);
  view.lines.show(answer.items || []);
  $('lines-panel').dataset.count = String(answer.total);
}

async function importFile(input) {
  const file = input.files && input.files[0];
  if (!file) return;
  const box = $('import-result');
  box.replaceChildren(el('p', { class: 'muted cs-hint' }, t('costs.lines.importing')));
  try {
    const done = await api(`/api/costs/lines/import?filename=${encodeURIComponent(file.name)}`,
      { method: 'POST', body: file, headers: { 'Content-Type': 'application/octet-stream' } });
    box.replaceChildren(el('p', { class: 'cs-ok' }, t('costs.lines.imported', { n: done.lines, file: done.file })));
    await load();
  } catch (err) {
    const problems = (err.detail && err.detail.problems) || [];
    box.replaceChildren(el('p', { class: 'st-error' }, problems.length ? t('costs.lines.refused', { n: problems.length }) : errorText(err)),
      el('ul', { class: 'cs-problems', id: 'import-problems' }, problems.map((p) => el('li', { dataset: { row: String(p.row ?? ''), column: p.column || '' } },
        t('costs.lines.problem', { row: p.row ?? '—', column: p.column || '—', message: p.message })))));
  } finally {
    input.value = '';
  }
}

async function exportView(button) {
  button.disabled = true;
  try {
    await ensureSession();
    const headers = { Authorization: `Bearer ${getToken()}` };
    const res = await fetch(`/api/costs/export?${query({ view: button.dataset.export, format: button.dataset.format })}`, { headers });
    if (!res.ok) throw new ApiError(res.status, `HTTP ${res.status}`, null);
    const star = /filename\*=UTF-8''([^;]+)/i.exec(res.headers.get('Content-Disposition') || '');
    const link = el('a', { href: URL.createObjectURL(await res.blob()) });
    link.download = star ? decodeURIComponent(star[1]) : `costs.${button.dataset.format}`;
    document.body.append(link);
    link.click();
    link.remove();
    toast(t('costs.exported', { name: link.download }), 'ok');
  } catch (err) {
    toast(errorText(err), 'error');
  } finally {
    button.disabled = false;
  }
}

function wire() {
  $('prev').addEventListener('click', () => change({ month: shiftMonth(view.state.month, -1) }));
  $('next').addEventListener('click', () => change({ month: shiftMonth(view.state.month, 1) }));
  $('f-month').addEventListener('change', () => { if (MONTH.test($('f-month').value)) change({ month: $('f-month').value }); });
  for (const button of $$('button[data-export]')) button.addEventListener('click', () => exportView(button));
  $('import-file').addEventListener('change', (ev) => importFile(ev.target));
  window.addEventListener('popstate', () => { view.state = readState(); load(); });
}

async function main() {
  applyI18n(document);
  const me = await mountNav('costs');
  if (!me) return;
  view.me = me;
  view.top = me.jurisdiction ? me.jurisdiction.padEnd(15, '0') : '';
  $('costs').hidden = false;
  $('lines-panel').hidden = me.role !== 'admin';
  const drill = (row) => change({ area: row.code });
  view.areaTable = areaTable($('area-table'), drill);
  view.matters = matterTable($('matter-table'));
  view.classes = classTable($('class-table'));
  view.categories = categoryTable($('category-table'));
  view.lines = lineTable($('line-table'), (code) => view.names.get(code) || code);
  try {
    const echarts = await loadECharts();
    view.perCase = new PerCaseBars($('per-case-chart'), echarts, drill);
    view.byCategory = new CategoryBars($('category-chart'), echarts, drill);
  } catch (err) {
    console.warn('ECharts unavailable', err);
    setStatus('error', t('costs.err.charts'));
    return;
  }
  wire();
  exposeTestHooks({ costs: view, reload: load });
  change({}, { push: false });
}

main();
