// The device behind an IoT task (issue 20): on a case with source iot, the worker's task card
// shows the device that raised it (name, kind in words, state) and a sparkline per reading.
// A case made since carries its device (`device_id`, `device_name`); an older one names only its
// incidents, and its device is the one of the case's grid at the case's point (an IoT case is placed at its device, iot_incidents.iot_intake), found with
// GET /api/devices?area=<grid> (the server gives a worker only their roster grids' devices)
// and read with GET /api/devices/{id}. Kept per case for a while: a card is rebuilt on every
// change of its case, and must not ask again each time.

import { el } from '../common/dom.js';
import { nameOf, t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { fmtValue, sparkline } from '../common/sparkline.js';

const FRESH_MS = 30000;
const NEAR = 1e-6;                 // degrees: the same point, written through JSON
const BOOLEAN_READINGS = new Set(['alarm', 'open']);
const found = new Map();           // case id -> {at, device | null, promise}

function addStyles() {
  if (document.querySelector('link[data-part=device-card]')) return;
  document.head.append(el('link', { rel: 'stylesheet', href: '/ui/terminal/device_card.css', dataset: { part: 'device-card' } }));
}

/** The case's device with its readings, or null (none at its point, or not the worker's to read). */
async function lookUp(c) {
  if (c.device_id) return api(`/api/devices/${encodeURIComponent(c.device_id)}`); // the case names it (since issue 20's links)
  const loc = c.location || {};
  if (!c.grid_code || !Number.isFinite(loc.lon) || !Number.isFinite(loc.lat)) return null;
  const page = await api(`/api/devices?area=${encodeURIComponent(c.grid_code)}&limit=1000`);
  const here = ((page && page.items) || []).filter((d) => Math.abs(d.lon - loc.lon) < NEAR && Math.abs(d.lat - loc.lat) < NEAR);
  // Two devices at one point: the one the case's description names.
  const device = here.find((d) => d.name && String(c.description || '').includes(d.name)) || here[0];
  return device ? api(`/api/devices/${encodeURIComponent(device.id)}`) : null;
}

function entry(c) {
  const had = found.get(c.id);
  if (had && Date.now() - had.at < FRESH_MS) return had;
  const next = { at: Date.now(), device: had ? had.device : undefined };
  next.promise = lookUp(c).then((d) => { next.device = d; return d; }, () => { next.device = had ? had.device : null; return next.device; });
  found.set(c.id, next);
  return next;
}

function fill(node, d) {
  if (!d) { node.hidden = true; return; }
  node.hidden = false;
  node.dataset.deviceId = d.id;
  node.dataset.state = d.state || '';
  const readings = Object.entries(d.readings || {});
  node.replaceChildren(
    el('div', { class: 'dc-head' },
      el('strong', {}, d.name || t('terminal.device.unnamed')),
      el('span', { class: 'muted' }, nameOf('device_kind', d.kind, d.kind)),
      el('span', { class: 'badge dc-state', dataset: { state: d.state || '' } }, nameOf('device_state', d.state, ''))),
    readings.length
      ? el('ul', { class: 'dc-readings' }, readings.map(([name, points]) => {
        const label = nameOf('device_reading', name, name);
        const last = points.length ? points[points.length - 1].value : null;
        return el('li', { dataset: { reading: name } }, el('span', { class: 'dc-name' }, label), sparkline(points, { width: 140, height: 28, label }),
          el('span', { class: 'num' }, last == null ? '—' : fmtValue(last, BOOLEAN_READINGS.has(name), t('terminal.device.yes'), t('terminal.device.no'))));
      }))
      : el('p', { class: 'muted' }, t('terminal.device.no_readings')));
}

/** The device section of an IoT case's card (filled once known), or null for any other case. */
export function deviceNode(c) {
  if (c.source !== 'iot') return null;
  addStyles();
  const node = el('section', { class: 'task-device', 'aria-label': t('terminal.device.title'), hidden: true });
  const known = entry(c);
  if (known.device !== undefined) fill(node, known.device);
  known.promise.then((d) => fill(node, d));
  return node;
}
