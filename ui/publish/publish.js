// The publish page: this phone's camera to the command center over WHIP (see common/whip.js).
//
// Query parameters: ?stream=ID (pre-fills the stream), ?lat=&lon= (a fixed position instead of
// the phone's GPS: for tests and for a camera on a tripod). A device publishes with its publish
// key (typed or pasted once, then remembered on this device for that stream, never put in a URL);
// a signed-in worker needs none.

import { $ } from '../common/dom.js';
import { applyI18n, languageButton, t } from '../common/i18n.js';
import { WhipPublisher, watchPosition } from '../common/whip.js';

const params = new URLSearchParams(location.search);
const ui = {
  state: $('state'), form: $('form'), stream: $('stream'), key: $('key'), start: $('start'), stop: $('stop'),
  preview: $('preview'), placeholder: $('placeholder'), message: $('message'),
  position: $('position'), sent: $('sent'), session: $('session'),
};

// Shown phase → the shared badge colours (style.css): amber, green, red; its words are publish.phase.<phase>.
const BADGE = { idle: '', connecting: 'starting', live: 'online', error: 'offline' };

let position = fixedPosition();
let streamId = '';
let unwatch = null;
const publisher = new WhipPublisher({
  position: () => position,
  onSent: () => showPosition(),
  onState: (state) => {
    if (state === 'connected') setPhase('live', t('publish.msg.live', { stream: streamId }));
    else if (state === 'failed') setPhase('error', t('publish.msg.failed'), 'error');
    else if (state === 'disconnected') setPhase('connecting', t('publish.msg.lost'));
  },
});

function setPhase(phase, message = '', kind = '') {
  document.body.dataset.phase = phase;
  ui.state.dataset.state = BADGE[phase];
  ui.state.textContent = t(`publish.phase.${phase}`);
  ui.message.textContent = message;
  ui.message.dataset.kind = kind;
  ui.start.disabled = phase === 'connecting' || phase === 'live';
  ui.stop.disabled = !publisher.live;
  ui.stream.disabled = Boolean(publisher.live);
  ui.key.disabled = Boolean(publisher.live);
}

const KEY_PREFIX = 'cc.publishKey.';

function rememberedKey(stream) {
  try { return localStorage.getItem(KEY_PREFIX + stream) || ''; } catch { return ''; }
}

function rememberKey(stream, key) {
  try {
    if (key) localStorage.setItem(KEY_PREFIX + stream, key);
    else localStorage.removeItem(KEY_PREFIX + stream);
  } catch { /* storage disabled: typed each time */ }
}

function fixedPosition() {
  const lat = Number.parseFloat(params.get('lat'));
  const lon = Number.parseFloat(params.get('lon'));
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return null;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return { lat, lon };
}

function showPosition() {
  ui.position.textContent = position ? `${position.lat.toFixed(6)}, ${position.lon.toFixed(6)}` : t('publish.no_position');
  ui.sent.textContent = String(publisher.sent);
}

function stop() {
  publisher.stop();
  if (unwatch) unwatch();
  unwatch = null;
  ui.preview.srcObject = null;
  ui.placeholder.hidden = false;
  ui.session.textContent = '–';
}

ui.form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  streamId = ui.stream.value.trim();
  if (!streamId) return;
  setPhase('connecting', t('publish.msg.opening'));
  try {
    if (!fixedPosition()) {
      unwatch = watchPosition(
        (fix) => { position = fix; showPosition(); },
        () => { ui.position.textContent = t('publish.no_fix'); },
      );
    }
    const key = ui.key.value.trim();
    ui.preview.srcObject = await publisher.start(streamId, key);
    rememberKey(streamId, key);
    ui.placeholder.hidden = true;
    ui.session.textContent = publisher.session || '–';
    if (document.body.dataset.phase !== 'live') setPhase('connecting', t('publish.msg.connecting'));
  } catch (err) {
    stop();
    if (err.status === 401) rememberKey(streamId, ''); // revoked or rotated: forget it
    const why = err.status === 401 ? t('publish.error.key') : err.status === 403 ? t('publish.error.stream')
      : err.name === 'NotAllowedError' ? t('publish.error.camera') : t('publish.error.other', { reason: err.message || String(err) });
    setPhase('error', why, 'error');
  }
});

ui.stop.addEventListener('click', () => {
  stop();
  setPhase('idle', t('publish.msg.stopped'));
});

window.addEventListener('pagehide', stop);

applyI18n();
$('lang').append(languageButton('btn lang-switch'));
ui.stream.value = params.get('stream') || '';
ui.key.value = ui.stream.value ? rememberedKey(ui.stream.value) : '';
showPosition();
setPhase('idle', t(ui.stream.value ? 'publish.msg.ready' : 'publish.msg.enter_stream'));
