// Plays a camera live over WebRTC (WHEP: POST /whep/{camera id} with an SDP offer, 201 with the
// answer and a Location to DELETE when done). The server sends the annotated frames, so the
// detector's boxes come with the picture, with sub-second latency; MJPEG (live.mjpg) stays the
// fallback where WebRTC cannot connect. Used by the wall's camera view; other pages import it.
//
//   const player = new WhepPlayer(videoElement, { onState: (s) => … });
//   await player.play('cam-1');   // rejects (err.status) when the server refuses
//   player.stop();                // ends the session on the server too

import { getToken } from './live.js';
import { gatheringDone } from './whip.js';


export class WhepPlayer {
  /** onState(state): 'connecting' | 'playing' | 'failed' | 'stopped'. */
  constructor(video, { onState = () => {} } = {}) {
    this.video = video;
    this.onState = onState;
    this.session = null; // {pc, resource}
  }

  async play(cameraId) {
    this.stop();
    const pc = new RTCPeerConnection({ iceServers: [] });
    const session = { pc, resource: null };
    this.session = session;
    this.onState('connecting');
    try {
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addEventListener('track', (ev) => {
        if (this.session !== session) return;
        this.video.srcObject = ev.streams[0] || new MediaStream([ev.track]);
        this.video.play().catch(() => { /* muted autoplay is allowed; a paused start is retried on canplay */ });
      });
      pc.addEventListener('connectionstatechange', () => {
        if (this.session !== session) return;
        if (pc.connectionState === 'failed') this.onState('failed');
      });
      this.video.addEventListener('playing', () => { if (this.session === session) this.onState('playing'); }, { once: true });
      await pc.setLocalDescription(await pc.createOffer());
      await gatheringDone(pc);
      const headers = { 'Content-Type': 'application/sdp' };
      const token = getToken();
      if (token) headers.Authorization = `Bearer ${token}`;
      const res = await fetch(`/whep/${encodeURIComponent(cameraId)}`, { method: 'POST', headers, body: pc.localDescription.sdp });
      if (res.status !== 201) {
        const err = new Error(`HTTP ${res.status}`);
        err.status = res.status;
        throw err;
      }
      session.resource = new URL(res.headers.get('Location'), location.href).pathname;
      if (this.session !== session) { this._end(session); return; } // stopped while we waited
      await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    } catch (err) {
      if (this.session === session) this.stop();
      this.onState('failed');
      throw err;
    }
  }

  stop() {
    const was = this.session;
    this.session = null;
    if (!was) return;
    this._end(was);
    this.video.srcObject = null;
    this.onState('stopped');
  }

  _end(session) {
    session.pc.close();
    if (session.resource) {
      const headers = {};
      const token = getToken();
      if (token) headers.Authorization = `Bearer ${token}`;
      fetch(session.resource, { method: 'DELETE', headers, keepalive: true }).catch(() => {});
    }
  }
}
