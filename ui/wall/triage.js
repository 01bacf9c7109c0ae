// Triage on the wall: what the hall does with an incident, from the feed, the incident view,
// the alarm banner or the keyboard: acknowledge, dismiss as a false alarm (recalling its case,
// or asking when work on it started), confirm a confirm-first incident's dispatch, and raise
// incident mode at its place in one click.

import { el } from '../common/dom.js';
import { nameOf, t } from '../common/i18n.js';
import { post } from '../common/live.js';
import { parseTs, toast } from '../common/util.js';

export const EMERGENCY_CLASSES = ['natural_disaster', 'accident', 'public_health', 'social_security'];

/**
 * A small modal question: resolves with the chosen option's value, or null (Esc, 取消).
 * options: [{value, label, cls}].
 */
export function choose({ title, text = '', options }) {
  return new Promise((resolve) => {
    const dialog = el('dialog', { class: 'wall-dialog', dataset: { part: 'choice' } });
    let answer = null;
    const buttons = options.map((o) => el('button', {
      class: `btn ${o.cls || ''}`, type: 'button', dataset: { choice: o.value },
      onclick: () => { answer = o.value; dialog.close(); },
    }, o.label));
    dialog.append(
      el('h2', {}, title),
      text ? el('p', { class: 'muted' }, text) : null,
      el('div', { class: 'dialog-actions' }, buttons,
        el('button', { class: 'btn', type: 'button', dataset: { choice: '' }, onclick: () => dialog.close() }, t('wall.dialog.cancel'))));
    dialog.addEventListener('close', () => { dialog.remove(); resolve(answer); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

function failed(action, err) {
  const what = t(`wall.action.${action}`);
  if (err.status === 409) toast(t('wall.error.conflict', { what }), 'error');
  else if (err.status === 403) toast(t('wall.error.forbidden', { what }), 'error');
  else toast(t('wall.error.failed', { what, status: err.status || t('wall.error.network') }), 'error');
}

export class Triage {
  /**
   * caseOf(id) → the case the wall holds (or undefined); upsertIncident / upsertCase(data):
   * take an answer in at once (the event follows); describe(inc) → its words; onEmergency(mode):
   * the wall switches to it.
   */
  constructor({ caseOf, upsertIncident, upsertCase, describe, onEmergency }) {
    Object.assign(this, { caseOf, upsertIncident, upsertCase, describe, onEmergency });
  }

  /** The case of a confirm-first incident while it waits for the hall (registered, unassigned, confirm_by set). */
  waiting(inc) {
    const c = inc && inc.case_id ? this.caseOf(inc.case_id) : null;
    if (!c || c.state !== 'registered' || c.assignee || !c.confirm_by) return null;
    return Number.isFinite(parseTs(c.confirm_by)) ? c : null;
  }

  urgency(inc) {
    if (inc.urgency) return inc.urgency;
    const c = inc.case_id ? this.caseOf(inc.case_id) : null;
    return (c && c.urgency) || '';
  }

  async ack(inc, busy) {
    await this._run('ack', busy, async () => {
      this._take(await post(`/api/incidents/${encodeURIComponent(inc.id)}/ack`, {}));
    });
  }

  async confirm(inc, busy) {
    await this._run('confirm', busy, async () => {
      this._take(await post(`/api/incidents/${encodeURIComponent(inc.id)}/confirm`, {}));
      toast(t('wall.done.confirm'), 'ok', 2500);
    });
  }

  /** A false alarm: its case is recalled if untouched; if work started, the officer chooses. */
  async dismiss(inc, busy) {
    const path = `/api/incidents/${encodeURIComponent(inc.id)}/dismiss`;
    await this._run('dismiss', busy, async () => {
      try {
        this._take(await post(path, {}));
      } catch (err) {
        const choices = err.status === 409 && err.detail && Array.isArray(err.detail.choices) ? err.detail.choices : null;
        if (!choices) throw err;
        const choice = await choose({
          title: t('wall.dismiss.started_title'),
          text: t('wall.dismiss.started_text', { state: nameOf('state', err.detail.state) }),
          options: choices.map((c) => ({ value: c, label: t(`wall.dismiss.choice.${c === 'recall' ? 'recall' : 'keep'}`), cls: c === 'recall' ? 'btn-danger' : '' })),
        });
        if (!choice) return;
        this._take(await post(path, { case: choice }));
      }
    });
  }

  /** Incident mode at the incident's place: its matter's class, or the officer picks one. */
  async raise(inc, busy) {
    let cls = EMERGENCY_CLASSES.includes(inc.emergency_class) ? inc.emergency_class : null;
    if (!cls) {
      cls = await choose({
        title: t('wall.emergency.choose_title'),
        text: this.describe(inc),
        options: EMERGENCY_CLASSES.map((c) => ({ value: c, label: nameOf('emclass', c), cls: 'btn-danger' })),
      });
      if (!cls) return;
    }
    await this._run('emergency', busy, async () => {
      const title = t('wall.emergency.title_of', { what: this.describe(inc) });
      const mode = await post('/api/emergency', { class: cls, incident_id: inc.id, title });
      if (mode && mode.id) this.onEmergency(mode);
      // Raising incident mode is the hall's answer to it: the incident is acknowledged (its alarm ends).
      if (inc.state === 'new') {
        try {
          this._take(await post(`/api/incidents/${encodeURIComponent(inc.id)}/ack`, {}));
        } catch (err) {
          console.warn('ack after raising incident mode failed', err); // acked meanwhile: nothing to do
        }
      }
    });
  }

  _take(answer) {
    if (!answer || typeof answer !== 'object') return;
    const incident = answer.incident || (answer.id && answer.camera_id !== undefined ? answer : null);
    if (incident) this.upsertIncident(incident);
    if (answer.case && typeof answer.case === 'object') this.upsertCase(answer.case);
  }

  async _run(action, busy, work) {
    const buttons = busy ? [...busy] : [];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await work();
    } catch (err) {
      console.warn(`${action} failed`, err);
      failed(action, err);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }
}
