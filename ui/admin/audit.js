// 审计日志: who did what to what, newest first, with filters (actor, action or an action group
// such as "user.", target, a time range) and paging. Times are shown local; actions in Chinese
// where known. City-wide admins only (the server refuses district admins).

let ctx;
let root;
const part = (name) => root.querySelector(`[data-part="${name}"]`);
const PAGE = 50;
let offset = 0;

// Action groups offered in the filter (a trailing "." asks the server for every action under it).
const GROUPS = {
  'user.': '账号', 'login': '登录', 'roster.': '网格员', 'camera.': '摄像头', 'matter.': '事项清单',
  'calendar.': '工作日历', 'settings.': '督办设置', 'import.': '数据导入', 'grids.': '网格地图',
  'publish_key.': '发布密钥', 'case.': '案件', 'incident.': '告警', 'emergency.': '应急', 'evidence.': '证据查看',
};
const ACTIONS = {
  login: '登录', logout: '退出登录', 'login.failed': '登录失败', 'login.refused': '登录被拒',
  'password.change': '修改密码', 'password.change.failed': '修改密码失败',
  'user.create': '创建账号', 'user.update': '修改账号', 'user.disable': '停用账号', 'user.enable': '启用账号',
  'user.reset_password': '重置密码', 'publish_key.create': '生成发布密钥', 'publish_key.rotate': '轮换发布密钥',
  'publish_key.revoke': '吊销发布密钥', 'grids.replace': '替换网格地图', 'camera.remove': '删除摄像头',
  'calendar.set': '设置工作日历', 'calendar.clear': '清除日历设置', 'settings.supervision': '修改督办设置',
  'matter.propose': '提交事项变更', 'case.report': '上报案件', 'evidence.view': '查看证据',
  'emergency.start': '启动应急', 'emergency.end': '结束应急', 'emergency.note': '应急记录', 'emergency.task_done': '完成应急任务',
  'whip.publish': '设备推流', 'whip.end': '推流结束', 'whip.replace': '推流替换',
  'import.grids': '导入网格', 'import.roster': '导入网格员', 'import.users': '导入账号', 'import.cameras': '导入摄像头',
  'import.matters': '导入事项',
};

function actionName(action) {
  if (ACTIONS[action]) return ACTIONS[action];
  const group = Object.keys(GROUPS).find((g) => g.endsWith('.') && action.startsWith(g));
  return group ? `${GROUPS[group]} · ${action.slice(group.length)}` : action;
}

/** A datetime-local value as an ISO time with the browser's offset (the server compares in UTC). */
function isoOf(local) {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

function query() {
  const f = part('filter');
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  const action = f.elements.action.value.trim();
  const pairs = { actor: f.elements.actor.value.trim(), action, target: f.elements.target.value.trim(),
    since: isoOf(f.elements.since.value), until: isoOf(f.elements.until.value) };
  for (const [k, v] of Object.entries(pairs)) if (v) params.set(k, v);
  return params.toString();
}

function row(r) {
  const { el, when } = ctx;
  return el('tr', { dataset: { seq: r.seq } },
    el('td', { class: 'mono' }, when(r.ts)),
    el('td', {}, r.actor, el('span', { class: 'muted' }, r.role && r.role !== '-' ? ` · ${ctx.roles[r.role] || r.role}` : '')),
    el('td', { title: r.action }, actionName(r.action)),
    el('td', { class: 'mono' }, r.target || ''),
    el('td', {}, r.detail || ''),
    el('td', { class: 'mono muted' }, r.ip || ''));
}

async function load() {
  const out = await ctx.call(() => ctx.api(`/api/audit?${query()}`));
  if (!out) return;
  const { el } = ctx;
  part('rows').replaceChildren(...(out.items.length ? out.items.map(row)
    : [el('tr', {}, el('td', { colspan: 6, class: 'muted' }, '没有符合条件的记录'))]));
  const last = offset + out.items.length;
  part('page').textContent = out.total ? `第 ${offset + 1}–${last} 条，共 ${out.total} 条` : '共 0 条';
  part('prev').disabled = offset === 0;
  part('next').disabled = last >= out.total;
}

function layout() {
  const groups = Object.entries(GROUPS).map(([v, label]) => `<option value="${v}">${label}</option>`).join('');
  root.innerHTML = `
    <section class="panel" aria-label="审计日志">
      <div class="panel-head"><h2>审计日志</h2><span class="muted hint">每一项更改都记录在这里，记录串成哈希链，改动可被校验发现</span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="filter" role="search">
          <label>操作人<input name="actor" maxlength="64" placeholder="用户名"></label>
          <label>操作<input name="action" maxlength="64" list="audit-actions" placeholder="全部，或如 user."></label>
          <label>对象<input name="target" maxlength="120" placeholder="用户名、编号…"></label>
          <label>从<input name="since" type="datetime-local"></label>
          <label>到<input name="until" type="datetime-local"></label>
          <button class="btn btn-primary" type="submit">查询</button>
          <button class="btn" type="reset">清空</button>
        </form>
        <datalist id="audit-actions">${groups}</datalist>
        <div class="table-wrap"><table class="admin-table">
          <thead><tr><th>时间</th><th>操作人</th><th>操作</th><th>对象</th><th>详情</th><th>地址</th></tr></thead>
          <tbody data-part="rows"></tbody>
        </table></div>
        <div class="pager"><button class="btn" type="button" data-part="prev">上一页</button>
          <span class="muted" data-part="page"></span><button class="btn" type="button" data-part="next">下一页</button></div>
      </div>
    </section>`;
}

export async function mount(section, context) {
  root = section;
  ctx = context;
  offset = 0;
  layout();
  const f = part('filter');
  f.addEventListener('submit', (ev) => { ev.preventDefault(); offset = 0; load(); });
  f.addEventListener('reset', () => setTimeout(() => { offset = 0; load(); }));
  part('prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); load(); });
  part('next').addEventListener('click', () => { offset += PAGE; load(); });
  await load();
}
