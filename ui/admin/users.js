// 用户: accounts. Create (username, role, jurisdiction picked by area name, worker id for a worker,
// a given or generated password shown once), a searchable list with role and status filters and
// the last sign-in, and per account: save role/jurisdiction, disable/enable, reset the password.
// A district admin sees and manages only their district's accounts (the server scopes it).

import { applyI18n, t } from '../common/i18n.js';

let ctx;
let root;
const part = (name) => root.querySelector(`[data-part="${name}"]`);
const PAGE = 50;
const DIGITS = { district: 6, street: 9, community: 12, grid: 15 }; // a level's significant code digits
let offset = 0;

const userPath = (u, tail = '') => `/api/users/${encodeURIComponent(u.username)}${tail}`;

function showPassword(username, password) {
  part('secret-for').textContent = t('admin.users.secret_for', { user: username });
  part('secret-value').value = password;
  part('secret').hidden = false;
  part('secret-value').select();
}

/** An input for a grid-code prefix with the area's name beside it. */
function jurisdictionInput(value, label) {
  const { el } = ctx;
  const input = el('input', {
    class: 'jurisdiction mono', value: value || '', placeholder: ctx.me.jurisdiction || t('common.nav.whole_city'),
    'aria-label': t('admin.users.jurisdiction_aria'), inputmode: 'numeric', list: 'admin-areas',
  });
  const name = el('span', { class: 'area-name', 'data-part': 'area-name' });
  const refresh = () => {
    const prefix = input.value.trim();
    ctx.areaName(prefix).then((n) => { if (input.value.trim() === prefix) name.textContent = n; });
  };
  input.addEventListener('input', refresh);
  refresh();
  return el('span', { class: 'jurisdiction-pick' }, label ? el('span', {}, label) : null, input, name);
}

async function resetPassword(u) {
  const password = prompt(t('admin.users.reset_prompt', { user: u.username }), '');
  if (password === null) return;
  const body = password ? { password } : {};
  const out = await ctx.call(() => ctx.api(userPath(u, '/reset-password'), { method: 'POST', body }), t('admin.users.reset_done'));
  if (out && out.password) showPassword(u.username, out.password);
}

function roleSelect(selected) {
  const { el, roles } = ctx;
  return el('select', { 'aria-label': t('admin.users.role') },
    Object.entries(roles).map(([value, label]) => el('option', { value, selected: value === selected }, label)));
}

function userRow(u) {
  const { el, call, api, when } = ctx;
  const role = roleSelect(u.role);
  const jurisdiction = jurisdictionInput(u.jurisdiction);
  const save = el('button', { class: 'btn', type: 'button' }, t('admin.btn.save'));
  save.addEventListener('click', async () => {
    const body = { role: role.value, jurisdiction: jurisdiction.querySelector('input').value.trim() };
    await call(() => api(userPath(u), { method: 'PATCH', body }), t('admin.users.saved'));
    loadUsers();
  });
  const self = u.username === ctx.me.username;
  const toggle = el('button', { class: u.disabled ? 'btn btn-ok' : 'btn btn-danger', type: 'button', disabled: self },
    u.disabled ? t('admin.users.enable') : t('admin.users.disable'));
  toggle.addEventListener('click', async () => {
    const action = u.disabled ? 'enable' : 'disable';
    if (action === 'disable' && !confirm(t('admin.users.disable_confirm', { user: u.username }))) return;
    await call(() => api(userPath(u, `/${action}`), { method: 'POST', body: {} }),
      u.disabled ? t('admin.users.enabled') : t('admin.users.disabled'));
    loadUsers();
  });
  const reset = el('button', { class: 'btn', type: 'button' }, t('admin.users.reset'));
  reset.addEventListener('click', () => resetPassword(u));
  const login = u.last_login_at ? `${when(u.last_login_at)}${u.last_login_ip ? ` · ${u.last_login_ip}` : ''}` : t('admin.users.never');
  return el('tr', { class: u.disabled ? 'revoked' : '', dataset: { user: u.username } },
    // A worker's account is named by its worker (its username is their worker id: shown on hover);
    // translate=no: usernames are copied as is, in any language.
    u.worker_name && u.username === u.worker_id
      ? el('td', { title: u.username }, u.worker_name)
      : el('td', { class: 'mono', translate: 'no' }, u.username),
    el('td', {}, role),
    el('td', {}, jurisdiction),
    u.worker_name ? el('td', { title: u.worker_id }, u.worker_name) : el('td', { class: 'mono', translate: 'no' }, u.worker_id || '—'),
    el('td', {}, u.disabled ? t('admin.users.status.disabled') : t('admin.users.status.active')),
    el('td', { class: 'last-login' }, login),
    el('td', {}, el('div', { class: 'actions' }, save, toggle, reset)));
}

