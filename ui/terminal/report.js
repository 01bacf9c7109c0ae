// "Report a clue": the worker files a case they came across (POST /api/cases, source worker)
// with a matter type, a note, where it is and a photo. Without network it waits in the outbox;
// every report has a client id, so a resend returns the case the first send made.

import { $, el } from '../common/dom.js';
import { matterClassName, matterName, t } from '../common/i18n.js';
import { api, post } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { toast } from '../common/util.js';
import { suggestChips } from '../common/suggest.js';
import { sendReport } from './outbox.js';

const SERVICES_KEY = 'cc.services'; // the matter catalog, kept for a form opened offline
const FIX_TIMEOUT_MS = 8000;
const MAX_PHOTOS = 4;

/** 32 hex digits; crypto.getRandomValues works on plain http too, unlike randomUUID. */
function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function loadServices() {
  try {
    const list = await api('/open311/v2/services.json');
    localStorage.setItem(SERVICES_KEY, JSON.stringify(list));
    return list;
  } catch (err) {
    const kept = JSON.parse(localStorage.getItem(SERVICES_KEY) || 'null');
    if (kept) return kept;
    throw err;
  }
}

/** <optgroup>s by the catalog's group (its matter class), names sorted within. */
function matterOptions(services) {
  const groups = new Map();
  for (const s of services) {
    const g = s.group || t('terminal.report.other_group');
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(s);
  }
  return [...groups].map(([group, items]) => el('optgroup', { label: matterClassName(items[0].service_code, group) },
    items.map((s) => [matterName(s.service_code, s.service_name), s])
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, s]) => el('option', { value: s.service_code }, name))));
}

/**
 * Wires the form in index.html. onReported(case) hears a case the server made (now or from
 * the outbox later). Returns {setWorker(w)}: the worker record, for the grid centre fallback.
 */
export function setupReport({ worker, outbox, onReported }) {
  const form = $('report');
  const matter = $('report-matter');
  const note = $('report-note');
  const photo = $('report-photo');
  const preview = $('report-preview');
  const where = $('report-where');
  const submit = $('report-send');
  let me = null; // the worker record (grid_center)
  let place = null; // {lon, lat, how}
  let servicesLoaded = false;
  let suggestion = ''; // the latest suggestion's id: the class sent is recorded as its choice
  const chips = suggestChips({
    box: $('report-suggest'), text: note, photo, select: matter, source: 'worker',
    send: (body) => api('/api/suggestions', { method: 'POST', body }),
    onSuggested: (id) => { suggestion = id; },
  });

  const showPlace = (text) => {
    where.textContent = text;
    form.dataset.located = place ? place.how : 'none';
  };
  const useGrid = (why = '') => {
    const c = me && me.grid_center;
    if (!c) {
      place = null;
      showPlace(t('terminal.report.nowhere', { why: why ? `（${why}）` : '' }));
      return;
    }
    place = { lon: c.lon, lat: c.lat, how: 'grid' };
    showPlace(t('terminal.report.at_grid', { grid: me.grid_name || '', why: why ? `（${why}）` : '' }));
  };
  const locate = () => {
    if (!navigator.geolocation) return useGrid(t('terminal.report.no_gps'));
    showPlace(t('terminal.report.locating'));
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        const { longitude: lon, latitude: lat, accuracy } = pos.coords;
        place = { lon, lat, how: 'gps' };
        showPlace(t('terminal.report.at_gps', { lat: lat.toFixed(5), lon: lon.toFixed(5), acc: Number.isFinite(accuracy) ? ` ±${Math.round(accuracy)} m` : '' }));
      },
      () => useGrid(t('terminal.report.no_fix')),
      { enableHighAccuracy: true, timeout: FIX_TIMEOUT_MS, maximumAge: 30000 },
    );
    return undefined;
  };

  const open = async () => {
    form.hidden = false;
    $('report-open').hidden = true;
    locate();
    if (!servicesLoaded) {
      try {
        matter.append(...matterOptions(await loadServices()));
        servicesLoaded = true;
      } catch (err) {
        toast(t('terminal.report.matters_failed', { reason: err.message }), 'error', 7000);
      }
    }
    matter.focus();
  };
  const close = () => {
    chips.reset();
    form.reset();
    preview.replaceChildren();
    form.hidden = true;
    $('report-open').hidden = false;
  };

  photo.addEventListener('change', () => {
    preview.replaceChildren(...[...photo.files].slice(0, MAX_PHOTOS)
      .map((f) => el('img', { src: URL.createObjectURL(f), alt: f.name })));
  });
  $('report-open').addEventListener('click', open);
  $('report-cancel').addEventListener('click', close);
  $('report-locate').addEventListener('click', locate);
  $('report-grid').addEventListener('click', () => useGrid());

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!place) return toast(t('terminal.report.where'), 'error', 5000);
    const clientId = newClientId();
    const body = { matter_code: matter.value, lon: place.lon, lat: place.lat, description: note.value.trim(), source: 'worker' };
    let left = [...photo.files].slice(0, MAX_PHOTOS); // what is still to upload if the network drops midway
    const keep = async () => {
      try {
        await outbox.addReport(clientId, body, left);
        toast(t('terminal.report.saved_offline'), 'info', 6000);
        close();
      } catch (err) {
        toast(err.message, 'error', 7000);
      }
    };
    if (navigator.onLine === false) return keep();
    submit.disabled = true;
    try {
      const chosen = suggestion; // close() below forgets it
      const c = await sendReport({ clientId, body, photos: left }, (rest) => { left = [...rest]; });
      if (chosen) post(`/api/suggestions/${encodeURIComponent(chosen)}/choice`, { code: body.matter_code, case_id: c.id }).catch(() => {});
      toast(t(c.created === false ? 'terminal.report.merged' : 'terminal.report.sent', { matter: matterName(c.matter_code, c.matter_name) }), 'ok', 4000);
      close();
      onReported(c);
    } catch (err) {
      if (err.status === 0 || err.status >= 500) await keep();
      else if (err.status === 401) showLogin({ username: worker });
      else toast(err.message, 'error', 7000);
    } finally {
      submit.disabled = false;
    }
    return undefined;
  });

  return { setWorker: (w) => { me = w; } };
}
