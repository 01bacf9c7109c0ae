// A clue with media on the citizen page (线索上报): up to N photos (the form's file input), a
// voice note and a short video clip recorded here with MediaRecorder, sent in one multipart
// POST /api/citizen/reports; the grid of the point and open cases of the same matter nearby
// (同一问题？关注它: follow instead of a new case); a map to pick the point on; the followed
// cases under 我的上报; the service worker (/citizen-sw.js) that keeps the page and queues a
// report made offline. Words: report_media.* (ui/i18n/*/report_media.json).

import { $, el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { authHeaders, fetchRetry, session } from './resident.js';

const VIDEO_MAX_S = 15;
const VOICE_MAX_S = 60;
const recorded = { voice: null, video: null }; // {blob, seconds, url}

function pickType(kind) {
  const wanted = kind === 'voice'
    ? ['audio/webm;codecs=opus', 'audio/webm', 'audio/mp4', 'audio/ogg']
    : ['video/webm;codecs=vp8,opus', 'video/webm', 'video/mp4'];
  return wanted.find((type) => window.MediaRecorder && MediaRecorder.isTypeSupported(type)) || '';
}

/** One recorder row: a start/stop button, the seconds, a preview to play, a remove button. */
function recorderRow(kind) {
  const button = el('button', { class: 'btn', type: 'button', id: `record-${kind}`, text: t(`report_media.record_${kind}`) });
  const state = el('span', { class: 'hint rec-state', id: `${kind}-state`, 'aria-live': 'polite' });
  const preview = el(kind === 'voice' ? 'audio' : 'video', { class: 'rec-preview', id: `${kind}-preview`, controls: true, hidden: true });
  const remove = el('button', { class: 'btn', type: 'button', id: `remove-${kind}`, text: t('report_media.remove'), hidden: true });
  let recorder = null;
  let started = 0;
  let timer = null;
  const stop = () => { if (recorder && recorder.state === 'recording') recorder.stop(); };
  const clear = () => {
    if (recorded[kind]) URL.revokeObjectURL(recorded[kind].url);
    recorded[kind] = null;
    preview.hidden = true; remove.hidden = true; state.textContent = '';
    preview.removeAttribute('src');
  };
  button.addEventListener('click', async () => {
    if (recorder && recorder.state === 'recording') { stop(); return; }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(kind === 'voice' ? { audio: true } : { audio: true, video: { width: 640, height: 480 } });
    } catch {
      state.textContent = t('report_media.no_device');
      return;
    }
    clear();
    const chunks = [];
    recorder = new MediaRecorder(stream, pickType(kind) ? { mimeType: pickType(kind) } : undefined);
    recorder.addEventListener('dataavailable', (e) => { if (e.data.size) chunks.push(e.data); });
    recorder.addEventListener('stop', () => {
      clearInterval(timer);
      stream.getTracks().forEach((track) => track.stop());
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      const blob = new Blob(chunks, { type: recorder.mimeType || chunks[0]?.type || '' });
      recorded[kind] = { blob, seconds, url: URL.createObjectURL(blob) };
      preview.src = recorded[kind].url;
      preview.hidden = false; remove.hidden = false;
      button.textContent = t(`report_media.record_${kind}`);
      state.textContent = t('report_media.recorded', { s: Math.round(seconds) });
      state.dataset.seconds = String(seconds);
    });
    recorder.start(1000);
    started = Date.now();
    button.textContent = t('report_media.stop');
    const most = kind === 'voice' ? VOICE_MAX_S : VIDEO_MAX_S;
    timer = setInterval(() => {
      const s = Math.floor((Date.now() - started) / 1000);
      state.textContent = t('report_media.recording', { s, max: most });
      if (s >= most) stop(); // a clip is at most 15 s: stopped here, and checked by the server too
    }, 250);
  });
  remove.addEventListener('click', clear);
  return el('div', { class: 'rec-row' }, el('div', { class: 'row' }, button, remove), state, preview);
}

