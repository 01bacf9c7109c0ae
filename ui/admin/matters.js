// 事项清单: the matter catalogue in effect for a district, the proposals (a district admin
// proposes adding or changing a matter; the city approves or rejects), and each matter's
// version history. The server checks every field and who may do what; this page only asks.

const CLASSES = ['市容环境', '宣传广告', '施工管理', '突发事件', '街面秩序', '其他'];
const HANDLERS = { worker: '网格员就地处置', department: '职能部门处置' };
const STATUS = { proposed: '待审批', approved: '已批准', rejected: '已驳回', withdrawn: '已撤回' };
const SOURCE = { base: '基础清单', city: '全市调整', district: '本区调整' };

let ctx;
let root;
let catalogue = { items: [], districts: [] };
const part = (name) => root.querySelector(`[data-part="${name}"]`);
const isCity = () => !ctx.me.jurisdiction;
const limitText = (t) => (t.hours != null ? `${t.hours} 工作小时` : `${t.days} 工作日`);

function districtName(code) {
  if (!code) return '全市';
  const found = catalogue.districts.find((d) => d.code === code);
  return found ? found.name : '未知区';
}

function today() {
  return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10); // Asia/Shanghai
}

function layout() {
  root.innerHTML = `
    <section class="panel" aria-label="事项清单">
      <div class="panel-head"><h2>入格事项清单</h2>
        <span class="muted hint">各区在全市清单基础上调整的时限与结案标准，按生效日期执行</span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="pick">
          <label>区域<select name="district" data-part="district"></select></label>
          <label>日期<input type="date" name="day" data-part="day"></label>
        </form>
        <div class="table-wrap"><table class="admin-table">
          <thead><tr><th>编码</th><th>事项</th><th>类别</th><th>责任部门</th><th>处置</th><th>时限</th><th>结案标准</th><th>来源</th><th></th></tr></thead>
          <tbody data-part="items"></tbody>
        </table></div>
        <div data-part="history" hidden></div>
      </div>
    </section>
    <section class="panel" aria-label="调整申请">
      <div class="panel-head"><h2>调整申请</h2><span class="muted hint" data-part="who"></span></div>
      <div class="panel-body">
        <div class="table-wrap"><table class="admin-table">
          <thead><tr><th>事项</th><th>区域</th><th>版本</th><th>内容</th><th>生效</th><th>理由</th><th>状态</th><th>操作</th></tr></thead>
          <tbody data-part="proposals"></tbody>
        </table></div>
      </div>
    </section>
    <section class="panel" aria-label="提出调整">
      <div class="panel-head"><h2>提出调整</h2></div>
      <div class="panel-body">
        <form class="admin-form" data-part="propose">
          <label>方式<select name="change"><option value="change">调整已有事项</option><option value="add">新增事项</option></select></label>
          <label>事项编码<input name="code" required maxlength="16" list="matter-codes" autocomplete="off"></label>
          <label>事项名称<input name="name" required maxlength="60"></label>
          <label>类别<select name="class">${CLASSES.map((c) => `<option>${c}</option>`).join('')}</select></label>
          <label>责任部门<input name="department" required maxlength="60"></label>
          <label>处置方式<select name="handler">${Object.entries(HANDLERS).map(([k, v]) => `<option value="${k}">${v}</option>`).join('')}</select></label>
          <label>时限<input name="limit" type="number" min="0.1" step="0.1" required></label>
          <label>单位<select name="unit"><option value="hours">工作小时</option><option value="days">工作日</option></select></label>
          <label>结案标准<input name="closure_standard" required maxlength="300"></label>
          <label>生效日期<input name="effective_from" type="date" required></label>
          <label>理由<input name="reason" required maxlength="500"></label>
          <button class="btn btn-primary" type="submit">提交申请</button>
        </form>
        <datalist id="matter-codes" data-part="codes"></datalist>
      </div>
    </section>`;
}

function matterRow(m) {
  const { el } = ctx;
  const history = el('button', { class: 'btn', type: 'button' }, '版本');
  history.addEventListener('click', () => showHistory(m));
  const edit = el('button', { class: 'btn', type: 'button' }, '调整');
  edit.addEventListener('click', () => fillForm(m));
  const since = m.effective_from ? ` · ${m.effective_from} 起 · 第 ${m.version} 版` : '';
  return el('tr', { dataset: { code: m.code } },
    el('td', { class: 'mono' }, m.code), el('td', {}, m.name), el('td', {}, m.class), el('td', {}, m.department),
    el('td', {}, HANDLERS[m.handler] || m.handler), el('td', { class: 'limit' }, limitText(m.time_limit)),
    el('td', {}, m.closure_standard), el('td', { class: 'source' }, `${SOURCE[m.source] || m.source}${since}`),
    el('td', {}, el('div', { class: 'actions' }, history, edit)));
}

async function loadCatalogue() {
  const district = part('district').value;
  const day = part('day').value;
  const q = new URLSearchParams({ district, ...(day ? { day } : {}) });
  const out = await ctx.call(() => ctx.api(`/api/matters?${q}`));
  if (!out) return;
  catalogue = out;
  part('items').replaceChildren(...out.items.map(matterRow));
  part('codes').replaceChildren(...out.items.map((m) => ctx.el('option', { value: m.code }, m.name)));
}

