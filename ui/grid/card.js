// What the grid card page and its poster share: the grid code from the address, the card from
// the public API (/api/public/grids/<code>), and one worker's avatar, for residents (Chinese
// unless they chose English: grid.* in the catalogue).
// Public: no sign-in, no token; plain fetch so that no login overlay can appear.

import { el } from '../common/dom.js';
import { applyI18n, fmtTime, languageButton, t } from '../common/i18n.js';

/** A worker's kind (专职/兼职) and level in words ('' when the card has none). */
export const kindOf = (kind) => (kind ? t(`grid.kind.${kind === 'full_time' ? 'full_time' : 'part_time'}`) : '');
export const levelOf = (level) => (level === 'professional' || level === 'basic' ? t(`grid.level.${level}`) : '');

/** The page's fixed words and its language switch. */
export function setupPage() {
  applyI18n();
  const slot = document.getElementById('lang');
  if (slot) slot.append(languageButton('lang-switch'));
}

/** The grid code in /grid/<code> or /grid/<code>/poster ('' when missing). */
export function gridCode(pathname = location.pathname) {
  try {
    return decodeURIComponent(pathname.split('/')[2] || '');
  } catch {
    return '';
  }
}

/** Resolves to the card; rejects with an Error whose message is for residents to read. */
export async function loadCard(code) {
  if (!code) throw new Error(t('grid.error.no_code'));
  let res;
  try {
    res = await fetch(`/api/public/grids/${encodeURIComponent(code)}`, { headers: { Accept: 'application/json' } });
  } catch {
    throw new Error(t('grid.error.network'));
  }
  if (res.ok) return res.json();
  const body = await res.json().catch(() => ({}));
  if (res.status === 404 && body.error === 'not a grid') throw new Error(t('grid.error.not_a_grid', { code }));
  if (res.status === 404) throw new Error(t('grid.error.not_found', { code }));
  throw new Error(t('grid.error.failed', { status: res.status }));
}

/** Two characters for an avatar: a Chinese name's last two, else the initials of its words. */
export function initials(name) {
  const text = String(name || '').trim();
  if (/[\u3400-\u9fff]/.test(text)) return text.replace(/\s+/g, '').slice(-2);
  return text.split(/\s+/).filter(Boolean).map((w) => w[0]).join('').slice(0, 2).toUpperCase() || '?';
}

/** The worker's photo, or their initials when there is none or it fails to load. */
export function avatar(worker) {
  const letters = () => el('span', { class: 'avatar initials', 'aria-hidden': 'true' }, initials(worker.name));
  if (!worker.photo_url) return letters();
  const img = el('img', { class: 'avatar', src: worker.photo_url, alt: t('grid.photo_alt', { name: worker.name }), loading: 'lazy' });
  img.addEventListener('error', () => img.replaceWith(letters()), { once: true });
  return img;
}

/** The page's title line: 「<grid name>」 and the path above it, district → community. */
export function pathText(card) {
  return (card.grid.path || []).join(' · ');
}

/** When the card was made, in the city's time. */
export const updatedText = (card) => t('grid.updated', { when: fmtTime(card.updated_at) });
