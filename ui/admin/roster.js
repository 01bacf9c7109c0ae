// 网格员: the roster. Filter by area (district → street → community → grid, by name) and text;
// a table of workers with their grids, shifts and leave; a drawer per worker to edit their
// fields, assign grids (一格多员: a grid may have several workers), add or end leave, and read
// the history of who worked which grid when. A district admin sees their district's workers.

let ctx;
let root;
const part = (name) => root.querySelector(`[data-part="${name}"]`);
const PAGE = 50;
let offset = 0;
let area = ''; // the area filter: a grid-code prefix

const KIND = { full_time: '专职', part_time: '兼职' };
const LEVEL = { professional: '专业', basic: '基础' };
const SHIFT = { all: '全天', day: '白班', night: '夜班' };
const DIGITS = { district: 6, street: 9, community: 12, grid: 15 };
const LEVEL_NAME = { district: '区', street: '街道', community: '社区', grid: '网格' };
const rosterPath = (id, tail = '') => `/api/roster/${encodeURIComponent(id)}${tail}`;
const options = (map, selected) => Object.entries(map)
  .map(([v, label]) => `<option value="${v}"${v === selected ? ' selected' : ''}>${label}</option>`).join('');

/** The children of an area (by its 15-digit code), or the city's districts for ''. */
async function childrenOf(code) {
  if (code) return (await ctx.api(`/api/grids/${code}`)).children || [];
  const doc = await ctx.api('/api/grids?levels=district');
  return (doc.features || []).map((f) => f.properties);
}

/**
 * Cascading selects from the admin's own area down to a grid; `onPick(prefix, area)` gets the
 * chosen area's code prefix ('' for everything the admin sees) and the area ({code, name, level}).
 */
function areaPicker(onPick) {
  const { el } = ctx;
  const box = el('span', { class: 'area-picker' });
  const own = ctx.me.jurisdiction;
  const levelAdd = async (code, depth) => {
    while (box.children.length > depth) box.lastChild.remove();
    let children = [];
    try { children = await childrenOf(code); } catch { children = []; }
    if (!children.length) return;
    const level = children[0].level;
    const select = el('select', { 'aria-label': LEVEL_NAME[level] || '区域' },
      el('option', { value: '' }, `全部${LEVEL_NAME[level] || ''}`),
      children.map((c) => el('option', { value: c.code }, c.name)));
    select.addEventListener('change', () => {
      const chosen = children.find((c) => c.code === select.value);
      if (chosen) {
        onPick(chosen.code.slice(0, DIGITS[chosen.level] || 15), chosen);
        if (chosen.level !== 'grid') levelAdd(chosen.code, depth + 1);
      } else {
        while (box.children.length > depth + 1) box.lastChild.remove();
        const up = box.children[depth - 1];
        onPick(up ? up.value.slice(0, DIGITS[up.dataset.level] || 15) : own, null);
      }
    });
    select.dataset.level = level;
    box.append(select);
  };
  levelAdd(own ? own.padEnd(15, '0') : '', 0);
  return box;
}

function gridTags(w) {
  const { el } = ctx;
  return (w.grids || []).map((g) => el('span', { class: 'tag', title: g.grid_code },
    `${g.community_name ? `${g.community_name} · ` : ''}${g.grid_name || g.grid_code}（${SHIFT[g.shift] || g.shift}）`));
}

function status(w) {
  const { el } = ctx;
  if (!w.active) return el('span', { class: 'tag bad' }, '停用');
  return w.on_leave ? el('span', { class: 'tag leave' }, '休假中') : el('span', { class: 'tag' }, '在岗');
}

function workerRow(w) {
  const { el } = ctx;
  const tr = el('tr', { class: 'clickable', dataset: { worker: w.id }, tabindex: 0 },
    el('td', {}, w.name || w.id),
    el('td', { class: 'mono' }, w.code || '—'),
    el('td', { class: 'mono' }, w.phone || '—'),
    el('td', {}, KIND[w.kind] || w.kind || '—'),
    el('td', {}, LEVEL[w.level] || w.level || '—'),
    el('td', {}, gridTags(w)),
    el('td', {}, status(w), w.has_account ? '' : el('span', { class: 'muted' }, ' 无账号')));
  tr.addEventListener('click', () => openDrawer(w.id));
  tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') openDrawer(w.id); });
  return tr;
}

async function load() {
  const f = part('filter');
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  if (f.elements.q.value.trim()) params.set('q', f.elements.q.value.trim());
  if (area) params.set('area', area);
  if (f.elements.active.value) params.set('active', f.elements.active.value);
  const out = await ctx.call(() => ctx.api(`/api/roster?${params}`));
  if (!out) return;
  const { el } = ctx;
  part('rows').replaceChildren(...(out.items.length ? out.items.map(workerRow)
    : [el('tr', {}, el('td', { colspan: 7, class: 'muted' }, '没有符合条件的网格员'))]));
  const last = offset + out.items.length;
  part('page').textContent = out.total ? `第 ${offset + 1}–${last} 名，共 ${out.total} 名` : '共 0 名';
  part('prev').disabled = offset === 0;
  part('next').disabled = last >= out.total;
}

