// Residents on the citizen page: 登录 (phone → SMS code → signed in, the phone masked),
// 我的上报 (status chips, the worker's reply, the closing photo, 评价 stars once closed).
// The token is kept in localStorage and sent as a Bearer header (the cc_resident cookie,
// HttpOnly, only lets <img> load the closing photo). On a weak network every request is
// retried with backoff, and the list is cached in localStorage and shown while it reloads.

import { $, el } from '../common/dom.js';
import { fmtTime, lang, nameOf, t } from '../common/i18n.js';

const API = '/api/residents';
const TOKEN_KEY = 'cc.resident';
const LIST_KEY = 'cc.resident.reports';
const TRIES = 4;
const RESEND_S = 60;

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function load(key) {
  try { return JSON.parse(localStorage.getItem(key) || 'null'); } catch { return null; }
}

function save(key, value) {
  try {
    if (value == null) localStorage.removeItem(key); else localStorage.setItem(key, JSON.stringify(value));
  } catch { /* storage full or disabled: the page still works, uncached */ }
}

/** The signed-in resident ({token, phone, expires_at}), or null. */
export function session() {
  const held = load(TOKEN_KEY);
  return held && held.expires_at * 1000 > Date.now() ? held : null;
}

/** Headers that sign a request in as the resident (none when signed out). */
export function authHeaders() {
  const held = session();
  return held ? { Authorization: `Bearer ${held.token}` } : {};
}

/** fetch, retried on network failures and 502–504 (1 s, 2 s, 4 s); other answers as they come. */
export async function fetchRetry(url, options = {}) {
  let delay = 1000;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const res = await fetch(url, options);
      if (![502, 503, 504].includes(res.status) || attempt >= TRIES) return res;
    } catch (err) {
      if (attempt >= TRIES) throw err;
    }
    await sleep(delay);
    delay *= 2;
  }
}

async function call(method, path, body) {
  const headers = { ...authHeaders(), ...(body ? { 'Content-Type': 'application/json' } : {}) };
  const res = await fetchRetry(`${API}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && path.startsWith('/me')) signedOut();
  if (!res.ok) {
    const error = new Error(data.error || t('citizen.error.failed', { status: res.status }));
    error.status = res.status;
    throw error;
  }
  return data;
}

function say(id, text) {
  const box = $(id);
  box.textContent = text || '';
  box.hidden = !text;
}

const failure = (err) => (err instanceof TypeError ? t('citizen.error.network') : err.message);

// ------------------------------------------------------------------ tabs

function show(tab) {
  for (const name of ['report', 'mine', 'account']) {
    $(`tab-${name}`).setAttribute('aria-selected', String(name === tab));
  }
  const signed = Boolean(session());
  $('report').hidden = tab !== 'report' || Boolean(new URLSearchParams(location.search).get('id'));
  $('mine').hidden = tab !== 'mine' || !signed;
  $('signin').hidden = !(tab === 'account' || (tab === 'mine' && !signed)) || signed;
  $('account').hidden = tab !== 'account' || !signed;
  $('status').hidden = tab !== 'report' || !$('tracking').textContent;
  $('intro').hidden = tab !== 'report';
  if (tab === 'mine' && signed) refresh();
  if (history.replaceState) history.replaceState(null, '', `${location.search}#${tab}`);
}

function paintAccount() {
  const held = session();
  $('tab-account').textContent = held ? held.phone : t('citizen.resident.sign_in');
  $('who').textContent = held ? held.phone : '';
}

function signedOut() {
  save(TOKEN_KEY, null);
  save(LIST_KEY, null);
  paintAccount();
}

// ------------------------------------------------------------------ sign-in

let countdown = 0;

function tick() {
  const button = $('get-code');
  button.disabled = countdown > 0;
  button.textContent = countdown > 0 ? t('citizen.resident.resend_in', { s: countdown }) : t('citizen.resident.get_code');
  if (countdown > 0) { countdown -= 1; setTimeout(tick, 1000); }
}

async function askCode() {
  say('signin-error', '');
  try {
    const sent = await call('POST', '/code', { phone: $('phone').value });
    say('signin-note', t('citizen.resident.code_sent'));
    countdown = sent.resend_after_s || RESEND_S;
    $('code').focus();
  } catch (err) {
    say('signin-error', failure(err));
  }
  tick();
}

async function signIn(event) {
  event.preventDefault();
  say('signin-error', '');
  $('sign-in').disabled = true;
  try {
    const done = await call('POST', '/session', { phone: $('phone').value, code: $('code').value.trim() });
    save(TOKEN_KEY, { token: done.token, phone: done.resident.phone, expires_at: done.expires_at });
    $('code').value = '';
    paintAccount();
    show('mine');
  } catch (err) {
    say('signin-error', failure(err));
  } finally {
    $('sign-in').disabled = false;
  }
}

async function signOut() {
  try { await call('DELETE', '/session'); } catch { /* offline: forgotten here all the same */ }
  signedOut();
  show('account');
}

// ------------------------------------------------------------------ my reports

function stars(value, onPick) {
  const box = el('div', { class: 'stars', role: onPick ? 'radiogroup' : 'img', 'aria-label': t('citizen.resident.stars', { n: value || 0 }) });
  for (let n = 1; n <= 5; n += 1) {
    const star = el(onPick ? 'button' : 'span', {
      class: 'star', type: onPick ? 'button' : null, text: n <= value ? '★' : '☆',
      'aria-label': onPick ? t('citizen.resident.stars', { n }) : null, dataset: { n },
      onclick: onPick ? () => onPick(n) : null,
    });
    box.append(star);
  }
  return box;
}

function rateForm(report) {
  let picked = 0;
  const comment = el('textarea', { maxlength: 200, rows: 2, placeholder: t('citizen.resident.comment_hint'), class: 'rate-comment' });
  const error = el('p', { class: 'banner', role: 'alert', hidden: true });
  const form = el('form', { class: 'rate' });
  const row = stars(0, (n) => {
    picked = n;
    row.querySelectorAll('.star').forEach((s) => { s.textContent = Number(s.dataset.n) <= n ? '★' : '☆'; });
  });
  const send = el('button', { class: 'btn btn-primary', type: 'submit', text: t('citizen.resident.rate_send') });
  form.append(el('p', { class: 'rate-title', text: t('citizen.resident.rate') }), row, comment, send, error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!picked) { error.textContent = t('citizen.resident.pick_stars'); error.hidden = false; return; }
    send.disabled = true;
    try {
      await call('POST', `/me/reports/${encodeURIComponent(report.id)}/rating`, { stars: picked, comment: comment.value });
      await refresh();
    } catch (err) {
      error.textContent = failure(err);
      error.hidden = false;
      send.disabled = false;
    }
  });
  return form;
}

