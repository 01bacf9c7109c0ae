// The 采集 tab's forms: a building, a household, a person, new or changed, and a re-check
// alone for kinds without a form here. Each checks its fields before anything is queued
// (./collect_check.js) and hands back the fields that changed, a door-plate photo (a data
// URL, downscaled) and whether it is a re-check (核实无误: sent with "verified": true).

import { el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { checkIdNumber, checkPhone, missing, normalise } from './collect_check.js';
import { MAX_DATA_URL, downscale, toDataUrl } from './field_photo.js';

const c = (key, vars) => t(`terminal.collect.${key}`, vars);
const HOUSEHOLD_KINDS = ['owner', 'rental', 'vacant', 'business', 'other'];
const PERSON_KINDS = ['registered', 'migrant', 'tenant'];
export const USES = ['residential', 'commercial', 'mixed', 'industrial', 'public', 'other'];

export const kindName = (kind, value) => t(`basedata.${kind}.${value}`);

/** A field's name in words: a building's name is 名称, a person's 姓名; a building's code 建筑物编码. */
const OWN_NAMES = { 'building:name': 'field.building_name', 'building:code': 'field.building_own_code', 'address:code': 'field.address_own_code',
  'organisation:name': 'field.organisation_name' };
export const fieldName = (kind, name) => c(OWN_NAMES[`${kind}:${name}`] || `field.${name}`);

/** A form field: label, control, and a hint line (the masked value an empty sealed field keeps). */
export function field(name, control, hint = '', kind = '') {
  return el('label', { class: 'collect-field', dataset: { field: name } },
    el('span', { class: 'collect-label' }, fieldName(kind, name)), control,
    hint ? el('span', { class: 'collect-hint muted' }, hint) : null);
}

export const text = (name, value, attrs = {}) => el('input', { name, value: value ?? '', autocomplete: 'off', ...attrs });
export const select = (name, value, options, namer) => {
  const node = el('select', { name }, options.map((o) => el('option', { value: o }, namer(o))));
  node.value = value || options[0];
  return node;
};

export function photoField(form) {
  const input = el('input', { class: 'file-input', type: 'file', name: 'photo', accept: 'image/*', capture: 'environment' });
  const preview = el('div', { class: 'collect-photo-preview' });
  input.addEventListener('change', async () => {
    form.photo = null;
    preview.replaceChildren();
    const file = input.files && input.files[0];
    if (!file) return;
    try {
      // Downscaled (./field_photo.js) and kept as a data URL: the queue uploads it when it sends the form.
      const url = await toDataUrl(await downscale(file));
      if (url.length > MAX_DATA_URL) throw new Error(c('check.photo_large'));
      form.photo = url;
      preview.replaceChildren(el('img', { src: url, alt: c('field.photo') }));
    } catch (err) {
      form.say(err.message || c('check.photo_bad'));
    }
  });
  return el('label', { class: 'collect-field photo-field', dataset: { field: 'photo' } },
    el('span', { class: 'collect-label' }, c('field.photo')), input,
    el('span', { class: 'btn file-button' }, c('photo.take')), preview);
}

/** The frame every form shares: title, fields, error line, cancel and send. */
export function frame(title, fields, { verify, onCancel }) {
  const error = el('p', { class: 'rounds-error', role: 'alert', hidden: true });
  const cancel = el('button', { class: 'btn btn-big', type: 'button', dataset: { cancel: '' } }, t('terminal.card.cancel'));
  const submit = el('button', { class: 'btn btn-ok btn-big', type: 'submit' }, c(verify ? 'form.verify_send' : 'form.send'));
  const node = el('form', { class: 'collect-form', novalidate: true }, el('h2', {}, title), fields, error,
    el('div', { class: 'check-buttons' }, cancel, submit));
  const form = { node, photo: null, say: (words) => { error.textContent = words || ''; error.hidden = !words; } };
  cancel.addEventListener('click', onCancel);
  return form;
}

export const value = (node, name) => (node.elements[name] ? node.elements[name].value.trim() : '');

/** The fields that differ from the record (all of them for a new one); sealed ones only when typed. */
function changes(record, fields) {
  const out = {};
  for (const [name, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (!record || String(record[name] ?? '') !== String(v ?? '')) out[name] = v;
  }
  return out;
}

export function finish(form, record, fields, verify, onSubmit) {
  const body = changes(record, fields);
  if (record && !Object.keys(body).length && !form.photo && !verify) { form.say(c('check.nothing')); return; }
  form.say('');
  onSubmit({ body: verify ? { ...body, verified: true } : body, photo: form.photo });
}

/** 住户: room and use, and a door-plate photo. `record` null for a new one; `draft` a new
 *  one still waiting in the queue, changed before it is sent. */
export function householdForm({ record, draft = null, building, verify = false, onSubmit, onCancel }) {
  const title = record ? c(verify ? 'form.verify_household' : 'form.edit_household', { room: record.room }) : c(draft ? 'form.edit_queued' : 'form.new_household');
  const shown = record || draft;
  const form = frame(title, [
    field('room', text('room', shown && shown.room, { maxlength: 20, required: true, placeholder: '1-1203' })),
    field('kind', select('kind', shown && shown.kind, HOUSEHOLD_KINDS, (k) => kindName('household', k))),
  ], { verify, onCancel });
  form.node.insertBefore(photoField(form), form.node.querySelector('.rounds-error'));
  form.node.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const room = normalise(value(form.node, 'room'));
    const lack = missing({ room });
    if (lack) { form.say(lack.error); return; }
    const fields = { room, kind: value(form.node, 'kind') };
    if (!record) fields.building_code = building.code;
    finish(form, record, fields, verify, onSubmit);
  });
  return form.node;
}

