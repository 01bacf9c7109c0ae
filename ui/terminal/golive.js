// "Go live": the worker's phone camera on the wall's camera tiles, published over WHIP as
// stream `worker-<worker id>` with the worker's token; the command center adds that camera
// on the first publish (workers.live_video), or refuses with 404 where live video is off.

import { $ } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { toast } from '../common/util.js';
import { WhipPublisher, watchPosition } from '../common/whip.js';

// Phase → the badge's colour (style.css) and its words (terminal.live.<phase>).
const STATE = { connecting: 'starting', live: 'online', lost: 'starting', error: 'offline' };

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
    badge.dataset.state = STATE[phase] || '';
    badge.textContent = t(`terminal.live.${phase}`);
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
      toast(unknown ? t('terminal.live.off') : t('terminal.live.failed', { reason: err.message }), 'error', 9000);
    }
  });
  $('live-stop').addEventListener('click', () => {
    stop();
    toast(t('terminal.live.stopped'), 'info', 2500);
  });
  window.addEventListener('pagehide', stop);
}