function statusWords(report) {
  return lang === 'zh' ? report.status_text : nameOf('state', report.state, report.status_text);
}

function item(report) {
  const li = el('li', { class: 'mine-item panel', dataset: { id: report.id, status: report.status } });
  li.append(
    el('div', { class: 'mine-head' },
      el('strong', { text: report.matter || '—' }),
      el('span', { class: 'chip', dataset: { status: report.status, state: report.state }, text: statusWords(report) })),
    el('p', { class: 'hint', text: `${report.grid || ''} · ${fmtTime(report.created_at)}` }),
  );
  if (report.description) li.append(el('p', { class: 'mine-text', text: report.description }));
  if (report.reply) {
    li.append(el('p', { class: 'mine-reply' }, el('span', { class: 'label', text: t('citizen.resident.reply') }), report.reply));
  }
  if (report.closing_photo_url) {
    li.append(el('img', { class: 'mine-photo', src: report.closing_photo_url, alt: t('citizen.resident.closing_photo'), loading: 'lazy' }));
  }
  if (report.closed_at) li.append(el('p', { class: 'hint', text: t('citizen.resident.closed_at', { at: fmtTime(report.closed_at) }) }));
  if (report.rating) {
    li.append(el('div', { class: 'rated' }, el('span', { class: 'label', text: t('citizen.resident.your_rating') }),
      stars(report.rating.stars), report.rating.comment ? el('p', { text: report.rating.comment }) : null));
  } else if (report.can_rate) {
    li.append(rateForm(report));
  }
  li.append(el('p', { class: 'hint receipt', text: t('citizen.resident.receipt', { id: report.id }) }));
  return li;
}

function paint(items, stale) {
  $('mine-list').replaceChildren(...items.map(item));
  say('mine-state', items.length ? (stale ? t('citizen.resident.cached') : '') : t('citizen.resident.none'));
}

let loading = null;

async function refresh() {
  const cached = load(LIST_KEY);
  if (cached) paint(cached, true);
  else say('mine-state', t('citizen.resident.loading'));
  loading = loading || call('GET', '/me/reports')
    .then((data) => { save(LIST_KEY, data.items); paint(data.items, false); })
    .catch((err) => { if (session()) say('mine-state', cached ? `${t('citizen.resident.cached')} ${failure(err)}` : failure(err)); })
    .finally(() => { loading = null; });
  return loading;
}

export function setUpResidents() {
  paintAccount();
  for (const name of ['report', 'mine', 'account']) $(`tab-${name}`).addEventListener('click', () => show(name));
  $('get-code').addEventListener('click', askCode);
  $('signin').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  const tab = location.hash.slice(1);
  if (['mine', 'account'].includes(tab)) show(tab);
  if (session()) call('GET', '/me').catch(() => {}); // a revoked token signs the page out (401)
}
