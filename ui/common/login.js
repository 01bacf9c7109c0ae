// Sign-in overlay shown when the API answers 401: POST /api/auth/login, keep the token, reload.

import { setToken } from './live.js';
import { el } from './util.js';

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
      // Drop a stale ?token= from the address so the new one is used after the reload.
      const url = new URL(location.href);
      url.searchParams.delete('token');
      location.replace(url.toString());
    } catch (err) {
      error.textContent = err.message;
      submit.disabled = false;
    }
  });
  document.body.append(el('div', { class: 'overlay' }, form));
  (username ? pass : user).focus();
}
