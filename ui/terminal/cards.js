// One task card for the worker terminal.

import { el } from '../common/dom.js';
import { sameOriginPath } from '../common/live.js';
import { badge, deadlineStatus, fmtClock, isOpenCase, stateLabel } from '../common/util.js';

export const WORKER_ACTIONS = [
  { action: 'accept', label: 'Accept', cls: 'btn-primary' },
  { action: 'start', label: 'Start work', cls: 'btn-primary' },
  { action: 'feedback', label: 'Report back', cls: 'btn-ok', note: 'What was done?', photo: true },
  { action: 'close', label: 'Close', cls: 'btn-ok', note: 'Closing note' },
];

const hasLoc = (loc) => loc && Number.isFinite(loc.lon) && Number.isFinite(loc.lat);
const mapLink = (loc) => (hasLoc(loc) ? `https://uri.amap.com/marker?position=${loc.lon},${loc.lat}` : null);
// geo: opens the phone's own navigation app (Android, most map apps on iOS).
const geoLink = (loc) => (hasLoc(loc) ? `geo:${loc.lat},${loc.lon}?q=${loc.lat},${loc.lon}` : null);
// Review actions are for someone other than who reported the work (the server refuses them too).
const REVIEW = new Set(['verify', 'close']);

/**
 * Builds a card. onAction(caseId, action, note, card) returns a promise; the card disables
 * its buttons meanwhile. `keep` = {action, note} restores a note being typed across a re-render.
 */
export function taskCard(c, { onAction, keep = null, now = Date.now(), worker = '', queued = null }) {
  const open = isOpenCase(c);
  const st = deadlineStatus(c, now);
  const allowed = new Set(Array.isArray(c.allowed_actions) ? c.allowed_actions : []);
  if (worker && c.handled_by === worker) REVIEW.forEach((a) => allowed.delete(a));
  // An action waiting in the offline outbox: no second one until it is sent.
  const actions = open && !queued ? WORKER_ACTIONS.filter((a) => allowed.has(a.action)) : [];

  const countdown = el('span', { class: 'countdown', dataset: { level: open ? st.level : 'none', countdown: '' } }, open ? st.text : '');
  const map = mapLink(c.location);
  const lastNote = [...(c.timeline || [])].reverse().find((t) => t.note);

  const card = el('article', { class: 'task', dataset: { caseId: c.id, state: c.state, overdue: String(open && st.level === 'overdue') } },
    el('header', { class: 'task-head' },
      el('h2', {}, c.matter_name || c.matter_code || 'Task'),
      badge(c.state, stateLabel(c.state))),
    el('div', { class: 'task-meta' },
      el('div', {}, c.grid_name || '', ' ', el('span', { class: 'num muted' }, c.grid_code || '')),
      el('div', { class: 'muted' }, el('span', { class: 'num' }, c.id), c.source ? ` · ${c.source}` : '',
        Number(c.level) > 0 ? el('span', { class: 'badge level' }, `L${c.level}`) : null)),
    evidence(c),
    el('div', { class: 'task-deadline' },
      el('span', { class: 'muted' }, open ? 'Due ' : 'Was due '),
      el('span', { class: 'num' }, fmtClock(c.deadline)),
      countdown),
    map ? el('div', { class: 'task-map' },
      el('a', { class: 'btn', href: geoLink(c.location), dataset: { nav: 'geo' } }, 'Navigate'),
      el('a', { href: map, target: '_blank', rel: 'noopener' }, 'Open in map ↗')) : null,
    queued ? el('p', { class: 'task-queued', role: 'status' }, `“${queued}” saved offline: it is sent when the network is back.`) : null,
    lastNote ? el('p', { class: 'task-note' }, el('span', { class: 'muted' }, `${lastNote.action || 'note'}: `), lastNote.note) : null,
    timeline(c.timeline),
  );

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
      el('img', { src: own, alt: 'Evidence photo', loading: 'lazy', decoding: 'async' }));
  }
  const outside = [c.external_media_url, c.snapshot_url].find((u) => typeof u === 'string' && /^https?:\/\//i.test(u));
  if (!outside) return null;
  return el('p', { class: 'task-external' },
    el('a', { href: outside, target: '_blank', rel: 'noopener noreferrer', referrerpolicy: 'no-referrer', dataset: { external: '' } },
      '外部图片链接'));
}

function timeline(entries) {
  if (!Array.isArray(entries) || !entries.length) return null;
  return el('details', { class: 'task-timeline' },
    el('summary', {}, `History (${entries.length})`),
    el('ol', {}, entries.map((t) => el('li', {},
      el('span', { class: 'num muted' }, fmtClock(t.ts)), ' ',
      t.action || `${t.from_state || ''} → ${t.to_state || ''}`,
      t.actor ? el('span', { class: 'muted' }, ` · ${t.actor}`) : null,
      t.note ? el('div', { class: 'muted' }, t.note) : null))));
}

function actionArea(c, actions, onAction, keep, card) {
  const buttons = el('div', { class: 'task-actions' });
  const textarea = el('textarea', { name: 'note', rows: 3, maxlength: 1000 });
  const submit = el('button', { class: 'btn btn-ok btn-big', type: 'submit' }, 'Send');
  const cancel = el('button', { class: 'btn btn-big', type: 'button', dataset: { cancel: '' } }, 'Cancel');
  const prompt = el('label', { class: 'note-label' });
  // capture=environment: the phone opens its rear camera straight away.
  const photo = el('input', { type: 'file', name: 'photo', accept: 'image/*', capture: 'environment', multiple: true });
  const preview = el('div', { class: 'photo-preview' });
  const photoBox = el('label', { class: 'photo-field', hidden: true }, 'Photo of the result', photo, preview);
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
    prompt.textContent = a.note;
    submit.dataset.submit = a.action;
    submit.textContent = a.label;
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
    }, a.label));
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
