// Publishes this phone's camera to the command center over WHIP (POST /whip/{stream id}), with
// its position on a `telemetry` data channel, so what a moving camera sees is placed where it is.
// Used by the publish page (drones, tripods) and the worker terminal's "Go live".

import { getToken } from './live.js';

const TELEMETRY_EVERY_MS = 1000;
const GATHER_TIMEOUT_MS = 3000;

export class WhipPublisher {
  /**
   * position(): the latest {lat, lon, alt?, heading?} or null; onState(state): the peer
   * connection's state ('connected', 'disconnected', 'failed'); onSent(count): telemetry sent.
   */
  constructor({ position = () => null, onState = () => {}, onSent = () => {} } = {}) {
    this.position = position;
    this.onState = onState;
    this.onSent = onSent;
    this.live = null; // {pc, media, channel, resource, timer}
    this.sent = 0;
  }

  /** Opens the camera and publishes it as `streamId`; resolves with the camera's MediaStream
   *  once the server answered (the connection itself follows through onState). `key`: a
   *  device's publish key (cck_…); without one, the signed-in user's token is sent. */
  async start(streamId, key = '') {
    if (this.live) throw new Error('already live');
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new Error('this page needs HTTPS (or localhost) to use the camera');
    }
    const media = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: 'environment', width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: false,
    });
    const pc = new RTCPeerConnection({ iceServers: [] });
    const live = { pc, media, channel: null, resource: null, timer: null, key };
    this.live = live;
    try {
      for (const track of media.getVideoTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [media] });
      live.channel = pc.createDataChannel('telemetry');
      live.channel.addEventListener('open', () => this._sendTelemetry());
      live.timer = setInterval(() => this._sendTelemetry(), TELEMETRY_EVERY_MS);
      pc.addEventListener('connectionstatechange', () => {
        if (this.live?.pc === pc) this.onState(pc.connectionState);
      });
      await pc.setLocalDescription(await pc.createOffer());
      await gatheringDone(pc);
      const res = await fetch(`/whip/${encodeURIComponent(streamId)}`, {
        method: 'POST',
        headers: headers('application/sdp', key),
        body: pc.localDescription.sdp,
      });
      if (res.status !== 201) {
        const err = new Error(await errorText(res));
        err.status = res.status;
        throw err;
      }
      live.resource = new URL(res.headers.get('Location'), location.href).pathname;
      await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    } catch (err) {
      this.stop();
      throw err;
    }
    return media;
  }

  /** The server's session id, once answered. */
  get session() {
    return this.live?.resource ? this.live.resource.split('/').pop() : null;
  }

  /** Ends the session on the server too; `keepalive` lets it go out while the page unloads. */
  stop() {
    const was = this.live;
    this.live = null;
    if (!was) return;
    clearInterval(was.timer);
    if (was.resource) {
      fetch(was.resource, { method: 'DELETE', headers: headers('text/plain', was.key), keepalive: true }).catch(() => {});
    }
    was.pc.close();
    for (const track of was.media.getTracks()) track.stop();
  }

  _sendTelemetry() {
    const channel = this.live?.channel;
    const position = this.position();
    if (!position || !channel || channel.readyState !== 'open') return;
    channel.send(JSON.stringify({ ...position, ts: Date.now() / 1000 }));
    this.sent += 1;
    this.onSent(this.sent);
  }
}

/** Follows the phone's GPS; returns a stop function (a no-op without geolocation). */
export function watchPosition(onFix, onError = () => {}) {
  if (!navigator.geolocation) return () => {};
  const id = navigator.geolocation.watchPosition(
    (pos) => {
      const { latitude, longitude, altitude, heading } = pos.coords;
      const fix = { lat: latitude, lon: longitude };
      if (Number.isFinite(altitude)) fix.alt = altitude;
      if (Number.isFinite(heading)) fix.heading = heading;
      onFix(fix);
    },
    onError,
    { enableHighAccuracy: true, maximumAge: 2000 },
  );
  return () => navigator.geolocation.clearWatch(id);
}

/** Non-trickle WHIP and WHEP: the offer goes out once it holds every candidate (or after a timeout). */
export function gatheringDone(pc) {
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

/** The publish credential: the device's key when given, else the signed-in user's token. */
function headers(contentType, key = '') {
  const h = { 'Content-Type': contentType };
  const token = key || getToken();
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
