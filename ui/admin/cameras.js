// 摄像头: the cameras of the registry (the admin's district for a district admin): add, edit,
// remove, "测试连接" showing the first frame, and zones drawn on that frame (click to add a
// polygon's points, or two for a line), each with its rules; the models that watch the camera
// and its PTZ head (camera_models.js). Saved cameras take effect on every
// node without a restart. The server checks every field; this page only asks.

import { applyI18n, nameOf, t } from '../common/i18n.js';
import { getToken } from '../common/live.js';
import { fillModels, loadOptions, modelFields, readModels, showPtzFields } from './camera_models.js';

// Protocol names read the same in every language (and are copied as is: translate="no").
const PROTOCOLS = { rtsp: 'RTSP', rtmp: 'RTMP', hls: 'HLS', mjpeg: 'MJPEG' };
const KINDS = {
  ...PROTOCOLS, snapshot: t('admin.cameras.kind.snapshot'), file: t('admin.cameras.kind.file'),
  whip: t('admin.cameras.kind.whip'), sim: t('admin.cameras.kind.sim'), drone: t('admin.cameras.kind.drone'),
};
// Until the server's list (GET /api/camera-options) is there: the rules every version has.
const RULES = [
  'zone_intrusion', 'loitering', 'illegal_parking', 'dwell', 'dumping', 'stall', 'crowding', 'fire', 'fallen_person',
  'label', 'line_crossing',
];
/** A rule by the name people know it by everywhere (names.json). */
const ruleName = (rule) => nameOf('rule', rule);
const STATES = {
  online: t('admin.cameras.state.online'), stalled: t('admin.cameras.state.stalled'),
  offline: t('admin.cameras.state.offline'), starting: t('admin.cameras.state.starting'),
};
const escape = (text) => String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const SVG = 'http://www.w3.org/2000/svg';

let ctx;
let root;
let options = null; // the server's models, groups, rules and PTZ kinds
let editing = null; // the camera being edited (its config), or null for a new one
let zones = []; // the form's zones, as the API writes them
let drawing = []; // points of the zone being drawn, in source pixels
let frame = null; // {width, height} of the snapshot shown
const part = (name) => root.querySelector(`[data-part="${name}"]`);
const form = () => part('form');

function injectStyle() {
  if (document.getElementById('cameras-css')) return;
  document.head.append(ctx.el('link', { id: 'cameras-css', rel: 'stylesheet', href: '/ui/admin/cameras.css' }));
}

