// One task card for the worker terminal: names, not identifiers (the matter, the grid, the
// source), the time left in words ("剩余 12 分钟"), and big action buttons.

import { el } from '../common/dom.js';
import { fmtTime, matterName, nameOf, t } from '../common/i18n.js';
import { api, sameOriginPath } from '../common/live.js';
import { citizenMediaDetails } from '../common/report_media.js';
import { badge, deadlineStatus, fmtRemaining, isOpenCase, parseTs, stateLabel } from '../common/util.js';
import { cameraReturnNode } from './camera_check.js';
import { deviceNode } from './device_card.js';

// Labels and prompts are catalogue keys (terminal.action.<action>, terminal.prompt.<action>).
export const WORKER_ACTIONS = [
  { action: 'accept', cls: 'btn-primary' },
  { action: 'start', cls: 'btn-primary' },
  { action: 'feedback', cls: 'btn-ok', note: true, photo: true },
  { action: 'close', cls: 'btn-ok', note: true },
];

const hasLoc = (loc) => loc && Number.isFinite(loc.lon) && Number.isFinite(loc.lat);
const mapLink = (loc) => (hasLoc(loc) ? `https://uri.amap.com/marker?position=${loc.lon},${loc.lat}` : null);
// geo: opens the phone's own navigation app (Android, most map apps on iOS).
const geoLink = (loc) => (hasLoc(loc) ? `geo:${loc.lat},${loc.lon}?q=${loc.lat},${loc.lon}` : null);
const PERSON_NOTES = new Set(['return', 'feedback', 'verify', 'close', 'escalate', 'cancel', 'report']);
// Review actions are for someone other than who reported the work (the server refuses them too).
const REVIEW = new Set(['verify', 'close']);

/** The task's matter in the reader's language. */
export const matterOf = (c) => matterName(c.matter_code, c.matter_name) || t('terminal.card.untitled');

/** The countdown's words and level for an open case: {text, level} ('none' without a deadline). */
export function countdownOf(c, now = Date.now()) {
  const st = deadlineStatus(c, now);
  if (st.level === 'none') return { text: '', level: 'none' };
  return { text: fmtRemaining(parseTs(c.deadline) - now), level: st.level };
}

/** Who did a timeline step, in words: me, the assignee by name, a known actor, else as given. */
function actorName(entry, c, worker) {
  if (!entry.actor) return '';
  if (entry.actor === worker) return t('terminal.card.me');
  if (entry.actor === c.assignee && c.assignee_name) return c.assignee_name;
  return entry.actor_name || nameOf('actor', entry.actor);
}

/**
 * Builds a card. onAction(caseId, action, note, card) returns a promise; the card disables
 * its buttons meanwhile. `keep` = {action, note} restores a note being typed across a re-render.
 */
export function taskCard(c, { onAction, keep = null, now = Date.now(), worker = '', queued = null }) {
  const open = isOpenCase(c);
  const allowed = new Set(Array.isArray(c.allowed_actions) ? c.allowed_actions : []);
  if (worker && c.handled_by === worker) REVIEW.forEach((a) => allowed.delete(a));
  // An action waiting in the offline outbox: no second one until it is sent.
  const actions = open && !queued ? WORKER_ACTIONS.filter((a) => allowed.has(a.action)) : [];

  const left = open ? countdownOf(c, now) : { text: '', level: 'none' };
  const countdown = el('span', { class: 'countdown', dataset: { level: left.level, countdown: '' } }, left.text);
  const map = mapLink(c.location);
  // The last word a person left for the worker (a return's reason, a check's remark); the
  // dispatcher's own notes ("to W…") are bookkeeping, not for the phone.
  const lastNote = [...(c.timeline || [])].reverse().find((e) => e.note && PERSON_NOTES.has(e.action));
  const camera = cameraReturnNode(c);  // the camera sent it back: its words and fresh frame instead of the note
  const urgent = c.urgency && c.urgency !== 'routine';

  const card = el('article', {
    class: 'task',
    dataset: { caseId: c.id, state: c.state, urgency: c.urgency || null, overdue: String(open && left.level === 'overdue') },
  },
  el('header', { class: 'task-head', title: c.id },
    el('h2', {}, matterOf(c)),
    urgent ? el('span', { class: 'badge urgency', dataset: { urgency: c.urgency } }, nameOf('urgency', c.urgency)) : null,
    badge(c.state, stateLabel(c.state))),
  el('div', { class: 'task-meta' },
    el('div', { title: c.grid_code || '' }, c.grid_name || t('terminal.card.no_grid')),
    el('div', { class: 'muted' }, c.source ? nameOf('source', c.source) : '',
      Number(c.level) > 0 ? el('span', { class: 'badge level' }, t('terminal.card.level', { n: c.level })) : null)),
  camera,
  deviceNode(c),  // an IoT task: the device that raised it and its readings
  evidence(c),
  c.source === 'citizen' ? citizenMediaDetails(c.id, api) : null,  // the citizen's photos, voice, video
  el('div', { class: 'task-deadline' },
    el('span', { class: 'muted' }, t(open ? 'terminal.card.due' : 'terminal.card.was_due')),
    el('span', { class: 'num' }, fmtTime(c.deadline, 'short')),
    countdown),
  map ? el('div', { class: 'task-map' },
    el('a', { class: 'btn', href: geoLink(c.location), dataset: { nav: 'geo' } }, t('terminal.card.navigate')),
    el('a', { href: map, target: '_blank', rel: 'noopener' }, t('terminal.card.open_map'))) : null,
  queued ? el('p', { class: 'task-queued', role: 'status' }, t('terminal.card.queued', { action: t(`terminal.action.${queued}`) })) : null,
  lastNote && !camera ? el('p', { class: 'task-note' },
    el('span', { class: 'muted' }, `${lastNote.action ? nameOf('action', lastNote.action) : t('terminal.card.note')}：`), lastNote.note) : null,
  timeline(c, worker));

  if (actions.length) card.append(actionArea(c, actions, onAction, keep, card));
  return { node: card, countdown };
}

