// The admin page: devices' publish keys (make, rotate, revoke; a secret is shown once) and user
// accounts (disable, enable, reset the password, change role and jurisdiction). Every call
// is admin-only on the server; this page only lays them out.

import { $, el } from '../common/dom.js';
import { api } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { toast } from '../common/util.js';

const ROLES = { officer: '值班员', worker: '网格员', emergency: '应急', admin: '管理员' };

function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString('zh-CN', { hour12: false });
}

/** Runs an API call; a 401 brings up the sign-in, anything else is toasted. */
async function call(fn, done = '') {
  try {
    const out = await fn();
    if (done) toast(done, 'info', 2500);
    return out;
  } catch (err) {
    if (err.status === 401) showLogin({ message: '请重新登录' });
    else toast(`失败：${err.message}`, 'error', 8000);
    return null;
  }
}

// ---- publish keys ----

function showSecret(key) {
  $('secret-for').textContent = `「${key.name}」· ${key.stream}`;
  $('secret-value').value = key.token;
  $('secret').hidden = false;
  $('secret-value').select();
}

function hideSecret() {
  $('secret-value').value = '';
  $('secret').hidden = true;
}

function keyRow(key) {
  const rotate = el('button', { class: 'btn', type: 'button' }, '轮换');
  const revoke = el('button', { class: 'btn btn-danger', type: 'button' }, '吊销');
  rotate.addEventListener('click', async () => {
    if (!confirm(`轮换「${key.name}」的密钥？旧密钥立即失效，正在推流的设备会断开。`)) return;
    const made = await call(() => api(`/api/publish-keys/${encodeURIComponent(key.id)}/rotate`, { method: 'POST' }), '已轮换');
    if (made) showSecret(made);
    loadKeys();
  });
  revoke.addEventListener('click', async () => {
    if (!confirm(`吊销「${key.name}」？此操作不可撤销，正在推流的设备会断开。`)) return;
    await call(() => api(`/api/publish-keys/${encodeURIComponent(key.id)}`, { method: 'DELETE' }), '已吊销');
    loadKeys();
  });
  return el('tr', { class: key.active ? '' : 'revoked', dataset: { id: key.id } },
    el('td', {}, key.name),
    el('td', { class: 'mono' }, key.stream),
    el('td', {}, key.note || ''),
    el('td', {}, `${when(key.created_at)} · ${key.created_by}`),
    el('td', {}, when(key.rotated_at)),
    el('td', {}, key.active ? '有效' : `已吊销 ${when(key.revoked_at)}`),
    el('td', {}, el('div', { class: 'actions' }, key.active ? [rotate, revoke] : [])));
}

async function loadKeys() {
  const out = await call(() => api('/api/publish-keys'));
  if (!out) return;
  $('keys').replaceChildren(...(out.items.length ? out.items.map(keyRow)
    : [el('tr', {}, el('td', { colspan: 7, class: 'muted' }, '还没有发布密钥'))]));
}

async function loadStreams() {
  const out = await call(() => api('/api/cameras'));
  if (!out) return;
  $('streams').replaceChildren(...out.items.map((c) => el('option', { value: c.id }, c.name || c.id)));
}

$('key-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const body = {
    name: form.elements.name.value.trim(),
    stream: form.elements.stream.value.trim(),
    note: form.elements.note.value.trim(),
  };
  const made = await call(() => api('/api/publish-keys', { method: 'POST', body }), '已生成');
  if (made) {
    form.reset();
    showSecret(made);
    loadKeys();
  }
});

$('secret-copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText($('secret-value').value);
    toast('已复制', 'info', 2000);
  } catch {
    $('secret-value').select(); // no clipboard access: selected for Ctrl+C
  }
});
$('secret-done').addEventListener('click', hideSecret);

// ---- users ----

const userPath = (u, tail = '') => `/api/users/${encodeURIComponent(u.username)}${tail}`;

