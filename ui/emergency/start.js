// Starting incident mode: the class (by its Chinese name), a headline, and where: a recent
// incident (by its rule, camera and time: names, never ids) or a point clicked on the map.
// ?incident=<id>&class=<class> opens the form with them chosen.

import { $, el } from '../common/dom.js';
import { fmtTime, nameOf, t } from '../common/i18n.js';
import { api, post } from '../common/live.js';

const CLASSES = ['accident', 'natural_disaster', 'public_health', 'social_security'];
const RECENT = 30;

function incidentLabel(inc) {
  const what = inc.matter_name || inc.rule_name || nameOf('rule', inc.rule);
  const where = inc.camera_name || inc.grid_name || '';
  return [what, where, fmtTime(inc.ts, 'short')].filter(Boolean).join(' · ');
}

/** Wires the form; returns {open(), pick(point)}. */
export function setupStart({ map, onOpen, onClose, onStarted }) {
  const form = $('start-form');
  const params = new URL(location.href).searchParams;
  let point = null;
  let isOpen = false;

  $('start-class').replaceChildren(...CLASSES.map((c) => el('option', { value: c, selected: c === params.get('class') }, nameOf('emclass', c))));

  async function loadIncidents() {
    const select = $('start-incident');
    select.replaceChildren(el('option', { value: '' }, t('emergency.start.no_incident')));
    try {
      const { items } = await api(`/api/incidents?limit=${RECENT}`);
      const wanted = params.get('incident');
      for (const inc of items.filter((i) => i.state !== 'dismissed' || i.id === wanted)) {
        select.append(el('option', { value: inc.id, selected: inc.id === wanted }, incidentLabel(inc)));
      }
    } catch { /* the point on the map still works */ }
  }

  function setPoint(p) {
    point = p;
    form.elements.lon.value = p ? String(p.lon) : '';
    form.elements.lat.value = p ? String(p.lat) : '';
    const hint = $('start-point');
    hint.dataset.set = String(!!p);
    hint.textContent = p ? t('emergency.start.point_set', { lon: p.lon.toFixed(5), lat: p.lat.toFixed(5) }) : t('emergency.start.point_hint');
    map.setPick(p);
  }

  function close() {
    isOpen = false;
    setPoint(null);
    $('start-error').textContent = '';
    onClose();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const body = { class: data.get('class') };
    const title = String(data.get('title') || '').trim();
    if (title) body.title = title;
    const incident = String(data.get('incident_id') || '');
    if (incident) body.incident_id = incident;
    else if (point) Object.assign(body, { lon: point.lon, lat: point.lat });
    else { $('start-error').textContent = t('emergency.start.where'); return; }
    if (!incident && !title) { $('start-error').textContent = t('emergency.start.need_title'); return; }
    $('start-error').textContent = '';
    try {
      const mode = await post('/api/emergency', body);
      form.reset();
      close();
      onStarted(mode);
    } catch (err) {
      const why = { 400: 'emergency.start.outside', 403: 'emergency.start.not_yours', 404: 'emergency.start.no_such_incident' };
      $('start-error').textContent = why[err.status] ? t(why[err.status]) : t('emergency.error.failed', { status: err.status || '' });
    }
  });
  $('start-cancel').addEventListener('click', close);

  return {
    open() {
      isOpen = true;
      loadIncidents();
      onOpen();
    },
    pick(p) {
      if (isOpen) setPoint(p);
    },
  };
}
