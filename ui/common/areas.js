// Area codes (15 digits: GB/T 2260 district + street + community + grid, dispatch/city/
// codes.py): a parent's code is its own prefix padded with zeros, so the level and every
// ancestor are read off a code without a lookup.

import { el } from './dom.js';
import { t } from './i18n.js';

// Significant digits of a code per level (dispatch/city/codes.py): the rest is zero padding.
const DIGITS = { city: 4, district: 6, street: 9, community: 12, grid: 15 };
export const LEVELS = Object.keys(DIGITS);

/** The level a 15-digit area code names, read from where its zero padding starts. */
export function levelOf(code) {
  if (code.slice(12) !== '000') return 'grid';
  if (code.slice(9, 12) !== '000') return 'community';
  if (code.slice(6, 9) !== '000') return 'street';
  return code.slice(4, 6) !== '00' ? 'district' : 'city';
}

/** The codes from `top` down to `code` (both included), as breadcrumbs show them. */
export function pathCodes(code, top) {
  const from = LEVELS.indexOf(levelOf(top));
  const to = LEVELS.indexOf(levelOf(code));
  const codes = [];
  for (let i = from; i <= to; i += 1) codes.push(code.slice(0, DIGITS[LEVELS[i]]).padEnd(15, '0'));
  return [...new Set(codes)];
}

/** The code prefix that holds every area under `code`. */
export const prefixOf = (code) => code.slice(0, DIGITS[levelOf(code)]);

/** The breadcrumbs: every area from the caller's top to `area`, each a link up but the last. */
export function showCrumbs(box, codes, names, onPick) {
  box.replaceChildren(el('ol', {}, codes.map((code, i) => {
    const name = names.get(code) || t('stats.area_unknown');
    const last = i === codes.length - 1;
    return el('li', { dataset: { code, level: levelOf(code) } }, last
      ? el('span', { 'aria-current': 'location' }, name)
      : el('a', { href: '#', onclick: (ev) => { ev.preventDefault(); onPick(code); } }, name));
  })));
}
