// 督办设置: the supervision thresholds — the share of a time limit used when a warning goes
// out, and how often the sweep runs. The configuration's values are the defaults; a change
// here applies to the next sweep on every node (city admins; others see them read-only).

let ctx;
let root;
const part = (name) => root.querySelector(`[data-part="${name}"]`);

function layout() {
  root.innerHTML = `
    <section class="panel" aria-label="督办设置">
      <div class="panel-head"><h2>督办设置</h2><span class="muted hint" data-part="updated"></span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="form">
          <label>预警阈值（时限已用 %）<input name="warn_at" type="number" min="1" max="99" step="1" required></label>
          <label>督办扫描间隔（秒）<input name="supervise_every_s" type="number" min="1" max="3600" step="1" required></label>
          <button class="btn btn-primary" type="submit">保存</button>
        </form>
        <p class="muted" data-part="defaults"></p>
        <p class="muted">案件处置时限用去预警阈值后发出预警；超过时限自动升级到上一级督办。</p>
      </div>
    </section>`;
}

function show(s) {
  const f = part('form').elements;
  f.warn_at.value = Math.round(s.warn_at * 100);
  f.supervise_every_s.value = s.supervise_every_s;
  part('defaults').textContent = `配置文件默认：预警 ${Math.round(s.defaults.warn_at * 100)}%，每 ${s.defaults.supervise_every_s} 秒扫描一次`;
  part('updated').textContent = s.updated_by ? `最近由 ${s.updated_by} 于 ${ctx.when(s.updated_at)} 修改` : '使用配置文件默认值';
}

async function save(ev) {
  ev.preventDefault();
  const f = ev.target.elements;
  const body = { warn_at: Number(f.warn_at.value) / 100, supervise_every_s: Number(f.supervise_every_s.value) };
  const out = await ctx.call(() => ctx.api('/api/settings/supervision', { method: 'PUT', body }), '已保存，下一轮督办生效');
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
