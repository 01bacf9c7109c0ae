// 网格员: the roster. Filter by area (district → street → community → grid, by name) and text;
// a table of workers with their grids, shifts and leave; a drawer per worker to edit their
// fields, assign grids (一格多员: a grid may have several workers), add or end leave, and read
// the history of who worked which grid when. A district admin sees their district's workers.

import { applyI18n, t } from '../common/i18n.js';

let ctx;
let root;
const part = (name) => root.querySelector(`[data-part="${name}"]`);
const PAGE = 50;
let offset = 0;
let area = ''; // the area filter: a grid-code prefix

const KIND = { full_time: t('admin.roster.kind.full_time'), part_time: t('admin.roster.kind.part_time') };
const LEVEL = { professional: t('admin.roster.level.professional'), basic: t('admin.roster.level.basic') };
const SHIFT = { all: t('admin.roster.shift.all'), day: t('admin.roster.shift.day'), night: t('admin.roster.shift.night') };
const DIGITS = { district: 6, street: 9, community: 12, grid: 15 };
const LEVEL_NAME = {
  district: t('admin.roster.area.district'), street: t('admin.roster.area.street'),
  community: t('admin.roster.area.community'), grid: t('admin.roster.area.grid'),
};
const ALL_OF_LEVEL = {
  district: t('admin.roster.all.district'), street: t('admin.roster.all.street'),
  community: t('admin.roster.all.community'), grid: t('admin.roster.all.grid'),
};
const escape = (text) => String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const rosterPath = (id, tail = '') => `/api/roster/${encodeURIComponent(id)}${tail}`;
const options = (map, selected) => Object.entries(map)
  .map(([v, label]) => `<option value="${v}"${v === selected ? ' selected' : ''}>${escape(label)}</option>`).join('');

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
    const select = el('select', { 'aria-label': LEVEL_NAME[level] || t('admin.roster.area.any') },
      el('option', { value: '' }, ALL_OF_LEVEL[level] || t('admin.all')),
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
    t('admin.roster.grid_shift', {
      grid: `${g.community_name ? `${g.community_name} · ` : ''}${g.grid_name || g.grid_code}`, shift: SHIFT[g.shift] || g.shift,
    })));
}

