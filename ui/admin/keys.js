// 发布密钥: devices' publish keys (make, rotate, revoke). A secret is shown once; the server keeps
// only its digest. City-wide admins only (the server refuses district admins).

import { applyI18n, t } from '../common/i18n.js';

let ctx;
let root;
const part = (name) => root.querySelector(`[data-part="${name}"]`);

function showSecret(key) {
  part('secret-for').textContent = t('admin.keys.secret_for', { name: key.name, stream: key.stream });
  part('secret-value').value = key.token;
  part('secret').hidden = false;
  part('secret-value').select();
}

function hideSecret() {
  part('secret-value').value = '';
  part('secret').hidden = true;
}

const keyPath = (key, tail = '') => `/api/publish-keys/${encodeURIComponent(key.id)}${tail}`;

function keyRow(key) {
  const { el, call, api, when } = ctx;
  const rotate = el('button', { class: 'btn', type: 'button' }, t('admin.keys.rotate'));
  const revoke = el('button', { class: 'btn btn-danger', type: 'button' }, t('admin.keys.revoke'));
  rotate.addEventListener('click', async () => {
    if (!confirm(t('admin.keys.rotate_confirm', { name: key.name }))) return;
    const made = await call(() => api(keyPath(key, '/rotate'), { method: 'POST' }), t('admin.keys.rotated'));
    if (made) showSecret(made);
    loadKeys();
  });
  revoke.addEventListener('click', async () => {
    if (!confirm(t('admin.keys.revoke_confirm', { name: key.name }))) return;
    await call(() => api(keyPath(key), { method: 'DELETE' }), t('admin.keys.revoked'));
    loadKeys();
  });
  return el('tr', { class: key.active ? '' : 'revoked', dataset: { id: key.id } },
    el('td', {}, key.name),
    el('td', { class: 'mono' }, key.stream),
    el('td', {}, key.note || ''),
    el('td', {}, `${when(key.created_at)} · ${key.created_by}`),
    el('td', {}, when(key.rotated_at)),
    el('td', {}, key.active ? t('admin.keys.active') : t('admin.keys.revoked_at', { when: when(key.revoked_at) })),
    el('td', {}, el('div', { class: 'actions' }, key.active ? [rotate, revoke] : [])));
}

async function loadKeys() {
  const out = await ctx.call(() => ctx.api('/api/publish-keys'));
  if (!out) return;
  part('keys').replaceChildren(...(out.items.length ? out.items.map(keyRow)
    : [ctx.el('tr', {}, ctx.el('td', { colspan: 7, class: 'muted' }, t('admin.keys.none')))]));
}

async function loadStreams() {
  const out = await ctx.call(() => ctx.api('/api/cameras'));
  if (!out) return;
  part('streams').replaceChildren(...out.items.map((c) => ctx.el('option', { value: c.id }, c.name || c.id)));
}

function layout() {
  root.innerHTML = `
    <section class="panel secret-panel" data-part="secret" hidden data-i18n-aria-label="admin.keys.new">
      <div class="panel-head"><h2 data-i18n="admin.keys.new"></h2></div>
      <div class="panel-body">
        <p><strong data-i18n="admin.keys.secret_warn"></strong><span data-i18n="admin.keys.secret_note"></span></p>
        <p class="muted" data-part="secret-for"></p>
        <div class="secret-row">
          <input class="mono" data-part="secret-value" readonly data-i18n-aria-label="admin.keys.key">
          <button class="btn" type="button" data-part="secret-copy" data-i18n="admin.keys.copy"></button>
          <button class="btn" type="button" data-part="secret-done" data-i18n="admin.keys.done"></button>
        </div>
      </div>
    </section>
    <section class="panel" data-i18n-aria-label="admin.keys.title">
      <div class="panel-head">
        <h2 data-i18n="admin.keys.title"></h2>
        <span class="muted hint" data-i18n="admin.keys.hint"></span>
      </div>
      <div class="panel-body">
        <form class="admin-form" data-part="key-form">
          <label><span data-i18n="admin.keys.name"></span><input name="name" required maxlength="80"
            data-i18n-placeholder="admin.keys.name_hint"></label>
          <label><span data-i18n="admin.keys.stream"></span><input name="stream" required maxlength="64" list="admin-streams"
                 placeholder="drone-01"
                 pattern="[A-Za-z0-9_.\\-]+" autocomplete="off"></label>
          <label><span data-i18n="admin.keys.note"></span><input name="note" maxlength="500" data-i18n-placeholder="admin.keys.optional"></label>
          <button class="btn btn-primary" type="submit" data-i18n="admin.keys.make"></button>
        </form>
        <datalist id="admin-streams" data-part="streams"></datalist>
        <div class="table-wrap"><table class="admin-table">
          <thead><tr><th data-i18n="admin.keys.name"></th><th data-i18n="admin.keys.stream_col"></th><th data-i18n="admin.keys.note"></th>
            <th data-i18n="admin.keys.created"></th><th data-i18n="admin.keys.rotated_col"></th><th data-i18n="admin.keys.status"></th>
            <th data-i18n="admin.keys.actions"></th></tr></thead>
          <tbody data-part="keys"></tbody>
        </table></div>
      </div>
    </section>`;
  applyI18n(root);
}

async function submit(ev) {
  ev.preventDefault();
  const form = ev.target;
  const body = {
    name: form.elements.name.value.trim(),
    stream: form.elements.stream.value.trim(),
    note: form.elements.note.value.trim(),
  };
  const made = await ctx.call(() => ctx.api('/api/publish-keys', { method: 'POST', body }), t('admin.keys.made'));
  if (made) {
    form.reset();
    showSecret(made);
    loadKeys();
  }
}

export async function mount(section, context) {
  root = section;
  ctx = context;
  layout();
  part('key-form').addEventListener('submit', submit);
  part('secret-copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(part('secret-value').value);
      ctx.toast(t('admin.keys.copied'), 'info', 2000);
    } catch {
      part('secret-value').select(); // no clipboard access: selected for Ctrl+C
    }
  });
  part('secret-done').addEventListener('click', hideSecret);
  await Promise.all([loadKeys(), loadStreams()]);
}
