// 绩效考核 (/assessment; officers and admins): a frozen month's scores per level from
// /api/assessment/* (docs/ASSESSMENT.md): the ranking as bars (ECharts, loaded as /stats does)
// and a table, one subject's indicator breakdown, the top and bottom lists, the honours, the
// appeals (officers file them from a ranking row, admins approve or reject), the district's
// monthly PDF, and for the city's administrators the freeze of a month.

import { $, el } from '../common/dom.js';
import { applyI18n, t } from '../common/i18n.js';
import { ApiError, api, ensureSession, getToken, post } from '../common/live.js';
import { mountNav } from '../common/nav.js';
import { exposeTestHooks } from '../common/testhooks.js';
import { toast } from '../common/util.js';
import { loadECharts } from '../common/echarts.js';

const LEVELS = ['worker', 'grid', 'community', 'street', 'district'];
const view = { me: null, month: '', level: 'worker', scheme: null, rows: [], selected: null, charts: {}, appealFor: null, seq: 0 };

const levelName = (level) => t(`assessment.level.${level}`);
const indicatorName = (key) => t(`assessment.ind.${key}`);

function fmtValue(key, value) {
  if (value == null) return '—';
  if (key.endsWith('_rate')) return `${(value * 100).toFixed(1)}%`;
  return String(Math.round(value * 100) / 100);
}

function setStatus(kind, text) {
  const box = $('status');
  box.dataset.state = kind;
  box.textContent = text;
}

function errorText(err) {
  if (err && err.status === 404) return t('assessment.err.not_frozen');
  if (err && err.status === 403) return t('assessment.err.forbidden');
  if (err && err.status === 409) return t('assessment.err.conflict');
  if (err && err.status === 400) return `${t('assessment.err.bad')}: ${err.detail ?? ''}`;
  return t('assessment.err.failed');
}

async function chart(id) {
  if (!view.charts[id]) {
    const echarts = await loadECharts();
    const box = $(id);
    view.charts[id] = echarts.init(box, null, { renderer: 'canvas' });
    new ResizeObserver(() => view.charts[id].resize()).observe(box);
  }
  return view.charts[id];
}

const AXIS = { axisLabel: { color: '#9fb0c3' }, splitLine: { lineStyle: { color: '#2a3647' } } };

async function drawRanking(rows) {
  const shown = rows.slice(0, 30).reverse();  // best on top of the horizontal bars
  $('rank-chart').style.height = `${Math.max(12, shown.length * 1.4 + 2)}rem`;  // a readable row a bar
  (await chart('rank-chart')).setOption({
    grid: { left: 8, right: 16, top: 8, bottom: 8, containLabel: true },
    tooltip: { renderMode: 'richText' },
    xAxis: { type: 'value', max: 100, ...AXIS },
    yAxis: { type: 'category', data: shown.map((r) => `${r.rank}. ${r.name}`), ...AXIS },
    series: [{ type: 'bar', data: shown.map((r) => r.score), itemStyle: { color: '#4aa3ff' } }],
  }, true);
  view.charts['rank-chart'].resize();
}

async function drawBreakdown(row) {
  $('breakdown-who').textContent = row
    ? t('assessment.breakdown.of', { name: row.name, score: row.score.toFixed(2), rank: row.rank })
    : t('assessment.breakdown.pick');
  if (!row) return;
  const keys = Object.keys(row.points);
  (await chart('breakdown-chart')).setOption({
    grid: { left: 8, right: 16, top: 8, bottom: 8, containLabel: true },
    tooltip: { renderMode: 'richText' },
    xAxis: { type: 'value', max: 100, ...AXIS },
    yAxis: { type: 'category', data: keys.map((k) => `${indicatorName(k)} ${fmtValue(k, row.values[k])}`), ...AXIS },
    series: [{ type: 'bar', data: keys.map((k) => (row.points[k] == null ? 0 : Math.round(row.points[k] * 100))), itemStyle: { color: '#3ddc84' } }],
  }, true);
}

/** A person's or an area's name: a proper noun (an unknown worker's is their id), never translated. */
const nameEl = (name) => el('span', { translate: 'no' }, name);

function badges(row) {
  return row.honours.map((h) => el('span', { class: 'as-badge' }, `★${h}`));
}

