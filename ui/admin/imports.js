// 数据导入: upload a city's file (grids, roster, users, cameras, matters) to POST /api/import/{kind}.
// "检查" is a dry run listing every problem (file, row, column); "导入" applies it, all or
// nothing unless 跳过错误行 is ticked. A one-time password of new accounts is shown once.

import { applyI18n, has, t } from '../common/i18n.js';

let ctx;
let root;
const part = (name) => root.querySelector(`[data-part="${name}"]`);

const KINDS = {
  grids: { label: t('admin.imports.kind.grids'), accept: '.geojson,.json,.zip,.gpkg', city: true },
  roster: { label: t('admin.imports.kind.roster'), accept: '.csv,.xlsx' },
  users: { label: t('admin.imports.kind.users'), accept: '.csv,.xlsx' },
  cameras: { label: t('admin.imports.kind.cameras'), accept: '.csv,.xlsx' },
  matters: { label: t('admin.imports.kind.matters'), accept: '.csv,.xlsx,.yaml,.yml' },
};
/** A count's name (admin.imports.count.<key>), or the server's key for one this page does not know. */
const countName = (key) => (has(`admin.imports.count.${key}`) ? t(`admin.imports.count.${key}`) : key);
const escape = (text) => String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const UPLOAD_TIMEOUT_MS = 10 * 60 * 1000; // a city's roster is tens of thousands of rows

function busy(on, text = '') {
  part('progress').hidden = !on;
  part('status').textContent = text;
  for (const b of root.querySelectorAll('button')) b.disabled = on;
}

function renderCounts(counts) {
  const { el } = ctx;
  return Object.entries(counts || {})
    .map(([k, v]) => el('span', {}, t('admin.imports.count_of', { name: countName(k) }), el('strong', {}, String(v))));
}

function renderResult(out, refused) {
  const { el } = ctx;
  const problems = out.problems || [];
  const head = refused ? t('admin.imports.refused')
    : out.applied ? t('admin.imports.applied') : (problems.length ? t('admin.imports.checked_bad') : t('admin.imports.checked_ok'));
  part('result-title').textContent = t('admin.imports.result_title', { head, file: out.file || '' });
  part('result-title').className = refused || problems.length ? 'bad' : 'ok';
  part('counts').replaceChildren(...renderCounts(out.counts),
    el('span', {}, t('admin.imports.problems_count'), el('strong', {}, String(problems.length))));
  part('problems').replaceChildren(...problems.map((p) => el('tr', {},
    el('td', { class: 'mono' }, p.file || ''), el('td', {}, p.row ?? '—'), el('td', {}, p.column ?? '—'), el('td', {}, p.message))));
  part('problem-table').hidden = problems.length === 0;
  const password = out.notes && out.notes.password;
  part('secret').hidden = !password;
  if (password) part('secret-value').value = password;
  part('result').hidden = false;
}

async function send(dryRun) {
  const form = part('form');
  const file = form.elements.file.files[0];
  if (!file) {
    ctx.toast(t('admin.imports.no_file'), 'error', 4000);
    return;
  }
  const kind = form.elements.kind.value;
  const params = new URLSearchParams({ filename: file.name });
  if (dryRun) params.set('dry_run', '1');
  if (form.elements.skip_bad.checked) params.set('skip_bad', '1');
  if (kind === 'roster' && form.elements.users.checked) params.set('users', '1');
  const started = Date.now();
  const tick = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    part('status').textContent = dryRun ? t('admin.imports.checking_s', { s }) : t('admin.imports.importing_s', { s });
  }, 500);
  busy(true, dryRun ? t('admin.imports.uploading_check') : t('admin.imports.uploading_apply'));
  try {
    const out = await ctx.api(`/api/import/${kind}?${params}`, {
      method: 'POST', body: file, timeoutMs: UPLOAD_TIMEOUT_MS, headers: { 'Content-Type': 'application/octet-stream' },
    });
    renderResult(out, false);
    if (!dryRun && out.applied) ctx.toast(t('admin.imports.done'), 'info', 4000);
  } catch (err) {
    if (err.status === 422 && err.detail && typeof err.detail === 'object') renderResult(err.detail, true);
    else await ctx.call(() => Promise.reject(err));
  } finally {
    clearInterval(tick);
    busy(false);
  }
}

function layout() {
  const kinds = Object.entries(KINDS).filter(([, k]) => !(k.city && ctx.me.jurisdiction));
  root.innerHTML = `
    <section class="panel" data-i18n-aria-label="admin.imports.title">
      <div class="panel-head"><h2 data-i18n="admin.imports.title"></h2>
        <span class="muted hint">${escape(t('admin.imports.hint'))}${
  ctx.me.jurisdiction ? escape(t('admin.imports.hint_district')) : ''}</span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="form">
          <label><span data-i18n="admin.imports.kind"></span><select name="kind">${
  kinds.map(([v, k]) => `<option value="${v}">${escape(k.label)}</option>`).join('')}</select></label>
          <label><span data-i18n="admin.imports.file"></span><input name="file" type="file" required></label>
          <label class="check"><span><input name="skip_bad" type="checkbox"> <span data-i18n="admin.imports.skip_bad"></span></span></label>
          <label class="check" data-part="users-opt"><span><input name="users" type="checkbox">
            <span data-i18n="admin.imports.with_users"></span></span></label>
          <button class="btn" type="button" data-part="check" data-i18n="admin.imports.check"></button>
          <button class="btn btn-primary" type="button" data-part="apply" data-i18n="admin.imports.apply"></button>
        </form>
        <p><progress class="progress" data-part="progress" hidden></progress> <span class="muted" data-part="status" role="status"></span></p>
      </div>
    </section>
    <section class="panel" data-part="result" hidden data-i18n-aria-label="admin.imports.result">
      <div class="panel-head"><h2 data-part="result-title"></h2></div>
      <div class="panel-body">
        <div class="counts" data-part="counts"></div>
        <div class="secret-row" data-part="secret" hidden>
          <span data-i18n="admin.imports.password"></span>
          <input class="mono" data-part="secret-value" readonly data-i18n-aria-label="admin.imports.password_aria">
        </div>
        <div class="table-wrap" data-part="problem-table"><table class="admin-table">
          <thead><tr><th data-i18n="admin.imports.file"></th><th data-i18n="admin.imports.row"></th><th data-i18n="admin.imports.column"></th>
            <th data-i18n="admin.imports.problem"></th></tr></thead>
          <tbody data-part="problems"></tbody>
        </table></div>
      </div>
    </section>`;
  applyI18n(root);
}

export async function mount(section, context) {
  root = section;
  ctx = context;
  layout();
  const form = part('form');
  const sync = () => {
    const kind = form.elements.kind.value;
    form.elements.file.accept = KINDS[kind].accept;
    part('users-opt').hidden = kind !== 'roster';
  };
  form.elements.kind.addEventListener('change', sync);
  sync();
  form.addEventListener('submit', (ev) => ev.preventDefault());
  part('check').addEventListener('click', () => send(true));
  part('apply').addEventListener('click', () => {
    if (confirm(t('admin.imports.confirm'))) send(false);
  });
}
