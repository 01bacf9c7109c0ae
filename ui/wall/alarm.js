// The alarm for immediate incidents (fire, a fallen person…): beeps made with WebAudio (no
// audio file to load or lose) and the #alarm banner, until each is acknowledged or dismissed.
// Browsers keep audio off until the page gets a click or a key; the banner is the alarm even
// then, and says how to turn the sound on. window.ccAlarm tells tests (and the console) its state.

import { el } from '../common/dom.js';
import { fmtTime, t } from '../common/i18n.js';
import { audible, onAudibleChange, tones, unlockAudio } from '../common/sound.js';
import { parseTs } from '../common/util.js';

const BEEP_EVERY_MS = 1600;
// An immediate incident nobody acknowledged for this long no longer sounds: a wall opened in
// the morning should not wail for last night's; it stays in the feed, marked 特急.
const MAX_AGE_MS = 60 * 60 * 1000;
const TONES = [[0, 880], [0.22, 660], [0.44, 880]]; // [start s, Hz]: a three-note two-tone call

export class Alarm {
  /**
   * banner: #alarm. urgencyOf(incident) → 'immediate'|…; describe(incident) → its words;
   * onOpen / onAck / onDismiss(incident): the banner's buttons.
   */
  constructor(banner, { urgencyOf, describe, onOpen, onAck, onDismiss }) {
    this.banner = banner;
    this.urgencyOf = urgencyOf;
    this.describe = describe;
    this.handlers = { open: onOpen, ack: onAck, dismiss: onDismiss };
    this.active = [];
    this.seen = new Set(); // ids that have sounded: a new one ends a mute
    this.muted = false;
    this.timer = null;
    this.state = { playing: false, audible: false, count: 0 };
    window.ccAlarm = this.state;
    // Any click or key may start the audio (the autoplay rule); capture: before a handler stops it.
    const unlock = () => this._unlock();
    document.addEventListener('pointerdown', unlock, true);
    document.addEventListener('keydown', unlock, true);
    onAudibleChange((on) => { this.state.audible = on; this._paintHint(); });
  }

  /** incidents: all the feed holds; those immediate, new and recent sound. */
  update(incidents, now = Date.now()) {
    const active = incidents
      .filter((i) => i.state === 'new' && this.urgencyOf(i) === 'immediate' && now - (parseTs(i.ts) || now) < MAX_AGE_MS)
      .sort((a, b) => (parseTs(b.ts) || 0) - (parseTs(a.ts) || 0));
    let arrived = false;
    for (const inc of active) {
      if (!this.seen.has(inc.id)) { this.seen.add(inc.id); arrived = true; }
    }
    if (arrived) this.muted = false;
    const sig = active.map((i) => i.id).join(',');
    this.active = active;
    if (sig !== this._sig) { this._sig = sig; this._render(); }
    this._sound(active.length > 0 && !this.muted);
  }

  mute() {
    this.muted = true;
    this._sound(false);
    this._render();
  }

  _render() {
    const [top] = this.active;
    this.banner.hidden = !top;
    if (!top) { this.banner.replaceChildren(); return; }
    const more = this.active.length > 1 ? t('wall.alarm.more', { n: this.active.length - 1 }) : '';
    const button = (action, label, cls) => el('button', {
      class: `btn ${cls}`, type: 'button', dataset: { action, incidentId: top.id },
      onclick: () => this.handlers[action](top),
    }, label);
    this.banner.dataset.incidentId = top.id;
    const parts = [
      el('strong', { class: 'alarm-tag' }, t('wall.alarm.tag')),
      el('span', { class: 'alarm-what' }, this.describe(top)),
      el('time', { class: 'num', datetime: top.ts || '' }, fmtTime(top.ts, 'time')),
      more ? el('span', { class: 'alarm-more' }, more) : null,
      // Its words change on the first click (sound on): it keeps its place, so the buttons do not move under the pointer.
      el('span', { class: 'alarm-hint', dataset: { part: 'hint' } }, this.muted ? t('wall.alarm.muted') : t('wall.alarm.click_for_sound')),
      el('span', { class: 'alarm-actions' },
        button('open', t('wall.action.view'), ''),
        button('ack', t('wall.action.ack'), 'btn-ok'),
        button('dismiss', t('wall.action.dismiss'), 'btn-danger'),
        this.muted ? null : el('button', { class: 'btn', type: 'button', dataset: { action: 'mute' }, onclick: () => this.mute() }, t('wall.alarm.mute'))),
    ];
    this.banner.replaceChildren(...parts.filter(Boolean));
    this._paintHint();
  }

  _paintHint() {
    const hint = this.banner.querySelector('[data-part=hint]');
    if (hint) hint.style.visibility = this.muted || !this.state.audible ? 'visible' : 'hidden';
  }

  _sound(on) {
    this.state.count = this.active.length;
    if (on === this.state.playing) return;
    this.state.playing = on;
    this.banner.dataset.playing = String(on);
    clearInterval(this.timer);
    this.timer = null;
    if (on) {
      this._beep();
      this.timer = setInterval(() => this._beep(), BEEP_EVERY_MS);
    }
  }

  _unlock() {
    unlockAudio();
    this.state.audible = audible();
    this._paintHint();
  }

  _beep() {
    tones(TONES, 0.18, 0.25);
  }
}
