// Sign-in overlay shown when the API answers 401: POST /api/auth/login, keep the token, reload.
// The answer also sets the HttpOnly session cookie that images and the websocket use.

import { setToken } from './live.js';
import { el } from './dom.js';

let shown = false;

export function showLogin({ username = '', message = 'Sign in to continue' } = {}) {
  if (shown) return;
  shown = true;
  const error = el('p', { class: 'login-error', role: 'alert' });
  const user = el('input', { name: 'username', autocomplete: 'username', required: true, value: username });
  const pass = el('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = el('form', { class: 'login-card', id: 'login' },
    el('h2', {}, 'Command center'),
    el('p', { class: 'muted' }, message),
    el('label', {}, 'User', user),
    el('label', {}, 'Password', pass),
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
      if (!res.ok || !data.token) throw new Error(data.error || `sign-in failed (${res.status})`);
      setToken(data.token);
      // Never carry a token in the address (live.js wipes one on load; this is belt and braces).
      const url = new URL(location.href);
      url.searchParams.delete('token');
      // The same address with a #fragment (the admin console's tabs) would only scroll: reload.
      if (url.hash && url.toString() === location.href) location.reload();
      else location.replace(url.toString());
    } catch (err) {
      error.textContent = err.message;
      submit.disabled = false;
    }
  });
  document.body.append(el('div', { class: 'overlay' }, form));
  (username ? pass : user).focus();
}
