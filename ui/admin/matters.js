// 事项清单: the matter catalogue in effect for a district, the proposals (a district admin
// proposes adding or changing a matter; the city approves or rejects), and each matter's
// version history. The server checks every field and who may do what; this page only asks.

import { applyI18n, matterClassName, matterName, t } from '../common/i18n.js';

// The classes by number, as the server spells them (dispatch/catalog.py MatterClass): these are
// the values sent; people read matterClassName's word for them in their language.
const CLASSES = { '01': '市容环境', '02': '宣传广告', '03': '施工管理', '04': '突发事件', '05': '街面秩序', '99': '其他' };
const HANDLERS = { worker: t('admin.matters.handler.worker'), department: t('admin.matters.handler.department') };
const STATUS = {
  proposed: t('admin.matters.status.proposed'), approved: t('admin.matters.status.approved'),
  rejected: t('admin.matters.status.rejected'), withdrawn: t('admin.matters.status.withdrawn'),
};
const SOURCE = {
  base: t('admin.matters.source.base'), city: t('admin.matters.source.city'), district: t('admin.matters.source.district'),
};
const escape = (text) => String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

let ctx;
let root;
let catalogue = { items: [], districts: [] };
const part = (name) => root.querySelector(`[data-part="${name}"]`);
const isCity = () => !ctx.me.jurisdiction;
/** A time limit in words: clock minutes (immediate matters), working hours or working days. */
function limitText(limit) {
  if (limit.minutes != null) return t('admin.matters.limit.minutes', { n: limit.minutes });
  return limit.hours != null ? t('admin.matters.limit.hours', { n: limit.hours }) : t('admin.matters.limit.days', { n: limit.days });
}
const limitUnit = (limit) => ['minutes', 'hours', 'days'].find((unit) => limit[unit] != null) || 'days';

function today() {
  return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10); // Asia/Shanghai
}

function layout() {
  const classes = Object.entries(CLASSES)
    .map(([code, name]) => `<option value="${escape(name)}">${escape(matterClassName(code, name))}</option>`).join('');
  const handlers = Object.entries(HANDLERS).map(([k, v]) => `<option value="${k}">${escape(v)}</option>`).join('');
  root.innerHTML = `
    <section class="panel" data-i18n-aria-label="admin.matters.title">
      <div class="panel-head"><h2 data-i18n="admin.matters.heading"></h2>
        <span class="muted hint" data-i18n="admin.matters.hint"></span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="pick">
          <label><span data-i18n="admin.matters.district"></span><select name="district" data-part="district"></select></label>
          <label><span data-i18n="admin.matters.day"></span><input type="date" name="day" data-part="day"></label>
        </form>
        <div class="table-wrap"><table class="admin-table">
          <thead><tr><th data-i18n="admin.matters.code"></th><th data-i18n="admin.matters.matter"></th><th data-i18n="admin.matters.class"></th>
            <th data-i18n="admin.matters.department"></th><th data-i18n="admin.matters.handler"></th><th data-i18n="admin.matters.limit"></th>
            <th data-i18n="admin.matters.closure"></th><th data-i18n="admin.matters.source"></th><th></th></tr></thead>
          <tbody data-part="items"></tbody>
        </table></div>
        <div data-part="history" hidden></div>
      </div>
    </section>
    <section class="panel" data-i18n-aria-label="admin.matters.proposals">
      <div class="panel-head"><h2 data-i18n="admin.matters.proposals"></h2><span class="muted hint" data-part="who"></span></div>
      <div class="panel-body">
        <div class="table-wrap"><table class="admin-table">
          <thead><tr><th data-i18n="admin.matters.matter"></th><th data-i18n="admin.matters.district"></th><th data-i18n="admin.matters.version"></th>
            <th data-i18n="admin.matters.content"></th><th data-i18n="admin.matters.effective"></th><th data-i18n="admin.matters.reason"></th>
            <th data-i18n="admin.matters.status"></th><th data-i18n="admin.matters.actions"></th></tr></thead>
          <tbody data-part="proposals"></tbody>
        </table></div>
      </div>
    </section>
    <section class="panel" data-i18n-aria-label="admin.matters.propose">
      <div class="panel-head"><h2 data-i18n="admin.matters.propose"></h2></div>
      <div class="panel-body">
        <form class="admin-form" data-part="propose">
          <label><span data-i18n="admin.matters.change"></span><select name="change">
            <option value="change" data-i18n="admin.matters.change.change"></option>
            <option value="add" data-i18n="admin.matters.change.add"></option></select></label>
          <label><span data-i18n="admin.matters.matter_code"></span><input name="code" required maxlength="16" list="matter-codes"
            autocomplete="off"></label>
          <label><span data-i18n="admin.matters.matter_name"></span><input name="name" required maxlength="60"></label>
          <label><span data-i18n="admin.matters.class"></span><select name="class">${classes}</select></label>
          <label><span data-i18n="admin.matters.department"></span><input name="department" required maxlength="60"></label>
          <label><span data-i18n="admin.matters.handler_label"></span><select name="handler">${handlers}</select></label>
          <label><span data-i18n="admin.matters.limit"></span><input name="limit" type="number" min="0.1" step="0.1" required></label>
          <label><span data-i18n="admin.matters.unit"></span><select name="unit">
            <option value="hours" data-i18n="admin.matters.unit.hours"></option>
            <option value="days" data-i18n="admin.matters.unit.days"></option>
            <option value="minutes" data-i18n="admin.matters.unit.minutes"></option></select></label>
          <label><span data-i18n="admin.matters.closure"></span><input name="closure_standard" required maxlength="300"></label>
          <label><span data-i18n="admin.matters.verify"></span><select name="verify">
            <option value="off" data-i18n="admin.matters.verify.off"></option>
            <option value="suggest" data-i18n="admin.matters.verify.suggest"></option>
            <option value="auto" data-i18n="admin.matters.verify.auto"></option></select></label>
          <label><span data-i18n="admin.matters.verify_hold"></span><input name="verify_hold_s" type="number" min="5" max="3600"
            step="1" value="60"></label>
          <label><span data-i18n="admin.matters.effective_from"></span><input name="effective_from" type="date" required></label>
          <label><span data-i18n="admin.matters.reason"></span><input name="reason" required maxlength="500"></label>
          <button class="btn btn-primary" type="submit" data-i18n="admin.matters.submit"></button>
        </form>
        <datalist id="matter-codes" data-part="codes"></datalist>
      </div>
    </section>`;
  applyI18n(root);
}