async function resetPassword(u) {
  const password = prompt(`为 ${u.username} 设置新密码（至少 8 位；留空则由系统生成）：`, '');
  if (password === null) return;
  const body = password ? { password } : {};
  const out = await call(() => api(userPath(u, '/reset-password'), { method: 'POST', body }), '密码已重置，旧令牌已失效');
  if (out && out.password) alert(`${u.username} 的新密码（只显示这一次）：\n\n${out.password}`);
}

// A jurisdiction is a grid-code prefix; beside it the area's name, so nobody reads raw codes.
const areaNames = new Map();
async function areaName(prefix) {
  if (!prefix) return '全市';
  if (!/^\d{1,15}$/.test(prefix)) return '编码应为数字';
  if (!areaNames.has(prefix)) {
    areaNames.set(prefix, api(`/api/grids/${prefix.padEnd(15, '0')}`)
      .then((area) => area.name || prefix)
      .catch(() => '未知辖区'));
  }
  return areaNames.get(prefix);
}

function showAreaName(input, label) {
  const prefix = input.value.trim();
  areaName(prefix).then((name) => { if (input.value.trim() === prefix) label.textContent = name; });
}

function userRow(u, me) {
  const role = el('select', { 'aria-label': '角色' },
    Object.entries(ROLES).map(([value, label]) => el('option', { value, selected: value === u.role }, label)));
  const jurisdiction = el('input', {
    class: 'jurisdiction mono', value: u.jurisdiction || '', placeholder: '全市', 'aria-label': '辖区（网格编码前缀）',
  });
  const areaLabel = el('span', { class: 'area-name' });
  showAreaName(jurisdiction, areaLabel);
  jurisdiction.addEventListener('input', () => showAreaName(jurisdiction, areaLabel));
  const save = el('button', { class: 'btn', type: 'button' }, '保存');
  save.addEventListener('click', async () => {
    const body = { role: role.value, jurisdiction: jurisdiction.value.trim() };
    await call(() => api(userPath(u), { method: 'PATCH', body }), '已保存，旧令牌已失效');
    loadUsers();
  });
  const toggle = el('button', { class: u.disabled ? 'btn btn-ok' : 'btn btn-danger', type: 'button', disabled: u.username === me },
    u.disabled ? '启用' : '停用');
  toggle.addEventListener('click', async () => {
    const action = u.disabled ? 'enable' : 'disable';
    if (action === 'disable' && !confirm(`停用 ${u.username}？其所有会话将立即断开。`)) return;
    await call(() => api(userPath(u, `/${action}`), { method: 'POST', body: {} }), u.disabled ? '已启用' : '已停用');
    loadUsers();
  });
  const reset = el('button', { class: 'btn', type: 'button' }, '重置密码');
  reset.addEventListener('click', () => resetPassword(u));
  return el('tr', { class: u.disabled ? 'revoked' : '', dataset: { user: u.username } },
    el('td', { class: 'mono' }, u.username),
    el('td', {}, role),
    el('td', {}, jurisdiction, areaLabel),
    el('td', { class: 'mono' }, u.worker_id || '—'),
    el('td', {}, u.disabled ? '已停用' : '正常'),
    el('td', {}, el('div', { class: 'actions' }, save, toggle, reset)));
}

async function loadUsers(me) {
  const out = await call(() => api('/api/users?limit=1000'));
  if (!out) return;
  const who = me || $('me').dataset.user;
  $('users').replaceChildren(...out.items.map((u) => userRow(u, who)));
}

// ---- start ----

async function start() {
  let me;
  try {
    me = await api('/api/auth/me');
  } catch (err) {
    if (err.status === 401) showLogin({ message: '管理页面需要管理员登录' });
    else toast(`无法连接：${err.message}`, 'error', 8000);
    return;
  }
  $('me').textContent = `${me.username}（${ROLES[me.role] || me.role}）`;
  $('me').dataset.user = me.username;
  if (me.role !== 'admin') {
    $('denied').hidden = false;
    return;
  }
  $('main').hidden = false;
  await Promise.all([loadKeys(), loadStreams(), loadUsers(me.username)]);
}

start();