function query() {
  const form = part('filter');
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  for (const key of ['q', 'role', 'status']) {
    const value = form.elements[key].value.trim();
    if (value) params.set(key, value);
  }
  return params.toString();
}

async function loadUsers() {
  const out = await ctx.call(() => ctx.api(`/api/users?${query()}`));
  if (!out) return;
  const { el } = ctx;
  part('users').replaceChildren(...(out.items.length ? out.items.map(userRow)
    : [el('tr', {}, el('td', { colspan: 7, class: 'muted' }, t('admin.users.none')))]));
  const last = Math.min(out.total, offset + out.items.length);
  part('page').textContent = out.total
    ? t('admin.users.page', { from: offset + 1, to: last, total: out.total }) : t('admin.users.page_empty');
  part('prev').disabled = offset === 0;
  part('next').disabled = last >= out.total;
}

async function create(ev) {
  ev.preventDefault();
  const f = ev.target;
  const body = {
    username: f.elements.username.value.trim(),
    role: f.elements.role.value,
    jurisdiction: f.querySelector('.jurisdiction').value.trim(),
  };
  if (body.role === 'worker') body.worker_id = f.elements.worker_id.value.trim();
  const password = f.elements.password.value;
  if (password) body.password = password;
  const made = await ctx.call(() => ctx.api('/api/users', { method: 'POST', body }), t('admin.users.created', { user: body.username }));
  if (!made) return;
  if (made.password) showPassword(made.username, made.password);
  f.reset();
  f.querySelector('.jurisdiction').value = ctx.me.jurisdiction || '';
  f.querySelector('.jurisdiction').dispatchEvent(new Event('input'));
  loadUsers();
}

/** The areas a jurisdiction may be picked from by name: the admin's own area and its children. */
async function loadAreas() {
  const own = ctx.me.jurisdiction;
  const code = own ? own.padEnd(15, '0') : null;
  const top = code ? await ctx.api(`/api/grids/${code}`).catch(() => null) : null;
  const { el } = ctx;
  const options = [];
  if (top) options.push(el('option', { value: own }, top.name));
  let children = top ? top.children : [];
  if (!own) {
    const city = await ctx.api('/api/grids?levels=district').catch(() => null);
    children = (city && (city.features || city.areas || [])).map((f) => f.properties || f);
  }
  for (const c of children || []) {
    if (c.code && DIGITS[c.level]) options.push(el('option', { value: c.code.slice(0, DIGITS[c.level]) }, c.name));
  }
  part('areas').replaceChildren(...options);
}