/** The form's fields, its photos, and the recordings, as the server takes them. */
export function reportForm(form) {
  const data = new FormData(form);
  if (recorded.voice) data.append('voice', recorded.voice.blob, `voice.${recorded.voice.blob.type.includes('mp4') ? 'm4a' : 'webm'}`);
  if (recorded.video) data.append('video', recorded.video.blob, `video.${recorded.video.blob.type.includes('mp4') ? 'mp4' : 'webm'}`);
  return data;
}

/** The report sent: {id} once made, {queued} when the worker kept it to send when online. */
export async function sendReport(form) {
  // Not retried here: a POST that reached the server would make a second report. Offline, the
  // service worker answers 202 {queued} and sends it once the network is back.
  const res = await fetch('/api/citizen/reports', { method: 'POST', body: reportForm(form), headers: authHeaders() });
  const body = await res.json().catch(() => ({}));
  if (res.status === 202 && body.queued) return { queued: true };
  if (!res.ok) {
    const error = new Error(body.error || String(res.status));
    error.status = res.status;
    error.body = body;
    throw error;
  }
  return { id: body.service_request_id, joined: body.joined };
}

function setPoint(lat, lon) {
  $('lat').value = lat.toFixed(6);
  $('long').value = lon.toFixed(6);
  $('lat').dispatchEvent(new Event('change', { bubbles: true }));
}

async function openMap() {
  const box = $('pick-map-box');
  box.hidden = !box.hidden;
  if (box.hidden || box.dataset.ready) return;
  box.dataset.ready = '1';
  const lat = Number($('lat').value) || Number(box.dataset.lat) || 23.13;
  const lon = Number($('long').value) || Number(box.dataset.lon) || 113.26;
  try {
    const { Map: MapLibre, Marker } = await import('/vendor/maplibre/maplibre-gl.mjs');
    const { addBasemap } = await import('../common/basemap.js');
    const style = { version: 8, sources: {}, layers: [{ id: 'bg', type: 'background', paint: { 'background-color': '#dfe6ec' } }] };
    const map = new MapLibre({ container: box, style, center: [lon, lat], zoom: 15, attributionControl: false });
    await new Promise((resolve) => map.on('load', resolve));
    await addBasemap(map).catch(() => {});
    const marker = new Marker().setLngLat([lon, lat]).addTo(map);
    map.on('click', (e) => { marker.setLngLat(e.lngLat); setPoint(e.lngLat.lat, e.lngLat.lng); });
    box.append(el('p', { class: 'hint', text: t('report_media.tap_map') }));
  } catch {
    box.textContent = t('report_media.no_map');
  }
}

let asked = 0;
let lastQuery = '';
const followedCases = new Set(); // followed from this page: shown so when the list is redrawn
async function lookNearby() {
  const code = $('service').value;
  const lat = Number($('lat').value);
  const lon = Number($('long').value);
  const box = $('dupes');
  if (!code || !$('lat').value || !$('long').value || !Number.isFinite(lat) || !Number.isFinite(lon)) { box.hidden = true; return; }
  const query = new URLSearchParams({ service_code: code, lat, long: lon }).toString();
  if (query === lastQuery) return; // a blur after a change asks again: the answer is on the page
  lastQuery = query;
  const mine = ++asked;
  const res = await fetchRetry(`/api/citizen/nearby?${query}`).catch(() => null);
  if (!res || !res.ok || mine !== asked) { if (mine === asked) lastQuery = ''; return; }
  const body = await res.json();
  const grid = $('grid-name');
  grid.hidden = false;
  grid.textContent = body.grid ? t('report_media.grid', { name: body.grid.name }) : t('report_media.no_grid');
  box.hidden = !body.items.length;
  box.replaceChildren(...(body.items.length ? [el('p', { class: 'dupes-title', text: t('report_media.same_problem') })] : []),
    ...body.items.map(dupeItem));
}