/**
 * The case's photo: loaded only from this site (the session cookie signs it in). A link to
 * elsewhere (a citizen's `external_media_url`, or an old case's outside snapshot) is shown as
 * a plain link, never loaded: the page must not fetch, with or without credentials, from a
 * server the reporter chose.
 */
function evidence(c) {
  const own = sameOriginPath(c.snapshot_url);
  if (own) {
    return el('a', { class: 'task-photo', href: own, target: '_blank', rel: 'noopener' },
      el('img', { src: own, alt: t('terminal.card.photo_alt'), loading: 'lazy', decoding: 'async' }));
  }
  const outside = [c.external_media_url, c.snapshot_url].find((u) => typeof u === 'string' && /^https?:\/\//i.test(u));
  if (!outside) return null;
  return el('p', { class: 'task-external' },
    el('a', { href: outside, target: '_blank', rel: 'noopener noreferrer', referrerpolicy: 'no-referrer', dataset: { external: '' } },
      t('terminal.card.external_photo')));
}

function timeline(c, worker) {
  const entries = c.timeline;
  if (!Array.isArray(entries) || !entries.length) return null;
  return el('details', { class: 'task-timeline' },
    el('summary', {}, t('terminal.card.history', { n: entries.length })),
    el('ol', {}, entries.map((e) => el('li', {},
      el('span', { class: 'num muted' }, fmtTime(e.ts, 'short')), ' ',
      e.action ? nameOf('action', e.action) : `${stateLabel(e.from_state)} → ${stateLabel(e.to_state)}`,
      e.actor ? el('span', { class: 'muted' }, ` · ${actorName(e, c, worker)}`) : null,
      e.note && PERSON_NOTES.has(e.action) ? el('div', { class: 'muted' }, e.note) : null))));
}

function actionArea(c, actions, onAction, keep, card) {
  const buttons = el('div', { class: 'task-actions' });
  const textarea = el('textarea', { name: 'note', rows: 3, maxlength: 1000 });
  const submit = el('button', { class: 'btn btn-ok btn-big', type: 'submit' }, t('terminal.card.send'));
  const cancel = el('button', { class: 'btn btn-big', type: 'button', dataset: { cancel: '' } }, t('terminal.card.cancel'));
  const prompt = el('label', { class: 'note-label' });
  // capture=environment: the phone opens its rear camera straight away.
  const photo = el('input', { class: 'file-input', type: 'file', name: 'photo', accept: 'image/*', capture: 'environment', multiple: true });
  const preview = el('div', { class: 'photo-preview' });
  const photoBox = el('label', { class: 'photo-field', hidden: true }, t('terminal.card.result_photo'), photo,
    el('span', { class: 'btn file-button' }, t('terminal.report.take_photo')), preview);
  photo.addEventListener('change', () => {
    preview.replaceChildren(...[...photo.files].slice(0, 4).map((f) => el('img', { src: URL.createObjectURL(f), alt: f.name })));
  });
  const form = el('form', { class: 'note-form', hidden: true }, prompt, textarea, photoBox, el('div', { class: 'note-buttons' }, cancel, submit));
  let pending = null; // the action waiting for its note

  const setBusy = (busy) => {
    card.querySelectorAll('button').forEach((b) => { b.disabled = busy; });
    card.classList.toggle('busy', busy);
  };
  const run = async (action, note, photos = []) => {
    setBusy(true);
    try {
      await onAction(c.id, action, note, card, photos);
    } finally {
      if (card.isConnected) setBusy(false);
    }
  };
  const openNote = (a, text = '') => {
    pending = a.action;
    prompt.textContent = t(`terminal.prompt.${a.action}`);
    submit.dataset.submit = a.action;
    submit.textContent = t(`terminal.action.${a.action}`);
    textarea.value = text;
    photoBox.hidden = !a.photo;
    form.hidden = false;
    buttons.hidden = true;
    card.dataset.noteFor = a.action;
    textarea.focus();
  };
  const closeNote = () => {
    pending = null;
    form.hidden = true;
    buttons.hidden = false;
    delete card.dataset.noteFor;
  };

  for (const a of actions) {
    buttons.append(el('button', {
      class: `btn btn-big ${a.cls}`, type: 'button', dataset: { action: a.action },
      onclick: () => (a.note ? openNote(a) : run(a.action, '')),
    }, t(`terminal.action.${a.action}`)));
  }
  cancel.addEventListener('click', closeNote);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    await run(pending, textarea.value.trim(), photoBox.hidden ? [] : [...photo.files]);
  });

  const kept = keep && actions.find((a) => a.action === keep.action && a.note);
  if (kept) queueMicrotask(() => openNote(kept, keep.note));
  return el('div', { class: 'task-act' }, buttons, form);
}

/** The note being typed in a card, to carry over when the card is rebuilt. */
export function pendingNote(card) {
  if (!card || !card.dataset.noteFor) return null;
  const textarea = card.querySelector('textarea[name="note"]');
  return { action: card.dataset.noteFor, note: textarea ? textarea.value : '' };
}