function layout() {
  const kinds = Object.entries(KINDS)
    .map(([k, v]) => `<option value="${k}"${k in PROTOCOLS ? ' translate="no"' : ''}>${escape(v)}</option>`).join('');
  const rules = (options.rules || RULES).map((k) =>
    `<label class="check"><input type="checkbox" name="rule" value="${k}">${escape(ruleName(k))}</label>`).join('');
  root.innerHTML = `
    <section class="panel" data-i18n-aria-label="admin.cameras.title">
      <div class="panel-head"><h2 data-i18n="admin.cameras.title"></h2>
        <button class="btn" type="button" data-part="add" data-i18n="admin.cameras.add"></button></div>
      <div class="panel-body"><div class="table-wrap"><table class="admin-table cam-table">
        <thead><tr><th data-i18n="admin.cameras.name"></th><th data-i18n="admin.cameras.kind"></th><th data-i18n="admin.cameras.status"></th>
          <th data-i18n="admin.cameras.grid"></th><th data-i18n="admin.cameras.zones"></th><th></th></tr></thead>
        <tbody data-part="rows"></tbody></table></div></div>
    </section>
    <section class="panel cam-editor" data-i18n-aria-label="admin.cameras.settings" data-part="editor" hidden>
      <div class="panel-head"><h2 data-part="title" data-i18n="admin.cameras.add"></h2></div>
      <div class="panel-body">
        <form class="admin-form cam-form" data-part="form">
          <label><span data-i18n="admin.cameras.id"></span><input name="id" required maxlength="64" pattern="[A-Za-z0-9_.\\-]+"></label>
          <label><span data-i18n="admin.cameras.name"></span><input name="name" maxlength="80"></label>
          <label><span data-i18n="admin.cameras.kind"></span><select name="kind">${kinds}</select></label>
          <label class="wide"><span data-i18n="admin.cameras.url"></span><input name="url" required
            placeholder="${escape(t('admin.cameras.url_hint', { rtsp: 'rtsp://…', sim: 'sim://street?seed=5' }))}"></label>
          <label><span data-i18n="admin.cameras.lon"></span><input name="lon" type="number" step="any" required></label>
          <label><span data-i18n="admin.cameras.lat"></span><input name="lat" type="number" step="any" required></label>
          <label><span data-i18n="admin.cameras.heading"></span><input name="heading" type="number" min="0" max="360" step="any"></label>
          <label><span data-i18n="admin.cameras.fov"></span><input name="fov_deg" type="number" min="1" max="360" step="any"></label>
          <label><span data-i18n="admin.cameras.fps"></span><input name="fps" type="number" min="0.1" max="60" step="any" value="5"></label>
          <label><span data-i18n="admin.cameras.threshold"></span><input name="threshold" type="number" min="0" max="1" step="0.01"
            data-i18n-placeholder="admin.cameras.default"></label>
          ${modelFields(options)}
          <p class="wide muted" data-part="grid"></p>
        </form>
        <div class="actions">
          <button class="btn" type="button" data-part="probe" data-i18n="admin.cameras.probe"></button>
          <span class="muted" data-part="probe-state"></span>
        </div>
        <div class="cam-shot" data-part="shot" hidden>
          <img data-part="image" alt="${escape(t('admin.cameras.image'))}">
          <svg data-part="overlay" xmlns="${SVG}" preserveAspectRatio="none"></svg>
        </div>
        <div class="cam-zone" data-part="zone-form" hidden>
          <p class="muted" data-i18n="admin.cameras.draw_hint"></p>
          <form class="admin-form" data-part="zone">
            <label><span data-i18n="admin.cameras.zone_name"></span><input name="zone_name" maxlength="40"></label>
            <label><span data-i18n="admin.cameras.shape"></span><select name="shape">
              <option value="polygon" data-i18n="admin.cameras.shape.polygon"></option>
              <option value="line" data-i18n="admin.cameras.shape.line"></option></select></label>
            <label><span data-i18n="admin.cameras.dwell"></span><input name="dwell_s" type="number" min="0.1" step="any"
              data-i18n-placeholder="admin.cameras.default"></label>
            <div class="wide rules">${rules}</div>
          </form>
          <div class="actions">
            <button class="btn" type="button" data-part="zone-done" data-i18n="admin.cameras.zone_done"></button>
            <button class="btn" type="button" data-part="zone-undo" data-i18n="admin.cameras.zone_undo"></button>
            <button class="btn" type="button" data-part="zone-clear" data-i18n="admin.cameras.zone_clear"></button>
          </div>
        </div>
        <ul class="cam-zones" data-part="zones"></ul>
        <div class="actions">
          <button class="btn primary" type="button" data-part="save" data-i18n="admin.btn.save"></button>
          <button class="btn" type="button" data-part="cancel" data-i18n="admin.btn.cancel"></button>
        </div>
      </div>
    </section>`;
  applyI18n(root);
  part('grid').textContent = t('admin.cameras.grid_of', { name: '—' });
}

function stateDot(state) {
  const s = state || 'starting';
  return ctx.el('span', { class: `cam-state ${s}` }, ctx.el('i', { class: 'dot' }), STATES[s] || s);
}

/** The camera's grid by name: the one it is filed under, else the one where it stands. */
function gridCell(code, location) {
  const cell = ctx.el('td', { class: 'area-name' }, code || location ? '…' : '—');
  if (code && ctx.areaName) {
    ctx.areaName(code).then((name) => { cell.textContent = name; });
  } else if (location) {
    ctx.api(`/api/grids/locate?lon=${location.lon}&lat=${location.lat}`)
      .then((found) => { cell.textContent = found.path.length ? found.path[found.path.length - 1].name : '—'; })
      .catch(() => { cell.textContent = '—'; });
  }
  return cell;
}

async function refresh() {
  const list = await ctx.call(() => ctx.api('/api/cameras'));
  if (!list) return;
  const rows = list.items.map((c) => ctx.el('tr', { dataset: { id: c.id } },
    ctx.el('td', {}, c.name || c.id), ctx.el('td', c.kind in PROTOCOLS ? { translate: 'no' } : {}, KINDS[c.kind] || c.kind),
    ctx.el('td', {}, stateDot(c.state)),
    gridCell(c.grid_code, c.location), ctx.el('td', {}, String(c.zone_count ?? 0)),
    ctx.el('td', { class: 'actions' },
      ctx.el('button', { class: 'btn', type: 'button', onclick: () => edit(c.id) }, t('admin.cameras.edit')),
      ctx.el('button', { class: 'btn danger', type: 'button', onclick: () => remove(c) }, t('admin.cameras.delete')))));
  part('rows').replaceChildren(...(rows.length ? rows
    : [ctx.el('tr', {}, ctx.el('td', { colspan: 6, class: 'muted' }, t('admin.cameras.none')))]));
}