function dupeItem(item) {
  const note = el('span', { class: 'hint dupe-note' });
  const button = el('button', { class: 'btn btn-primary follow', type: 'button', text: t('report_media.follow'), dataset: { case: item.case_id } });
  button.addEventListener('click', async () => {
    if (!session()) { note.textContent = t('report_media.sign_in_to_follow'); return; }
    button.disabled = true;
    const res = await fetch('/api/residents/me/follows', {
      method: 'POST', headers: { ...authHeaders(), 'Content-Type': 'application/json' }, body: JSON.stringify({ case_id: item.case_id }),
    }).catch(() => null);
    const body = res ? await res.json().catch(() => ({})) : {};
    button.disabled = false;
    if (res && res.ok) {
      followedCases.add(item.case_id);
      note.textContent = t('report_media.followed');
      button.hidden = true;
      document.dispatchEvent(new CustomEvent('citizen:followed', { detail: item }));
    } else note.textContent = body.error || t('citizen.error.network');
  });
  if (followedCases.has(item.case_id)) { button.hidden = true; note.textContent = t('report_media.followed'); }
  const words = t('report_media.dupe_line', { matter: item.matter, grid: item.grid || '—', m: item.distance_m, status: item.status_text, n: item.followers });
  return el('div', { class: 'dupe', dataset: { case: item.case_id } }, el('p', { text: words }), el('div', { class: 'row' }, button), note);
}

async function loadFollows() {
  if (!session() || !$('mine')) return;
  let list = $('follow-list');
  if (!list) {
    list = el('ul', { class: 'mine-list', id: 'follow-list' });
    $('mine').append(el('h3', { id: 'follow-title', text: t('report_media.following') }), list);
  }
  const res = await fetchRetry('/api/residents/me/follows', { headers: authHeaders() }).catch(() => null);
  if (!res || !res.ok) return;
  const { items } = await res.json();
  $('follow-title').hidden = !items.length;
  list.replaceChildren(...items.map((f) => el('li', { class: 'mine-item panel follow-item', dataset: { case: f.case_id, status: f.status } },
    el('div', { class: 'mine-head' }, el('strong', { text: `${f.matter || ''} · ${f.grid || ''}` }),
      el('span', { class: 'chip', dataset: { status: f.status }, text: f.status_text })),
    ...(f.reply ? [el('p', { class: 'mine-reply', text: f.reply })] : []))));
}

function registerWorker() {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register('/citizen-sw.js', { scope: '/citizen' }).catch(() => {});
  // Back online: the worker sends what it queued (Background Sync does too, where there is one).
  window.addEventListener('online', () => navigator.serviceWorker.controller?.postMessage({ type: 'flush' }));
  navigator.serviceWorker.addEventListener('message', (event) => {
    const note = $('offline-note');
    if (!note || !['sent', 'refused'].includes(event.data?.type)) return;
    note.hidden = false;
    note.textContent = event.data.type === 'sent'
      ? t('report_media.queued_sent', { id: event.data.id })
      : t('report_media.queued_refused', { reason: event.data.error || '' });
  });
  navigator.serviceWorker.ready.then((reg) => reg.active?.postMessage({ type: 'flush' })).catch(() => {});
}

export function setUpReportMedia() {
  registerWorker();
  const box = $('media-box');
  if (!box) return;
  box.append(el('label', { text: t('report_media.voice') }), recorderRow('voice'),
    el('label', { text: t('report_media.video', { s: VIDEO_MAX_S }) }), recorderRow('video'),
    el('p', { class: 'hint', id: 'offline-note', hidden: true }));
  for (const id of ['service', 'lat', 'long']) $(id).addEventListener('change', lookNearby);
  $('pick-map').addEventListener('click', openMap);
  document.addEventListener('citizen:followed', loadFollows);
  $('tab-mine').addEventListener('click', () => setTimeout(loadFollows, 0));
  if (new URLSearchParams(location.search).get('tab') === 'mine') loadFollows();
}
