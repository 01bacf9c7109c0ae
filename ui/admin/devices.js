// 设备: the IoT devices of the registry (the admin's district for a district admin): list with
// filters and counts by state, add, edit (on the version read: a stale form is told and
// reloaded), retire, and import a CSV/XLSX file (POST /api/import/devices, every bad row named
// by row and column). Kinds, states and grids are shown by name. The server checks every field.

import { applyI18n, nameOf, t } from '../common/i18n.js';

const KINDS = ['smoke', 'gas', 'water_level', 'manhole_tilt', 'hydrant_pressure', 'bin_fill', 'door', 'temperature'];
const STATES = ['online', 'offline', 'alarm'];
const PAGE = 50;
const UPLOAD_TIMEOUT_MS = 120000;
const escape = (text) => String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const kindName = (kind) => nameOf('device_kind', kind);
const stateName = (state) => nameOf('device_state', state);

let ctx;
let root;
let editing = null; // the device being edited (as read, with its version), or null for a new one
let offset = 0;
const part = (name) => root.querySelector(`[data-part="${name}"]`);
const form = () => part('form');

function injectStyle() {
  if (document.getElementById('devices-css')) return;
  document.head.append(ctx.el('link', { id: 'devices-css', rel: 'stylesheet', href: '/ui/admin/devices.css' }));
}

function layout() {
  const kinds = KINDS.map((k) => `<option value="${k}">${escape(kindName(k))}</option>`).join('');
  const states = STATES.map((s) => `<option value="${s}">${escape(stateName(s))}</option>`).join('');
  root.innerHTML = `
    <section class="panel" data-i18n-aria-label="admin.devices.title">
      <div class="panel-head"><h2 data-i18n="admin.devices.title"></h2>
        <span class="dev-totals muted" data-part="totals"></span>
        <button class="btn" type="button" data-part="add" data-i18n="admin.devices.add"></button></div>
      <div class="panel-body">
        <form class="admin-form dev-filters" data-part="filters">
          <label><span data-i18n="admin.devices.kind"></span><select name="kind">
            <option value="" data-i18n="admin.devices.all"></option>${kinds}</select></label>
          <label><span data-i18n="admin.devices.state"></span><select name="state">
            <option value="" data-i18n="admin.devices.all"></option>${states}</select></label>
          <label><span data-i18n="admin.devices.search"></span><input name="q" maxlength="64"
            data-i18n-placeholder="admin.devices.search_hint"></label>
        </form>
        <div class="table-wrap"><table class="admin-table dev-table">
          <thead><tr><th data-i18n="admin.devices.name"></th><th data-i18n="admin.devices.kind"></th>
            <th data-i18n="admin.devices.state"></th><th data-i18n="admin.devices.grid"></th>
            <th data-i18n="admin.devices.last_seen"></th><th data-i18n="admin.devices.battery"></th><th></th></tr></thead>
          <tbody data-part="rows"></tbody></table></div>
        <div class="actions"><button class="btn" type="button" data-part="prev" data-i18n="admin.devices.prev"></button>
          <span class="muted" data-part="page"></span>
          <button class="btn" type="button" data-part="next" data-i18n="admin.devices.next"></button></div>
      </div>
    </section>
    <section class="panel" data-part="editor" hidden>
      <div class="panel-head"><h2 data-part="title"></h2></div>
      <div class="panel-body">
        <form class="admin-form dev-form" data-part="form">
          <label><span data-i18n="admin.devices.id"></span><input name="id" required maxlength="64"
            pattern="[A-Za-z0-9][A-Za-z0-9_.:\\-]*"></label>
          <label><span data-i18n="admin.devices.name"></span><input name="name" maxlength="80"></label>
          <label><span data-i18n="admin.devices.kind"></span><select name="kind">${kinds}</select></label>
          <label><span data-i18n="admin.devices.lon"></span><input name="lon" type="number" step="any" required></label>
          <label><span data-i18n="admin.devices.lat"></span><input name="lat" type="number" step="any" required></label>
          <label><span data-i18n="admin.devices.heartbeat"></span><input name="heartbeat_s" type="number" min="60"
            max="604800" step="1" data-i18n-placeholder="admin.devices.kind_default"></label>
          <label><span data-i18n="admin.devices.installed"></span><input name="installed_at" type="date"></label>
          <label class="wide"><span data-i18n="admin.devices.address"></span><input name="address" maxlength="200"></label>
          <label class="wide"><span data-i18n="admin.devices.thresholds"></span><input name="thresholds"
            data-i18n-placeholder="admin.devices.thresholds_hint"></label>
          <p class="wide muted" data-part="grid"></p>
        </form>
        <div class="actions">
          <button class="btn primary" type="button" data-part="save" data-i18n="admin.btn.save"></button>
          <button class="btn" type="button" data-part="cancel" data-i18n="admin.btn.cancel"></button>
        </div>
      </div>
    </section>
    <section class="panel" data-i18n-aria-label="admin.devices.import">
      <div class="panel-head"><h2 data-i18n="admin.devices.import"></h2>
        <span class="muted hint" data-i18n="admin.devices.import_hint"></span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="upload">
          <label><span data-i18n="admin.imports.file"></span><input name="file" type="file" accept=".csv,.xlsx"></label>
          <label class="check"><span><input name="skip_bad" type="checkbox"> <span data-i18n="admin.imports.skip_bad"></span></span></label>
          <button class="btn" type="button" data-part="check" data-i18n="admin.imports.check"></button>
          <button class="btn primary" type="button" data-part="apply" data-i18n="admin.imports.apply"></button>
        </form>
        <p class="muted" data-part="import-status" role="status"></p>
        <ul class="dev-problems" data-part="problems"></ul>
      </div>
    </section>`;
  applyI18n(root);
}

