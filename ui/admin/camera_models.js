// The camera form's models and PTZ head (docs/MODELS_PER_CAMERA.md): which named detectors
// watch the camera (none ticked: its group's, else the default model), the group it shares
// models with, and a pan-tilt-zoom head (simulated, or ONVIF with its service address and
// account) with the home preset its zones are drawn for. The choices come from
// GET /api/camera-options, so a camera can only name what the configuration has.

import { t } from '../common/i18n.js';

const escape = (text) => String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The options, or what a server without them offers: the default model, no groups. */
export async function loadOptions(api) {
  try {
    return await api('/api/camera-options');
  } catch {
    return { models: [{ name: 'default', labels: null }], groups: [], rules: null, ptz_kinds: ['sim', 'onvif'] };
  }
}

const modelName = (m) => (m.name === 'default' ? t('admin.cameras.model_default') : m.name);

function modelHint(m) {
  const parts = [m.model || m.backend].filter(Boolean);
  if (Array.isArray(m.labels)) parts.push(t('admin.cameras.model_labels', { n: m.labels.length }));
  return parts.join(' · ');
}

/** The form's fields (HTML, inside the camera form's grid). */
export function modelFields(options) {
  const models = options.models.map((m) => `<label class="check" title="${escape((m.labels || []).join(', '))}">
      <input type="checkbox" name="model" value="${escape(m.name)}">${escape(modelName(m))}
      <span class="muted">${escape(modelHint(m))}</span></label>`).join('');
  const groups = options.groups.map((g) => `<option value="${escape(g.name)}">${escape(g.name)} (${escape(g.models.join(', '))})</option>`).join('');
  const kinds = options.ptz_kinds.map((k) => `<option value="${escape(k)}">${escape(t(`admin.cameras.ptz_kind.${k}`))}</option>`).join('');
  return `
    <fieldset class="wide cam-models" data-part="models"><legend data-i18n="admin.cameras.models"></legend>
      <div class="rules">${models}</div>
      <p class="muted" data-i18n="admin.cameras.models_hint"></p></fieldset>
    <label><span data-i18n="admin.cameras.group"></span><select name="group">
      <option value="" data-i18n="admin.cameras.group_none"></option>${groups}</select></label>
    <label><span data-i18n="admin.cameras.ptz"></span><select name="ptz_kind">
      <option value="" data-i18n="admin.cameras.ptz_none"></option>${kinds}</select></label>
    <label data-ptz="onvif" hidden><span data-i18n="admin.cameras.ptz_url"></span><input name="ptz_url" type="url" placeholder="http://…/onvif/ptz_service"></label>
    <label data-ptz="onvif" hidden><span data-i18n="admin.cameras.ptz_user"></span><input name="ptz_user" autocomplete="off"></label>
    <label data-ptz="onvif" hidden><span data-i18n="admin.cameras.ptz_password"></span><input name="ptz_password" type="password" autocomplete="new-password"></label>
    <label data-ptz="any" hidden><span data-i18n="admin.cameras.ptz_home"></span><input name="ptz_home" maxlength="64"></label>`;
}

/** Show the PTZ fields the chosen kind needs. */
export function showPtzFields(form) {
  const kind = form.elements.ptz_kind.value;
  for (const node of form.querySelectorAll('[data-ptz]')) {
    node.hidden = !kind || (node.dataset.ptz === 'onvif' && kind !== 'onvif');
  }
}

/** Fill the fields from a camera's configuration (null: a new camera). */
export function fillModels(form, config) {
  const chosen = new Set((config && config.models) || []);
  for (const box of form.querySelectorAll('input[name=model]')) box.checked = chosen.has(box.value);
  form.elements.group.value = (config && config.group) || '';
  const ptz = (config && config.ptz) || {};
  form.elements.ptz_kind.value = ptz.kind || '';
  form.elements.ptz_url.value = ptz.url || '';
  form.elements.ptz_user.value = ptz.user || '';
  form.elements.ptz_password.value = ptz.password || '';
  form.elements.ptz_home.value = ptz.home || '';
  showPtzFields(form);
}

/** {models, group, ptz} for the camera body. The head's fields the form does not edit (a
 * simulated head's preset windows, an ONVIF profile) stay as they were while its kind does. */
export function readModels(form, editing) {
  const models = [...form.querySelectorAll('input[name=model]:checked')].map((box) => box.value);
  const e = form.elements;
  const kind = e.ptz_kind.value;
  let ptz = null;
  if (kind) {
    const kept = editing && editing.ptz && editing.ptz.kind === kind ? editing.ptz : {};
    ptz = { ...kept, kind, home: e.ptz_home.value.trim() || null };
    if (kind === 'onvif') Object.assign(ptz, { url: e.ptz_url.value.trim() || null, user: e.ptz_user.value, password: e.ptz_password.value });
  }
  return { models: models.length ? models : null, group: e.group.value || null, ptz };
}
