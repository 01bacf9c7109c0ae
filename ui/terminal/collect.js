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
import { has, t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { toast } from '../common/util.js';
import { buildingForm, fieldName, householdForm, kindName, personForm, verifyForm } from './collect_forms.js';
import { addressForm, newBuildingForm, organisationForm, queuedNew } from './collect_new.js';
import { masked, renderQueue as showQueue } from './collect_conflicts.js';
import { CollectQueue, KEY_FIELD, PLURAL } from './collect_queue.js';
import { photoUrl } from './field_photo.js';

const c = (key, vars) => t(`terminal.collect.${key}`, vars);
const SINGULAR = Object.fromEntries(Object.entries(PLURAL).map(([kind, plural]) => [plural, kind]));
const RETRY_MS = 15000;  // the queue tries again this often while something waits
const SHOWN = 200;       // buildings listed at once: more, and the search narrows them
const NEW_KINDS = ['address', 'building', 'organisation']; // what the tab adds on its own, not inside a building

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

/** The server's refusal in the worker's words (never its English, never a personal value). */
function reasonOf(err) {
  const d = err.detail && typeof err.detail === 'object' ? err.detail : {};
  if (err.status === 422 && d.field) {
    return c('err.field', { field: has(`terminal.collect.field.${d.field}`) ? c(`field.${d.field}`) : d.field });
  }
  if (err.status === 409) return c(Array.isArray(d.ids) ? 'err.id_taken' : 'err.exists');
  if (err.status === 400 && d.photo) return c('err.photo');
  if (err.status === 403) return c('err.forbidden');
  if (err.status === 404) return c('err.gone');
  return err.status === 0 ? err.message : c('err.other', { status: err.status });
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

const labelOf = (kind, r) => (kind === 'household' ? c('label.household', { room: r.room })
  : kind === 'building' ? r.name || r.code : r.name || r.text || r[KEY_FIELD[kind]]);

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

/** 迁出 (op 'leave') or its undoing (op 'return') for one person, confirmed first; queued like
 * every form, so it waits for the network and is sent once. */
function confirmPerson(ctx, op, person) {
  const node = verifyForm({ label: person.name, onCancel: () => closeForm(), onSubmit: () => {
    const label = c(`label.${op}`, { name: person.name });
    try {
      ctx.queue.add({ op, kind: 'person', body: {}, id: person.id, grid: person.grid_code, label });
    } catch (err) { toast(err.message, 'error', 8000); return; }
    closeForm();
    toast(c(navigator.onLine === false ? 'queued_offline' : 'queued', { what: label }), 'info', 3000);
    if (navigator.onLine !== false) ctx.queue.flush();
  } });
  node.querySelector('h2').textContent = c(`form.${op}`, { name: person.name });
  node.querySelector('p.muted').textContent = c(`form.${op}_hint`);
  node.querySelector('button[type=submit]').textContent = c(`act.${op}_confirm`);
  openForm(ctx, node);
}

// ---- forms ----

function openForm(ctx, node) {
  const box = $('collect-form');
  box.replaceChildren(node);
  box.hidden = false;
  box.scrollIntoView({ block: 'start' });
  const first = node.querySelector('input:not([type=file]), select');
  if (first) first.focus({ preventScroll: true });
}

function closeForm() {
  const box = $('collect-form');
  box.replaceChildren();
  box.hidden = true;
}

/** The forms of records that exist (an address has none: its re-check is one tap). */
const recordForms = (ctx) => ({ household: householdForm, person: personForm, building: buildingForm,
  organisation: (args) => organisationForm({ ...args, addresses: ctx.addresses || [] }) });

function openRecordForm(ctx, kind, record, verify) {
  const onCancel = () => closeForm();
  const waiting = ctx.queue.pendingUpdate(kind, record[KEY_FIELD[kind]]);
  if (waiting && !ctx.queue.editable(waiting)) { toast(c('busy'), 'info', 4000); return; }
  if (waiting) { // a change already queued for it: this form changes that one (one version, one send)
    const { id_number: _i, phone: _p, contact_phone: _cp, verified: _v, ...plain } = waiting.body; // sealed ones: typed again
    const shown = { ...record, ...plain };
    const onRevise = ({ body, photo }) => {
      const merged = { ...waiting.body, ...body, ...(verify || waiting.body.verified ? { verified: true } : {}) };
      if (ctx.queue.revise(waiting.key, { body: merged, photo })) { closeForm(); ctx.queue.flush(); } else toast(c('busy'), 'info', 4000);
    };
    const forms = recordForms(ctx);
    openForm(ctx, forms[kind] ? forms[kind]({ record: shown, verify, onSubmit: onRevise, onCancel })
      : verifyForm({ label: labelOf(kind, record), onSubmit: onRevise, onCancel }));
    return;
  }
  const onSubmit = submitter(ctx, 'update', kind, record);
  const forms = recordForms(ctx);
  openForm(ctx, forms[kind] ? forms[kind]({ record, verify, onSubmit, onCancel })
    : verifyForm({ label: labelOf(kind, record), onSubmit, onCancel }));
}

function submitter(ctx, op, kind, record, building = null, home = null) {
  return (form) => { if (queueForm(ctx, op, kind, record, building, home)(form)) closeForm(); };
}

/** Queues a form (and sends it when there is network); false when the phone could not keep it. */
function queueForm(ctx, op, kind, record, building, home = null) {
  return ({ body, photo }) => {
    const own = building || (ctx.view && ctx.view.building) || {};
    const id = op === 'update' ? record[KEY_FIELD[kind]] : newKey(kind, body);
    if (kind === 'person' && home) body.household_id = home.id;
    const what = op === 'create' ? labelOf(kind, body) : labelOf(kind, record);
    const label = body.verified && Object.keys(body).length === 1 ? c('label.verify', { what }) : what;
    const grid = (record && record.grid_code) || (home && home.grid_code) || body.grid_code || own.grid_code;
    try {
      ctx.queue.add({ op, kind, body, photo, grid, id, version: record ? record.version : undefined, label });
    } catch (err) {
      toast(err.message, 'error', 8000);
      return false;
    }
    toast(c(navigator.onLine === false ? 'queued_offline' : 'queued', { what: label }), 'info', 3000);
    if (navigator.onLine !== false) ctx.queue.flush();
    return true;
  };
}

/** A new record's key as the server will make it (a person's comes from the server; an
 * organisation's is its credit code or one its form made). */
const newKey = (kind, body) => (kind === 'household' ? `${body.building_code}-${body.room}`
  : kind === 'address' || kind === 'building' ? body.code : kind === 'organisation' ? body.id : null);

/** 新增地址 / 新增楼栋 / 新增单位 (./collect_new.js), queued like every form. */
async function openNew(ctx, kind, draft = null, onSubmit = null) {
  const grids = ctx.grids && ctx.grids.length ? ctx.grids : [{ code: ctx.grid, name: ctx.grid }];
  const centre = (grid) => {
    const here = ctx.grid === grid ? ctx.buildings.filter((b) => Number.isFinite(b.lon)) : [];
    if (here.length) return { lon: here.reduce((s, b) => s + b.lon, 0) / here.length, lat: here.reduce((s, b) => s + b.lat, 0) / here.length };
    const home = ctx.home || {};
    return home.grid_code === grid && home.grid_center ? home.grid_center : null;
  };
  const submit = onSubmit || submitter(ctx, 'create', kind, null);
  const common = { grids, grid: ctx.grid, draft, centre, onSubmit: submit, onCancel: () => closeForm() };
  if (kind === 'address') { openForm(ctx, addressForm(common)); return; }
  try { // the grid's addresses to pick from (offline: those loaded before), and the ones queued
    const page = await api(`/api/basedata/addresses?area=${encodeURIComponent(ctx.grid)}&limit=1000`);
    ctx.addresses = page.items || [];
  } catch { /* no network: what was loaded before */ }
  const forms = { building: newBuildingForm, organisation: organisationForm };
  openForm(ctx, forms[kind]({ ...common, addresses: [...(ctx.addresses || []), ...queuedNew(ctx.queue, 'address', ctx.grid)] }));
}

/** 修改 on a form still waiting in the queue: the same form, filled as it was; the entry changed in place. */
function editQueued(ctx, entry) {
  if (!ctx.queue.editable(entry)) { toast(c('busy'), 'info', 4000); return; }
  const onSubmit = ({ body, photo }) => {
    const merged = { ...entry.body, ...body };
    const label = labelOf(entry.kind, merged);
    if (ctx.queue.revise(entry.key, { body: merged, photo, label, id: newKey(entry.kind, merged) || entry.id })) {
      closeForm();
      if (navigator.onLine !== false) ctx.queue.flush();
    } else toast(c('busy'), 'info', 4000);
  };
  const onCancel = () => closeForm();
  if (NEW_KINDS.includes(entry.kind)) { openNew(ctx, entry.kind, entry.body, onSubmit); return; }
  const building = { code: entry.body.building_code };
  const forms = { household: householdForm, person: personForm };
  openForm(ctx, forms[entry.kind]({ record: null, draft: entry.body, building, onSubmit, onCancel }));
}

async function editFromEvent(ctx, { kind, id }) {
  const singular = SINGULAR[kind] || kind;
  if (!PLURAL[singular] || !id) return;
  ctx.show();
  try {
    const record = await api(`/api/basedata/${PLURAL[singular]}/${encodeURIComponent(id)}`);
    openRecordForm(ctx, singular, record, true);
  } catch (err) {
    if (err.status === 401) showLogin({ username: ctx.worker });
    else toast(c('edit_failed', { reason: reasonOf(err) }), 'error', 8000);
  }
}