function fillForm(m) {
  const f = part('propose').elements;
  f.change.value = 'change';
  for (const key of ['code', 'name', 'department', 'closure_standard']) f[key].value = m[key];
  f.class.value = m.class;
  f.handler.value = m.handler;
  f.unit.value = m.time_limit.hours != null ? 'hours' : 'days';
  f.limit.value = m.time_limit.hours ?? m.time_limit.days;
  f.limit.focus();
}

async function showHistory(m) {
  const { el } = ctx;
  const q = new URLSearchParams({ district: part('district').value });
  const out = await ctx.call(() => ctx.api(`/api/matters/${encodeURIComponent(m.code)}/versions?${q}`));
  if (!out) return;
  const box = part('history');
  box.hidden = false;
  box.replaceChildren(el('h3', {}, `「${m.name}」的版本`),
    out.items.length ? el('ul', {}, out.items.map((v) => el('li', {},
      `第 ${v.version} 版 · ${v.district_name} · ${limitText(v.matter.time_limit)} · ${v.effective_from} 起 · ${STATUS[v.status]}`
      + ` · ${v.proposed_by}${v.decided_by ? ` / ${v.decided_by}` : ''}`)))
      : el('p', { class: 'muted' }, '只有基础清单中的版本'));
}

function proposalRow(p) {
  const { el, call, api } = ctx;
  const buttons = [];
  const act = (verb, label, done, cls = 'btn') => {
    const b = el('button', { class: cls, type: 'button', dataset: { act: verb } }, label);
    b.addEventListener('click', async () => {
      const note = verb === 'withdraw' ? '' : (prompt(`${label}：意见（可空）`) ?? null);
      if (note === null) return;
      if (await call(() => api(`/api/matters/proposals/${p.id}/${verb}`, { method: 'POST', body: { note } }), done)) refresh();
    });
    buttons.push(b);
  };
  if (p.status === 'proposed' && isCity()) {
    act('approve', '批准', '已批准', 'btn btn-primary');
    act('reject', '驳回', '已驳回', 'btn btn-danger');
  }
  if (p.status === 'proposed' && p.district === ctx.me.jurisdiction) act('withdraw', '撤回', '已撤回');
  return el('tr', { dataset: { id: p.id, code: p.code } },
    el('td', {}, `${p.name}（${p.code}）`), el('td', {}, p.district_name), el('td', {}, `第 ${p.version} 版`),
    el('td', {}, `${p.change === 'add' ? '新增' : '调整'} · ${limitText(p.matter.time_limit)} · ${p.matter.department}`),
    el('td', {}, p.effective_from), el('td', {}, p.reason),
    el('td', { class: 'status' }, STATUS[p.status] || p.status), el('td', {}, el('div', { class: 'actions' }, buttons)));
}

async function loadProposals() {
  const out = await ctx.call(() => ctx.api('/api/matters/proposals'));
  if (!out) return;
  const rows = out.items.slice(0, 100);
  part('proposals').replaceChildren(...(rows.length ? rows.map(proposalRow)
    : [ctx.el('tr', {}, ctx.el('td', { colspan: 8, class: 'muted' }, '还没有调整申请'))]));
}

async function refresh() {
  await Promise.all([loadCatalogue(), loadProposals()]);
}

async function propose(ev) {
  ev.preventDefault();
  const f = ev.target.elements;
  const limit = Number(f.limit.value);
  const body = {
    district: isCity() ? part('district').value : ctx.me.jurisdiction,
    change: f.change.value,
    matter: {
      code: f.code.value.trim(), name: f.name.value.trim(), name_en: f.name.value.trim(), class: f.class.value,
      department: f.department.value.trim(), handler: f.handler.value, closure_standard: f.closure_standard.value.trim(),
      time_limit: { [f.unit.value]: limit },
      ...keepDetection(f.code.value.trim()),
    },
    effective_from: f.effective_from.value,
    reason: f.reason.value.trim(),
  };
  const made = await ctx.call(() => ctx.api('/api/matters/proposals', { method: 'POST', body }), '已提交，等待市级审批');
  if (made) {
    ev.target.reset();
    f.effective_from.value = today();
    refresh();
  }
}

/** A changed matter keeps the detector rules and labels it had (the form does not edit them). */
function keepDetection(code) {
  const m = catalogue.items.find((x) => x.code === code);
  return m ? { name_en: m.name_en, rules: m.rules, labels: m.labels } : {};
}

export async function mount(section, context) {
  root = section;
  ctx = context;
  layout();
  part('who').textContent = isCity() ? '市级管理员：审批各区申请，或提出全市调整' : '本区管理员：提出本区调整，由市级审批';
  part('day').value = today();
  part('propose').elements.effective_from.value = today();
  part('propose').addEventListener('submit', propose);
  const first = await ctx.call(() => ctx.api('/api/matters'));
  if (first) catalogue = first;
  const select = part('district');
  const own = ctx.me.jurisdiction.slice(0, 6);
  const options = isCity() ? [{ code: '', name: '全市' }, ...catalogue.districts] : catalogue.districts.filter((d) => d.code === own);
  select.replaceChildren(...options.map((d) => ctx.el('option', { value: d.code }, d.name)));
  select.value = isCity() ? '' : own;
  select.addEventListener('change', loadCatalogue);
  part('day').addEventListener('change', loadCatalogue);
  await refresh();
}