function status(w) {
  const { el } = ctx;
  if (!w.active) return el('span', { class: 'tag bad' }, t('admin.roster.inactive'));
  return w.on_leave ? el('span', { class: 'tag leave' }, t('admin.roster.on_leave')) : el('span', { class: 'tag' }, t('admin.roster.on_duty'));
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
    el('td', {}, status(w), w.has_account ? '' : el('span', { class: 'muted' }, t('admin.roster.no_account'))));
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
    : [el('tr', {}, el('td', { colspan: 7, class: 'muted' }, t('admin.roster.none')))]));
  const last = offset + out.items.length;
  part('page').textContent = out.total
    ? t('admin.roster.page', { from: offset + 1, to: last, total: out.total }) : t('admin.roster.page_empty');
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
    ${w ? '' : '<label><span data-i18n="admin.roster.id"></span><input name="id" required maxlength="64" pattern="[A-Za-z0-9_.\\-]+"></label>'}
    <label><span data-i18n="admin.roster.name"></span><input name="name" required maxlength="40"></label>
    <label><span data-i18n="admin.roster.code"></span><input name="code" maxlength="40" data-i18n-placeholder="admin.roster.code_auto"></label>
    <label><span data-i18n="admin.roster.phone"></span><input name="phone" maxlength="20" inputmode="tel"></label>
    <label><span data-i18n="admin.roster.kind"></span><select name="kind">${options(KIND, w ? w.kind : 'full_time')}</select></label>
    <label><span data-i18n="admin.roster.level"></span><select name="level">${options(LEVEL, w ? w.level : 'basic')}</select></label>
    ${w ? `<label><span data-i18n="admin.roster.status"></span><select name="active">${
    options({ 1: t('admin.roster.active'), 0: t('admin.roster.inactive') }, w.active ? '1' : '0')}</select></label>` : ''}
    ${w ? '<button class="btn btn-primary" type="submit" data-i18n="admin.btn.save"></button>'
    : '<button class="btn btn-primary" type="submit" data-i18n="admin.btn.create"></button>'}`;
  applyI18n(form);
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
    const shift = el('select', { 'aria-label': t('admin.roster.shift') },
      Object.entries(SHIFT).map(([v, label]) => el('option', { value: v, selected: v === g.shift }, label)));
    shift.addEventListener('change', () => { g.shift = shift.value; });
    const drop = el('button', { class: 'btn', type: 'button' }, t('admin.btn.remove'));
    drop.addEventListener('click', () => { grids.splice(i, 1); render(); });
    // 三公开: the grid's public worker card (and from there its QR poster), in a new tab.
    const card = el('a', { class: 'btn', href: `/grid/${encodeURIComponent(g.grid_code)}`, target: '_blank', rel: 'noopener' },
      t('admin.roster.card'));
    return el('div', { class: 'actions', dataset: { grid: g.grid_code } },
      el('span', { title: g.grid_code }, g.grid_name || g.grid_code), shift, card, drop);
  }));
  render();
  let picked = null;
  const add = el('button', { class: 'btn', type: 'button', disabled: true }, t('admin.roster.add_grid'));
  const picker = areaPicker((_prefix, chosen) => {
    picked = chosen && chosen.level === 'grid' ? chosen : null;
    add.disabled = !picked;
  });
  add.addEventListener('click', () => {
    if (!picked || grids.some((g) => g.grid_code === picked.code)) return;
    grids.push({ grid_code: picked.code, grid_name: picked.name, shift: 'all' });
    render();
  });
  const save = el('button', { class: 'btn btn-primary', type: 'button' }, t('admin.roster.save_grids'));
  save.addEventListener('click', async () => {
    const body = { grids: grids.map((g) => ({ grid_code: g.grid_code, shift: g.shift })) };
    if (await call(() => api(rosterPath(w.id, '/grids'), { method: 'PUT', body }), t('admin.roster.grids_saved'))) {
      openDrawer(w.id);
      load();
    }
  });
  return el('div', {}, list, el('div', { class: 'actions' }, picker, add), el('p', {}, save));
}

function leaveEditor(w) {
  const { el, call, api, when } = ctx;
  const rows = (w.leave || []).map((l) => {
    const drop = el('button', { class: 'btn', type: 'button' }, t('admin.btn.cancel'));
    drop.addEventListener('click', async () => {
      const path = rosterPath(w.id, `/leave/${encodeURIComponent(l.id)}`);
      if (await call(() => api(path, { method: 'DELETE' }), t('admin.roster.leave_cancelled'))) openDrawer(w.id);
    });
    return el('div', { class: 'actions' }, t('admin.roster.leave_span', { from: when(l.starts), to: when(l.ends) }),
      l.note ? el('span', { class: 'muted' }, l.note) : '', drop);
  });
  const form = el('form', { class: 'admin-form' },
    el('label', {}, t('admin.roster.starts'), el('input', { name: 'starts', type: 'datetime-local', required: true })),
    el('label', {}, t('admin.roster.ends'), el('input', { name: 'ends', type: 'datetime-local', required: true })),
    el('label', {}, t('admin.roster.reason'), el('input', { name: 'note', maxlength: 200 })),
    el('button', { class: 'btn', type: 'submit' }, t('admin.roster.add_leave')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { starts: new Date(form.elements.starts.value).toISOString(),
      ends: new Date(form.elements.ends.value).toISOString(), note: form.elements.note.value.trim() };
    if (await call(() => api(rosterPath(w.id, '/leave'), { method: 'POST', body }), t('admin.roster.leave_added'))) {
      openDrawer(w.id);
      load();
    }
  });
  return el('div', {}, rows.length ? rows : el('p', { class: 'muted' }, t('admin.roster.no_leave')), form);
}

async function history(w, box) {
  const out = await ctx.call(() => ctx.api(`/api/roster/history?worker=${encodeURIComponent(w.id)}&limit=100`));
  if (!out) return;
  const { el, when } = ctx;
  const items = out.items || out;
  box.replaceChildren(items.length ? el('table', { class: 'admin-table' },
    el('thead', {}, el('tr', {}, el('th', {}, t('admin.roster.grid')), el('th', {}, t('admin.roster.shift')),
      el('th', {}, t('admin.roster.since')), el('th', {}, t('admin.roster.until')))),
    el('tbody', {}, items.map((h) => el('tr', {},
      el('td', { title: h.grid_code }, h.grid_name || h.grid_code), el('td', {}, SHIFT[h.shift] || h.shift || ''),
      el('td', {}, when(h.valid_from)), el('td', {}, h.valid_to ? when(h.valid_to) : t('admin.roster.now'))))))
    : el('p', { class: 'muted' }, t('admin.roster.no_history')));
}

async function openDrawer(id) {
  const { el, call, api } = ctx;
  const drawer = part('drawer');
  const w = id ? await call(() => api(rosterPath(id))) : null;
  if (id && !w) return;
  const close = el('button', { class: 'btn', type: 'button' }, t('admin.btn.close'));
  close.addEventListener('click', closeDrawer);
  const form = fieldsForm(w);
  let firstGrid = null; // a new worker's grid (a district admin's worker needs one in the district)
  if (!w) {
    const shift = el('select', { name: 'shift', 'aria-label': t('admin.roster.shift') },
      Object.entries(SHIFT).map(([v, label]) => el('option', { value: v }, label)));
    const picker = areaPicker((_prefix, chosen) => { firstGrid = chosen && chosen.level === 'grid' ? chosen.code : null; });
    form.insertBefore(el('label', {}, t('admin.roster.first_grid'), el('span', { class: 'actions' }, picker, shift)), form.lastElementChild);
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = fieldsOf(form, !w);
    if (!w) body.grids = firstGrid ? [{ grid_code: firstGrid, shift: form.elements.shift.value }] : [];
    const out = await call(() => api(w ? rosterPath(w.id) : '/api/roster', { method: w ? 'PATCH' : 'POST', body }),
      w ? t('admin.saved') : t('admin.created'));
    if (out) {
      load();
      openDrawer(out.id || (w && w.id) || body.id);
    }
  });
  const parts = [el('div', { class: 'drawer-head' }, el('h2', {}, w
    ? (w.code ? t('admin.roster.title_code', { name: w.name || w.id, code: w.code }) : w.name || w.id) : t('admin.roster.new')), close),
    el('h3', {}, t('admin.roster.basics')), form];
  if (w) {
    const past = el('div', {}, el('p', { class: 'muted' }, t('admin.loading')));
    parts.push(el('h3', {}, t('admin.roster.grids')), gridsEditor(w, (w.grids || []).map((g) => ({ ...g }))),
      el('h3', {}, t('admin.roster.leave')), leaveEditor(w), el('h3', {}, t('admin.roster.history')), past);
    history(w, past);
  }
  drawer.replaceChildren(...parts);
  drawer.hidden = false;
}

function layout() {
  root.innerHTML = `
    <section class="panel" data-i18n-aria-label="admin.roster.title">
      <div class="panel-head"><h2 data-i18n="admin.roster.title"></h2><span class="muted hint" data-i18n="admin.roster.hint"></span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="filter" role="search">
          <label><span data-i18n="admin.roster.search"></span><input name="q" type="search" maxlength="64"
            data-i18n-placeholder="admin.roster.search_hint"></label>
          <label><span data-i18n="admin.roster.area"></span><span data-part="area"></span></label>
          <label><span data-i18n="admin.roster.status"></span><select name="active"><option value="" data-i18n="admin.all"></option>
            <option value="1" data-i18n="admin.roster.active"></option><option value="0" data-i18n="admin.roster.inactive"></option></select></label>
          <button class="btn" type="button" data-part="new" data-i18n="admin.roster.new"></button>
        </form>
        <div class="table-wrap"><table class="admin-table">
          <thead><tr><th data-i18n="admin.roster.name"></th><th data-i18n="admin.roster.code"></th><th data-i18n="admin.roster.phone"></th>
            <th data-i18n="admin.roster.kind"></th><th data-i18n="admin.roster.level"></th><th data-i18n="admin.roster.grid_shifts"></th>
            <th data-i18n="admin.roster.status"></th></tr></thead>
          <tbody data-part="rows"></tbody>
        </table></div>
        <div class="pager"><button class="btn" type="button" data-part="prev" data-i18n="admin.pager.prev"></button>
          <span class="muted" data-part="page"></span>
          <button class="btn" type="button" data-part="next" data-i18n="admin.pager.next"></button></div>
      </div>
    </section>
    <aside class="drawer" data-part="drawer" hidden data-i18n-aria-label="admin.roster.details"></aside>`;
  applyI18n(root);
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
