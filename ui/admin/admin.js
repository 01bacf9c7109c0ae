// The admin console's shell: who is signed in, a tab bar with hash routing (#users, #roster …),
// and each tab's module loaded the first time it opens: `mod.mount(section, ctx)`. The server
// refuses what a role may not do; this shell only hides the tabs a district admin cannot use.

import { $, el } from '../common/dom.js';
import { applyI18n, fmtTime, nameOf, t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { mountNav } from '../common/nav.js';
import { toast } from '../common/util.js';

/** The roles by name (names.json), for the tabs' selects and tables. */
export const ROLES = Object.fromEntries(['officer', 'worker', 'emergency', 'admin'].map((r) => [r, nameOf('role', r)]));
const DEFAULT_TAB = 'users';

/** Runs an API call; a 401 brings up the sign-in, anything else is toasted. Null on failure. */
async function call(fn, done = '') {
  try {
    const out = await fn();
    if (done) toast(done, 'info', 2500);
    return out;
  } catch (err) {
    if (err.status === 401) showLogin({ message: t('admin.sign_in_again') });
    else toast(t('admin.failed', { reason: err.message }), 'error', 8000);
    return null;
  }
}

/** A time in the city's zone (年-月-日 时:分:秒), or — when there is none. */
const when = (iso) => fmtTime(iso);

// A jurisdiction is a grid-code prefix; pages show the area's name, so nobody reads raw codes.
const areaNames = new Map();
function areaName(prefix) {
  if (!prefix) return Promise.resolve(t('common.nav.whole_city'));
  if (!/^\d{1,15}$/.test(prefix)) return Promise.resolve(t('admin.area.digits'));
  if (!areaNames.has(prefix)) {
    areaNames.set(prefix, api(`/api/grids/${prefix.padEnd(15, '0')}`)
      .then((area) => area.name || prefix)
      .catch(() => t('admin.area.unknown')));
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
      el('p', {}, t('admin.tab_failed')),
      el('p', { class: 'muted', translate: 'no' }, `${name}.js: ${err && err.message ? err.message : err}`),
      el('button', { class: 'btn', type: 'button', onclick: () => { mounted.delete(name); show(ctx); } }, t('admin.retry'))));
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
    section.replaceChildren(el('p', { class: 'muted loading' }, t('admin.loading')));
    mounted.set(name, mountTab(name, section, ctx).finally(() => section.querySelector(':scope > .loading')?.remove()));
  }
}

async function start() {
  const me = await mountNav('admin'); // signed in as an admin, or the page says why not and stops
  if (!me) return;
  applyI18n();
  const district = Boolean(me.jurisdiction);
  document.body.classList.toggle('district-admin', district);
  for (const a of tabLinks()) a.hidden = district && a.hasAttribute('data-city-only');
  const ctx = { me, call, api, toast, el, $, when, areaName, roles: ROLES };
  $('main').hidden = false;
  window.addEventListener('hashchange', () => show(ctx));
  show(ctx);
}

start();
