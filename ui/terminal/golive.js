// "Go live": the worker's phone camera on the wall's camera tiles, published over WHIP as
// stream `worker-<worker id>` with the worker's token; the command center adds that camera
// on the first publish (workers.live_video), or refuses with 404 where live video is off.

import { $ } from '../common/dom.js';
import { toast } from '../common/util.js';
import { WhipPublisher, watchPosition } from '../common/whip.js';

const STATE = { connecting: ['starting', 'Connecting…'], live: ['online', 'Live'], lost: ['starting', 'Reconnecting…'], error: ['offline', 'Failed'] };

export const streamIdOf = (worker) => `worker-${worker}`;

export function setupGoLive({ worker }) {
  const panel = $('live');
  const video = $('live-preview');
  const badge = $('live-state');
  const startBtn = $('live-start');
  let position = null;
  let unwatch = null;

  const show = (phase) => {
    panel.dataset.phase = phase;
    const [state, text] = STATE[phase] || ['', phase];
    badge.dataset.state = state;
    badge.textContent = text;
  };
  const publisher = new WhipPublisher({
    position: () => position, // the camera's map marker follows the worker
    onState: (s) => show(s === 'connected' ? 'live' : s === 'failed' ? 'error' : s === 'disconnected' ? 'lost' : 'connecting'),
  });

  const stop = () => {
    publisher.stop();
    if (unwatch) unwatch();
    unwatch = null;
    video.srcObject = null;
    panel.hidden = true;
    startBtn.hidden = false;
    delete panel.dataset.phase;
  };

  startBtn.addEventListener('click', async () => {
    startBtn.hidden = true;
    panel.hidden = false;
    show('connecting');
    unwatch = watchPosition((fix) => { position = fix; });
    try {
      video.srcObject = await publisher.start(streamIdOf(worker));
    } catch (err) {
      stop();
      const unknown = /unknown stream/.test(err.message || '');
      toast(unknown
        ? 'Live video is turned off at this command center (workers.live_video)'
        : `Could not go live: ${err.message}`, 'error', 9000);
    }
  });
  $('live-stop').addEventListener('click', () => {
    stop();
    toast('Live video stopped', 'info', 2500);
  });
  window.addEventListener('pagehide', stop);
}
