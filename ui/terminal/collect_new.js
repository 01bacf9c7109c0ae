// The 采集 tab's forms for a new standard address (标准地址), a new building (建筑物) or a new
// organisation (实有单位: a shop, a company, a site...), which the city's files have not brought yet. Each goes through the same queue as the other forms
// (./collect_queue.js: sent in order, once, by its client id): an address first, then the
// building on it. The grid is the worker's (picked when they have several); the place is the
// phone's GPS fix or the grid's centre, as for a report (./report.js). A building's code is
// checked as the importer checks it (importing/basedata_columns.py CODE: 1 to 40 letters,
// digits and dashes); the server checks again.

import { el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { USES, field, finish, frame, kindName, photoField, select, text, value } from './collect_forms.js';
import { checkCreditCode, checkPhone, missing, normalise } from './collect_check.js';
import { newClientId } from './collect_queue.js';

const c = (key, vars) => t(`terminal.collect.${key}`, vars);
export const CODE = /^[0-9A-Za-z-]{1,40}$/;
const FIX_TIMEOUT_MS = 10000;
const ORG_KINDS = ['shop', 'company', 'school', 'hospital', 'site', 'government', 'other'];

/** The grid choice: a select when the worker has several grids, their one grid's name otherwise. */
function gridField(grids, chosen) {
  const node = select('grid_code', chosen, grids.map((g) => g.code), (code) => (grids.find((g) => g.code === code) || {}).name || code);
  const box = field('grid_code', node);
  box.hidden = grids.length < 2;
  return box;
}

/** 位置: 我的位置 (GPS) or 网格中心; `form.place` holds {lon, lat}. `centre(grid)` the grid's centre, or null. */
function placeField(form, initial, centre) {
  const where = el('span', { class: 'collect-where', role: 'status' }, '—');
  const show = (key, vars) => { where.textContent = c(key, vars); };
  const atCentre = () => {
    const at = centre(value(form.node, 'grid_code'));
    form.place = at ? { lon: at.lon, lat: at.lat } : null;
    if (at) show('place.centre', { lat: at.lat.toFixed(5), lon: at.lon.toFixed(5) });
    else show('place.none');
  };
  const locate = () => {
    if (!navigator.geolocation) { atCentre(); return; }
    show('place.locating');
    navigator.geolocation.getCurrentPosition((pos) => {
      const { longitude: lon, latitude: lat } = pos.coords;
      form.place = { lon, lat };
      show('place.gps', { lat: lat.toFixed(5), lon: lon.toFixed(5) });
    }, atCentre, { enableHighAccuracy: true, timeout: FIX_TIMEOUT_MS, maximumAge: 30000 });
  };
  const gps = el('button', { class: 'btn', type: 'button', dataset: { place: 'gps' } }, c('place.locate'));
  const grid = el('button', { class: 'btn', type: 'button', dataset: { place: 'grid' } }, c('place.grid'));
  gps.addEventListener('click', locate);
  grid.addEventListener('click', atCentre);
  if (initial && Number.isFinite(initial.lon)) {
    form.place = { lon: initial.lon, lat: initial.lat };
    show('place.kept', { lat: Number(initial.lat).toFixed(5), lon: Number(initial.lon).toFixed(5) });
  } else {
    locate();
  }
  return el('div', { class: 'collect-field collect-place', dataset: { field: 'place' } },
    el('span', { class: 'collect-label' }, c('field.place')), where, el('div', { class: 'collect-actions' }, gps, grid));
}

function checkPlace(form) {
  if (form.place) return true;
  form.say(c('check.place'));
  return false;
}

/** 新增地址: code, full text, grid, place. `draft` a queued one's fields, changed before it is sent. */
export function addressForm({ grids, grid, draft = null, centre, onSubmit, onCancel }) {
  const form = frame(c(draft ? 'form.edit_queued' : 'form.new_address'), [
    field('code', text('code', draft && draft.code, { maxlength: 40, required: true, autocapitalize: 'characters' }), '', 'address'),
    field('text', text('text', draft && draft.text, { maxlength: 200, required: true, placeholder: c('field.text_hint') })),
    gridField(grids, (draft && draft.grid_code) || grid),
  ], { verify: false, onCancel });
  form.node.insertBefore(placeField(form, draft, centre), form.node.querySelector('.rounds-error'));
  form.node.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const fields = { code: normalise(value(form.node, 'code')), text: normalise(value(form.node, 'text')) };
    const lack = missing(fields);
    if (lack) { form.say(lack.error); return; }
    if (!CODE.test(fields.code)) { form.say(c('check.code')); return; }
    if (!checkPlace(form)) return;
    finish(form, null, { ...fields, grid_code: value(form.node, 'grid_code'), ...form.place }, false, onSubmit);
  });
  return form.node;
}

