// The 采集 tab (base-data collection, issue 19): the worker picks a building of their grids,
// sees its households and the people in each (ID numbers and phones masked as the API gives
// them), adds a household or a person, changes one, or marks a record 核实无误. Every form
// goes through the queue (./collect_queue.js): sent at once when there is network, kept and
// sent in order when there is none, sent once either way; a conflict is shown with both
// versions to settle. New addresses and buildings (./collect_new.js) go the same way; a form
// still waiting (not sent yet) opens again with 修改 and is changed in the queue, still sent
// once (CollectQueue.revise). Another module opens a record's form with
//   window.dispatchEvent(new CustomEvent('collect:edit', { detail: { kind, id } }))
// (the re-check list): its form is a re-check, sent with "verified": true.

import { $, el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { toast } from '../common/util.js';
import { householdForm, kindName, personForm } from './collect_forms.js';
import { queuedNew } from './collect_new.js';
import { masked, renderQueue as showQueue } from './collect_conflicts.js';
import { CollectQueue } from './collect_queue.js';
import { NEW_KINDS, closeForm, confirmPerson, editFromEvent, editQueued, openForm, openNew, openRecordForm,
  queueForm, reasonOf, submitter } from './collect_open.js';
import { photoUrl } from './field_photo.js';

const c = (key, vars) => t(`terminal.collect.${key}`, vars);
const RETRY_MS = 15000;  // the queue tries again this often while something waits
const SHOWN = 200;       // buildings listed at once: more, and the search narrows them

/** Mounts the tab on index.html's #collect; returns {refresh, flush, queue, open(code)}. */
export function setupCollect({ worker, onCount, show }) {
  const ctx = { worker, onCount, show, grids: null, grid: '', buildings: [], search: '', code: null, view: null };
  build(ctx);
  ctx.queue = new CollectQueue(worker, {
    onSent: (entry) => { toast(c('sent', { what: entry.label }), 'ok', 3000); reloadBuilding(ctx); },
    onDropped: (entry, err) => toast(c('dropped', { what: entry.label, reason: reasonOf(err) }), 'error', 9000),
    onConflict: (entry) => toast(c('conflict.toast', { what: entry.label }), 'error', 6000),
    onChange: () => { showQueue(ctx, reloadBuilding); renderBuilding(ctx); renderList(ctx); },
  });
  window.addEventListener('collect:edit', (ev) => editFromEvent(ctx, ev.detail || {}));
  setInterval(() => { if (ctx.queue.waiting().length && navigator.onLine !== false) ctx.queue.flush(); }, RETRY_MS);
  showQueue(ctx, reloadBuilding);
  if (ctx.queue.waiting().length) ctx.queue.flush(); // left over from before a reload
  return { refresh: () => refresh(ctx), flush: () => ctx.queue.flush(), queue: ctx.queue, open: (code) => openBuilding(ctx, code) };
}

// ---- the tab's fixed parts ----

function build(ctx) {
  const send = el('button', { class: 'btn', type: 'button', id: 'collect-send' }, c('queue.send'));
  send.addEventListener('click', () => ctx.queue.flush());
  const bar = el('div', { class: 'collect-queue', id: 'collect-queue' },
    el('span', { class: 'collect-queue-text', id: 'collect-queue-text', role: 'status', 'aria-live': 'polite' }), send);
  const grid = el('select', { id: 'collect-grid', 'aria-label': c('grid') });
  grid.addEventListener('change', () => { ctx.grid = grid.value; ctx.code = null; loadBuildings(ctx); });
  const search = el('input', { id: 'collect-search', type: 'search', placeholder: c('search'), 'aria-label': c('search') });
  search.addEventListener('input', () => { ctx.search = search.value.trim().toLowerCase(); renderList(ctx); });
  const adds = NEW_KINDS.map((kind) => {
    const act = `new_${kind}`;
    const button = el('button', { class: 'btn', type: 'button', dataset: { act } }, c(`act.${act}`));
    button.addEventListener('click', () => openNew(ctx, kind));
    return button;
  });
  const browse = el('div', { class: 'collect-browse', id: 'collect-browse' },
    el('label', { class: 'collect-grid', id: 'collect-grid-label', hidden: true }, el('span', {}, c('grid')), grid),
    search, el('div', { class: 'collect-actions collect-adds' }, adds), el('p', { class: 'rounds-error', id: 'collect-error', role: 'alert', hidden: true }),
    el('ul', { class: 'collect-buildings', id: 'collect-buildings' }));
  // The queue, its conflicts and the open form first; then the records due for re-checking
  // (#collect-checks, another module's list; out of the way while a building is open); then the buildings.
  const root = $('collect');
  root.prepend(bar, el('ul', { class: 'collect-conflicts', id: 'collect-conflicts' }),
    el('section', { class: 'collect-form-box', id: 'collect-form', hidden: true }));
  root.append(browse, el('section', { class: 'collect-building', id: 'collect-building', hidden: true }));
}

function say(text) {
  const node = $('collect-error');
  node.textContent = text || '';
  node.hidden = !text;
}

// ---- loading ----

async function refresh(ctx) {
  try {
    if (!ctx.grids) {
      const counts = await api('/api/basedata/counts');
      ctx.grids = (counts.items || []).map((g) => ({ code: g.grid_code, name: g.name || g.grid_code }));
      ctx.grid = ctx.grid || (ctx.grids[0] ? ctx.grids[0].code : '');
      renderGrids(ctx);
      api(`/api/workers/${encodeURIComponent(ctx.worker)}`).then((w) => { ctx.home = w; }).catch(() => {});
    }
    await loadBuildings(ctx);
    await reloadBuilding(ctx);
  } catch (err) {
    if (err.status === 401) showLogin({ username: ctx.worker });
    else say(c('load_failed', { reason: reasonOf(err) })); // what was loaded before stays shown
  }
}

async function loadBuildings(ctx) {
  if (!ctx.grid) { ctx.buildings = []; renderList(ctx); return; }
  try {
    const page = await api(`/api/basedata/buildings?area=${encodeURIComponent(ctx.grid)}&limit=1000`);
    ctx.buildings = page.items || [];
    say('');
  } catch (err) {
    if (err.status === 401) { showLogin({ username: ctx.worker }); return; }
    say(c('load_failed', { reason: reasonOf(err) }));
  }
  renderList(ctx);
}

async function openBuilding(ctx, code) {
  ctx.code = code;
  ctx.view = ctx.view && ctx.view.building.code === code ? ctx.view : null;
  renderBuilding(ctx);
  await reloadBuilding(ctx);
}

async function reloadBuilding(ctx) {
  if (!ctx.code) return;
  const code = ctx.code;
  try {
    const view = await api(`/api/basedata/buildings/${encodeURIComponent(code)}/households`);
    if (ctx.code === code) ctx.view = view;
  } catch (err) {
    if (err.status === 404) { ctx.code = null; ctx.view = null; say(c('err.gone')); }
    // no network: the building as last loaded, with what waits in the queue
  }
  renderBuilding(ctx);
}

// ---- the buildings of a grid ----

function renderGrids(ctx) {
  const select = $('collect-grid');
  select.replaceChildren(...ctx.grids.map((g) => el('option', { value: g.code }, g.name)));
  select.value = ctx.grid;
  $('collect-grid-label').hidden = ctx.grids.length < 2;
}

const buildingMeta = (b) => [c('floors', { n: b.floors }), kindName('use', b.use), b.rental ? c('rental') : null,
  b.due ? c('due') : null].filter(Boolean).join(' · ');

function renderList(ctx) {
  const found = ctx.buildings.filter((b) => !ctx.search
    || `${b.name} ${b.code} ${b.address_code}`.toLowerCase().includes(ctx.search));
  const items = NEW_KINDS.flatMap((kind) => queuedNew(ctx.queue, kind, ctx.grid))
    .map((r) => el('li', { class: 'collect-new', dataset: { code: r.code || r.id, kind: r.queued.kind, waiting: 'true' } },
      el('div', { class: 'collect-row' }, el('span', { class: 'collect-name' }, r.name || r.text || r.code),
        r.code ? el('span', { class: 'muted', translate: 'no' }, r.code) : el('span', { class: 'muted' }, kindName('org', r.kind)),
        state(r.queued)),
      actions(ctx, r.queued.kind, r)));
  items.push(...found.slice(0, SHOWN).map((b) => {
    const button = el('button', { class: 'collect-building-item', type: 'button', dataset: { code: b.code, due: String(b.due) } },
      el('span', { class: 'collect-name', translate: b.name ? null : 'no' }, b.name || b.code), el('span', { class: 'muted' }, buildingMeta(b)));
    button.addEventListener('click', () => openBuilding(ctx, b.code));
    return el('li', {}, button);
  }));
  if (found.length > SHOWN) items.push(el('li', { class: 'muted' }, c('more', { n: found.length - SHOWN })));
  const empty = ctx.grids && !ctx.grids.length ? c('no_grids') : c('no_buildings');
  $('collect-buildings').replaceChildren(...(items.length ? items : [el('li', { class: 'empty' }, empty)]));
}

// ---- a building: its households and people, with what waits in the queue ----

function withQueued(ctx, view) {
  const entries = ctx.queue.entries();
  const creates = (kind, test) => entries.filter((e) => e.op === 'create' && e.kind === kind && test(e));
  const homes = view.households.map((h) => ({ ...h, people: [...h.people] }));
  for (const e of creates('household', (x) => x.body.building_code === view.building.code)) {
    if (!homes.some((h) => h.id === e.id)) homes.push({ id: e.id, room: e.body.room, kind: e.body.kind, people: [], queued: e });
  }
  for (const home of homes) {
    for (const e of creates('person', (x) => x.body.household_id === home.id)) {
      home.people.push({ name: e.body.name, kind: e.body.kind, id_number: masked(e.body.id_number), queued: e });
    }
  }
  const changing = new Map(entries.filter((e) => e.op !== 'create').map((e) => [`${e.kind}:${e.id}`, e]));
  return { homes: homes.sort((a, b) => String(a.room).localeCompare(String(b.room), 'zh')), changing };
}


function renderBuilding(ctx) {
  const box = $('collect-building');
  $('collect-browse').hidden = Boolean(ctx.code);
  box.hidden = !ctx.code;
  const checks = $('collect-checks');
  if (checks) checks.hidden = Boolean(ctx.code);
  if (!ctx.code) return;
  const back = el('button', { class: 'btn', type: 'button', dataset: { back: '' } }, c('back'));
  back.addEventListener('click', () => { ctx.code = null; renderBuilding(ctx); renderList(ctx); });
  if (!ctx.view) { box.replaceChildren(back, el('p', { class: 'muted' }, c('loading'))); return; }
  const { building } = ctx.view;
  const { homes, changing } = withQueued(ctx, ctx.view);
  const head = el('div', { class: 'collect-head' },
    el('h2', { class: 'collect-title', translate: building.name ? null : 'no' }, building.name || building.code),
    el('p', { class: 'muted' }, buildingMeta(building)), plate(building.plate_photo_id),
    state(changing.get(`building:${building.code}`)),
    actions(ctx, 'building', building, [['edit', () => openRecordForm(ctx, 'building', building, false)],
      ['add_household', () => openForm(ctx, householdForm({ record: null, building, onCancel: () => closeForm(),
        onSubmit: submitter(ctx, 'create', 'household', null, building) }))]]));
  const list = homes.map((h) => householdCard(ctx, h, building, changing));
  box.replaceChildren(...[back, head, ctx.view.truncated ? el('p', { class: 'muted' }, c('truncated')) : null,
    el('ul', { class: 'collect-households' }, list.length ? list : el('li', { class: 'empty' }, c('no_households')))]
    .filter(Boolean));
}

const plate = (id) => (id ? el('img', { class: 'collect-plate', src: photoUrl(id),
  alt: c('field.photo'), loading: 'lazy', onerror: (ev) => { ev.target.hidden = true; } }) : null);

function state(entry) {
  if (!entry) return null;
  return el('span', { class: 'collect-state', dataset: { state: entry.state } }, c(entry.state === 'conflict' ? 'conflict.badge' : 'waiting'));
}

/** The record's buttons. One only queued so far cannot be changed or checked yet: it may
 * be taken back, and a household take its people. */
function actions(ctx, kind, record, more = []) {
  const verify = ['verify', () => queueForm(ctx, 'update', kind, record, null)({ body: { verified: true }, photo: null })];
  const withdraw = ['withdraw', () => ctx.queue.withdraw(record.queued.key)];
  const revise = ['edit', () => editQueued(ctx, record.queued)];
  const mayEdit = record.queued && ctx.queue.editable(record.queued) ? [revise] : [];
  const chosen = record.queued ? [...mayEdit, ...more.filter(([act]) => act === 'add_person'), withdraw] : [...more, verify];
  return el('div', { class: 'collect-actions' }, chosen.map(([act, run]) => button(act, run)));
}

function householdCard(ctx, h, building, changing) {
  const people = h.people.map((p) => {
    const pending = p.queued || changing.get(`person:${p.id}`);
    const more = [['edit', () => openRecordForm(ctx, 'person', p, false)]];
    if (!pending) more.push(['leave', () => confirmPerson(ctx, 'leave', p)]);
    else if (pending.op === 'leave' && ctx.queue.editable(pending)) more.push(['withdraw', () => ctx.queue.withdraw(pending.key)]);
    return el('li', { class: 'collect-person', dataset: { personId: p.id || '', waiting: String(Boolean(p.queued)) } },
      el('div', { class: 'collect-row' }, el('span', { class: 'collect-name' }, p.name),
        el('span', { class: 'muted' }, [kindName('person', p.kind), p.arrival_date ? c('arrived', { date: p.arrival_date }) : null]
          .filter(Boolean).join(' · ')),
        // masked as the API gives them: copied as they are, never translated
        el('span', { class: 'collect-ids muted', translate: 'no' }, [p.id_number, p.phone].filter(Boolean).join(' · ')),
        p.due ? el('span', { class: 'collect-due' }, c('due')) : null, state(pending)),
      actions(ctx, 'person', p, more));
  });
  // 迁出 marked (on the terminal or in the office): shown apart, and undone on site if it was a mistake
  const gone = (h.moved_out || []).map((p) => {
    const pending = changing.get(`person:${p.id}`);
    return el('li', { class: 'collect-person collect-moved', dataset: { personId: p.id, moved: 'true' } },
      el('div', { class: 'collect-row' }, el('span', { class: 'collect-name' }, p.name),
        el('span', { class: 'muted' }, c('moved', { date: p.left_on })), state(pending)),
      el('div', { class: 'collect-actions' }, !pending ? button('return', () => confirmPerson(ctx, 'return', p))
        : ctx.queue.editable(pending) ? button('withdraw', () => ctx.queue.withdraw(pending.key)) : null));
  });
  const addPerson = ['add_person', () => openForm(ctx, personForm({ record: null, onCancel: () => closeForm(),
    onSubmit: submitter(ctx, 'create', 'person', null, building, h) }))];
  return el('li', { class: 'collect-household', dataset: { householdId: h.id, waiting: String(Boolean(h.queued)), due: String(Boolean(h.due)) } },
    el('div', { class: 'collect-row' }, el('span', { class: 'collect-name' }, c('label.household', { room: h.room })),
      el('span', { class: 'muted' }, kindName('household', h.kind)), h.due ? el('span', { class: 'collect-due' }, c('due')) : null,
      state(h.queued || changing.get(`household:${h.id}`)), plate(h.plate_photo_id)),
    actions(ctx, 'household', h, [['edit', () => openRecordForm(ctx, 'household', h, false)], addPerson]),
    el('ul', { class: 'collect-people' }, people, gone));
}

function button(act, run) {
  const node = el('button', { class: `btn${act === 'verify' ? ' btn-ok' : ''}`, type: 'button', dataset: { act } },
    c(act === 'withdraw' ? 'withdraw' : `act.${act}`));
  node.addEventListener('click', run);
  return node;
}
