// What the grid card page and its poster share: the grid code from the address, the card from
// the public API (/api/public/grids/<code>), and one worker's avatar, in Chinese for residents.
// Public: no sign-in, no token; plain fetch so that no login overlay can appear.

import { el } from '../common/dom.js';

export const KIND = { full_time: '专职', part_time: '兼职' };
export const LEVEL = { professional: '专业网格员', basic: '基础网格员' };

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
  if (!code) throw new Error('链接中没有网格编码。请重新扫描网格公示牌上的二维码。');
  let res;
  try {
    res = await fetch(`/api/public/grids/${encodeURIComponent(code)}`, { headers: { Accept: 'application/json' } });
  } catch {
    throw new Error('网络连接失败，请稍后再试。');
  }
  if (res.ok) return res.json();
  const body = await res.json().catch(() => ({}));
  if (res.status === 404 && body.error === 'not a grid') throw new Error(`编码 ${code} 不是网格编码，无法显示网格员信息。`);
  if (res.status === 404) throw new Error(`未找到编码为 ${code} 的网格。请核对二维码或链接。`);
  throw new Error(`暂时无法加载网格信息（${res.status}），请稍后再试。`);
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
  const img = el('img', { class: 'avatar', src: worker.photo_url, alt: `${worker.name}的照片`, loading: 'lazy' });
  img.addEventListener('error', () => img.replaceWith(letters()), { once: true });
  return img;
}

/** The page's title line: 「<grid name>」 and the path above it, district → community. */
export function pathText(card) {
  return (card.grid.path || []).join(' · ');
}