function rankTable(rows) {
  const keys = rows.length ? Object.keys(rows[0].values) : [];
  const canAppeal = ['officer', 'admin'].includes(view.me.role);
  const head = el('tr', {}, el('th', {}, t('assessment.col.rank')), el('th', { class: 'name' }, t('assessment.col.name')),
    el('th', { class: 'name' }, t('assessment.col.area')), el('th', {}, t('assessment.col.score')), el('th', {}, t('assessment.col.cases')),
    keys.map((k) => el('th', {}, indicatorName(k))), canAppeal ? el('th', {}, '') : null);
  const body = rows.map((r) => el('tr', { dataset: { subject: r.subject }, class: view.selected === r.subject ? 'selected' : null,
    onclick: () => { view.selected = r.subject; drawBreakdown(r); rankTable(view.rows); } },
  el('td', {}, String(r.rank)), el('td', { class: 'name' }, nameEl(r.name), badges(r)), el('td', { class: 'name' }, r.area_name || ''),
  el('td', {}, r.score.toFixed(2)), el('td', {}, String(r.cases)), keys.map((k) => el('td', {}, fmtValue(k, r.values[k]))),
  canAppeal ? el('td', {}, el('button', { class: 'btn btn-small', type: 'button', dataset: { appeal: r.subject },
    onclick: (e) => { e.stopPropagation(); openAppeal(r); } }, t('assessment.appeal.open'))) : null));
  $('rank-table').replaceChildren(el('thead', {}, head), el('tbody', {}, body));
}

function listItems(rows) {
  return rows.map((r) => el('li', {}, nameEl(r.name), ` · ${r.score.toFixed(2)}${t('assessment.points')} · ${t('assessment.rank_n', { rank: r.rank })}`, badges(r)));
}

function appealTable(rows) {
  const admin = view.me.role === 'admin';
  const head = el('tr', {}, ['id', 'subject', 'case', 'reason', 'state', 'note'].map((c) => el('th', { class: 'name' }, t(`assessment.appeal.col.${c}`))), admin ? el('th', {}, '') : null);
  const body = rows.map((a) => {
    const note = el('input', { type: 'text', maxlength: '500', 'aria-label': t('assessment.appeal.note') });
    const act = (decision) => decide(a.id, decision, note.value);
    return el('tr', { dataset: { appeal: a.id } }, el('td', { class: 'name' }, String(a.id)),
      el('td', { class: 'name' }, `${levelName(a.level)} `, nameEl(a.name)), el('td', { class: 'name', translate: 'no' }, a.case_id),
      el('td', { class: 'name' }, a.reason), el('td', { class: 'name' }, t(`assessment.appeal.state.${a.state}`)),
      el('td', { class: 'name' }, a.note || ''),
      admin ? el('td', {}, a.state === 'pending' ? el('span', { class: 'as-actions' }, note,
        el('button', { class: 'btn btn-small', type: 'button', dataset: { decide: 'approve' }, onclick: () => act('approve') }, t('assessment.appeal.approve')),
        el('button', { class: 'btn btn-small', type: 'button', dataset: { decide: 'reject' }, onclick: () => act('reject') }, t('assessment.appeal.reject'))) : '') : null);
  });
  $('appeal-table').replaceChildren(el('thead', {}, head), el('tbody', {}, body.length ? body : el('tr', {}, el('td', { class: 'name', colspan: '6' }, t('assessment.appeal.none')))));
}

function openAppeal(row) {
  view.appealFor = row;
  $('appeal-subject').textContent = t('assessment.appeal.for', { level: levelName(view.level), name: row.name });
  $('appeal-form').hidden = false;
  $('appeal-case').focus();
}

async function decide(id, decision, note) {
  try {
    await post(`/api/assessment/appeals/${id}/decision`, { decision, note });
    toast(t(`assessment.appeal.done.${decision}`));
    await load();
  } catch (err) { toast(errorText(err)); }
}

async function fileAppeal(event) {
  event.preventDefault();
  const row = view.appealFor;
  try {
    await post(`/api/assessment/${view.month}/appeals`, { level: view.level, subject: row.subject, case_id: $('appeal-case').value.trim(), reason: $('appeal-reason').value.trim() });
    $('appeal-form').hidden = true;
    $('appeal-form').reset();
    toast(t('assessment.appeal.filed'));
    await load();
  } catch (err) { toast(errorText(err)); }
}

