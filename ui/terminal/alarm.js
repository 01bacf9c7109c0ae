// Sound and vibration on the worker's phone: a short chime for a new task, and for an
// immediate one (fire, a fallen person…) an alarm that repeats, with the `#alarm` banner,
// until the worker accepts it or it is taken away.
//
// Browsers start sound only after a tap on the page: until then the banner is the alarm and
// says so ("点击任意处开启提示音"). `window.ccAlarm.playing` tells tests (and anyone at the
// console) whether the alarm is on; `.audible` whether sound can be heard.

import { el } from '../common/dom.js';
import { matterName, nameOf, t } from '../common/i18n.js';
import { audible, tones } from '../common/sound.js';

const REPEAT_MS = 2500;
const VIBRATION = [400, 150, 400, 150, 400];

function vibrate(pattern) {
  try {
    if (navigator.vibrate) navigator.vibrate(pattern);
  } catch { /* not allowed without a user gesture in some browsers */ }
}

/** A new task: two soft tones and a short buzz. */
export function chime() {
  vibrate([200, 100, 200]);
  try { tones([[0, 880], [0.22, 1175]], 0.18, 0.2); } catch { /* audio unavailable */ }
}

/**
 * The alarm for immediate tasks. `banner` is the page's #alarm; `onAccept(caseId)` accepts a
 * task from the banner's button; `onShow(caseId)` scrolls to its card. Call update(tasks)
 * after every render with the immediate tasks waiting to be accepted.
 */
export function createAlarm({ banner, onAccept, onShow }) {
  let timer = null;
  let current = [];
  const state = { playing: false, audible: false, cases: [] };
  window.ccAlarm = state;

  const ring = () => {
    state.audible = audible();
    vibrate(VIBRATION);
    try { tones([[0, 988], [0.25, 740], [0.5, 988], [0.75, 740]], 0.2); } catch { /* audio unavailable */ }
    renderBanner();
  };

  const renderBanner = () => {
    if (!current.length) return;
    const first = current[0];
    const what = matterName(first.matter_code, first.matter_name) || nameOf('urgency', 'immediate');
    banner.replaceChildren(
      el('div', { class: 'alarm-text' },
        el('strong', {}, t('terminal.alarm.title', { n: current.length })),
        el('span', {}, t('terminal.alarm.task', { matter: what, place: first.grid_name || '' })),
        state.audible ? null : el('span', { class: 'alarm-hint' }, t('terminal.alarm.tap_for_sound'))),
      el('div', { class: 'alarm-buttons' },
        el('button', { class: 'btn btn-big', type: 'button', onclick: () => onShow(first.id) }, t('terminal.alarm.show')),
        el('button', { class: 'btn btn-big btn-primary', type: 'button', dataset: { alarmAccept: first.id }, onclick: () => onAccept(first.id) },
          t('terminal.action.accept'))));
  };

  return {
    update(tasks) {
      current = tasks;
      state.cases = tasks.map((c) => c.id);
      if (!tasks.length) {
        if (timer) clearInterval(timer);
        timer = null;
        state.playing = false;
        banner.hidden = true;
        banner.replaceChildren();
        return;
      }
      banner.hidden = false;
      if (!state.playing) {
        state.playing = true;
        ring();
        timer = setInterval(ring, REPEAT_MS);
      } else {
        renderBanner();
      }
    },
  };
}
