// Publishes this phone's camera to the command center over WHIP, with its position on a
// `telemetry` data channel, so incidents seen from a moving camera are placed where it is.
//
// Query parameters: ?stream=ID (pre-fills the stream), ?lat=&lon= (a fixed position instead of
// the phone's GPS: for tests and for a camera on a tripod), ?token= (as on the other pages).

import { getToken } from '../common/live.js';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const ui = {
  state: $('state'), form: $('form'), stream: $('stream'), start: $('start'), stop: $('stop'),
  preview: $('preview'), placeholder: $('placeholder'), message: $('message'),
  position: $('position'), sent: $('sent'), session: $('session'),
};

// Shown phase → the shared badge colours (style.css): amber, green, red.
const BADGE = { idle: ['', 'Idle'], connecting: ['starting', 'Connecting…'], live: ['online', 'Live'], error: ['offline', 'Error'] };
const TELEMETRY_EVERY_MS = 1000;
const GATHER_TIMEOUT_MS = 3000;

let live = null; // {pc, media, channel, resource, timer, watch}
let position = fixedPosition();
let sent = 0;

function setPhase(phase, message = '', kind = '') {
  document.body.dataset.phase = phase;
  const [badge, text] = BADGE[phase];
  ui.state.dataset.state = badge;
  ui.state.textContent = text;
  ui.message.textContent = message;
  ui.message.dataset.kind = kind;
  ui.start.disabled = phase === 'connecting' || phase === 'live';
  ui.stop.disabled = !live;
  ui.stream.disabled = Boolean(live);
}

function fixedPosition() {
  const lat = Number.parseFloat(params.get('lat'));
  const lon = Number.parseFloat(params.get('lon'));
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return null;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return { lat, lon };
}

function showPosition() {
  ui.position.textContent = position ? `${position.lat.toFixed(6)}, ${position.lon.toFixed(6)}` : 'no position yet';
  ui.sent.textContent = String(sent);
}

function watchPosition() {
  if (fixedPosition() || !navigator.geolocation) return null;
  return navigator.geolocation.watchPosition(
    (pos) => {
      const { latitude, longitude, altitude, heading } = pos.coords;
      position = { lat: latitude, lon: longitude };
      if (Number.isFinite(altitude)) position.alt = altitude;
      if (Number.isFinite(heading)) position.heading = heading;
      showPosition();
    },
    (err) => { ui.position.textContent = `no position: ${err.message}`; },
    { enableHighAccuracy: true, maximumAge: 2000 },
  );
}

function sendTelemetry() {
  const channel = live?.channel;
  if (!position || !channel || channel.readyState !== 'open') return;
  channel.send(JSON.stringify({ ...position, ts: Date.now() / 1000 }));
  sent += 1;
  showPosition();
}

/** Non-trickle WHIP: the offer goes out once it holds every candidate (or after a timeout). */
function gatheringDone(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, GATHER_TIMEOUT_MS);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

function headers(contentType) {
  const h = { 'Content-Type': contentType };
  const token = getToken();
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

async function errorText(res) {
  try {
    const body = await res.json();
    return [body.error, body.detail].filter(Boolean).join(': ') || `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

async function start(streamId) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error('this page needs HTTPS (or localhost) to use the camera');
  }
  setPhase('connecting', 'Opening the camera…');
  const media = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: 'environment', width: { ideal: 1280 }, height: { ideal: 720 } },
    audio: false,
  });
  const pc = new RTCPeerConnection({ iceServers: [] });
  live = { pc, media, channel: null, resource: null, timer: null, watch: null };
  ui.preview.srcObject = media;
  ui.placeholder.hidden = true;
  setPhase('connecting', 'Connecting to the command center…');
  for (const track of media.getVideoTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [media] });
  live.channel = pc.createDataChannel('telemetry');
  live.channel.addEventListener('open', sendTelemetry);
  live.timer = setInterval(sendTelemetry, TELEMETRY_EVERY_MS);
  live.watch = watchPosition();
  pc.addEventListener('connectionstatechange', () => {
    if (live?.pc !== pc) return;
    if (pc.connectionState === 'connected') setPhase('live', `Publishing as ${streamId}`);
    else if (pc.connectionState === 'failed') setPhase('error', 'The connection failed; press Stop, then Go live', 'error');
    else if (pc.connectionState === 'disconnected') setPhase('connecting', 'Connection lost, retrying…');
  });

  await pc.setLocalDescription(await pc.createOffer());
  await gatheringDone(pc);
  const res = await fetch(`/whip/${encodeURIComponent(streamId)}`, {
    method: 'POST',
    headers: headers('application/sdp'),
    body: pc.localDescription.sdp,
  });
  if (res.status !== 201) throw new Error(await errorText(res));
  live.resource = new URL(res.headers.get('Location'), location.href).pathname;
  ui.session.textContent = live.resource.split('/').pop();
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
}

/** Ends the session on the server too; `keepalive` lets it go out while the page unloads. */
function stop() {
  const was = live;
  live = null;
  if (!was) return;
  clearInterval(was.timer);
  if (was.watch != null) navigator.geolocation.clearWatch(was.watch);
  if (was.resource) {
    fetch(was.resource, { method: 'DELETE', headers: headers('text/plain'), keepalive: true }).catch(() => {});
  }
  was.pc.close();
  for (const track of was.media.getTracks()) track.stop();
  ui.preview.srcObject = null;
  ui.placeholder.hidden = false;
  ui.session.textContent = '–';
}

ui.form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const streamId = ui.stream.value.trim();
  if (!streamId) return;
  try {
    await start(streamId);
  } catch (err) {
    stop();
    setPhase('error', err.message || String(err), 'error');
  }
});

ui.stop.addEventListener('click', () => {
  stop();
  setPhase('idle', 'Stopped');
});

window.addEventListener('pagehide', stop);

ui.stream.value = params.get('stream') || '';
showPosition();
setPhase('idle', ui.stream.value ? 'Press Go live to publish' : 'Enter the stream ID you were given');