async function load() {
  const seq = ++view.seq;
  if (!view.month) { setStatus('empty', t('assessment.none')); $('assessment').dataset.loaded = String(seq); return; }
  setStatus('loading', t('assessment.loading'));
  const q = `level=${view.level}`;
  try {
    const [scores, lists, honours, appeals] = await Promise.all([
      api(`/api/assessment/${view.month}/scores?${q}`), api(`/api/assessment/${view.month}/top?${q}`),
      api(`/api/assessment/${view.month}/honours`), api(`/api/assessment/${view.month}/appeals`)]);
    if (seq !== view.seq) return;
    view.rows = scores.rows;
    const run = scores.run;
    $('run').replaceChildren(t('assessment.run', { label: run.scheme_label, cutoff: run.cutoff_day, n: scores.rows.length }),
      ` · ${t('assessment.version')} `, el('span', { translate: 'no', class: 'num' }, run.scheme_version));
    rankTable(view.rows);
    await drawRanking(view.rows);
    await drawBreakdown(view.rows.find((r) => r.subject === view.selected) || null);
    $('top-title').textContent = t('assessment.top_n', { n: lists.top.length });
    $('bottom-title').textContent = t('assessment.bottom_n', { n: lists.bottom.length });
    $('top-list').replaceChildren(...listItems(lists.top));
    $('bottom-list').replaceChildren(...listItems(lists.bottom));
    $('honour-list').replaceChildren(...(honours.rows.length ? honours.rows.map((h) => el('li', {}, `★${h.honour} · ${levelName(h.level)} `, nameEl(h.name))) : [el('li', { class: 'muted' }, t('assessment.honours.none'))]));
    appealTable(appeals.rows);
    setStatus('ready', t('assessment.ready', { month: view.month }));
    Object.assign($('assessment').dataset, { loaded: String(seq), level: view.level, month: view.month });
  } catch (err) {
    if (seq === view.seq) setStatus('error', errorText(err));
  }
}

async function downloadPdf() {
  await ensureSession();
  const district = $('district').value;
  const headers = { Accept: 'application/pdf, application/json' };
  if (getToken()) headers.Authorization = `Bearer ${getToken()}`;
  const res = await fetch(`/api/assessment/${view.month}/report.pdf?district=${encodeURIComponent(district)}`, { headers });
  if (!res.ok) { toast(errorText(new ApiError(res.status, 'pdf', null))); return; }
  const link = el('a', { href: URL.createObjectURL(await res.blob()), download: `assessment-${view.month}-${district.slice(0, 6)}.pdf` });
  document.body.append(link);
  link.click();
  link.remove();
}

async function fillDistricts() {
  const mine = (view.me.jurisdiction || '').slice(0, 6);
  let districts = [];
  if (view.month) {
    try { districts = (await api(`/api/assessment/${view.month}/scores?level=district`)).rows; } catch { districts = []; }
  }
  if (mine) districts = districts.filter((d) => d.subject.startsWith(mine));
  $('district').replaceChildren(...districts.map((d) => el('option', { value: d.subject }, d.name)));
  $('pdf').disabled = !districts.length;
}

async function freeze(event) {
  event.preventDefault();
  try {
    await post('/api/assessment/runs', { month: $('freeze-month').value, recompute: $('freeze-recompute').checked });
    toast(t('assessment.freeze.done'));
    await start();
  } catch (err) { toast(errorText(err)); }
}

function levelTabs() {
  $('levels').replaceChildren(...LEVELS.map((level) => el('button', { class: 'btn', type: 'button', role: 'tab', dataset: { level },
    'aria-selected': String(level === view.level), onclick: () => { view.level = level; view.selected = null; levelTabs(); load(); } }, levelName(level))));
}

async function start() {
  const runs = (await api('/api/assessment/runs')).runs;
  const asked = new URLSearchParams(location.search).get('month');
  view.month = runs.some((r) => r.month === asked) ? asked : (runs[0] ? runs[0].month : '');
  $('month').replaceChildren(...runs.map((r) => el('option', { value: r.month, selected: r.month === view.month }, r.month)));
  await fillDistricts();
  await load();
}

async function main() {
  const me = await mountNav('assessment');
  if (!me) return;
  view.me = me;
  applyI18n();
  $('assessment').hidden = false;
  $('freeze').hidden = !(me.role === 'admin' && !me.jurisdiction);
  levelTabs();
  $('month').addEventListener('change', async () => { view.month = $('month').value; await fillDistricts(); await load(); });
  $('pdf').addEventListener('click', () => downloadPdf().catch((err) => toast(errorText(err))));
  $('appeal-form').addEventListener('submit', fileAppeal);
  $('appeal-cancel').addEventListener('click', () => { $('appeal-form').hidden = true; });
  $('freeze').addEventListener('submit', freeze);
  exposeTestHooks({ assessment: view, reload: load });
  try { await start(); } catch (err) { setStatus('error', errorText(err)); }
}

main();