function matterRow(m) {
  const { el } = ctx;
  const history = el('button', { class: 'btn', type: 'button' }, t('admin.matters.versions'));
  history.addEventListener('click', () => showHistory(m));
  const edit = el('button', { class: 'btn', type: 'button' }, t('admin.matters.adjust'));
  edit.addEventListener('click', () => fillForm(m));
  const since = m.effective_from ? t('admin.matters.since', { day: m.effective_from, version: m.version }) : '';
  return el('tr', { dataset: { code: m.code } },
    el('td', { class: 'mono' }, m.code), el('td', {}, matterName(m.code, m.name)), el('td', {}, matterClassName(m.code, m.class)),
    el('td', {}, m.department),
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
  part('codes').replaceChildren(...out.items.map((m) => ctx.el('option', { value: m.code }, matterName(m.code, m.name))));
}

function fillForm(m) {
  const f = part('propose').elements;
  f.change.value = 'change';
  for (const key of ['code', 'name', 'department', 'closure_standard']) f[key].value = m[key];
  f.class.value = m.class;
  f.handler.value = m.handler;
  f.unit.value = limitUnit(m.time_limit);
  f.limit.value = m.time_limit[f.unit.value];
  f.verify.value = m.verify || 'off';
  f.verify_hold_s.value = m.verify_hold_s || 60;
  f.limit.focus();
}

async function showHistory(m) {
  const { el } = ctx;
  const q = new URLSearchParams({ district: part('district').value });
  const out = await ctx.call(() => ctx.api(`/api/matters/${encodeURIComponent(m.code)}/versions?${q}`));
  if (!out) return;
  const box = part('history');
  box.hidden = false;
  box.replaceChildren(el('h3', {}, t('admin.matters.versions_of', { name: matterName(m.code, m.name) })),
    out.items.length ? el('ul', {}, out.items.map((v) => el('li', {},
      t('admin.matters.version_line', {
        version: v.version, district: v.district_name, limit: limitText(v.matter.time_limit), day: v.effective_from,
        status: STATUS[v.status] || v.status, who: `${v.proposed_by}${v.decided_by ? ` / ${v.decided_by}` : ''}`,
      }))))
      : el('p', { class: 'muted' }, t('admin.matters.base_only')));
}

function proposalRow(p) {
  const { el, call, api } = ctx;
  const buttons = [];
  const act = (verb, label, done, cls = 'btn') => {
    const b = el('button', { class: cls, type: 'button', dataset: { act: verb } }, label);
    b.addEventListener('click', async () => {
      const note = verb === 'withdraw' ? '' : (prompt(t('admin.matters.note_prompt', { action: label })) ?? null);
      if (note === null) return;
      if (await call(() => api(`/api/matters/proposals/${p.id}/${verb}`, { method: 'POST', body: { note } }), done)) refresh();
    });
    buttons.push(b);
  };
  if (p.status === 'proposed' && isCity()) {
    act('approve', t('admin.matters.approve'), t('admin.matters.approved'), 'btn btn-primary');
    act('reject', t('admin.matters.reject'), t('admin.matters.rejected'), 'btn btn-danger');
  }
  if (p.status === 'proposed' && p.district === ctx.me.jurisdiction) act('withdraw', t('admin.matters.withdraw'), t('admin.matters.withdrawn'));
  return el('tr', { dataset: { id: p.id, code: p.code } },
    el('td', {}, t('admin.matters.name_code', { name: p.name, code: p.code })), el('td', {}, p.district_name),
    el('td', {}, t('admin.matters.version_n', { version: p.version })),
    el('td', {}, `${p.change === 'add' ? t('admin.matters.kind.add') : t('admin.matters.kind.change')} · ${
      limitText(p.matter.time_limit)} · ${p.matter.department}`),
    el('td', {}, p.effective_from), el('td', {}, p.reason),
    el('td', { class: 'status' }, STATUS[p.status] || p.status), el('td', {}, el('div', { class: 'actions' }, buttons)));
}

async function loadProposals() {
  const out = await ctx.call(() => ctx.api('/api/matters/proposals'));
  if (!out) return;
  const rows = out.items.slice(0, 100);
  part('proposals').replaceChildren(...(rows.length ? rows.map(proposalRow)
    : [ctx.el('tr', {}, ctx.el('td', { colspan: 8, class: 'muted' }, t('admin.matters.no_proposals')))]));
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
      verify: f.verify.value, verify_hold_s: Number(f.verify_hold_s.value) || 60,
      ...keepUnedited(f.code.value.trim()),
    },
    effective_from: f.effective_from.value,
    reason: f.reason.value.trim(),
  };
  const made = await ctx.call(() => ctx.api('/api/matters/proposals', { method: 'POST', body }), t('admin.matters.submitted'));
  if (made) {
    ev.target.reset();
    f.effective_from.value = today();
    refresh();
  }
}

