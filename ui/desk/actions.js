// The desk's action dialog: what an action needs (a worker from the case's candidates, a
// department, a matter, a case to merge into, a deferral's length) and its reason. Actions
// that end, return or move work require the reason; the destructive ones (cancel, close,
// return, merge) say what will happen and are confirmed by the dialog's own button. The same
// dialog sends one action to many cases (POST /api/cases/bulk) and lists what failed.

import { $, el } from '../common/dom.js';
import { nameOf, t } from '../common/i18n.js';
import { api, post } from '../common/live.js';
import { shortId } from './timeline.js';

const REASON = new Set(['return', 'cancel', 'reassign', 'reclassify', 'close', 'defer']);
const DESTRUCTIVE = new Set(['cancel', 'close', 'return', 'merge']);
const TIERS = { grid: 'desk.tier.grid', community: 'desk.tier.community', street: 'desk.tier.street' };

/** An API refusal in words (the server's own words stay in the title, for whoever debugs). */
export function errorText(err) {
  const said = String((err && err.error) || '');
  if (/needs a reason|needs a note/.test(said)) return t('desk.err.reason');
  if (said === 'unknown worker' || /needs 'worker'/.test(said)) return t('desk.err.worker');
  if (said === 'invalid transition') return t('desk.err.state');
  if (said === 'case changed meanwhile') return t('desk.err.changed');
  if (err && err.status === 404) return t('desk.err.not_found');
  if (err && err.status === 403) return t('desk.err.forbidden');
  if (err && err.status === 0) return t('desk.err.offline');
  return t('desk.err.failed');
}

export class ActionDialog {
  constructor({ lookups }) {
    this.lookups = lookups;
    this.dialog = $('dialog');
    this.form = $('dialog-form');
    this.body = $('dialog-body');
    this.reason = $('dialog-reason');
    this.error = $('dialog-error');
    this.ok = $('dialog-ok');
    this.pending = null;
    $('dialog-cancel').addEventListener('click', () => this.dialog.close());
    this.form.addEventListener('submit', (ev) => { ev.preventDefault(); this._submit(); });
    this.dialog.addEventListener('close', () => { this.pending = null; });
  }

  /** Opens the dialog for `action` on `cases` (one, or several for a bulk action). */
  async open(action, cases, { onDone = () => {} } = {}) {
    const bulk = cases.length > 1;
    this.pending = { action, cases, bulk, onDone, read: () => ({}) };
    $('dialog-title').replaceChildren(...(bulk
      ? [t('desk.dialog.bulk_title', { action: nameOf('action', action), n: cases.length })]
      : [t('desk.dialog.title', { action: nameOf('action', action) }), ' ',
        el('span', { class: 'num', translate: 'no' }, shortId(cases[0].id))]));
    $('dialog-intro').textContent = DESTRUCTIVE.has(action) ? t(`desk.confirm.${action}`) : '';
    const required = REASON.has(action);
    $('dialog-reason-label').textContent = t(required ? 'desk.dialog.reason_required' : 'desk.dialog.reason_optional');
    this.reason.value = '';
    this.reason.required = required;
    this.error.textContent = '';
    this.ok.textContent = DESTRUCTIVE.has(action) ? t('desk.dialog.confirm', { action: nameOf('action', action) }) : t('desk.dialog.ok');
    this.ok.className = `btn ${DESTRUCTIVE.has(action) ? 'btn-danger' : 'btn-primary'}`;
    this.ok.disabled = false;
    this.body.replaceChildren(el('p', { class: 'muted' }, t('desk.dialog.loading')));
    this.dialog.dataset.action = action;
    if (!this.dialog.open) this.dialog.showModal();
    const pending = this.pending;
    try {
      const read = await this._fields(action, cases[0]);
      if (this.pending === pending) pending.read = read;
    } catch (err) {
      this.body.replaceChildren(el('p', { class: 'dialog-error' }, errorText(err)));
    }
  }

