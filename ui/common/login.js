// Sign-in overlay shown when the API answers 401: POST /api/auth/login, keep the token, reload.
// The answer also sets the HttpOnly session cookie that images and the websocket use.
// Its words come from the catalogue (common.login.*), and it has the language switch: the
// first thing a new user sees.

import { el } from './dom.js';
import { languageButton, t } from './i18n.js';
import { setToken } from './live.js';

let shown = false;

export function showLogin({ username = '', message = t('common.login.prompt') } = {}) {
  if (shown) return;
  shown = true;
  const error = el('p', { class: 'login-error', role: 'alert' });
  const user = el('input', { name: 'username', autocomplete: 'username', required: true, value: username });
  const pass = el('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, t('common.login.submit'));
  const form = el('form', { class: 'login-card', id: 'login' },
    el('div', { class: 'login-head' }, el('h2', {}, t('common.product')), languageButton('btn lang-switch')),
    el('p', { class: 'muted' }, message),
    el('label', {}, t('common.login.user'), user),
    el('label', {}, t('common.login.password'), pass),
    error,
    submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    error.textContent = '';
    try {
      const res = await fetch('/api/auth/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ username: user.value.trim(), password: pass.value }),
      });
      const data = await res.json().catch(() => ({}));
      if (!res.ok || !data.token) throw new Error(loginError(res.status, data));
      setToken(data.token);
      // Never carry a token in the address (live.js wipes one on load; this is belt and braces).
      const url = new URL(location.href);
      url.searchParams.delete('token');
      // The same address with a #fragment (the admin console's tabs) would only scroll: reload.
      if (url.hash && url.toString() === location.href) location.reload();
      else location.replace(url.toString());
    } catch (err) {
      error.textContent = err instanceof TypeError ? t('common.login.network') : err.message;
      submit.disabled = false;
    }
  });
  document.body.append(el('div', { class: 'overlay' }, form));
  (username ? pass : user).focus();
}

/** Why sign-in failed, in the user's language (the server's reason only for what it alone knows). */
function loginError(status, data) {
  if (status === 401) return t('common.login.wrong');
  if (status === 429) return t('common.login.throttled', { s: (data.detail && data.detail.retry_after_s) || 1 });
  if (status === 403) return t('common.login.refused');
  if (status === 503) return t('common.login.busy');
  return t('common.login.failed', { status });
}
