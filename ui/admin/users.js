// 用户: accounts. Create (username, role, jurisdiction picked by area name, worker id for a worker,
// a given or generated password shown once), a searchable list with role and status filters and
// the last sign-in, and per account: save role/jurisdiction, disable/enable, reset the password.
// A district admin sees and manages only their district's accounts (the server scopes it).

let ctx;
let root;
const part = (name) => root.querySelector(`[data-part="${name}"]`);
const PAGE = 50;
const DIGITS = { district: 6, street: 9, community: 12, grid: 15 }; // a level's significant code digits
let offset = 0;

const userPath = (u, tail = '') => `/api/users/${encodeURIComponent(u.username)}${tail}`;

function showPassword(username, password) {
  part('secret-for').textContent = `账号 ${username} 的初始密码`;
  part('secret-value').value = password;
  part('secret').hidden = false;
  part('secret-value').select();
}

/** An input for a grid-code prefix with the area's name beside it. */
function jurisdictionInput(value, label) {
  const { el } = ctx;
  const input = el('input', {
    class: 'jurisdiction mono', value: value || '', placeholder: ctx.me.jurisdiction || '全市',
    'aria-label': '辖区（网格编码前缀）', inputmode: 'numeric', list: 'admin-areas',
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
  const password = prompt(`为 ${u.username} 设置新密码（至少 8 位；留空则由系统生成）：`, '');
  if (password === null) return;
  const body = password ? { password } : {};
  const out = await ctx.call(() => ctx.api(userPath(u, '/reset-password'), { method: 'POST', body }), '密码已重置，旧令牌已失效');
  if (out && out.password) showPassword(u.username, out.password);
}

function roleSelect(selected) {
  const { el, roles } = ctx;
  return el('select', { 'aria-label': '角色' },
    Object.entries(roles).map(([value, label]) => el('option', { value, selected: value === selected }, label)));
}

function userRow(u) {
  const { el, call, api, when } = ctx;
  const role = roleSelect(u.role);
  const jurisdiction = jurisdictionInput(u.jurisdiction);
  const save = el('button', { class: 'btn', type: 'button' }, '保存');
  save.addEventListener('click', async () => {
    const body = { role: role.value, jurisdiction: jurisdiction.querySelector('input').value.trim() };
    await call(() => api(userPath(u), { method: 'PATCH', body }), '已保存，旧令牌已失效');
    loadUsers();
  });
  const self = u.username === ctx.me.username;
  const toggle = el('button', { class: u.disabled ? 'btn btn-ok' : 'btn btn-danger', type: 'button', disabled: self },
    u.disabled ? '启用' : '停用');
  toggle.addEventListener('click', async () => {
    const action = u.disabled ? 'enable' : 'disable';
    if (action === 'disable' && !confirm(`停用 ${u.username}？其所有会话将立即断开。`)) return;
    await call(() => api(userPath(u, `/${action}`), { method: 'POST', body: {} }), u.disabled ? '已启用' : '已停用');
    loadUsers();
  });
  const reset = el('button', { class: 'btn', type: 'button' }, '重置密码');
  reset.addEventListener('click', () => resetPassword(u));
  const login = u.last_login_at ? `${when(u.last_login_at)}${u.last_login_ip ? ` · ${u.last_login_ip}` : ''}` : '从未登录';
  return el('tr', { class: u.disabled ? 'revoked' : '', dataset: { user: u.username } },
    // A worker's account is named by its worker (its username is their worker id: shown on hover);
    // translate=no: usernames are copied as is, in any language.
    u.worker_name && u.username === u.worker_id
      ? el('td', { title: u.username }, u.worker_name)
      : el('td', { class: 'mono', translate: 'no' }, u.username),
    el('td', {}, role),
    el('td', {}, jurisdiction),
    u.worker_name ? el('td', { title: u.worker_id }, u.worker_name) : el('td', { class: 'mono', translate: 'no' }, u.worker_id || '—'),
    el('td', {}, u.disabled ? '已停用' : '正常'),
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
    : [el('tr', {}, el('td', { colspan: 7, class: 'muted' }, '没有符合条件的账号'))]));
  const last = Math.min(out.total, offset + out.items.length);
  part('page').textContent = out.total ? `第 ${offset + 1}–${last} 个，共 ${out.total} 个` : '共 0 个';
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
  const made = await ctx.call(() => ctx.api('/api/users', { method: 'POST', body }), `已创建 ${body.username}`);
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
    <section class="panel secret-panel" data-part="secret" hidden aria-label="一次性密码">
      <div class="panel-head"><h2>一次性密码</h2></div>
      <div class="panel-body">
        <p><strong>请立即交给该用户。此密码只显示这一次</strong>，用户登录后可自行修改。</p>
        <p class="muted" data-part="secret-for"></p>
        <div class="secret-row">
          <input class="mono" data-part="secret-value" readonly aria-label="初始密码">
          <button class="btn" type="button" data-part="secret-done">我已保存</button>
        </div>
      </div>
    </section>
    <section class="panel" aria-label="新建用户">
      <div class="panel-head"><h2>新建用户</h2>
        <span class="muted hint">${own ? '只能创建本辖区内的账号' : '辖区留空为全市'}</span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="create" autocomplete="off">
          <label>用户名<input name="username" required maxlength="64" pattern="[A-Za-z0-9_.@\\-]+"></label>
          <label>角色<select name="role" data-part="create-role"></select></label>
          <label data-part="jurisdiction-field">辖区</label>
          <label data-part="worker-field" hidden>网格员编号<input name="worker_id" maxlength="64"></label>
          <label>初始密码<input name="password" type="password" minlength="8" maxlength="256" placeholder="留空则自动生成"></label>
          <button class="btn btn-primary" type="submit">创建</button>
        </form>
        <datalist id="admin-areas" data-part="areas"></datalist>
      </div>
    </section>
    <section class="panel" aria-label="用户账号">
      <div class="panel-head"><h2>用户账号</h2>
        <span class="muted hint">停用、重置密码、修改角色或辖区后，该用户已签发的令牌立即失效</span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="filter" role="search">
          <label>搜索<input name="q" type="search" placeholder="用户名或网格员编号" maxlength="64"></label>
          <label>角色<select name="role"><option value="">全部</option></select></label>
          <label>状态<select name="status"><option value="">全部</option><option value="active">正常</option>
            <option value="disabled">已停用</option></select></label>
        </form>
        <div class="table-wrap"><table class="admin-table">
          <thead><tr><th>用户名</th><th>角色</th><th>辖区</th><th>网格员编号</th><th>状态</th><th>最近登录</th><th>操作</th></tr></thead>
          <tbody data-part="users"></tbody>
        </table></div>
        <div class="pager"><button class="btn" type="button" data-part="prev">上一页</button>
          <span class="muted" data-part="page"></span><button class="btn" type="button" data-part="next">下一页</button></div>
      </div>
    </section>`;
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
