// The admin console's shell: who is signed in, a tab bar with hash routing (#users, #roster …),
// and each tab's module loaded the first time it opens: `mod.mount(section, ctx)`. The server
// refuses what a role may not do; this shell only hides the tabs a district admin cannot use.

import { $, el } from '../common/dom.js';
import { api } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { toast } from '../common/util.js';

export const ROLES = { officer: '值班员', worker: '网格员', emergency: '应急', admin: '管理员' };
const DEFAULT_TAB = 'users';

/** Runs an API call; a 401 brings up the sign-in, anything else is toasted. Null on failure. */
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

/** A time as local 年-月-日 时:分:秒, or — when there is none. */
function when(iso) {
  if (!iso) return '—';
  const d = typeof iso === 'number' ? new Date(iso * 1000) : new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString('zh-CN', { hour12: false });
}

// A jurisdiction is a grid-code prefix; pages show the area's name, so nobody reads raw codes.
const areaNames = new Map();
function areaName(prefix) {
  if (!prefix) return Promise.resolve('全市');
  if (!/^\d{1,15}$/.test(prefix)) return Promise.resolve('编码应为数字');
  if (!areaNames.has(prefix)) {
    areaNames.set(prefix, api(`/api/grids/${prefix.padEnd(15, '0')}`)
      .then((area) => area.name || prefix)
      .catch(() => '未知辖区'));
  }
  return areaNames.get(prefix);
}

const mounted = new Map(); // tab → its mount's promise

function tabLinks() {
  return [...$('tabs').querySelectorAll('a[data-tab]')];
}

function visibleTabs() {
  return tabLinks().filter((a) => !a.hidden).map((a) => a.dataset.tab);
}

async function mountTab(name, section, ctx) {
  try {
    const mod = await import(`./${name}.js`);
    await mod.mount(section, ctx);
  } catch (err) {
    console.error(`admin tab ${name}`, err);
    section.replaceChildren(el('div', { class: 'panel tab-failed', role: 'alert' },
      el('p', {}, '此功能暂时无法加载。'),
      el('p', { class: 'muted' }, `模块 ${name}.js：${err && err.message ? err.message : err}`),
      el('button', { class: 'btn', type: 'button', onclick: () => { mounted.delete(name); show(ctx); } }, '重试')));
  }
}

/** Shows the tab named by the hash (or the first one), mounting it on first sight. */
function show(ctx) {
  const wanted = location.hash.replace(/^#/, '');
  const tabs = visibleTabs();
  const name = tabs.includes(wanted) ? wanted : (tabs.includes(DEFAULT_TAB) ? DEFAULT_TAB : tabs[0]);
  for (const a of tabLinks()) {
    const on = a.dataset.tab === name;
    a.classList.toggle('active', on);
    a.setAttribute('aria-selected', on ? 'true' : 'false');
    $(`tab-${a.dataset.tab}`).hidden = !on;
  }
  const section = $(`tab-${name}`);
  if (!mounted.has(name)) {
    section.replaceChildren(el('p', { class: 'muted loading' }, '加载中…'));
    mounted.set(name, mountTab(name, section, ctx).finally(() => section.querySelector(':scope > .loading')?.remove()));
  }
}

async function logout() {
  try {
    await api('/api/auth/logout', { method: 'POST', body: {} });
  } catch { /* signed out already: the reload shows the sign-in */ }
  try { localStorage.removeItem('cc.token'); } catch { /* storage disabled */ }
  location.reload();
}

async function start() {
  let me;
  try {
    me = await api('/api/auth/me');
  } catch (err) {
    if (err.status === 401) showLogin({ message: '管理页面需要管理员登录' });
    else toast(`无法连接：${err.message}`, 'error', 8000);
    return;
  }
  const label = $('me');
  label.dataset.user = me.username;
  label.textContent = `${me.username}（${ROLES[me.role] || me.role}）`;
  areaName(me.jurisdiction).then((name) => { label.textContent = `${me.username}（${ROLES[me.role] || me.role} · ${name}）`; });
  $('logout').hidden = false;
  $('logout').addEventListener('click', logout);
  if (me.role !== 'admin') {
    $('denied').hidden = false;
    return;
  }
  const district = Boolean(me.jurisdiction);
  document.body.classList.toggle('district-admin', district);
  for (const a of tabLinks()) a.hidden = district && a.hasAttribute('data-city-only');
  const ctx = { me, call, api, toast, el, $, when, areaName, roles: ROLES };
  $('main').hidden = false;
  window.addEventListener('hashchange', () => show(ctx));
  show(ctx);
}

start();