/** 人员: name, ID number (checked here), phone, kind, and the arrival date of a migrant (来穗). */
export function personForm({ record, draft = null, verify = false, onSubmit, onCancel }) {
  const title = record ? c(verify ? 'form.verify_person' : 'form.edit_person', { name: record.name }) : c(draft ? 'form.edit_queued' : 'form.new_person');
  const shown = record || draft; // a draft (still queued) holds its ID number as typed: shown again
  const kind = select('kind', shown && shown.kind, PERSON_KINDS, (k) => kindName('person', k));
  const arrival = field('arrival_date', text('arrival_date', shown && shown.arrival_date, { type: 'date' }));
  const form = frame(title, [
    field('name', text('name', shown && shown.name, { maxlength: 64, required: true })),
    field('id_number', text('id_number', draft ? draft.id_number : '', { maxlength: 22, inputmode: 'text', autocapitalize: 'characters' }),
      record ? c('form.sealed_keep', { masked: record.id_number || '' }) : ''),
    field('phone', text('phone', draft ? draft.phone : '', { maxlength: 20, inputmode: 'tel' }), record && record.phone ? c('form.sealed_keep', { masked: record.phone }) : ''),
    field('kind', kind), arrival,
  ], { verify, onCancel });
  const showArrival = () => { arrival.hidden = kind.value !== 'migrant'; };
  kind.addEventListener('change', showArrival);
  showArrival();
  form.node.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const fields = { name: value(form.node, 'name'), kind: kind.value };
    const lack = missing(record ? { name: fields.name } : { name: fields.name, id_number: value(form.node, 'id_number') });
    if (lack) { form.say(lack.error); return; }
    const typedId = value(form.node, 'id_number');
    if (typedId) {
      const id = checkIdNumber(typedId);
      if (id.error) { form.say(id.error); return; }
      fields.id_number = id.number;
    }
    const typedPhone = value(form.node, 'phone');
    if (typedPhone) {
      const phone = checkPhone(typedPhone);
      if (phone.error) { form.say(phone.error); return; }
      fields.phone = phone.phone;
    }
    if (kind.value === 'migrant') {
      const date = value(form.node, 'arrival_date');
      if (!date) { form.say(c('check.required', { field: c('field.arrival_date') })); return; }
      fields.arrival_date = date;
    }
    finish(form, record, fields, verify, onSubmit);
  });
  return form.node;
}

/** 楼栋: name, floors, use, rental (出租屋), and a door-plate photo. Buildings come from the city's files: changed only. */
export function buildingForm({ record, verify = false, onSubmit, onCancel }) {
  const label = record.name || record.code;
  const rental = el('input', { type: 'checkbox', name: 'rental', checked: Boolean(record.rental) });
  const form = frame(c(verify ? 'form.verify_building' : 'form.edit_building', { name: label }), [
    field('name', text('name', record.name, { maxlength: 100 }), '', 'building'),
    field('floors', text('floors', record.floors, { type: 'number', min: 1, max: 200, inputmode: 'numeric' })),
    field('use', select('use', record.use, USES, (u) => kindName('use', u))),
    el('label', { class: 'collect-check' }, rental, el('span', {}, c('field.rental'))),
  ], { verify, onCancel });
  form.node.insertBefore(photoField(form), form.node.querySelector('.rounds-error'));
  form.node.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const floors = Number(value(form.node, 'floors'));
    if (!Number.isInteger(floors) || floors < 1 || floors > 200) { form.say(c('check.floors')); return; }
    const fields = { name: value(form.node, 'name'), floors, use: value(form.node, 'use'), rental: rental.checked };
    finish(form, record, fields, verify, onSubmit);
  });
  return form.node;
}

/** A re-check alone (an address: no form of its own on the terminal). */
export function verifyForm({ label, onSubmit, onCancel }) {
  const form = frame(c('form.verify_only', { name: label }), [el('p', { class: 'muted' }, c('form.verify_hint'))],
    { verify: true, onCancel });
  form.node.addEventListener('submit', (ev) => { ev.preventDefault(); onSubmit({ body: { verified: true }, photo: null }); });
  return form.node;
}
