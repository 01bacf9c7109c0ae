// The citizen form: pick a matter, describe, locate, attach a photo, send to Open311;
// then follow the report by its tracking id (the page's ?id= reloads it). Public: no sign-in,
// plain fetch (no sign-in overlay can appear); its words from the catalogue (citizen.*).
// A resident may sign in (resident.js): their reports then carry their token and show in 我的上报.

import { $ } from '../common/dom.js';
import {
  applyI18n, fmtTime, languageButton, matterClassName, matterName, nameOf, t,
} from '../common/i18n.js';
import { suggestChips } from '../common/suggest.js';
import { fetchRetry, setUpResidents } from './resident.js';
import { sendReport, setUpReportMedia } from './report.js';

const BASE = '/open311/v2';

async function loadServices() {
  const services = await (await fetchRetry(`${BASE}/services.json`)).json();
  const groups = new Map();
  for (const s of services) {
    if (!groups.has(s.group)) groups.set(s.group, []);
    groups.get(s.group).push(s);
  }
  const select = $('service');
  for (const [group, items] of groups) {
    const optgroup = document.createElement('optgroup');
    optgroup.label = matterClassName(items[0].service_code, group);
    for (const s of items) optgroup.append(new Option(matterName(s.service_code, s.service_name), s.service_code));
    select.append(optgroup);
  }
}

function locate() {
  if (!navigator.geolocation) return showError(t('citizen.no_gps'));
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      $('lat').value = pos.coords.latitude.toFixed(6); $('long').value = pos.coords.longitude.toFixed(6);
      $('lat').dispatchEvent(new Event('change')); // the grid and open cases nearby (report.js)
    },
    () => showError(t('citizen.no_fix')),
    { enableHighAccuracy: true, timeout: 10000 },
  );
  return undefined;
}

function showError(text) {
  const box = $('error');
  box.textContent = text;
  box.hidden = !text;
}

/** The server's refusal in words: what the reader can fix, else the status. */
function refusal(status, body) {
  if (status === 429) return t('citizen.error.throttled', { s: (body.detail && body.detail.retry_after_s) || 60 });
  if (status === 413) return t('citizen.error.too_large');
  if (status === 400 || status === 422) return t('citizen.error.bad', { reason: body.error || status });
  return t('citizen.error.failed', { status });
}

async function send(event) {
  event.preventDefault();
  showError('');
  const button = $('send');
  button.disabled = true;
  try {
    // With its photos, voice note and video (report.js); not retried: a POST that reached the
    // server would make a second report. Offline, the service worker queues it.
    const sent = await sendReport($('report')).catch((err) => {
      if (err instanceof TypeError) throw err;
      throw new Error(refusal(err.status, err.body || {}));
    });
    if (sent.queued) return showError(t('report_media.queued'));
    const { id } = sent;
    history.replaceState(null, '', `?id=${encodeURIComponent(id)}`);
    $('report').hidden = true;
    await showStatus(id);
  } catch (err) {
    showError(err instanceof TypeError ? t('citizen.error.network') : err.message);
  } finally {
    button.disabled = false;
  }
}

async function showStatus(id) {
  const res = await fetchRetry(`${BASE}/requests/${encodeURIComponent(id)}.json`);
  if (!res.ok) return showError(t('citizen.no_report', { id }));
  const [r] = await res.json();
  $('status').hidden = false;
  $('tracking').textContent = r.service_request_id;
  $('link').href = location.href;
  $('link').textContent = location.href;
  const progress = r.status_notes ? nameOf('state', r.status_notes) : '—';
  const rows = [
    ['status', `${t(`citizen.status.${r.status === 'closed' ? 'closed' : 'open'}`)}（${progress}）`],
    ['matter', matterName(r.service_code, r.service_name)],
    ['agency', r.agency_responsible || '—'],
    ['where', r.address ?? `${r.lat}, ${r.long}`],
    ['reported', fmtTime(r.requested_datetime)],
    ['expected', r.expected_datetime ? fmtTime(r.expected_datetime) : '—'],
  ];
  $('details').replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = t(`citizen.field.${k}`);
    const dd = document.createElement('dd'); dd.textContent = v; dd.dataset.field = k;
    return [dt, dd];
  }));
  $('status').dataset.status = r.status;
  return undefined;
}

applyI18n();
$('lang').append(languageButton('btn lang-switch'));
setUpResidents();
setUpReportMedia();
const id = new URLSearchParams(location.search).get('id');
if (id) {
  $('report').hidden = true;
  showStatus(id);
  setInterval(() => showStatus(id), 15000);
} else {
  loadServices().catch(() => showError(t('citizen.services_failed')));
  $('locate').addEventListener('click', locate);
  // Suggested classes as the resident types or picks a photo; the report names the suggestion
  // it followed (suggestion_id), so the class sent is recorded as the choice.
  suggestChips({
    box: $('suggest'), text: $('description'), photo: $('media'), select: $('service'), source: 'citizen',
    send: async (form) => {
      const res = await fetch('/api/suggestions', { method: 'POST', body: form });
      if (!res.ok) throw new Error(String(res.status));
      return res.json();
    },
    onSuggested: (suggestion) => { $('suggestion-id').value = suggestion; },
  });
  $('report').addEventListener('submit', send);
  $('media').addEventListener('change', () => {
    const file = $('media').files[0];
    $('media-button').textContent = file ? t('citizen.photo_chosen', { name: file.name }) : t('citizen.take_photo');
  });
  // From a grid's public card (/grid/<code>): ?lat=&lon= of the grid, a starting point to correct.
  const at = new URLSearchParams(location.search);
  if ([at.get('lat'), at.get('lon')].every((v) => v && Number.isFinite(Number(v)))) { $('lat').value = at.get('lat'); $('long').value = at.get('lon'); }
}
