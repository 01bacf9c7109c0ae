// The 采集 forms' own checks, before anything is queued: a worker underground learns of a
// mistyped ID number there and then, not when the queue is sent hours later. The same rules
// as the server's (basedata/identity.py); the server checks again all the same.

import { t } from '../common/i18n.js';

const c = (key, vars) => t(`terminal.collect.${key}`, vars);

// GB 11643-1999: the weight of body digit i is 2^(17-i) mod 11; the check character is this
// table indexed by (Σ digit·weight) mod 11 (ISO 7064 MOD 11-2).
const WEIGHTS = Array.from({ length: 17 }, (_, i) => 2 ** (17 - i) % 11);
const CHECK_CHARS = '10X98765432';
const PROVINCES = new Set([11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
  50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83]);

/** Full-width digits and letters (a Chinese keyboard's) as ASCII, spaces dropped. */
export function normalise(text) {
  return String(text || '').normalize('NFKC').replace(/\s+/g, '');
}

/** The check character of 17 body digits. */
export function idCheckChar(body) {
  let sum = 0;
  for (let i = 0; i < 17; i += 1) sum += Number(body[i]) * WEIGHTS[i];
  return CHECK_CHARS[sum % 11];
}

/** A resident ID number: {number} normalised, or {error} in words (never repeating the number). */
export function checkIdNumber(text, today = new Date()) {
  const number = normalise(text).toUpperCase();
  if (number.length !== 18) return { error: c('check.id_length', { n: number.length }) };
  const body = number.slice(0, 17);
  if (!/^\d{17}$/.test(body) || !CHECK_CHARS.includes(number[17])) return { error: c('check.id_chars') };
  if (!PROVINCES.has(Number(body.slice(0, 2)))) return { error: c('check.id_area') };
  const [y, m, d] = [body.slice(6, 10), body.slice(10, 12), body.slice(12, 14)].map(Number);
  const born = new Date(Date.UTC(y, m - 1, d));
  const real = born.getUTCFullYear() === y && born.getUTCMonth() === m - 1 && born.getUTCDate() === d;
  if (!real || y < 1900 || born > today) return { error: c('check.id_birth') };
  if (idCheckChar(body) !== number[17]) return { error: c('check.id_digit') };
  return { number };
}

/** A mobile (11 digits from 13-19, +86 allowed) or a land line with its area code: {phone} or {error}. */
export function checkPhone(text) {
  let digits = normalise(text).replace(/[-()]/g, '');
  for (const prefix of ['+86', '0086', '86']) {
    if (digits.startsWith(prefix) && digits.length === prefix.length + 11) { digits = digits.slice(prefix.length); break; }
  }
  if (/^1[3-9]\d{9}$/.test(digits)) return { phone: digits };
  if (/^0\d{9,11}$/.test(digits)) return { phone: normalise(text) };
  return { error: c('check.phone') };
}

// GB 32100-2015: 18 characters of this alphabet (no I, O, S, V, Z); the check character is
// (31 − Σ value·3^i mod 31) mod 31 over the first 17, as basedata/identity.py computes it.
const CREDIT_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/** A unified social credit code (统一社会信用代码): {code} upper-cased, or {error} in words. */
export function checkCreditCode(text) {
  const code = normalise(text).toUpperCase();
  if (code.length !== 18) return { error: c('check.credit_length', { n: code.length }) };
  if ([...code].some((ch) => !CREDIT_ALPHABET.includes(ch))) return { error: c('check.credit_chars') };
  let sum = 0;
  for (let i = 0; i < 17; i += 1) sum += CREDIT_ALPHABET.indexOf(code[i]) * (3 ** i % 31);
  if (CREDIT_ALPHABET[(31 - (sum % 31)) % 31] !== code[17]) return { error: c('check.credit_digit') };
  return { code };
}

/** `fields` {name: value} that must not be blank: the first one missing as {field, error}, or null. */
export function missing(fields) {
  for (const [name, value] of Object.entries(fields)) {
    if (value == null || String(value).trim() === '') return { field: name, error: c('check.required', { field: c(`field.${name}`) }) };
  }
  return null;
}
