// The 采集 tab's forms (./collect.js lists the buildings, households and people): opening a
// record's form or a new one, 迁出 and its undoing, queueing what is submitted (sent at once
// with network, kept and sent once without), changing a form still waiting, and a re-check
// opened from another module ('collect:edit'). Each function takes the tab's `ctx`.

import { $ } from '../common/dom.js';
import { has, t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { toast } from '../common/util.js';
import { buildingForm, householdForm, personForm, verifyForm } from './collect_forms.js';
import { addressForm, newBuildingForm, organisationForm, queuedNew } from './collect_new.js';
import { KEY_FIELD, PLURAL } from './collect_queue.js';

const c = (key, vars) => t(`terminal.collect.${key}`, vars);
const SINGULAR = Object.fromEntries(Object.entries(PLURAL).map(([kind, plural]) => [plural, kind]));
export const NEW_KINDS = ['address', 'building', 'organisation']; // what the tab adds on its own, not inside a building

/** The server's refusal in the worker's words (never its English, never a personal value). */
export function reasonOf(err) {
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

const labelOf = (kind, r) => (kind === 'household' ? c('label.household', { room: r.room })
  : kind === 'building' ? r.name || r.code : r.name || r.text || r[KEY_FIELD[kind]]);

/** 迁出 (op 'leave') or its undoing (op 'return') for one person, confirmed first; queued like
 * every form, so it waits for the network and is sent once. */
export function confirmPerson(ctx, op, person) {
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

export function openForm(ctx, node) {
  const box = $('collect-form');
  box.replaceChildren(node);
  box.hidden = false;
  box.scrollIntoView({ block: 'start' });
  const first = node.querySelector('input:not([type=file]), select');
  if (first) first.focus({ preventScroll: true });
}

export function closeForm() {
  const box = $('collect-form');
  box.replaceChildren();
  box.hidden = true;
}

/** The forms of records that exist (an address has none: its re-check is one tap). */
const recordForms = (ctx) => ({ household: householdForm, person: personForm, building: buildingForm,
  organisation: (args) => organisationForm({ ...args, addresses: ctx.addresses || [] }) });

export function openRecordForm(ctx, kind, record, verify) {
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

export function submitter(ctx, op, kind, record, building = null, home = null) {
  return (form) => { if (queueForm(ctx, op, kind, record, building, home)(form)) closeForm(); };
}

/** Queues a form (and sends it when there is network); false when the phone could not keep it. */
export function queueForm(ctx, op, kind, record, building, home = null) {
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
export async function openNew(ctx, kind, draft = null, onSubmit = null) {
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
export function editQueued(ctx, entry) {
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

export async function editFromEvent(ctx, { kind, id }) {
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
