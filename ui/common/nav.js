// One navigation on every staff page: who is signed in (name, role, jurisdiction), the pages
// their role may open, the language, and sign-out. A page the role cannot use says so once
// and links to the right page, instead of filling with refusals.
//
//   const me = await mountNav('desk');   // null: not signed in (the sign-in form is up) or wrong role
//   if (!me) return;                     // the page stops here: nothing else is fetched
//
// `me` is /api/auth/me's answer: {username, role, jurisdiction, worker_id, display_name,
// jurisdiction_name, ...}. The bar goes into `<nav id="site-nav">` (made as the body's first
// child when the page has none); on a phone it folds behind a menu button (style.css).

import { el } from './dom.js';
import { languageButton, locale, nameOf, t } from './i18n.js';
import { api, setToken } from './live.js';
import { showLogin } from './login.js';
import { retryWithBackoff } from './retry.js';

export const PAGES = [
  { key: 'wall', href: '/wall', roles: ['officer', 'admin', 'emergency'] },
  { key: 'desk', href: '/desk', roles: ['officer', 'admin'] },
  { key: 'chats', href: '/chats', roles: ['officer', 'admin'] },  // 居民消息: the grids' service desk answers residents
  { key: 'basedata', href: '/basedata', roles: ['officer', 'admin'] },  // 人口房屋: the grids' base data
  { key: 'stats', href: '/stats', roles: ['officer', 'admin', 'emergency'] },  // 统计分析: cases by period, source, matter, area
  { key: 'costs', href: '/costs', roles: ['officer', 'admin'] },  // 成本效益: budget lines, cost per case and per resident
  { key: 'community', href: '/community', roles: ['officer', 'admin'] },  // 社区服务与论坛管理: providers, supply and demand, moderation
  { key: 'assessment', href: '/assessment', roles: ['officer', 'admin'] },  // 绩效考核: rankings, honours, appeals, the PDF
  { key: 'emergency', href: '/emergency', roles: ['officer', 'emergency', 'admin'] },
  { key: 'terminal', href: '/terminal', roles: ['worker'] },
  { key: 'admin', href: '/admin', roles: ['admin'] },
];

/** A page's name in the user's language (common.nav.page.<key>). */
export const pageName = (key) => t(`common.nav.page.${key}`);

/** The pages a role may open, in the bar's order. */
export const pagesOf = (role) => PAGES.filter((p) => p.roles.includes(role));

/** The signed-in user's area in words: its name (a worker's: their grid's district), or 全市. */
export function areaText(me) {
  return me.jurisdiction_name || me.jurisdiction || t('common.nav.whole_city');
}

export async function mountNav(pageKey) {
  const nav = navElement();
  let unauthorized = false;
  // A server that is restarting or a phone between cells: wait for it, saying so in the bar.
  const me = await retryWithBackoff(() => api('/api/auth/me'), {
    onError: (err) => {
      if (err.status >= 400 && err.status < 500) { // 401, or a session the server refuses: sign in again
        unauthorized = true;
        return false;
      }
      nav.replaceChildren(el('span', { class: 'nav-brand' }, t('common.product')),
        el('span', { class: 'nav-problem', role: 'alert' }, t('common.nav.unreachable')));
      return true;
    },
  });
  if (unauthorized || !me) {
    nav.replaceChildren(el('span', { class: 'nav-brand' }, t('common.product')));
    showLogin({});
    return null;
  }
  render(nav, me, pageKey);
  const page = PAGES.find((p) => p.key === pageKey);
  if (page && !page.roles.includes(me.role)) {
    deny(nav, me, page);
    return null;
  }
  return me;
}

function navElement() {
  let nav = document.getElementById('site-nav');
  if (!nav) {
    nav = el('nav', { id: 'site-nav' });
    document.body.prepend(nav);
  }
  nav.classList.add('site-nav');
  nav.setAttribute('aria-label', t('common.nav.label'));
  return nav;
}

