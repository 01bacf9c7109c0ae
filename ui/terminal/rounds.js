// The worker's rounds (巡查 tab): on/off duty (./duty.js), today's patrol route with each
// place's checklist and GPS check-in (a hazard may become a case in one tap), and the care
// visits due. Check-ins and visits made without network wait in an outbox of their own
// (./outbox.js's storage and retries) and are sent once. A check-in may carry a photo and a
// visit a few (./field_photo.js): uploaded when taken, or kept with the outbox entry and
// uploaded before it is sent.

import { $, el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { api, post } from '../common/live.js';
import { showLogin } from '../common/login.js';
import { toast } from '../common/util.js';
import { here, r, reasonOf, say, setupDuty, today } from './duty.js';
import { photoField, photoUrl, uploadDataUrl } from './field_photo.js';
import { Outbox } from './outbox.js';

const RETRY_MS = 15000;     // the outbox tries again this often while something waits
const SKEW_MS = 5 * 60 * 1000; // a phone's clock against the server's, when asking "did it land?"
const KINDS = new Set(['fire_exit', 'rental_housing', 'school_gate', 'construction_site', 'market', 'other']);
const ANSWERS = ['ok', 'hazard', 'na'];
const OUTCOMES = ['ok', 'needs_help', 'not_home'];
const DAY_MS = 86400000;
const VISIT_PHOTOS = 3;

// ---- distance, dates ----

function metres(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
}

const distanceText = (m) => (m < 1000 ? r('route.distance_m', { n: Math.round(m) }) : r('route.distance_km', { n: (m / 1000).toFixed(1) }));
const daysLate = (due) => Math.round((Date.parse(today()) - Date.parse(due)) / DAY_MS);
const shortId = (id) => (String(id).length > 12 ? `…${String(id).slice(-8)}` : String(id));

function dueText(day) {
  if (!day) return r('route.never');
  const late = daysLate(day);
  return late > 0 ? r('route.overdue', { n: late }) : r('route.due_today');
}

// ---- the outbox of check-ins and visits ----

/** Reuses ./outbox.js's kept list and retries; an entry is a POST of ours, not a case action. */
class RoundsOutbox extends Outbox {
  constructor(worker, hooks) { super(`${worker}.rounds`, hooks); }

  /** `tried`: a send already went out (its answer lost): the next flush first asks whether it landed.
   *  `photos`: data URLs not uploaded yet, for `grid`; uploaded before the request is sent. */
  addRequest(kind, ref, path, body, { name, label, tried, photos = [], grid = null }) {
    const entry = { key: `${kind}:${ref}:${Date.now()}`, kind, ref, path, body, name, label, tried, photos, grid, at: Date.now() };
    this._save([...this.entries(), entry]);
    return entry;
  }

  refs() { return new Set(this.entries().map((e) => e.ref)); }

  async _flush() {
    for (const entry of this.entries()) {
      try {
        let result = entry.tried ? await landed(entry) : null;
        if (!result) {
          const body = await this._photos(entry);
          this._update(entry.key, { tried: true });
          result = await post(entry.path, body);
        }
        this._remove(entry.key);
        this.onSent(entry, result);
      } catch (err) {
        if (err.status === 0 || err.status >= 500 || err.status === 401) return; // still offline: later
        this._remove(entry.key);
        this.onDropped(entry, err);
      }
    }
  }

  /** Uploads the entry's waiting photos one by one (each leaves the entry once up, so a retry
   *  never sends one twice); resolves to the body with their ids. */
  async _photos(entry) {
    let { body } = entry;
    const left = [...(entry.photos || [])];
    while (left.length) {
      const { id } = await uploadDataUrl(entry.grid, left[0]);
      body = entry.kind === 'visit' ? { ...body, photos: [...(body.photos || []), id] } : { ...body, photo_id: id };
      left.shift();
      this._update(entry.key, { body, photos: left });
    }
    return body;
  }
}

/** What the server kept of a send whose answer was lost, or null: it never arrived. */
async function landed(entry) {
  if (entry.kind === 'visit') {
    const m = await api(`/api/care/memberships/${encodeURIComponent(entry.ref)}`);
    const visit = (m.visits || []).find((v) => Date.parse(v.at) === Date.parse(entry.body.at));
    return visit ? { visit, membership: m } : null;
  }
  const page = await api('/api/patrols/places?limit=1000');
  const place = (page.items || []).find((p) => p.id === entry.ref);
  const checked = place && place.last_checked_at ? Date.parse(place.last_checked_at) : 0;
  return checked >= entry.at - SKEW_MS ? { place, case_id: null } : null;
}

/**
 * Mounts the tab on index.html's #rounds panel. onCase(id) resolves to the case a reported
 * hazard became (terminal.js puts it in 任务 when it is this worker's); onCount(n) hears how
 * many places and visits are due. Returns {refresh, flush, tracking}.
 */
export function setupRounds({ worker, onCase, onCount }) {
  // forms: the open checklist or visit form by place or membership, kept across re-renders
  // (a list reloaded meanwhile must not wipe the answers being given).
  const ctx = { worker, onCase, position: null, route: [], grids: [], visits: [], names: new Map(), forms: new Map() };
  const box = new RoundsOutbox(worker, {
    onSent: (entry, result) => sentLater(ctx, entry, result),
    onDropped: (entry, err) => toast(r('dropped', { what: entry.label, reason: reasonOf(err) }), 'error', 9000),
    onChange: () => render(ctx),
  });
  ctx.box = box;
  ctx.duty = setupDuty(ctx);
  ctx.refresh = () => refresh(ctx);
  setInterval(() => { if (box.entries().length) box.flush(); }, RETRY_MS);
  ctx.count = () => onCount(ctx.route.length + ctx.visits.length);
  refresh(ctx);
  return { refresh: ctx.refresh, flush: () => box.flush(), tracking: () => ctx.duty.tracking() };
}

async function refresh(ctx) {
  here(30000).then((p) => { ctx.position = p; render(ctx); }, () => {}); // distances only: no fix, no distances
  await Promise.all([loadRoute(ctx), loadVisits(ctx)]);
}

async function loadRoute(ctx) {
  try {
    const route = await api('/api/patrols/route');
    ctx.route = route.items || [];
    ctx.grids = route.grids || [];
    say($('route-error'), '');
  } catch (err) {
    if (err.status === 401) { showLogin({ username: ctx.worker }); return; }
    say($('route-error'), r('route.failed', { reason: reasonOf(err) }));
  }
  render(ctx);
}

async function loadVisits(ctx) {
  try {
    const page = await api(`/api/care/memberships?due=1&worker=${encodeURIComponent(ctx.worker)}&limit=100`);
    ctx.visits = page.items || [];
    say($('visits-error'), '');
    await Promise.all(ctx.visits.map((m) => personName(ctx, m.person_id)));
  } catch (err) {
    if (err.status === 401) return;
    say($('visits-error'), r('visits.failed', { reason: reasonOf(err) }));
  }
  render(ctx);
}

/** The person's name as the base-data API shows it (never an ID number); '' when not shown to us. */
async function personName(ctx, id) {
  if (ctx.names.has(id)) return;
  try {
    ctx.names.set(id, (await api(`/api/basedata/people/${encodeURIComponent(id)}`)).name || '');
  } catch {
    ctx.names.set(id, ''); // outside the worker's grids: the visit is still theirs, the name is not
  }
}

function render(ctx) {
  const waiting = ctx.box.refs();
  const places = ctx.route.map((p) => placeCard(ctx, p, waiting.has(p.id)));
  $('route').replaceChildren(...(places.length ? places : [el('li', { class: 'empty' }, r('route.empty'))]));
  const visits = ctx.visits.map((m) => visitCard(ctx, m, waiting.has(m.id)));
  $('visits').replaceChildren(...(visits.length ? visits : [el('li', { class: 'empty' }, r('visits.empty'))]));
  ctx.count();
}

// ---- today's route and a place's checklist ----

function placeCard(ctx, p, waiting) {
  const kind = KINDS.has(p.kind) ? r(`kind.${p.kind}`) : r('kind.other');
  const far = ctx.position ? distanceText(metres(ctx.position, p)) : null;
  const open = ctx.forms.has(p.id) && !waiting;
  const head = el('button', { class: 'place-head', type: 'button', 'aria-expanded': String(open) },
    el('span', { class: 'place-name' }, p.name),
    el('span', { class: 'place-meta muted' }, [kind, far, dueText(p.next_due)].filter(Boolean).join(' · ')));
  head.addEventListener('click', () => {
    if (open) ctx.forms.delete(p.id); else ctx.forms.set(p.id, checklistForm(ctx, p));
    render(ctx);
  });
  const late = p.next_due && daysLate(p.next_due) > 0;
  return el('li', { class: 'place', dataset: { placeId: p.id, overdue: String(Boolean(late)), waiting: String(waiting) } },
    head,
    waiting ? el('p', { class: 'rounds-waiting', role: 'status' }, r('pending')) : null,
    open ? ctx.forms.get(p.id) : null);
}

function checklistForm(ctx, p) {
  const items = p.checklist.map((item) => el('fieldset', { class: 'check-item', dataset: { item: item.id } },
    el('legend', {}, item.text),
    el('div', { class: 'seg' }, ANSWERS.map((a) => el('label', { class: 'seg-option', dataset: { answer: a } },
      el('input', { type: 'radio', name: `${p.id}:${item.id}`, value: a }), el('span', {}, r(`check.${a}`)))))));
  const report = el('input', { type: 'checkbox', name: 'report' });
  const note = el('textarea', { name: 'hazard_note', rows: 2, maxlength: 2000, placeholder: r('check.note_hint') });
  const hazard = el('div', { class: 'hazard-box', hidden: true },
    el('label', { class: 'hazard-report' }, report, el('span', {}, r('check.report'))),
    el('label', { class: 'hazard-note' }, el('span', {}, r('check.note')), note));
  const error = el('p', { class: 'rounds-error', role: 'alert', hidden: true });
  const photo = photoField({ grid: p.grid_code, label: r('photo.checkin') });
  const allOk = el('button', { class: 'btn btn-big', type: 'button', dataset: { allOk: '' } }, r('check.all_ok'));
  const submit = el('button', { class: 'btn btn-ok btn-big', type: 'submit' }, r('check.submit'));
  const form = el('form', { class: 'checklist' }, items, hazard, photo.element, error,
    el('div', { class: 'check-buttons' }, allOk, submit));
  const answers = () => Object.fromEntries(p.checklist.map((item) => [item.id,
    (form.querySelector(`input[name="${CSS.escape(`${p.id}:${item.id}`)}"]:checked`) || {}).value]));
  form.addEventListener('change', () => { hazard.hidden = !Object.values(answers()).includes('hazard'); });
  allOk.addEventListener('click', () => {
    for (const f of form.querySelectorAll('.check-item')) {
      if (!f.querySelector('input:checked')) f.querySelector('input[value=ok]').checked = true;
    }
    form.dispatchEvent(new Event('change'));
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    checkIn(ctx, p, { answers: answers(), report: report.checked, note: note.value.trim(), photo, error, submit });
  });
  return form;
}

async function checkIn(ctx, p, { answers, report, note, photo, error, submit }) {
  const missing = Object.values(answers).filter((a) => !a).length;
  if (missing) { say(error, r('check.unanswered', { n: missing })); return; }
  const hazards = Object.values(answers).includes('hazard');
  say(error, r('gps.locating'));
  submit.disabled = true;
  let body = null;
  let kept = {}; // a photo not uploaded yet goes with the outbox entry
  try {
    const fix = await here();
    body = { lon: fix.lon, lat: fix.lat, answers, ...(hazards ? { hazard_note: note, report } : {}) };
    const { ids, waiting } = await photo.value();
    if (ids.length) body.photo_id = ids[0];
    kept = { photos: waiting, grid: p.grid_code };
    if (navigator.onLine === false || waiting.length) { queue(ctx, 'checkin', p.id, `/api/patrols/places/${encodeURIComponent(p.id)}/checkins`, body, p.name, false, kept); return; }
    const done = await post(`/api/patrols/places/${encodeURIComponent(p.id)}/checkins`, body);
    say(error, '');
    await checkedIn(ctx, p.id, p.name, done);
  } catch (err) {
    if (err.status === 0 && body) queue(ctx, 'checkin', p.id, `/api/patrols/places/${encodeURIComponent(p.id)}/checkins`, body, p.name, true, kept);
    else if (err.status === 401) showLogin({ username: ctx.worker });
    else say(error, r('check.refused', { reason: reasonOf(err) }));
  } finally {
    submit.disabled = false;
  }
}

/** After a check-in the server kept: the words, the case a hazard became, the route again. */
async function checkedIn(ctx, id, name, done) {
  let text = r('check.done', { place: name });
  if (done && done.case_id) {
    let mine = false;
    try { mine = (await ctx.onCase(done.case_id)).assignee === ctx.worker; } catch { /* the words still say it was made */ }
    text += ` ${r(mine ? 'check.case_mine' : 'check.case_other', { id: shortId(done.case_id), tab: t('terminal.tab.tasks') })}`;
  }
  const result = $('rounds-result');
  say(result, text);
  showPhotos(result, done && done.photo_id ? [done.photo_id] : []);
  if (done && done.case_id) result.dataset.caseId = done.case_id; else delete result.dataset.caseId;
  toast(text, 'ok', 5000);
  ctx.forms.delete(id);
  await loadRoute(ctx);
}

/** The record's photos under its words, as the server serves them (the worker's own). */
function showPhotos(node, ids) {
  node.append(...ids.map((id) => el('img', { class: 'rounds-photo', src: photoUrl(id), alt: t('terminal.photo.alt'), dataset: { photoId: id } })));
}

function queue(ctx, kind, ref, path, body, name, tried, kept = {}) {
  const label = r(`what.${kind}`, { name });
  ctx.box.addRequest(kind, ref, path, body, { name, label, tried, ...kept });
  ctx.forms.delete(kind === 'visit' ? `visit:${ref}` : ref);
  toast(t('terminal.saved_offline'), 'info', 5000);
  render(ctx);
}

function sentLater(ctx, entry, result) {
  toast(t('terminal.sent_later', { what: entry.label }), 'ok', 4000);
  if (entry.kind === 'checkin') checkedIn(ctx, entry.ref, entry.name, result);
  else loadVisits(ctx);
}

// ---- care visits ----

function visitCard(ctx, m, waiting) {
  const name = ctx.names.get(m.person_id);
  const late = m.days_overdue > 0;
  const record = el('button', { class: 'btn btn-primary btn-big', type: 'button', dataset: { record: '' } }, r('visits.record'));
  const card = el('li', { class: 'visit', dataset: { membershipId: m.id, overdue: String(late), waiting: String(waiting) } },
    el('div', { class: 'visit-head' },
      el('span', { class: 'visit-name' }, name || r('visits.unknown_person')),
      el('span', { class: 'visit-group muted' }, m.group_name || ''),
      el('span', { class: 'visit-due', dataset: { overdue: String(late) } },
        late ? r('visits.overdue', { n: m.days_overdue }) : r('visits.due_today'))),
    m.plan ? el('p', { class: 'visit-plan muted' }, m.plan) : null,
    waiting ? el('p', { class: 'rounds-waiting', role: 'status' }, r('pending'))
      : ctx.forms.get(`visit:${m.id}`) || record);
  record.addEventListener('click', () => { ctx.forms.set(`visit:${m.id}`, visitForm(ctx, m, name)); render(ctx); });
  return card;
}

function visitForm(ctx, m, name) {
  const outcomes = el('div', { class: 'seg' }, OUTCOMES.map((o, i) => el('label', { class: 'seg-option', dataset: { outcome: o } },
    el('input', { type: 'radio', name: `outcome:${m.id}`, value: o, checked: i === 0 }), el('span', {}, r(`visits.outcome.${o}`)))));
  const note = el('textarea', { name: 'note', rows: 3, maxlength: 2000, placeholder: r('visits.note_hint') });
  const error = el('p', { class: 'rounds-error', role: 'alert', hidden: true });
  // The person's grid when it is the worker's, else one of theirs: a paired person may live elsewhere.
  const grid = ctx.grids.includes(m.grid_code) ? m.grid_code : (ctx.grids[0] || m.grid_code);
  const photos = photoField({ grid, max: VISIT_PHOTOS, label: r('photo.visit') });
  const cancel = el('button', { class: 'btn btn-big', type: 'button' }, t('terminal.card.cancel'));
  const submit = el('button', { class: 'btn btn-ok btn-big', type: 'submit' }, r('visits.send'));
  const form = el('form', { class: 'visit-form' },
    el('fieldset', { class: 'check-item' }, el('legend', {}, r('visits.outcome_label')), outcomes),
    el('label', { class: 'hazard-note' }, el('span', {}, r('visits.note')), note),
    photos.element, error, el('div', { class: 'check-buttons' }, cancel, submit));
  cancel.addEventListener('click', () => { ctx.forms.delete(`visit:${m.id}`); render(ctx); });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const outcome = form.querySelector('input[type=radio]:checked').value;
    submit.disabled = true;
    await recordVisit(ctx, m, name, { outcome, note: note.value.trim() }, error, { photos, grid });
    submit.disabled = false;
  });
  return form;
}