function layout() {
  const own = ctx.me.jurisdiction;
  root.innerHTML = `
    <section class="panel secret-panel" data-part="secret" hidden data-i18n-aria-label="admin.users.secret_title">
      <div class="panel-head"><h2 data-i18n="admin.users.secret_title"></h2></div>
      <div class="panel-body">
        <p><strong data-i18n="admin.users.secret_warn"></strong><span data-i18n="admin.users.secret_note"></span></p>
        <p class="muted" data-part="secret-for"></p>
        <div class="secret-row">
          <input class="mono" data-part="secret-value" readonly data-i18n-aria-label="admin.users.password">
          <button class="btn" type="button" data-part="secret-done" data-i18n="admin.users.secret_done"></button>
        </div>
      </div>
    </section>
    <section class="panel" data-i18n-aria-label="admin.users.new">
      <div class="panel-head"><h2 data-i18n="admin.users.new"></h2>
        ${own ? '<span class="muted hint" data-i18n="admin.users.hint_district"></span>'
    : '<span class="muted hint" data-i18n="admin.users.hint_city"></span>'}</div>
      <div class="panel-body">
        <form class="admin-form" data-part="create" autocomplete="off">
          <label><span data-i18n="admin.users.username"></span><input name="username" required maxlength="64" pattern="[A-Za-z0-9_.@\\-]+"></label>
          <label><span data-i18n="admin.users.role"></span><select name="role" data-part="create-role"></select></label>
          <label data-part="jurisdiction-field"><span data-i18n="admin.users.jurisdiction"></span></label>
          <label data-part="worker-field" hidden><span data-i18n="admin.users.worker_id"></span><input name="worker_id" maxlength="64"></label>
          <label><span data-i18n="admin.users.password"></span><input name="password" type="password" minlength="8" maxlength="256"
            data-i18n-placeholder="admin.users.password_auto"></label>
          <button class="btn btn-primary" type="submit" data-i18n="admin.btn.create"></button>
        </form>
        <datalist id="admin-areas" data-part="areas"></datalist>
      </div>
    </section>
    <section class="panel" data-i18n-aria-label="admin.users.accounts">
      <div class="panel-head"><h2 data-i18n="admin.users.accounts"></h2>
        <span class="muted hint" data-i18n="admin.users.accounts_hint"></span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="filter" role="search">
          <label><span data-i18n="admin.users.search"></span><input name="q" type="search" data-i18n-placeholder="admin.users.search_hint"
            maxlength="64"></label>
          <label><span data-i18n="admin.users.role"></span><select name="role"><option value="" data-i18n="admin.all"></option></select></label>
          <label><span data-i18n="admin.users.status"></span><select name="status"><option value="" data-i18n="admin.all"></option>
            <option value="active" data-i18n="admin.users.status.active"></option>
            <option value="disabled" data-i18n="admin.users.status.disabled"></option></select></label>
        </form>
        <div class="table-wrap"><table class="admin-table">
          <thead><tr><th data-i18n="admin.users.username"></th><th data-i18n="admin.users.role"></th>
            <th data-i18n="admin.users.jurisdiction"></th><th data-i18n="admin.users.worker_id"></th>
            <th data-i18n="admin.users.status"></th><th data-i18n="admin.users.last_login"></th>
            <th data-i18n="admin.users.actions"></th></tr></thead>
          <tbody data-part="users"></tbody>
        </table></div>
        <div class="pager"><button class="btn" type="button" data-part="prev" data-i18n="admin.pager.prev"></button>
          <span class="muted" data-part="page"></span>
          <button class="btn" type="button" data-part="next" data-i18n="admin.pager.next"></button></div>
      </div>
    </section>`;
  applyI18n(root);
}

function wire() {
  const { el, roles } = ctx;
  const createRole = part('create-role');
  const filterRole = part('filter').elements.role;
  for (const [value, label] of Object.entries(roles)) {
    createRole.append(el('option', { value, selected: value === 'officer' }, label));
    filterRole.append(el('option', { value }, label));
  }
  const pick = jurisdictionInput(ctx.me.jurisdiction || '');
  part('jurisdiction-field').append(pick);
  createRole.addEventListener('change', () => { part('worker-field').hidden = createRole.value !== 'worker'; });
  part('create').addEventListener('submit', create);
  part('secret-done').addEventListener('click', () => { part('secret-value').value = ''; part('secret').hidden = true; });
  let timer = 0;
  part('filter').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { offset = 0; loadUsers(); }, 250);
  });
  part('filter').addEventListener('submit', (ev) => ev.preventDefault());
  part('prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); loadUsers(); });
  part('next').addEventListener('click', () => { offset += PAGE; loadUsers(); });
}

export async function mount(section, context) {
  root = section;
  ctx = context;
  offset = 0;
  layout();
  wire();
  await Promise.all([loadUsers(), loadAreas().catch(() => {})]);
}