function open(config) {
  editing = config;
  zones = config ? structuredClone(config.zones || []) : [];
  drawing = [];
  frame = null;
  const f = form();
  f.reset();
  f.elements.id.readOnly = Boolean(config);
  if (config) {
    for (const key of ['id', 'name', 'kind', 'url', 'heading', 'fov_deg', 'fps']) f.elements[key].value = config[key] ?? '';
    f.elements.lon.value = config.location.lon;
    f.elements.lat.value = config.location.lat;
    f.elements.threshold.value = config.thresholds?.default ?? '';
  }
  fillModels(f, config);
  part('title').textContent = config ? t('admin.cameras.edit_title', { name: config.name || config.id }) : t('admin.cameras.add');
  part('shot').hidden = true;
  part('zone-form').hidden = true;
  part('probe-state').textContent = '';
  part('editor').hidden = false;
  showGrid(config?.grid_code);
  renderZones();
  part('editor').scrollIntoView({ block: 'start' });
}

async function edit(id) {
  const config = await ctx.call(() => ctx.api(`/api/cameras/${encodeURIComponent(id)}/config`));
  if (config) open(config);
}

async function remove(cam) {
  if (!confirm(t('admin.cameras.delete_confirm', { name: cam.name || cam.id }))) return;
  const done = await ctx.call(() => ctx.api(`/api/cameras/${encodeURIComponent(cam.id)}`, { method: 'DELETE' }), t('admin.cameras.deleted'));
  if (done !== null) await refresh();
}

let gridCode = null;
async function showGrid(known) {
  const f = form();
  const lon = Number(f.elements.lon.value);
  const lat = Number(f.elements.lat.value);
  gridCode = known || null;
  if (!f.elements.lon.value || !f.elements.lat.value) { part('grid').textContent = t('admin.cameras.grid_of', { name: '—' }); return; }
  try {
    const found = await ctx.api(`/api/grids/locate?lon=${lon}&lat=${lat}`);
    gridCode = known || found.grid_code;
    const name = found.path.length ? found.path[found.path.length - 1].name : '';
    part('grid').textContent = t(found.fallback ? 'admin.cameras.grid_nearest' : 'admin.cameras.grid_of', { name: name || '—' });
    part('grid').dataset.code = gridCode || '';
  } catch {
    part('grid').textContent = t('admin.cameras.grid_outside');
  }
}

function body() {
  const f = form().elements;
  const num = (input) => (input.value === '' ? null : Number(input.value));
  const out = {
    id: f.id.value.trim(), name: f.name.value.trim(), kind: f.kind.value, url: f.url.value.trim(),
    location: { lon: Number(f.lon.value), lat: Number(f.lat.value) }, fps: num(f.fps) ?? 5,
    heading: num(f.heading), fov_deg: num(f.fov_deg), grid_code: gridCode, zones,
    thresholds: f.threshold.value === '' ? null : { default: Number(f.threshold.value) },
    ...readModels(form(), editing),
  };
  return out;
}