// ---- the drawer: one worker ----

function closeDrawer() {
  part('drawer').hidden = true;
  part('drawer').replaceChildren();
}

function fieldsForm(w) {
  const form = document.createElement('form');
  form.className = 'admin-form';
  form.innerHTML = `
    ${w ? '' : '<label>网格员 ID<input name="id" required maxlength="64" pattern="[A-Za-z0-9_.\\-]+"></label>'}
    <label>姓名<input name="name" required maxlength="40"></label>
    <label>编号<input name="code" maxlength="40" placeholder="留空自动编号"></label>
    <label>电话<input name="phone" maxlength="20" inputmode="tel"></label>
    <label>类型<select name="kind">${options(KIND, w ? w.kind : 'full_time')}</select></label>
    <label>级别<select name="level">${options(LEVEL, w ? w.level : 'basic')}</select></label>
    ${w ? `<label>状态<select name="active">${options({ 1: '在册', 0: '停用' }, w.active ? '1' : '0')}</select></label>` : ''}
    <button class="btn btn-primary" type="submit">${w ? '保存' : '创建'}</button>`;
  if (w) for (const k of ['name', 'code', 'phone']) form.elements[k].value = w[k] || '';
  return form;
}

function fieldsOf(form, creating) {
  const body = {};
  for (const k of ['name', 'code', 'phone', 'kind', 'level']) {
    const v = form.elements[k].value.trim();
    if (v || !creating) body[k] = v;
  }
  if (creating) body.id = form.elements.id.value.trim();
  else body.active = form.elements.active.value === '1';
  return body;
}

/** The worker's grids as editable rows, plus a picker to add one; saved together (PUT). */
function gridsEditor(w, grids) {
  const { el, call, api } = ctx;
  const list = el('div', { class: 'grid-list' });
  const render = () => list.replaceChildren(...grids.map((g, i) => {
    const shift = el('select', { 'aria-label': '班次' }, Object.entries(SHIFT).map(([v, label]) => el('option', { value: v, selected: v === g.shift }, label)));
    shift.addEventListener('change', () => { g.shift = shift.value; });
    const drop = el('button', { class: 'btn', type: 'button' }, '移除');
    drop.addEventListener('click', () => { grids.splice(i, 1); render(); });
    // 三公开: the grid's public worker card (and from there its QR poster), in a new tab.
    const card = el('a', { class: 'btn', href: `/grid/${encodeURIComponent(g.grid_code)}`, target: '_blank', rel: 'noopener' }, '公示卡');
    return el('div', { class: 'actions', dataset: { grid: g.grid_code } },
      el('span', { title: g.grid_code }, g.grid_name || g.grid_code), shift, card, drop);
  }));
  render();
  let picked = null;
  const add = el('button', { class: 'btn', type: 'button', disabled: true }, '添加网格');
  const picker = areaPicker((_prefix, chosen) => {
    picked = chosen && chosen.level === 'grid' ? chosen : null;
    add.disabled = !picked;
  });
  add.addEventListener('click', () => {
    if (!picked || grids.some((g) => g.grid_code === picked.code)) return;
    grids.push({ grid_code: picked.code, grid_name: picked.name, shift: 'all' });
    render();
  });
  const save = el('button', { class: 'btn btn-primary', type: 'button' }, '保存网格分配');
  save.addEventListener('click', async () => {
    const body = { grids: grids.map((g) => ({ grid_code: g.grid_code, shift: g.shift })) };
    if (await call(() => api(rosterPath(w.id, '/grids'), { method: 'PUT', body }), '网格分配已保存')) {
      openDrawer(w.id);
      load();
    }
  });
  return el('div', {}, list, el('div', { class: 'actions' }, picker, add), el('p', {}, save));
}

function leaveEditor(w) {
  const { el, call, api, when } = ctx;
  const rows = (w.leave || []).map((l) => {
    const drop = el('button', { class: 'btn', type: 'button' }, '取消');
    drop.addEventListener('click', async () => {
      if (await call(() => api(rosterPath(w.id, `/leave/${encodeURIComponent(l.id)}`), { method: 'DELETE' }), '已取消请假')) openDrawer(w.id);
    });
    return el('div', { class: 'actions' }, `${when(l.starts)} 至 ${when(l.ends)}`, l.note ? el('span', { class: 'muted' }, l.note) : '', drop);
  });
  const form = el('form', { class: 'admin-form' },
    el('label', {}, '开始', el('input', { name: 'starts', type: 'datetime-local', required: true })),
    el('label', {}, '结束', el('input', { name: 'ends', type: 'datetime-local', required: true })),
    el('label', {}, '事由', el('input', { name: 'note', maxlength: 200 })),
    el('button', { class: 'btn', type: 'submit' }, '添加请假'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { starts: new Date(form.elements.starts.value).toISOString(),
      ends: new Date(form.elements.ends.value).toISOString(), note: form.elements.note.value.trim() };
    if (await call(() => api(rosterPath(w.id, '/leave'), { method: 'POST', body }), '已添加请假')) {
      openDrawer(w.id);
      load();
    }
  });
  return el('div', {}, rows.length ? rows : el('p', { class: 'muted' }, '没有请假记录'), form);
}

