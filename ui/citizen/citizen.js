// The citizen form: pick a matter, describe, locate, attach a photo, send to Open311;
// then follow the report by its tracking id (the page's ?id= reloads it).

import { $ } from '../common/dom.js';

const BASE = '/open311/v2';

async function loadServices() {
  const services = await (await fetch(`${BASE}/services.json`)).json();
  const groups = new Map();
  for (const s of services) {
    if (!groups.has(s.group)) groups.set(s.group, []);
    groups.get(s.group).push(s);
  }
  const select = $('service');
  for (const [group, items] of groups) {
    const optgroup = document.createElement('optgroup');
    optgroup.label = group;
    for (const s of items) optgroup.append(new Option(s.service_name, s.service_code));
    select.append(optgroup);
  }
}

function locate() {
  if (!navigator.geolocation) return showError('This browser cannot tell its location: type it in.');
  navigator.geolocation.getCurrentPosition(
    (pos) => { $('lat').value = pos.coords.latitude.toFixed(6); $('long').value = pos.coords.longitude.toFixed(6); },
    (err) => showError(`Location unavailable (${err.message}): type it in.`),
    { enableHighAccuracy: true, timeout: 10000 },
  );
}

function showError(text) {
  const box = $('error');
  box.textContent = text;
  box.hidden = !text;
}

async function send(event) {
  event.preventDefault();
  showError('');
  const button = $('send');
  button.disabled = true;
  try {
    const res = await fetch(`${BASE}/requests.json`, { method: 'POST', body: new FormData($('report')) });
    const body = await res.json();
    if (!res.ok) throw new Error(body.detail ? `${body.error}: ${typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail)}` : body.error);
    const id = body[0].service_request_id;
    history.replaceState(null, '', `?id=${encodeURIComponent(id)}`);
    $('report').hidden = true;
    await showStatus(id);
  } catch (err) {
    showError(err.message || String(err));
  } finally {
    button.disabled = false;
  }
}

async function showStatus(id) {
  const res = await fetch(`${BASE}/requests/${encodeURIComponent(id)}.json`);
  if (!res.ok) return showError(`No report ${id}.`);
  const [r] = await res.json();
  $('status').hidden = false;
  $('tracking').textContent = r.service_request_id;
  $('link').href = location.href;
  $('link').textContent = location.href;
  const rows = [
    ['Status', `${r.status} (${r.status_notes ?? '—'})`],
    ['Matter', r.service_name],
    ['Handled by', r.agency_responsible],
    ['Where', r.address ?? `${r.lat}, ${r.long}`],
    ['Reported', new Date(r.requested_datetime).toLocaleString()],
    ['Expected by', r.expected_datetime ? new Date(r.expected_datetime).toLocaleString() : '—'],
  ];
  $('details').replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v; dd.dataset.field = k.toLowerCase();
    return [dt, dd];
  }));
  $('status').dataset.status = r.status;
}

const id = new URLSearchParams(location.search).get('id');
if (id) {
  $('report').hidden = true;
  showStatus(id);
  setInterval(() => showStatus(id), 15000);
} else {
  loadServices().catch((err) => showError(`Cannot load the list of matters: ${err.message}`));
  $('locate').addEventListener('click', locate);
  $('report').addEventListener('submit', send);
  // From a grid's public card (/grid/<code>): ?lat=&lon= of the grid, a starting point to correct.
  const at = new URLSearchParams(location.search);
  if ([at.get('lat'), at.get('lon')].every((v) => v && Number.isFinite(Number(v)))) { $('lat').value = at.get('lat'); $('long').value = at.get('lon'); }
}