async function probe() {
  const b = body();
  const unchanged = editing && editing.url === b.url && editing.kind === b.kind;
  part('probe-state').textContent = t('admin.cameras.connecting');
  const headers = { 'Content-Type': 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch('/api/cameras/probe', {
    method: 'POST', headers, credentials: 'same-origin',
    body: JSON.stringify(unchanged ? { id: editing.id } : { kind: b.kind, url: b.url }),
  }).catch((err) => ({ ok: false, status: 0, json: async () => ({ error: err.message }) }));
  if (!res.ok) {
    const why = await res.json().catch(() => ({}));
    part('probe-state').textContent = t('admin.cameras.probe_failed', { reason: why.detail || why.error || res.status });
    return;
  }
  const [width, height] = (res.headers.get('X-Frame-Size') || '0x0').split('x').map(Number);
  frame = { width, height };
  const img = part('image');
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(await res.blob());
  part('overlay').setAttribute('viewBox', `0 0 ${width} ${height}`);
  part('shot').hidden = false;
  part('zone-form').hidden = false;
  part('probe-state').textContent = t('admin.cameras.probe_ok', { size: `${width}×${height}` });
  draw();
}

function svgNode(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function shape(points, isLine, cls) {
  const text = points.map((p) => p.join(',')).join(' ');
  return svgNode(isLine || points.length < 3 ? 'polyline' : 'polygon', { points: text, class: cls });
}

function draw() {
  const svg = part('overlay');
  const r = frame ? Math.max(frame.width, frame.height) / 150 : 4;
  const nodes = zones.map((z) => shape(z.polygon || z.line, Boolean(z.line), 'zone'));
  nodes.push(shape(drawing, part('zone').elements.shape.value === 'line', 'drawing'));
  for (const [x, y] of drawing) nodes.push(svgNode('circle', { cx: x, cy: y, r, class: 'vertex' }));
  svg.replaceChildren(...nodes);
}

function onShotClick(event) {
  if (!frame) return;
  const svg = part('overlay');
  const at = svg.createSVGPoint();
  at.x = event.clientX;
  at.y = event.clientY;
  const p = at.matrixTransform(svg.getScreenCTM().inverse());
  const clamp = (v, max) => Math.round(Math.min(Math.max(v, 0), max));
  const isLine = part('zone').elements.shape.value === 'line';
  if (isLine && drawing.length >= 2) drawing = [];
  drawing.push([clamp(p.x, frame.width), clamp(p.y, frame.height)]);
  draw();
}

function finishZone() {
  const z = part('zone').elements;
  const isLine = z.shape.value === 'line';
  const rules = [...part('zone').querySelectorAll('input[name=rule]:checked')].map((i) => i.value);
  const name = z.zone_name.value.trim();
  if (!name) return ctx.toast(t('admin.cameras.need_name'), 'error');
  if (!rules.length) return ctx.toast(t('admin.cameras.need_rule'), 'error');
  if (isLine ? drawing.length !== 2 : drawing.length < 3) {
    return ctx.toast(isLine ? t('admin.cameras.need_two') : t('admin.cameras.need_three'), 'error');
  }
  if (zones.some((x) => x.name === name)) return ctx.toast(t('admin.cameras.duplicate'), 'error');
  const zone = { name, rules, [isLine ? 'line' : 'polygon']: drawing };
  if (z.dwell_s.value) zone.dwell_s = Number(z.dwell_s.value);
  zones.push(zone);
  drawing = [];
  part('zone').reset();
  renderZones();
  draw();
  return null;
}

function renderZones() {
  part('zones').replaceChildren(...zones.map((z, i) => ctx.el('li', {},
    ctx.el('strong', {}, z.name), ' ',
    ctx.el('span', { class: 'muted' }, `${z.line ? t('admin.cameras.zone_line') : t('admin.cameras.zone_points', { n: z.polygon.length })} · ${
      z.rules.map(ruleName).join(t('admin.list_sep'))}`),
    ctx.el('button', { class: 'btn', type: 'button', onclick: () => { zones.splice(i, 1); renderZones(); draw(); } }, t('admin.btn.remove')))));
}

async function save() {
  const f = form();
  if (!f.reportValidity()) return;
  if (drawing.length) return ctx.toast(t('admin.cameras.unfinished'), 'error');
  const b = body();
  const saved = editing
    ? await ctx.call(() => ctx.api(`/api/cameras/${encodeURIComponent(editing.id)}`, { method: 'PATCH', body: b }), t('admin.cameras.saved'))
    : await ctx.call(() => ctx.api('/api/cameras', { method: 'POST', body: b }), t('admin.cameras.added'));
  if (!saved) return;
  editing = saved;
  part('editor').hidden = true;
  await refresh();
}

export async function mount(section, context) {
  ctx = context;
  root = section;
  injectStyle();
  options = await loadOptions(ctx.api);
  layout();
  part('add').addEventListener('click', () => open(null));
  part('cancel').addEventListener('click', () => { part('editor').hidden = true; });
  part('probe').addEventListener('click', probe);
  part('save').addEventListener('click', save);
  part('overlay').addEventListener('click', onShotClick);
  part('zone-done').addEventListener('click', finishZone);
  part('zone-undo').addEventListener('click', () => { drawing.pop(); draw(); });
  part('zone-clear').addEventListener('click', () => { drawing = []; draw(); });
  part('zone').elements.shape.addEventListener('change', () => { drawing = []; draw(); });
  for (const name of ['lon', 'lat']) form().elements[name].addEventListener('change', () => showGrid(null));
  form().elements.ptz_kind.addEventListener('change', () => showPtzFields(form()));
  await refresh();
  setInterval(() => { if (!document.hidden && !root.hidden && root.isConnected) refresh(); }, 5000);
}
