// 督办设置: the supervision thresholds — the share of a time limit used when a warning goes
// out, and how often the sweep runs. The configuration's values are the defaults; a change
// here applies to the next sweep on every node (city admins; others see them read-only).

import { applyI18n, t } from '../common/i18n.js';

let ctx;
let root;
const part = (name) => root.querySelector(`[data-part="${name}"]`);

function layout() {
  root.innerHTML = `
    <section class="panel" data-i18n-aria-label="admin.settings.title">
      <div class="panel-head"><h2 data-i18n="admin.settings.title"></h2><span class="muted hint" data-part="updated"></span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="form">
          <label><span data-i18n="admin.settings.warn_at"></span><input name="warn_at" type="number" min="1" max="99" step="1" required></label>
          <label><span data-i18n="admin.settings.every"></span><input name="supervise_every_s" type="number" min="1" max="3600" step="1"
            required></label>
          <button class="btn btn-primary" type="submit" data-i18n="admin.btn.save"></button>
        </form>
        <p class="muted" data-part="defaults"></p>
        <p class="muted" data-i18n="admin.settings.explain"></p>
      </div>
    </section>`;
  applyI18n(root);
}

function show(s) {
  const f = part('form').elements;
  f.warn_at.value = Math.round(s.warn_at * 100);
  f.supervise_every_s.value = s.supervise_every_s;
  part('defaults').textContent = t('admin.settings.defaults', {
    warn: Math.round(s.defaults.warn_at * 100), every: s.defaults.supervise_every_s,
  });
  part('updated').textContent = s.updated_by
    ? t('admin.settings.updated', { user: s.updated_by, when: ctx.when(s.updated_at) }) : t('admin.settings.default_values');
}

async function save(ev) {
  ev.preventDefault();
  const f = ev.target.elements;
  const body = { warn_at: Number(f.warn_at.value) / 100, supervise_every_s: Number(f.supervise_every_s.value) };
  const out = await ctx.call(() => ctx.api('/api/settings/supervision', { method: 'PUT', body }), t('admin.settings.saved'));
  if (out) show(out);
}

export async function mount(section, context) {
  root = section;
  ctx = context;
  layout();
  const form = part('form');
  if (ctx.me.jurisdiction) for (const input of form.elements) input.disabled = true;
  form.addEventListener('submit', save);
  const out = await ctx.call(() => ctx.api('/api/settings/supervision'));
  if (out) show(out);
}