function render(nav, me, pageKey) {
  const mine = pagesOf(me.role);
  const home = mine[0] ? mine[0].href : '/';
  const links = el('ul', { class: 'nav-links' }, mine.map((p) => el('li', {},
    // #admin-link: the console's link keeps the id the pages gave it before there was a bar.
    el('a', { href: p.href, id: p.key === 'admin' ? 'admin-link' : null, dataset: { page: p.key }, 'aria-current': p.key === pageKey ? 'page' : null },
      pageName(p.key)))));
  const who = el('div', { class: 'nav-user', id: 'me', dataset: { user: me.username, role: me.role } },
    // translate=no: a username is copied as is, in any language (and not "English" on a Chinese page).
    el('span', { class: 'nav-name', translate: 'no' }, me.display_name || me.username),
    el('span', { class: 'nav-role' }, nameOf('role', me.role)),
    el('span', { class: 'nav-area', title: me.jurisdiction || '' }, areaText(me)));
  const logout = el('button', { class: 'btn nav-logout', type: 'button', id: 'logout' }, t('common.nav.logout'));
  logout.addEventListener('click', () => signOut(logout));
  const body = el('div', { class: 'nav-body', id: 'nav-body' }, links, who, languageButton('btn nav-lang'), logout);
  const menu = el('button', {
    class: 'btn nav-menu', type: 'button', 'aria-controls': 'nav-body', 'aria-expanded': 'false', 'aria-label': t('common.nav.menu'),
  }, el('span', { 'aria-hidden': 'true' }, '☰'), el('span', { class: 'nav-menu-name', translate: 'no' }, me.display_name || me.username));
  menu.addEventListener('click', () => {
    const open = !nav.classList.contains('open');
    nav.classList.toggle('open', open);
    menu.setAttribute('aria-expanded', String(open));
  });
  nav.dataset.page = pageKey || '';
  nav.replaceChildren(el('a', { class: 'nav-brand', href: home }, t('common.product')), menu, body);
}

/** Signs out here (the server drops the cookie, we drop the kept token); the page then asks to sign in. */
async function signOut(button) {
  button.disabled = true;
  try {
    await api('/api/auth/logout', { method: 'POST', body: {}, timeoutMs: 5000 });
  } catch { /* signed out already, or offline: the token goes anyway */ }
  setToken('');
  location.reload();
}

/** Joins role names as people write lists: "值班员、应急队员和管理员" / "officers, … and …". */
function listOf(words) {
  try {
    return new Intl.ListFormat(locale, { style: 'long', type: 'conjunction' }).format(words);
  } catch {
    return words.join(', ');
  }
}

/**
 * The page is not for this role: one message and a link to the role's own first page, in
 * place of the page's content (the page's own `#denied`, when it has one, holds it).
 */
function deny(nav, me, page) {
  const target = pagesOf(me.role)[0];
  const text = t(target ? 'common.nav.denied' : 'common.nav.denied_nowhere', {
    page: pageName(page.key),
    roles: listOf(page.roles.map((r) => nameOf('role', r))),
    role: nameOf('role', me.role),
    target: target ? pageName(target.key) : '',
  });
  let box = document.getElementById('denied');
  if (!box) {
    box = el('main', { id: 'denied' });
    document.body.append(box);
  }
  box.className = 'nav-denied';
  box.setAttribute('role', 'alert');
  box.replaceChildren(el('p', { class: 'nav-denied-text' }, text),
    target
      ? el('a', { class: 'btn btn-primary btn-big nav-denied-go', href: target.href, dataset: { page: target.key } },
        t('common.nav.go', { page: pageName(target.key) }))
      : el('p', { class: 'muted' }, t('common.nav.no_page')));
  for (const child of document.body.children) {
    if (child !== nav && child !== box && !child.classList.contains('overlay')) child.hidden = true;
  }
  box.hidden = false;
  document.body.classList.add('nav-denied-page');
}