  /** The action's own fields; returns a function reading them ({} when complete, or throws). */
  async _fields(action, c) {
    if (action === 'dispatch' || action === 'reassign') return this._workers(c);
    if (action === 'transfer') {
      const found = await api(`/api/cases/${encodeURIComponent(c.id)}/candidates`);
      const select = el('select', { id: 'dialog-department', required: true },
        (found.departments || []).map((d) => el('option', { value: d, selected: d === found.department }, d)));
      this.body.replaceChildren(label(t('desk.dialog.department'), select));
      return () => ({ department: select.value });
    }
    if (action === 'reclassify') {
      await this.lookups.ready;
      const select = el('select', { id: 'dialog-matter', required: true },
        el('option', { value: '' }, t('desk.dialog.choose')),
        this.lookups.matters.filter((m) => m.code !== c.matter_code).map((m) => el('option', { value: m.code }, m.name)));
      this.body.replaceChildren(label(t('desk.dialog.matter'), select));
      return () => ({ matter: select.value });
    }
    if (action === 'merge') {
      const input = el('input', { id: 'dialog-into', required: true, maxlength: 64, placeholder: t('desk.dialog.into_hint') });
      this.body.replaceChildren(label(t('desk.dialog.into'), input));
      return () => ({ into: input.value.trim() });
    }
    if (action === 'defer') {
      const input = el('input', { id: 'dialog-days', type: 'number', min: 0.5, max: 250, step: 0.5, value: 1, required: true });
      this.body.replaceChildren(label(t('desk.dialog.days'), input));
      return () => ({ days: Number(input.value) });
    }
    this.body.replaceChildren();
    return () => ({});
  }

  /** The worker picker: the case's candidates, on duty first, with their open cases. */
  async _workers(c) {
    const found = await api(`/api/cases/${encodeURIComponent(c.id)}/candidates`);
    const workers = (found.workers || []).filter((w) => !w.assigned);
    for (const w of workers) this.lookups.noteWorker(w.id, w.name);
    const filter = el('input', { id: 'dialog-worker-filter', type: 'search', placeholder: t('desk.dialog.worker_filter') });
    const list = el('div', { class: 'picker', role: 'radiogroup', 'aria-label': t('desk.dialog.worker') },
      workers.length ? workers.map((w) => el('label', { class: 'pick-worker', dataset: { workerId: w.id, onDuty: String(w.on_duty) } },
        el('input', { type: 'radio', name: 'worker', value: w.id, required: true }),
        el('span', { class: 'pick-name' }, w.name),
        el('span', { class: `duty ${w.on_duty ? 'on' : 'off'}` }, t(w.on_duty ? 'desk.on_duty' : 'desk.off_duty')),
        el('span', { class: 'pick-load' }, t('desk.load', { n: w.load })),
        el('span', { class: 'pick-where muted' }, `${t(TIERS[w.tier] || 'desk.tier.street')} · ${(w.grids || []).join('、')}`)))
        : el('p', { class: 'muted' }, t('desk.dialog.no_workers')));
    filter.addEventListener('input', () => {
      const q = filter.value.trim();
      for (const row of list.querySelectorAll('.pick-worker')) row.hidden = q !== '' && !row.textContent.includes(q);
    });
    this.body.replaceChildren(label(t('desk.dialog.worker'), filter), list);
    return () => {
      const chosen = list.querySelector('input[name=worker]:checked');
      if (!chosen) throw new Error(t('desk.dialog.pick_worker'));
      return { worker: chosen.value };
    };
  }

  async _submit() {
    const p = this.pending;
    if (!p) return;
    const note = this.reason.value.trim();
    let fields;
    try {
      fields = p.read();
      if (REASON.has(p.action) && !note) throw new Error(t('desk.err.reason'));
      if (Object.values(fields).some((v) => v === '' || Number.isNaN(v))) throw new Error(t('desk.dialog.incomplete'));
    } catch (err) {
      this.error.textContent = err.message;
      return;
    }
    this.ok.disabled = true;
    this.error.textContent = '';
    try {
      const answer = p.bulk
        ? await post('/api/cases/bulk', { ids: p.cases.map((c) => c.id), action: p.action, note, params: fields })
        : await post(`/api/cases/${encodeURIComponent(p.cases[0].id)}/${p.action}`, { note, ...fields });
      if (p.bulk && this._failures(answer)) return;  // stays open, listing what failed
      this.dialog.close();
      p.onDone(answer);
    } catch (err) {
      this.error.textContent = errorText(err);
      this.error.title = err.message || '';
      this.ok.disabled = false;
    }
  }

  /** A bulk action's failures listed in the dialog; false when every case went through. */
  _failures(answer) {
    const results = (answer && answer.results) || [];
    const failed = results.filter((r) => !r.ok);
    const p = this.pending;
    if (!failed.length) return false;
    this.body.replaceChildren(
      el('p', {}, t('desk.bulk.result', { ok: results.length - failed.length, failed: failed.length })),
      el('ul', { class: 'bulk-failures' }, failed.map((r) => el('li', {}, el('span', { class: 'num', translate: 'no' }, shortId(r.id)), '：', errorText({ error: r.error, status: r.status })))));
    $('dialog-reason-field').hidden = true;
    this.ok.hidden = true;
    this.dialog.addEventListener('close', () => { $('dialog-reason-field').hidden = false; this.ok.hidden = false; }, { once: true });
    p.onDone(answer);
    return true;
  }
}

function label(text, control) {
  return el('label', { class: 'field' }, el('span', {}, text), control);
}
