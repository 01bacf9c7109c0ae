// On and off duty (上班签到 / 下班签退) by GPS inside the worker's grids, and the track while on
// duty: a position a minute, kept with its time in localStorage and sent as a batch, so a
// stretch without network loses nothing (the server skips an instant sent twice). Also what
// the rounds tab (rounds.js) shares: the position now, the server's refusals in words.

import { $ } from '../common/dom.js';
import { locale, t, timeZone } from '../common/i18n.js';
import { post } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { toast } from '../common/util.js';

const TRACK_MS = 60000;     // the on-duty track: a position a minute
const FIX_TIMEOUT_MS = 10000;
const MAX_TRACK = 500;      // the API's batch limit; older points beyond it are the least useful

/** A rounds-tab message (terminal.rounds.*). */
export const r = (key, vars) => t(`terminal.rounds.${key}`, vars);

/** The phone's position now: {lon, lat}; rejects with the reason in words. */
export function here(maxAgeMs = 0) {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) { reject(new Error(r('gps.none'))); return; }
    navigator.geolocation.getCurrentPosition(
      (pos) => resolve({ lon: pos.coords.longitude, lat: pos.coords.latitude }),
      (err) => reject(new Error(r(err.code === 1 ? 'gps.denied' : err.code === 3 ? 'gps.timeout' : 'gps.none'))),
      { enableHighAccuracy: true, timeout: FIX_TIMEOUT_MS, maximumAge: maxAgeMs },
    );
  });
}

export const hhmm = (iso) => new Date(iso).toLocaleTimeString(locale, { timeZone, hour: '2-digit', minute: '2-digit', hour12: false });
/** Today in the city's zone, YYYY-MM-DD (what the server's dates are). */
export const today = () => new Date().toLocaleDateString('en-CA', { timeZone });

/** The server's refusal in the phone's words (its English error only as a last resort). */
export function reasonOf(err) {
  const d = err.detail && typeof err.detail === 'object' ? err.detail : {};
  if (err.status === 422 && err.error === 'outside your grids') {
    return r('err.outside_grids', { far: Number.isFinite(d.distance_m) ? r('err.far', { m: Math.round(d.distance_m) }) : '' });
  }
  if (err.status === 422 && Number.isFinite(d.distance_m) && Number.isFinite(d.radius_m)) {
    return r('check.too_far', { d: Math.round(d.distance_m), r: Math.round(d.radius_m) });
  }
  if (err.status === 409 && err.error === 'checked in already today') return r('err.already_on');
  if (err.status === 409 && err.error === 'not on duty') return r('err.not_on');
  if (err.status === 403) return r('err.forbidden');
  if (err.status === 404) return r('err.gone');
  // No answer (the catalogue's own "network" / "timeout" words) or no position: said already.
  if (err.status === 0 || err.status === undefined) return err.message;
  return r('err.failed', { reason: err.message });
}

export function say(node, text) {
  node.textContent = text || '';
  node.hidden = !text;
}

/** Wires #duty; `worker` is whose day it is. Returns {tracking()}. */
export function setupDuty(ctx) {
  const key = `cc.duty.${ctx.worker}`;
  const trackKey = `cc.track.${ctx.worker}`;
  const read = (k, fallback) => { try { return JSON.parse(localStorage.getItem(k)) || fallback; } catch { return fallback; } };
  let day = read(key, null);
  if (day && day.day !== today()) day = null; // yesterday's state says nothing about today
  let timer = null;
  const error = $('duty-error');
  const button = $('duty-toggle');

  const show = () => {
    const on = day && !day.off_at;
    $('duty-state').textContent = !day ? r('duty.state_off')
      : on ? r('duty.state_on', { time: hhmm(day.on_at) }) + (day.late ? r('duty.late') : '')
        : r('duty.state_done', { time: hhmm(day.off_at) });
    $('duty').dataset.state = !day ? 'off' : on ? 'on' : 'done';
    button.textContent = r(on ? 'duty.off' : 'duty.on');
    button.className = `btn btn-big ${on ? 'btn-warn' : 'btn-primary'}`;
    button.hidden = Boolean(day && day.off_at);
  };
  const keep = (row) => {
    day = row;
    if (row) localStorage.setItem(key, JSON.stringify(row)); else localStorage.removeItem(key);
    if (row && !row.off_at) startTrack(); else stopTrack();
    show();
  };
  const sendTrack = async () => {
    const points = read(trackKey, []);
    if (!points.length) return;
    try {
      await post('/api/attendance/track', { points: points.slice(-MAX_TRACK) });
      localStorage.setItem(trackKey, JSON.stringify(read(trackKey, []).slice(points.length)));
      if (error.dataset.track) { say(error, ''); delete error.dataset.track; } // a track failure is over
    } catch (err) {
      if (err.status === 0 || err.status >= 500 || err.status === 401) return; // kept, sent with the next
      localStorage.removeItem(trackKey);
      if (err.status === 409) keep(null); // the server has us off duty: nothing more is recorded
      else trackFailed(reasonOf(err));
    }
  };
  const trackFailed = (reason) => { say(error, r('track.failed', { reason })); error.dataset.track = '1'; };
  const tick = async () => {
    try {
      const p = await here();
      const points = [...read(trackKey, []), { ...p, at: new Date().toISOString() }].slice(-MAX_TRACK);
      localStorage.setItem(trackKey, JSON.stringify(points));
    } catch (err) {
      trackFailed(err.message);
    }
    await sendTrack();
  };
  function startTrack() { if (!timer) { timer = setInterval(tick, TRACK_MS); tick(); } }
  function stopTrack() { clearInterval(timer); timer = null; }

  button.addEventListener('click', () => toggle(ctx, day, { keep, sendTrack, error, button }));
  keep(day);
  return { tracking: () => timer !== null, sendTrack };
}

async function toggle(ctx, day, { keep, sendTrack, error, button }) {
  const on = day && !day.off_at;
  say(error, r('gps.locating'));
  button.disabled = true;
  try {
    const p = await here();
    if (on) await sendTrack(); // the last points count before the day closes
    const row = await post(`/api/attendance/${on ? 'off' : 'on'}`, p);
    say(error, '');
    keep(row);
    toast(r(on ? 'duty.done_off' : 'duty.done_on'), 'ok', 3000);
  } catch (err) {
    if (err.status === 401) showLogin({ username: ctx.worker });
    if (err.status === 409 && err.detail && err.detail.day) keep(err.detail.day); // checked in already (another phone)
    else if (err.status === 409 && on) keep(null);
    say(error, r(on ? 'duty.off_failed' : 'duty.on_failed', { reason: reasonOf(err) }));
  } finally {
    button.disabled = false;
  }
}