async function history(w, box) {
  const out = await ctx.call(() => ctx.api(`/api/roster/history?worker=${encodeURIComponent(w.id)}&limit=100`));
  if (!out) return;
  const { el, when } = ctx;
  const items = out.items || out;
  box.replaceChildren(items.length ? el('table', { class: 'admin-table' },
    el('thead', {}, el('tr', {}, el('th', {}, '网格'), el('th', {}, '班次'), el('th', {}, '开始'), el('th', {}, '结束'))),
    el('tbody', {}, items.map((h) => el('tr', {},
      el('td', { title: h.grid_code }, h.grid_name || h.grid_code), el('td', {}, SHIFT[h.shift] || h.shift || ''),
      el('td', {}, when(h.valid_from)), el('td', {}, h.valid_to ? when(h.valid_to) : '至今')))))
    : el('p', { class: 'muted' }, '没有历史记录'));
}

async function openDrawer(id) {
  const { el, call, api } = ctx;
  const drawer = part('drawer');
  const w = id ? await call(() => api(rosterPath(id))) : null;
  if (id && !w) return;
  const close = el('button', { class: 'btn', type: 'button' }, '关闭');
  close.addEventListener('click', closeDrawer);
  const form = fieldsForm(w);
  let firstGrid = null; // a new worker's grid (a district admin's worker needs one in the district)
  if (!w) {
    const shift = el('select', { name: 'shift', 'aria-label': '班次' }, Object.entries(SHIFT).map(([v, label]) => el('option', { value: v }, label)));
    const picker = areaPicker((_prefix, chosen) => { firstGrid = chosen && chosen.level === 'grid' ? chosen.code : null; });
    form.insertBefore(el('label', {}, '负责网格', el('span', { class: 'actions' }, picker, shift)), form.lastElementChild);
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = fieldsOf(form, !w);
    if (!w) body.grids = firstGrid ? [{ grid_code: firstGrid, shift: form.elements.shift.value }] : [];
    const out = await call(() => api(w ? rosterPath(w.id) : '/api/roster', { method: w ? 'PATCH' : 'POST', body }), w ? '已保存' : '已创建');
    if (out) {
      load();
      openDrawer(out.id || (w && w.id) || body.id);
    }
  });
  const parts = [el('div', { class: 'drawer-head' }, el('h2', {}, w ? `${w.name || w.id}${w.code ? `（${w.code}）` : ''}` : '新增网格员'), close),
    el('h3', {}, '基本信息'), form];
  if (w) {
    const past = el('div', {}, el('p', { class: 'muted' }, '加载中…'));
    parts.push(el('h3', {}, '负责网格'), gridsEditor(w, (w.grids || []).map((g) => ({ ...g }))),
      el('h3', {}, '请假'), leaveEditor(w), el('h3', {}, '分配历史'), past);
    history(w, past);
  }
  drawer.replaceChildren(...parts);
  drawer.hidden = false;
}

function layout() {
  root.innerHTML = `
    <section class="panel" aria-label="网格员">
      <div class="panel-head"><h2>网格员</h2><span class="muted hint">一格可多员；请假期间不派单</span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="filter" role="search">
          <label>搜索<input name="q" type="search" maxlength="64" placeholder="姓名、编号、电话"></label>
          <label>区域<span data-part="area"></span></label>
          <label>状态<select name="active"><option value="">全部</option><option value="1">在册</option><option value="0">停用</option></select></label>
          <button class="btn" type="button" data-part="new">新增网格员</button>
        </form>
        <div class="table-wrap"><table class="admin-table">
          <thead><tr><th>姓名</th><th>编号</th><th>电话</th><th>类型</th><th>级别</th><th>网格（班次）</th><th>状态</th></tr></thead>
          <tbody data-part="rows"></tbody>
        </table></div>
        <div class="pager"><button class="btn" type="button" data-part="prev">上一页</button>
          <span class="muted" data-part="page"></span><button class="btn" type="button" data-part="next">下一页</button></div>
      </div>
    </section>
    <aside class="drawer" data-part="drawer" hidden aria-label="网格员详情"></aside>`;
}

export async function mount(section, context) {
  root = section;
  ctx = context;
  offset = 0;
  area = '';
  layout();
  part('area').append(areaPicker((prefix) => { area = prefix; offset = 0; load(); }));
  let timer = 0;
  const f = part('filter');
  f.addEventListener('input', (ev) => {
    if (ev.target.name !== 'q') return;
    clearTimeout(timer);
    timer = setTimeout(() => { offset = 0; load(); }, 250);
  });
  f.elements.active.addEventListener('change', () => { offset = 0; load(); });
  f.addEventListener('submit', (ev) => ev.preventDefault());
  part('new').addEventListener('click', () => openDrawer(null));
  part('prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); load(); });
  part('next').addEventListener('click', () => { offset += PAGE; load(); });
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') closeDrawer(); });
  await load();
}
