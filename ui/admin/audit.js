// 审计日志: who did what to what, newest first, with filters (actor, action or an action group
// such as "user.", target, a time range) and paging. Times are shown local; actions in words
// where known. City-wide admins only (the server refuses district admins).

import { applyI18n, has, nameOf, t } from '../common/i18n.js';

let ctx;
let root;
const part = (name) => root.querySelector(`[data-part="${name}"]`);
const PAGE = 50;
let offset = 0;

// Action groups offered in the filter (a trailing "." asks the server for every action under it).
const GROUPS = Object.fromEntries([
  'user.', 'login', 'roster.', 'camera.', 'matter.', 'calendar.', 'settings.', 'import.', 'grids.', 'publish_key.',
  'case.', 'incident.', 'emergency.', 'team.', 'worker.', 'evidence.',
].map((group) => [group, t(`admin.audit.group.${group.replace(/\.$/, '')}`)]));
const escape = (text) => String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** An action in words: its own (admin.audit.action.<action>), else its group's and the case
 *  action's name (names.json), else the group's and the raw rest (the cell's title has it all). */
function actionName(action) {
  if (has(`admin.audit.action.${action}`)) return t(`admin.audit.action.${action}`);
  const group = Object.keys(GROUPS).find((g) => g.endsWith('.') && action.startsWith(g));
  if (!group) return action;
  const rest = action.slice(group.length);
  return t('admin.audit.group_action', { group: GROUPS[group], action: has(`action.${rest}`) ? nameOf('action', rest) : rest });
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
  // translate=no: usernames, targets (ids), the stored detail and addresses are kept as recorded.
  return el('tr', { dataset: { seq: r.seq } },
    el('td', { class: 'mono' }, when(r.ts)),
    el('td', {}, el('span', { translate: 'no' }, r.actor),
      el('span', { class: 'muted' }, r.role && r.role !== '-' ? ` · ${ctx.roles[r.role] || r.role}` : '')),
    el('td', { title: r.action }, actionName(r.action)),
    el('td', { class: 'mono', translate: 'no' }, r.target || ''),
    el('td', { translate: 'no' }, r.detail || ''),
    el('td', { class: 'mono muted', translate: 'no' }, r.ip || ''));
}

async function load() {
  const out = await ctx.call(() => ctx.api(`/api/audit?${query()}`));
  if (!out) return;
  const { el } = ctx;
  part('rows').replaceChildren(...(out.items.length ? out.items.map(row)
    : [el('tr', {}, el('td', { colspan: 6, class: 'muted' }, t('admin.audit.none')))]));
  const last = offset + out.items.length;
  part('page').textContent = out.total
    ? t('admin.audit.page', { from: offset + 1, to: last, total: out.total }) : t('admin.audit.page_empty');
  part('prev').disabled = offset === 0;
  part('next').disabled = last >= out.total;
}

function layout() {
  const groups = Object.entries(GROUPS).map(([v, label]) => `<option value="${v}">${escape(label)}</option>`).join('');
  root.innerHTML = `
    <section class="panel" data-i18n-aria-label="admin.audit.title">
      <div class="panel-head"><h2 data-i18n="admin.audit.title"></h2><span class="muted hint" data-i18n="admin.audit.hint"></span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="filter" role="search">
          <label><span data-i18n="admin.audit.actor"></span><input name="actor" maxlength="64"
            data-i18n-placeholder="admin.audit.actor_hint"></label>
          <label><span data-i18n="admin.audit.action"></span><input name="action" maxlength="64" list="audit-actions"
            placeholder="${escape(t('admin.audit.action_hint', { example: 'user.' }))}"></label>
          <label><span data-i18n="admin.audit.target"></span><input name="target" maxlength="120"
            data-i18n-placeholder="admin.audit.target_hint"></label>
          <label><span data-i18n="admin.audit.since"></span><input name="since" type="datetime-local"></label>
          <label><span data-i18n="admin.audit.until"></span><input name="until" type="datetime-local"></label>
          <button class="btn btn-primary" type="submit" data-i18n="admin.audit.search"></button>
          <button class="btn" type="reset" data-i18n="admin.audit.clear"></button>
        </form>
        <datalist id="audit-actions">${groups}</datalist>
        <div class="table-wrap"><table class="admin-table">
          <thead><tr><th data-i18n="admin.audit.time"></th><th data-i18n="admin.audit.actor"></th><th data-i18n="admin.audit.action"></th>
            <th data-i18n="admin.audit.target"></th><th data-i18n="admin.audit.detail"></th><th data-i18n="admin.audit.ip"></th></tr></thead>
          <tbody data-part="rows"></tbody>
        </table></div>
        <div class="pager"><button class="btn" type="button" data-part="prev" data-i18n="admin.pager.prev"></button>
          <span class="muted" data-part="page"></span>
          <button class="btn" type="button" data-part="next" data-i18n="admin.pager.next"></button></div>
      </div>
    </section>`;
  applyI18n(root);
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