/** 新增楼栋: building code, its address (the grid's, or one queued), name, floors, use, rental, place, door plate. */
export function newBuildingForm({ grids, grid, addresses, draft = null, centre, onSubmit, onCancel }) {
  const list = addressList(addresses);
  const rental = el('input', { type: 'checkbox', name: 'rental', checked: Boolean(draft && draft.rental) });
  const form = frame(c(draft ? 'form.edit_queued' : 'form.new_building'), [
    field('code', text('code', draft && draft.code, { maxlength: 40, required: true, autocapitalize: 'characters' }), c('field.code_hint'), 'building'),
    field('address_code', text('address_code', draft && draft.address_code, { maxlength: 40, required: true, list: list.id })),
    list,
    field('name', text('name', draft && draft.name, { maxlength: 100 }), '', 'building'),
    field('floors', text('floors', draft ? draft.floors : '', { type: 'number', min: 1, max: 200, inputmode: 'numeric' })),
    field('use', select('use', draft && draft.use, USES, (u) => kindName('use', u))),
    el('label', { class: 'collect-check' }, rental, el('span', {}, c('field.rental'))),
    gridField(grids, (draft && draft.grid_code) || grid),
  ], { verify: false, onCancel });
  const before = form.node.querySelector('.rounds-error');
  form.node.insertBefore(placeField(form, draft, centre), before);
  form.node.insertBefore(photoField(form), before);
  form.node.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const code = normalise(value(form.node, 'code'));
    const addressCode = normalise(value(form.node, 'address_code'));
    const lack = missing({ code, address_code: addressCode });
    if (lack) { form.say(lack.error); return; }
    if (!CODE.test(code)) { form.say(c('check.code')); return; }
    if (!CODE.test(addressCode)) { form.say(c('check.address_code')); return; }
    const floors = Number(value(form.node, 'floors'));
    if (!Number.isInteger(floors) || floors < 1 || floors > 200) { form.say(c('check.floors')); return; }
    if (!checkPlace(form)) return;
    finish(form, null, { code, address_code: addressCode, name: value(form.node, 'name'), floors, use: value(form.node, 'use'),
      rental: rental.checked, grid_code: value(form.node, 'grid_code'), ...form.place }, false, onSubmit);
  });
  return form.node;
}

/** The grid's standard addresses to pick from, as a datalist. */
function addressList(addresses) {
  return el('datalist', { id: 'collect-address-codes' }, addresses.map((a) => el('option', { value: a.code }, a.text || a.code)));
}

/** 单位: name, kind, its standard address (the grid's, or one queued), credit code and contact
 * phone when known. New (`record` null; `draft` a queued one being changed): in a grid, keyed
 * by the credit code or by a key made here (kept when the queued form is changed, so it is
 * still one record). Existing (`record`, from the re-check list): its changes, or a re-check
 * with them (`verify`); the phone is sealed, so it is typed only to change it. */
export function organisationForm({ grids = [], grid = '', addresses = [], record = null, draft = null, verify = false, onSubmit, onCancel }) {
  const list = addressList(addresses);
  const shown = record || draft;
  const title = record ? c(verify ? 'form.verify_organisation' : 'form.edit_organisation', { name: record.name })
    : c(draft ? 'form.edit_queued' : 'form.new_organisation');
  const phoneHint = record && record.contact_phone ? c('form.sealed_keep', { masked: record.contact_phone }) : c('field.optional');
  const form = frame(title, [
    field('name', text('name', shown && shown.name, { maxlength: 100, required: true }), '', 'organisation'),
    field('kind', select('kind', shown && shown.kind, ORG_KINDS, (k) => kindName('org', k))),
    field('address_code', text('address_code', shown && shown.address_code, { maxlength: 40, required: true, list: list.id })),
    list,
    field('credit_code', text('credit_code', shown && shown.credit_code, { maxlength: 18, autocapitalize: 'characters' }), c('field.optional')),
    field('contact_phone', text('contact_phone', draft && draft.contact_phone, { type: 'tel', inputmode: 'tel', maxlength: 20 }), phoneHint),
    record ? null : gridField(grids, (draft && draft.grid_code) || grid),
  ].filter(Boolean), { verify, onCancel });
  form.node.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const fields = { name: value(form.node, 'name'), kind: value(form.node, 'kind'), address_code: normalise(value(form.node, 'address_code')) };
    const lack = missing({ name: fields.name, address_code: fields.address_code });
    if (lack) { form.say(lack.error); return; }
    if (!CODE.test(fields.address_code)) { form.say(c('check.address_code')); return; }
    const credit = value(form.node, 'credit_code');
    if (credit) {
      const checked = checkCreditCode(credit);
      if (checked.error) { form.say(checked.error); return; }
      fields.credit_code = checked.code;
    }
    const phone = value(form.node, 'contact_phone');
    if (phone) {
      const checked = checkPhone(phone);
      if (checked.error) { form.say(checked.error); return; }
      fields.contact_phone = checked.phone;
    }
    if (record) { finish(form, record, fields, verify, onSubmit); return; }
    const ownKey = draft && draft.id !== draft.credit_code ? draft.id : null; // made here before: kept
    const body = { ...fields, grid_code: value(form.node, 'grid_code'), id: fields.credit_code || ownKey || `U${newClientId().slice(1)}` };
    finish(form, null, body, false, onSubmit);
  });
  return form.node;
}

/** New addresses, buildings and organisations of a grid still waiting in the queue, as the list shows them. */
export function queuedNew(queue, kind, grid) {
  return queue.entries().filter((e) => e.op === 'create' && e.kind === kind && e.body.grid_code === grid)
    .map((e) => ({ ...e.body, queued: e }));
}
