// A case's timeline in words: each step's name (names.json `action.`), who took it (a
// worker's name, the system, a source), when (fmtTime), and its note. The notes the system
// writes itself ("to W0001: …", "[2 photos]", "80% of the time limit used", …) are put in
// words from the catalogue, with names for the ids they carry; a person's note is shown as
// written.

import { el } from '../common/dom.js';
import { fmtTime, has, nameOf, t } from '../common/i18n.js';

const WORKER_ID = /^W\d+$/;
const MOVES = new Set(['dispatch', 'reassign', 'transfer']);

/** Who took a step, in words (a worker's name resolves later through `lookups`). */
function actorNode(actor, lookups) {
  if (has(`actor.${actor}`)) return el('span', { class: 'tl-actor' }, nameOf('actor', actor));
  if (has(`source.${actor}`)) return el('span', { class: 'tl-actor' }, nameOf('source', actor)); // who reported it
  // A user's name (their login) is shown as it is, like a case number: marked not to translate.
  const node = el('span', { class: 'tl-actor', translate: WORKER_ID.test(actor) ? null : 'no' }, WORKER_ID.test(actor) ? t('desk.tl.a_worker') : actor);
  if (WORKER_ID.test(actor)) {
    lookups.workerName(actor).then((name) => { if (name) node.textContent = name; });
  }
  return node;
}

/** The parts the system adds at a note's end: photos, "on behalf of". */
function tail(note, lookups) {
  const extra = [];
  let text = note;
  const behalf = / \(on behalf of ([^)]+)\)$/.exec(text);
  if (behalf) {
    text = text.slice(0, behalf.index);
    const who = behalf[1];
    extra.push(t('desk.tl.on_behalf', { name: WORKER_ID.test(who) ? lookups.knownWorker(who) || t('desk.tl.a_worker') : who }));
  }
  const photos = /\s*\[(\d+) photos?\]$/.exec(text);
  if (photos) {
    text = text.slice(0, photos.index);
    extra.push(t('desk.tl.photos', { n: photos[1] }));
  }
  return { text, extra };
}

/** A system note in words, or null when the note is a person's own (shown as written). */
function systemNote(entry, lookups) {
  const note = entry.note || '';
  let m;
  if (MOVES.has(entry.action) && (m = /^to (\S+?)(?:: ([\s\S]*))?$/.exec(note))) {
    const target = m[1];
    const node = el('span', {}, t('desk.tl.to', { name: WORKER_ID.test(target) ? t('desk.tl.a_worker') : target }));
    if (WORKER_ID.test(target)) {
      lookups.workerName(target).then((name) => { if (name) node.textContent = t('desk.tl.to', { name }); });
    }
    return [node, m[2] ? el('span', { class: 'tl-reason' }, m[2]) : null];
  }
  if (entry.action === 'reclassify' && (m = /^(\S+) → (\S+): ([\s\S]*)$/.exec(note))) {
    return [t('desk.tl.reclassified', { from: lookups.matterName(m[1], m[1]), to: lookups.matterName(m[2], m[2]) }),
      el('span', { class: 'tl-reason' }, m[3])];
  }
  if (entry.action === 'warn' && (m = /^(\d+)% of the time limit used$/.exec(note))) return [t('desk.tl.warn', { p: m[1] })];
  if (entry.action === 'escalate' && /^overdue: supervised by /.test(note)) return [t('desk.tl.overdue')];
  if (entry.action === 'resume' && note === 'the deferral ended') return [t('desk.tl.hold_ended')];
  if (entry.action === 'attach') {
    if ((m = /^merged (\S+)$/.exec(note))) return [t('desk.tl.merged_from'), el('span', { class: 'num', translate: 'no' }, shortId(m[1]))];
    return [t('desk.tl.attached')];
  }
  return null;
}

/** The deferral's dates the dispatcher appends: "(until …; deadline …)" or "(early; deadline …)". */
function dates(text) {
  let m = /\s*\(until ([\d-]+ [\d:]+); deadline ([\d-]+ [\d:]+)\)$/.exec(text);
  if (m) return { text: text.slice(0, m.index), extra: t('desk.tl.deferred', { until: m[1], deadline: m[2] }) };
  m = /\s*\(early; deadline ([\d-]+ [\d:]+)\)$/.exec(text);
  if (m) return { text: text.slice(0, m.index), extra: t('desk.tl.resumed_early', { deadline: m[1] }) };
  return { text, extra: null };
}

/** The note's nodes: the system's words, or the person's note with the system's additions. */
export function noteNodes(entry, lookups) {
  const said = systemNote(entry, lookups);
  if (said) return said;
  const { text, extra } = tail(entry.note || '', lookups);
  const dated = dates(text);
  return [dated.text ? el('span', { class: 'tl-reason' }, dated.text) : null, dated.extra, ...extra]
    .filter(Boolean).map((part) => (typeof part === 'string' ? el('span', { class: 'tl-extra' }, part) : part));
}

/** The feedback's own words (the latest feedback), without the photo count. */
export function feedbackNote(c, lookups) {
  const entries = Array.isArray(c.timeline) ? c.timeline : [];
  const last = [...entries].reverse().find((e) => e.action === 'feedback');
  return last ? { ...last, note: tail(last.note || '', lookups).text } : null;
}

export function shortId(id) {
  const text = String(id || '');
  return text.length > 12 ? `…${text.slice(-8)}` : text;
}

/** The timeline, newest first. */
export function timelineList(c, lookups) {
  const entries = Array.isArray(c.timeline) ? [...c.timeline].reverse() : [];
  if (!entries.length) return el('p', { class: 'muted' }, t('desk.tl.empty'));
  return el('ol', { class: 'timeline' }, entries.map((e) => el('li', { class: 'tl-entry', dataset: { action: e.action } },
    el('div', { class: 'tl-head' },
      el('span', { class: 'tl-action' }, nameOf('action', e.action)),
      actorNode(e.actor, lookups),
      el('time', { class: 'tl-time muted', datetime: e.ts }, fmtTime(e.ts))),
    el('div', { class: 'tl-note' }, noteNodes(e, lookups)))));
}
