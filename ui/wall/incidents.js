// Incident feed: newest first, thumbnail, details, Ack / Dismiss.

import { el, rafBatch, reconcile } from '../common/dom.js';
import { FRESH_ROW_MS, FreshMarks } from '../common/freshness.js';
import { post, sameOriginPath } from '../common/live.js';
import { Store, badge, fmtClock, isToday, parseTs, toast } from '../common/util.js';

export class IncidentFeed {
  constructor(list, { cameraName = (id) => id, countEl = null, maxRows = 150, onChange = () => {} } = {}) {
    this.list = list;
    this.cameraName = cameraName;
    this.countEl = countEl;
    this.maxRows = maxRows;
    this.onChange = onChange;
    this.store = new Store();
    this.total = null;            // server-side total from the last REST load
    this.loadedCount = 0;
    this.rows = new Map();        // id -> {node, sig}
    this.fresh = new FreshMarks(FRESH_ROW_MS);
    this.render = rafBatch(() => this._render());
  }

  beginLoad() { this.store.beginLoad(); }

  endLoad(page) {
    const items = (page && page.items) || [];
    this.store.endLoad(items);
    this.total = page && Number.isFinite(page.total) ? page.total : null;
    this.loadedCount = items.length;
    this.render();
    this.onChange();
  }

  /** From the websocket (created or updated). */
  upsert(incident, { live = true } = {}) {
    const prev = this.store.upsert(incident);
    if (live && !prev) {
      this.fresh.mark(incident.id);
      if (this.total != null) this.total += 1;
    }
    this.render();
    this.onChange();
  }

  /** Rebuilds every row (e.g. once camera names are known). */
  invalidate() {
    this.rows.clear();
    this.render();
  }

  /** Incidents today among those known; `more` when the server holds older pages we did not load. */
  todayCount() {
    const items = this.store.values();
    const count = items.filter((i) => isToday(i.ts)).length;
    const truncated = this.total != null && this.total > this.loadedCount;
    const allToday = this.loadedCount > 0 && count >= this.loadedCount;
    return { count, more: truncated && allToday };
  }

  _sorted() {
    return this.store.values().sort((a, b) => {
      const ta = parseTs(a.ts) || 0;
      const tb = parseTs(b.ts) || 0;
      if (ta !== tb) return tb - ta;
      return String(b.id).localeCompare(String(a.id), undefined, { numeric: true });
    });
  }

  _render() {
    const items = this._sorted().slice(0, this.maxRows);
    const now = Date.now();
    const nodes = items.map((inc) => {
      const sig = JSON.stringify(inc);
      let row = this.rows.get(inc.id);
      if (!row || row.sig !== sig) {
        row = { node: this._row(inc), sig };
        this.rows.set(inc.id, row);
        this.fresh.apply(inc.id, row.node, now);
      }
      return row.node;
    });
    const shown = new Set(items.map((i) => i.id));
    for (const id of [...this.rows.keys()]) if (!shown.has(id)) this.rows.delete(id);
    this.fresh.prune(now);
    if (!nodes.length) {
      this.list.replaceChildren(el('li', { class: 'empty' }, 'No incidents yet'));
    } else {
      const empty = this.list.querySelector(':scope > .empty');
      if (empty) empty.remove();
      reconcile(this.list, nodes);
    }
    if (this.countEl) {
      const total = this.total != null ? this.total : this.store.size;
      const pending = items.filter((i) => i.state === 'new').length;
      this.countEl.textContent = `${pending} new · ${total} total`;
    }
  }

  _row(inc) {
    const score = Number.isFinite(inc.score) ? `${Math.round(inc.score * 100)}%` : '–';
    const what = [inc.rule, inc.label].filter(Boolean).join(' · ') || 'incident';
    // Only this site's evidence is loaded (with the session cookie); anything else is never fetched.
    const snapshot = sameOriginPath(inc.snapshot_url);
    const thumb = snapshot
      ? el('a', { class: 'thumb', href: snapshot, target: '_blank', rel: 'noopener' },
        el('img', { src: snapshot, alt: what, loading: 'lazy', decoding: 'async' }))
      : el('div', { class: 'thumb thumb-empty' }, 'no image');
    const actions = el('div', { class: 'inc-actions' });
    if (inc.state === 'new') {
      actions.append(
        el('button', { class: 'btn btn-ok', type: 'button', dataset: { action: 'ack' }, onclick: (ev) => this._act(inc.id, 'ack', ev) }, 'Ack'),
        el('button', { class: 'btn btn-danger', type: 'button', dataset: { action: 'dismiss' }, title: 'False positive', onclick: (ev) => this._act(inc.id, 'dismiss', ev) }, 'Dismiss'),
      );
    }
    const clip = sameOriginPath(inc.clip_url);
    if (clip) {
      actions.append(el('a', { class: 'btn', href: clip, target: '_blank', rel: 'noopener' }, 'Clip'));
    }
    return el('li', { class: 'inc', dataset: { incidentId: inc.id, state: inc.state } },
      thumb,
      el('div', { class: 'inc-body' },
        el('div', { class: 'inc-line' },
          el('time', { class: 'num', datetime: inc.ts || '' }, fmtClock(inc.ts)),
          el('span', { class: 'inc-cam' }, this.cameraName(inc.camera_id) || '—'),
          badge(inc.state)),
        el('div', { class: 'inc-line inc-what' },
          el('strong', {}, what),
          el('span', { class: 'num score' }, score)),
        el('div', { class: 'inc-line muted' },
          el('span', { class: 'num', title: 'Grid code' }, inc.grid_code || '—'),
          el('span', { class: 'inc-matter' }, inc.matter_name || inc.matter_code || ''),
          inc.case_id ? el('span', { class: 'num', title: 'Case' }, `→ ${inc.case_id}`) : null)),
      actions);
  }

  async _act(id, action, ev) {
    const buttons = ev.currentTarget.parentElement.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const updated = await post(`/api/incidents/${encodeURIComponent(id)}/${action}`, {});
      if (updated && updated.id != null) this.upsert(updated, { live: false });
    } catch (err) {
      toast(`${action} ${id}: ${err.message}`, 'error');
      buttons.forEach((b) => { b.disabled = false; });
    }
  }
}
