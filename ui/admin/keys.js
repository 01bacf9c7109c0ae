// 发布密钥: devices' publish keys (make, rotate, revoke). A secret is shown once; the server keeps
// only its digest. City-wide admins only (the server refuses district admins).

let ctx;
let root;
const part = (name) => root.querySelector(`[data-part="${name}"]`);

function showSecret(key) {
  part('secret-for').textContent = `「${key.name}」· ${key.stream}`;
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
  const rotate = el('button', { class: 'btn', type: 'button' }, '轮换');
  const revoke = el('button', { class: 'btn btn-danger', type: 'button' }, '吊销');
  rotate.addEventListener('click', async () => {
    if (!confirm(`轮换「${key.name}」的密钥？旧密钥立即失效，正在推流的设备会断开。`)) return;
    const made = await call(() => api(keyPath(key, '/rotate'), { method: 'POST' }), '已轮换');
    if (made) showSecret(made);
    loadKeys();
  });
  revoke.addEventListener('click', async () => {
    if (!confirm(`吊销「${key.name}」？此操作不可撤销，正在推流的设备会断开。`)) return;
    await call(() => api(keyPath(key), { method: 'DELETE' }), '已吊销');
    loadKeys();
  });
  return el('tr', { class: key.active ? '' : 'revoked', dataset: { id: key.id } },
    el('td', {}, key.name),
    el('td', { class: 'mono' }, key.stream),
    el('td', {}, key.note || ''),
    el('td', {}, `${when(key.created_at)} · ${key.created_by}`),
    el('td', {}, when(key.rotated_at)),
    el('td', {}, key.active ? '有效' : `已吊销 ${when(key.revoked_at)}`),
    el('td', {}, el('div', { class: 'actions' }, key.active ? [rotate, revoke] : [])));
}

async function loadKeys() {
  const out = await ctx.call(() => ctx.api('/api/publish-keys'));
  if (!out) return;
  part('keys').replaceChildren(...(out.items.length ? out.items.map(keyRow)
    : [ctx.el('tr', {}, ctx.el('td', { colspan: 7, class: 'muted' }, '还没有发布密钥'))]));
}

async function loadStreams() {
  const out = await ctx.call(() => ctx.api('/api/cameras'));
  if (!out) return;
  part('streams').replaceChildren(...out.items.map((c) => ctx.el('option', { value: c.id }, c.name || c.id)));
}

function layout() {
  root.innerHTML = `
    <section class="panel secret-panel" data-part="secret" hidden aria-label="新的发布密钥">
      <div class="panel-head"><h2>新的发布密钥</h2></div>
      <div class="panel-body">
        <p><strong>请立即复制并交给设备。此密钥只显示这一次</strong>，服务器只保存它的摘要；遗失后只能轮换。</p>
        <p class="muted" data-part="secret-for"></p>
        <div class="secret-row">
          <input class="mono" data-part="secret-value" readonly aria-label="发布密钥">
          <button class="btn" type="button" data-part="secret-copy">复制</button>
          <button class="btn" type="button" data-part="secret-done">我已保存</button>
        </div>
      </div>
    </section>
    <section class="panel" aria-label="设备发布密钥">
      <div class="panel-head">
        <h2>设备发布密钥</h2>
        <span class="muted hint">无人机、固定 WHIP 摄像头用它推流（WHIP）和上报位置</span>
      </div>
      <div class="panel-body">
        <form class="admin-form" data-part="key-form">
          <label>名称<input name="name" required maxlength="80" placeholder="例：1 号无人机"></label>
          <label>流 / 摄像头 ID<input name="stream" required maxlength="64" list="admin-streams" placeholder="drone-01"
                 pattern="[A-Za-z0-9_.\\-]+" autocomplete="off"></label>
          <label>备注<input name="note" maxlength="500" placeholder="可选"></label>
          <button class="btn btn-primary" type="submit">生成密钥</button>
        </form>
        <datalist id="admin-streams" data-part="streams"></datalist>
        <div class="table-wrap"><table class="admin-table">
          <thead><tr><th>名称</th><th>流 / 摄像头</th><th>备注</th><th>创建</th><th>轮换</th><th>状态</th><th>操作</th></tr></thead>
          <tbody data-part="keys"></tbody>
        </table></div>
      </div>
    </section>`;
}

async function submit(ev) {
  ev.preventDefault();
  const form = ev.target;
  const body = {
    name: form.elements.name.value.trim(),
    stream: form.elements.stream.value.trim(),
    note: form.elements.note.value.trim(),
  };
  const made = await ctx.call(() => ctx.api('/api/publish-keys', { method: 'POST', body }), '已生成');
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
      ctx.toast('已复制', 'info', 2000);
    } catch {
      part('secret-value').select(); // no clipboard access: selected for Ctrl+C
    }
  });
  part('secret-done').addEventListener('click', hideSecret);
  await Promise.all([loadKeys(), loadStreams()]);
}