// What a matter has that the form does not edit: a changed matter keeps it as it was.
const UNEDITED = ['name_en', 'rules', 'labels', 'urgency', 'dispatch', 'confirm_s', 'unconfirmed', 'emergency_class',
  'verify_timeout_s'];

function keepUnedited(code) {
  const m = catalogue.items.find((x) => x.code === code);
  if (!m) return {};
  return Object.fromEntries(UNEDITED.filter((k) => m[k] !== undefined && m[k] !== null).map((k) => [k, m[k]]));
}

export async function mount(section, context) {
  root = section;
  ctx = context;
  layout();
  part('who').textContent = isCity() ? t('admin.matters.who_city') : t('admin.matters.who_district');
  part('day').value = today();
  part('propose').elements.effective_from.value = today();
  part('propose').addEventListener('submit', propose);
  const first = await ctx.call(() => ctx.api('/api/matters'));
  if (first) catalogue = first;
  const select = part('district');
  const own = ctx.me.jurisdiction.slice(0, 6);
  const options = isCity() ? [{ code: '', name: t('common.nav.whole_city') }, ...catalogue.districts]
    : catalogue.districts.filter((d) => d.code === own);
  select.replaceChildren(...options.map((d) => ctx.el('option', { value: d.code }, d.name)));
  select.value = isCity() ? '' : own;
  select.addEventListener('change', loadCatalogue);
  part('day').addEventListener('change', loadCatalogue);
  await refresh();
}
