// The pages' words: one message catalogue per language (ui/i18n/<lang>/*.json, served merged
// by GET /api/i18n/<lang>), Simplified Chinese unless the user chose English (kept in
// localStorage `cc.lang`). Loaded once with top-level await, so a page module that imports
// this one can call t() synchronously from its first line.
//
//   t('common.product')                  → 网格指挥中心
//   t('common.span.minutes', { m: 3 })   → 3 分钟   (the message holds "{m}")
//   nameOf('rule', 'illegal_parking')    → 违章停车 (the identifier itself if unnamed)
//   applyI18n(root)                      → fills [data-i18n], [data-i18n-title],
//                                          [data-i18n-placeholder], [data-i18n-aria-label]
//
// Times are shown in the city's zone (Asia/Shanghai unless /api/settings says otherwise).

const LANG_KEY = 'cc.lang';
export const LANGUAGES = { zh: '中文', en: 'English' };

function chosen() {
  try {
    const stored = localStorage.getItem(LANG_KEY);
    if (stored && stored in LANGUAGES) return stored;
  } catch { /* storage disabled: the default */ }
  return 'zh';
}

export const lang = chosen();
export const locale = lang === 'zh' ? 'zh-CN' : 'en-GB';
export let timeZone = 'Asia/Shanghai';

async function load(code) {
  try {
    const res = await fetch(`/api/i18n/${code}`, { headers: { Accept: 'application/json' } });
    // The city's time zone (dispatch.timezone) comes with the catalogue: every page shows times in it.
    const zone = res.headers.get('X-Time-Zone');
    if (zone) timeZone = zone;
    if (res.ok) return await res.json();
  } catch { /* offline: keys show, the page still works */ }
  return {};
}

const messages = await load(lang);
document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';

/** The message of `key`, with `{name}` placeholders filled from `vars`; the key if missing. */
export function t(key, vars) {
  let text = messages[key];
  if (text == null) {
    if (!missing.has(key)) { missing.add(key); console.warn(`i18n: no ${lang} message for ${key}`); }
    text = key;
  }
  if (vars) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  return text;
}
const missing = new Set();
/** Keys asked for that the catalogue lacks (the coverage test reads it). */
export const missingKeys = () => [...missing];

/** Whether the catalogue has a message for `key`. */
export const has = (key) => key in messages;

/** A name for an identifier of a kind (rule, label, zone, state, urgency, source, action, role,
 *  emclass, event, actor); `fallback` (e.g. a server-given name) before the bare identifier. */
export function nameOf(kind, key, fallback) {
  if (key == null || key === '') return fallback || '';
  const k = `${kind}.${key}`;
  return k in messages ? messages[k] : (fallback || String(key));
}

/** A matter's name: in Chinese the city's own (`name`, from the server: a city or district
 *  may name its matters its way); in another language the catalogue's (common.matter.<code>)
 *  where it has one. */
export function matterName(code, name) {
  if (lang === 'zh' || code == null) return name || String(code || '');
  return nameOf('common.matter', code, name);
}

/** A matter class's name (a group of matters), from the class number (the code's first two digits). */
export function matterClassName(code, name) {
  if (lang === 'zh' || code == null) return name || '';
  return nameOf('common.matter_class', String(code).slice(0, 2), name);
}

/** Fill the translatable attributes under `root` (static HTML marks its words this way). */
export function applyI18n(root = document) {
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const [attr, data] of [['title', 'i18nTitle'], ['placeholder', 'i18nPlaceholder'], ['aria-label', 'i18nAriaLabel']]) {
    for (const node of root.querySelectorAll(`[data-${attr === 'aria-label' ? 'i18n-aria-label' : `i18n-${attr}`}]`)) {
      node.setAttribute(attr, t(node.dataset[data]));
    }
  }
  const title = document.querySelector('title[data-i18n]');
  if (title) document.title = t(title.dataset.i18n);
}

/** Switch language: kept, and the page reloads in it. */
export function setLang(code) {
  if (!(code in LANGUAGES)) return;
  try { localStorage.setItem(LANG_KEY, code); } catch { /* not kept: this page only */ }
  location.reload();
}

/** A button that switches to the other language (its label is that language's own name):
 *  the public pages' small switch; the staff pages have it in their navigation. */
export function languageButton(className = 'lang-switch') {
  const other = lang === 'zh' ? 'en' : 'zh';
  const button = document.createElement('button');
  button.type = 'button';
  button.className = className;
  button.lang = other === 'zh' ? 'zh-CN' : 'en';
  button.dataset.lang = other;
  button.textContent = LANGUAGES[other];
  button.addEventListener('click', () => setLang(other));
  return button;
}

/** A time in the city's zone: 'datetime' (default), 'date', 'time' or 'short' (月-日 时:分). */
export function fmtTime(value, style = 'datetime') {
  if (value == null || value === '') return '—';
  const d = value instanceof Date ? value : new Date(typeof value === 'number' && value < 1e12 ? value * 1000 : value);
  if (Number.isNaN(d.getTime())) return String(value);
  const opts = { timeZone, hour12: false };
  if (style === 'date' || style === 'datetime') Object.assign(opts, { year: 'numeric', month: '2-digit', day: '2-digit' });
  if (style === 'short') Object.assign(opts, { month: '2-digit', day: '2-digit' });
  if (style !== 'date') Object.assign(opts, { hour: '2-digit', minute: '2-digit' });
  if (style === 'datetime' || style === 'time') opts.second = '2-digit';
  return d.toLocaleString(locale, opts);
}

/** Use the city's configured zone for fmtTime (pages call it once they know it). */
export function setTimeZone(zone) {
  if (zone) timeZone = zone;
}
