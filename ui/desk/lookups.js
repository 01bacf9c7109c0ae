// Names the desk shows in place of identifiers: matters (GET /api/matters), workers
// (GET /api/workers/{id}, asked once each), and the areas of the caller's jurisdiction for
// the search form (GET /api/grids). Each is loaded once per page and cached.

import { api } from '../common/live.js';

export class Lookups {
  constructor(me) {
    this.me = me;
    this.matters = [];             // [{code, name, department, ...}] by code
    this.matterNames = new Map();  // code -> name
    this.workers = new Map();      // id -> name, or a promise of it
    this.ready = this.loadMatters();
  }

  async loadMatters() {
    try {
      const page = await api('/api/matters');
      this.matters = (page && page.items) || [];
      for (const m of this.matters) this.matterNames.set(m.code, m.name);
    } catch (err) {
      console.warn('matter catalogue unavailable', err);
    }
  }

  matterName(code, fallback) {
    return this.matterNames.get(code) || fallback || '';
  }

  /** A worker's name, known now or null (then `workerName` asks the server). */
  knownWorker(id) {
    const found = this.workers.get(id);
    return typeof found === 'string' ? found : null;
  }

  noteWorker(id, name) {
    if (id && name) this.workers.set(id, name);
  }

  /** A worker's name; '' when the server does not know them (or not for this caller). */
  workerName(id) {
    if (!id) return Promise.resolve('');
    const found = this.workers.get(id);
    if (typeof found === 'string') return Promise.resolve(found);
    if (found) return found;
    const asked = api(`/api/workers/${encodeURIComponent(id)}`)
      .then((w) => { const name = (w && w.name) || ''; this.workers.set(id, name); return name; })
      .catch(() => { this.workers.set(id, ''); return ''; });
    this.workers.set(id, asked);
    return asked;
  }

  /** The areas one level under `code` (a 15-digit area code), or the city's districts for ''. */
  /** An area's name by its code (null when unknown or out of reach). */
  async areaNamed(code) {
    try {
      const area = await api(`/api/grids/${encodeURIComponent(code)}`);
      return (area && area.name) || null;
    } catch (err) {
      return null;
    }
  }

  async areasUnder(code) {
    try {
      if (!code) {
        const map = await api('/api/grids?levels=district');
        return ((map && map.features) || []).map((f) => f.properties || {})
          .filter((p) => p.code && p.name).map((p) => ({ code: p.code, name: p.name }));
      }
      const area = await api(`/api/grids/${encodeURIComponent(code)}`);
      return ((area && area.children) || []).map((c) => ({ code: c.code, name: c.name }));
    } catch (err) {
      console.warn('areas unavailable', err);
      return [];
    }
  }
}

/** An area's code prefix (its significant digits: 6 a district, 9 a street, 12 a community),
 *  what the search's `grid` filter takes; a grid's code keeps all 15. */
export function areaPrefix(code) {
  if (!code) return '';
  for (const keep of [6, 9, 12]) {
    if (/^0+$/.test(code.slice(keep))) return code.slice(0, keep);
  }
  return code;
}