function stateDot(state) {
  return ctx.el('span', { class: `dev-state ${state}` }, ctx.el('i', { class: 'dot' }), stateName(state));
}

function query() {
  const f = part('filters').elements;
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  for (const name of ['kind', 'state', 'q']) if (f[name].value.trim()) params.set(name, f[name].value.trim());
  return params;
}

async function refresh() {
  const [list, summary] = await Promise.all([
    ctx.call(() => ctx.api(`/api/devices?${query()}`)), ctx.call(() => ctx.api('/api/devices/summary')),
  ]);
  if (summary) {
    part('totals').textContent = t('admin.devices.totals', { ...summary.totals });
  }
  if (!list) return;
  const rows = list.items.map((d) => ctx.el('tr', { dataset: { id: d.id } },
    ctx.el('td', { title: d.id }, d.name || d.id), ctx.el('td', {}, kindName(d.kind)), ctx.el('td', {}, stateDot(d.state)),
    ctx.el('td', { class: 'area-name' }, d.grid_name || '—'), ctx.el('td', {}, d.last_seen ? ctx.when(d.last_seen) : '—'),
    ctx.el('td', {}, d.battery == null ? '—' : `${Math.round(d.battery * 100)}%`),
    ctx.el('td', { class: 'actions' },
      ctx.el('button', { class: 'btn', type: 'button', onclick: () => edit(d.id) }, t('admin.devices.edit')),
      ctx.el('button', { class: 'btn danger', type: 'button', onclick: () => retire(d) }, t('admin.devices.retire')))));
  part('rows').replaceChildren(...(rows.length ? rows
    : [ctx.el('tr', {}, ctx.el('td', { colspan: 7, class: 'muted' }, t('admin.devices.none')))]));
  const last = Math.min(offset + list.items.length, list.total);
  part('page').textContent = t('admin.devices.page', { from: list.total ? offset + 1 : 0, to: last, total: list.total });
  part('prev').disabled = offset === 0;
  part('next').disabled = last >= list.total;
}

/** A value as typed: true/false, a number, else the text (a matter code, a direction). */
function typed(value) {
  if (value === 'true' || value === 'false') return value === 'true';
  return value !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
}

/** Departures from the kind's rules (iot DeviceRules): "battery_low.high=0.2; door_open.hold_s=120"
 *  or JSON → the API's object; null when it cannot be read. The server checks them against the kind. */
function parseThresholds(text) {
  const raw = text.trim();
  if (!raw) return {};
  if (raw.startsWith('{')) {
    try { return JSON.parse(raw); } catch { return null; }
  }
  const overrides = {};
  for (const pair of raw.split(/[;；]/).map((p) => p.trim()).filter(Boolean)) {
    const [key, value] = pair.split('=').map((s) => (s || '').trim());
    const named = /^([a-z][a-z0-9_]*)\.([a-z_]+)$/.exec(key || '');
    if (!named || !value) return null;
    (overrides[named[1]] ||= {})[named[2]] = typed(value);
  }
  return { overrides };
}

/** The stored departures as the form shows them: pairs when they are plain parameters, else JSON. */
function showThresholds(thresholds) {
  const { overrides = {}, ...rest } = thresholds || {};
  const plain = Object.keys(rest).length === 0
    && Object.values(overrides).every((o) => Object.values(o).every((v) => typeof v !== 'object'));
  if (!plain) return JSON.stringify(thresholds);
  return Object.entries(overrides).flatMap(([rule, o]) => Object.entries(o).map(([k, v]) => `${rule}.${k}=${v}`)).join('; ');
}

function open(device) {
  editing = device;
  const f = form();
  f.reset();
  f.elements.id.readOnly = Boolean(device);
  if (device) {
    for (const key of ['id', 'name', 'kind', 'lon', 'lat', 'heartbeat_s', 'installed_at', 'address']) {
      f.elements[key].value = device[key] ?? '';
    }
    f.elements.thresholds.value = showThresholds(device.thresholds);
  }
  part('title').textContent = device ? t('admin.devices.edit_title', { name: device.name || device.id }) : t('admin.devices.add');
  part('grid').textContent = device ? t('admin.devices.grid_of', { name: device.grid_name || '—' }) : '';
  part('editor').hidden = false;
  f.elements[device ? 'name' : 'id'].focus();
}

