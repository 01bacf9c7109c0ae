// 数据导入: upload a city's file (grids, roster, users, cameras, matters) to POST /api/import/{kind}.
// "检查" is a dry run listing every problem (file, row, column); "导入" applies it, all or
// nothing unless 跳过错误行 is ticked. A one-time password of new accounts is shown once.

let ctx;
let root;
const part = (name) => root.querySelector(`[data-part="${name}"]`);

const KINDS = {
  grids: { label: '网格（GeoJSON / Shapefile zip / GeoPackage）', accept: '.geojson,.json,.zip,.gpkg', city: true },
  roster: { label: '网格员名册（CSV / XLSX）', accept: '.csv,.xlsx' },
  users: { label: '用户账号（CSV / XLSX）', accept: '.csv,.xlsx' },
  cameras: { label: '摄像头（CSV / XLSX）', accept: '.csv,.xlsx' },
  matters: { label: '事项清单（CSV / XLSX / YAML）', accept: '.csv,.xlsx,.yaml,.yml' },
};
const COUNT_NAMES = {
  added: '新增', updated: '更新', unchanged: '未变', skipped: '跳过', removed: '移除', rows: '行数',
  workers: '网格员', assignments: '网格分配', accounts: '新账号', users: '账号', districts: '区', streets: '街道',
  communities: '社区', grids: '网格', cameras: '摄像头', matters: '事项', closed: '结束分配', opened: '新分配',
};
const UPLOAD_TIMEOUT_MS = 10 * 60 * 1000; // a city's roster is tens of thousands of rows

function busy(on, text = '') {
  part('progress').hidden = !on;
  part('status').textContent = text;
  for (const b of root.querySelectorAll('button')) b.disabled = on;
}

function renderCounts(counts) {
  const { el } = ctx;
  return Object.entries(counts || {}).map(([k, v]) => el('span', {}, `${COUNT_NAMES[k] || k}：`, el('strong', {}, String(v))));
}

function renderResult(out, refused) {
  const { el } = ctx;
  const problems = out.problems || [];
  const head = refused ? '未导入：文件有问题，未做任何更改'
    : out.applied ? '已导入' : (problems.length ? '检查完成：有问题' : '检查通过，可以导入');
  part('result-title').textContent = `${head}（${out.file || ''}）`;
  part('result-title').className = refused || problems.length ? 'bad' : 'ok';
  part('counts').replaceChildren(...renderCounts(out.counts), el('span', {}, '问题：', el('strong', {}, String(problems.length))));
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
    ctx.toast('请先选择文件', 'error', 4000);
    return;
  }
  const kind = form.elements.kind.value;
  const params = new URLSearchParams({ filename: file.name });
  if (dryRun) params.set('dry_run', '1');
  if (form.elements.skip_bad.checked) params.set('skip_bad', '1');
  if (kind === 'roster' && form.elements.users.checked) params.set('users', '1');
  const started = Date.now();
  const tick = setInterval(() => {
    part('status').textContent = `${dryRun ? '检查' : '导入'}中… ${Math.round((Date.now() - started) / 1000)} 秒`;
  }, 500);
  busy(true, dryRun ? '上传并检查中…' : '上传并导入中…');
  try {
    const out = await ctx.api(`/api/import/${kind}?${params}`, {
      method: 'POST', body: file, timeoutMs: UPLOAD_TIMEOUT_MS, headers: { 'Content-Type': 'application/octet-stream' },
    });
    renderResult(out, false);
    if (!dryRun && out.applied) ctx.toast('导入完成，已在所有节点生效', 'info', 4000);
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
    <section class="panel" aria-label="数据导入">
      <div class="panel-head"><h2>数据导入</h2>
        <span class="muted hint">先“检查”再“导入”；有问题时默认整份文件都不导入${ctx.me.jurisdiction ? '；只能导入本辖区的数据' : ''}</span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="form">
          <label>类型<select name="kind">${kinds.map(([v, k]) => `<option value="${v}">${k.label}</option>`).join('')}</select></label>
          <label>文件<input name="file" type="file" required></label>
          <label class="check"><span><input name="skip_bad" type="checkbox"> 跳过错误行</span></label>
          <label class="check" data-part="users-opt"><span><input name="users" type="checkbox"> 同时创建账号</span></label>
          <button class="btn" type="button" data-part="check">检查</button>
          <button class="btn btn-primary" type="button" data-part="apply">导入</button>
        </form>
        <p><progress class="progress" data-part="progress" hidden></progress> <span class="muted" data-part="status" role="status"></span></p>
      </div>
    </section>
    <section class="panel" data-part="result" hidden aria-label="结果">
      <div class="panel-head"><h2 data-part="result-title"></h2></div>
      <div class="panel-body">
        <div class="counts" data-part="counts"></div>
        <div class="secret-row" data-part="secret" hidden>
          <span>新账号的初始密码（只显示这一次）：</span>
          <input class="mono" data-part="secret-value" readonly aria-label="初始密码">
        </div>
        <div class="table-wrap" data-part="problem-table"><table class="admin-table">
          <thead><tr><th>文件</th><th>行</th><th>列</th><th>问题</th></tr></thead>
          <tbody data-part="problems"></tbody>
        </table></div>
      </div>
    </section>`;
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
    if (confirm('确认导入？导入后立即在所有节点生效。')) send(false);
  });
}