async function recordVisit(ctx, m, name, fields, error, { photos, grid }) {
  // The time is the visit's own: a visit kept offline is recorded when it happened, and its
  // resend is recognised by it.
  const body = { ...fields, at: new Date().toISOString() };
  try { Object.assign(body, await here(60000)); } catch { /* where is optional for a visit */ }
  const path = `/api/care/memberships/${encodeURIComponent(m.id)}/visits`;
  const label = name || r('visits.unknown_person');
  let kept;
  try {
    const { ids, waiting } = await photos.value();
    if (ids.length) body.photos = ids;
    kept = { photos: waiting, grid };
  } catch (err) {
    say(error, err.message);
    return;
  }
  if (navigator.onLine === false || kept.photos.length) { queue(ctx, 'visit', m.id, path, body, label, false, kept); return; }
  try {
    const done = await post(path, body);
    const text = fields.outcome === 'not_home' ? r('visits.not_home')
      : r('visits.done', { date: done.membership.next_visit_due });
    say($('rounds-result'), text);
    showPhotos($('rounds-result'), done.visit.photos || []);
    delete $('rounds-result').dataset.caseId; // the words are the visit's now, not a case's
    toast(text, 'ok', 5000);
    ctx.forms.delete(`visit:${m.id}`);
    await loadVisits(ctx);
  } catch (err) {
    if (err.status === 0) queue(ctx, 'visit', m.id, path, body, label, true, kept);
    else if (err.status === 401) showLogin({ username: ctx.worker });
    else say(error, r('visits.refused', { reason: reasonOf(err) }));
  }
}