async function edit(id) {
  const device = await ctx.call(() => ctx.api(`/api/devices/${encodeURIComponent(id)}`));
  if (device) open(device);
}

async function retire(device) {
  if (!confirm(t('admin.devices.retire_confirm', { name: device.name || device.id }))) return;
  const done = await ctx.call(() => ctx.api(`/api/devices/${encodeURIComponent(device.id)}`, { method: 'DELETE' }),
    t('admin.devices.retired'));
  if (done !== null) await refresh();
}

function body() {
  const f = form().elements;
  const thresholds = parseThresholds(f.thresholds.value);
  if (thresholds === null) {
    ctx.toast(t('admin.devices.thresholds_bad'), 'error', 6000);
    return null;
  }
  const out = {
    name: f.name.value.trim(), kind: f.kind.value, lon: Number(f.lon.value), lat: Number(f.lat.value),
    address: f.address.value.trim(), thresholds,
    heartbeat_s: f.heartbeat_s.value ? Number(f.heartbeat_s.value) : null, installed_at: f.installed_at.value || null,
  };
  if (editing) {
    // a moved point takes the grid where it now lies (the server finds it); an unmoved one keeps its grid
    if (out.lon === editing.lon && out.lat === editing.lat) { delete out.lon; delete out.lat; }
    return { ...out, version: editing.version };
  }
  return { id: f.id.value.trim(), ...out };
}

async function save() {
  if (!form().reportValidity()) return;
  const sent = body();
  if (!sent) return;
  const path = editing ? `/api/devices/${encodeURIComponent(editing.id)}` : '/api/devices';
  try {
    const saved = await ctx.api(path, { method: editing ? 'PATCH' : 'POST', body: sent });
    ctx.toast(t('admin.devices.saved', { name: saved.name || saved.id }), 'info', 2500);
    part('editor').hidden = true;
    editing = null;
    await refresh();
  } catch (err) {
    if (err.status === 409 && err.detail && err.detail.current) {
      ctx.toast(t('admin.devices.stale'), 'error', 8000);
      open(err.detail.current);
    } else {
      const field = err.detail && err.detail.field ? ` (${err.detail.field})` : '';
      await ctx.call(() => Promise.reject(Object.assign(err, { message: `${err.message}${field}` })));
    }
  }
}

async function upload(dryRun) {
  const f = part('upload').elements;
  const file = f.file.files[0];
  if (!file) { ctx.toast(t('admin.imports.no_file'), 'error', 4000); return; }
  const params = new URLSearchParams({ filename: file.name });
  if (dryRun) params.set('dry_run', '1');
  if (f.skip_bad.checked) params.set('skip_bad', '1');
  part('import-status').textContent = t('admin.devices.importing');
  let result;
  try {
    result = await ctx.api(`/api/import/devices?${params}`, {
      method: 'POST', body: file, timeoutMs: UPLOAD_TIMEOUT_MS, headers: { 'Content-Type': 'application/octet-stream' },
    });
  } catch (err) {
    if (!(err.status === 422 && err.detail && typeof err.detail === 'object')) {
      part('import-status').textContent = '';
      await ctx.call(() => Promise.reject(err));
      return;
    }
    result = err.detail;
  }
  const counts = result.counts || {};
  const key = result.applied ? 'admin.devices.imported' : (result.problems.length ? 'admin.devices.refused' : 'admin.devices.checked');
  part('import-status').textContent = t(key, { added: counts.added ?? 0, updated: counts.updated ?? 0, n: result.problems.length });
  part('problems').replaceChildren(...result.problems.map((p) => ctx.el('li', {},
    t('admin.devices.problem', { row: p.row ?? '—', column: p.column ?? '—', message: p.message }))));
  if (result.applied) await refresh();
}

export async function mount(section, context) {
  root = section;
  ctx = context;
  injectStyle();
  layout();
  part('add').addEventListener('click', () => open(null));
  part('save').addEventListener('click', save);
  part('cancel').addEventListener('click', () => { part('editor').hidden = true; editing = null; });
  part('prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); refresh(); });
  part('next').addEventListener('click', () => { offset += PAGE; refresh(); });
  let typing = null;
  const filtersChanged = () => { offset = 0; clearTimeout(typing); typing = setTimeout(refresh, 250); };
  part('filters').addEventListener('input', filtersChanged);
  part('filters').addEventListener('submit', (ev) => ev.preventDefault());
  part('upload').addEventListener('submit', (ev) => ev.preventDefault());
  part('check').addEventListener('click', () => upload(true));
  part('apply').addEventListener('click', () => { if (confirm(t('admin.imports.confirm'))) upload(false); });
  await refresh();
}
