// Incident mode on the wall: while an emergency mode runs (the `emergency` channel, or one the
// wall just raised), its banner names it and links to the emergency page, the map flies to its
// circle, and its drones and cameras take the first tiles, live.

import { el } from '../common/dom.js';
import { nameOf, t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { EMERGENCY_CLASSES } from './triage.js';

export class EmergencyLayout {
  /** banner: #emergency; cameras: the tiles; map(): the CityMap once loaded, else null. */
  constructor(banner, { cameras, map }) {
    Object.assign(this, { banner, cameras, map });
    this.mode = null;
  }

  /** A mode started or changed: it takes the wall. */
  start(em) {
    this.mode = em;
    const radius = Number(em.radius_m) > 0 ? Math.round(Number(em.radius_m)) : 500;
    const cls = EMERGENCY_CLASSES.includes(em.class) ? nameOf('emclass', em.class) : '';
    this.banner.dataset.modeId = em.id || '';
    this.banner.replaceChildren(...[
      el('strong', {}, t('wall.emergency.banner')),
      el('span', { class: 'em-title' }, em.title || cls || t('wall.emergency.untitled')),
      el('span', { class: 'em-facts' }, [cls, t('wall.emergency.radius', { r: radius })].filter(Boolean).join(' · ')),
      em.id ? el('a', { class: 'btn', href: `/emergency?mode=${encodeURIComponent(em.id)}`, dataset: { action: 'open-emergency' } }, t('wall.emergency.open')) : null,
    ].filter(Boolean));
    this.banner.hidden = false;
    // The scene's drones first, then its cameras (drone feeds are pinned in emergency mode).
    this.cameras.setPinned([...(em.drones || []), ...(em.cameras || [])].map(String));
    const map = this.map();
    if (map) map.showEmergency(em);
  }

  /** A mode ended: the wall goes back, unless another one holds it. */
  end(em) {
    if (this.mode && em && em.id && this.mode.id !== em.id) return; // another mode's end
    this.mode = null;
    this.banner.hidden = true;
    this.banner.replaceChildren();
    this.cameras.setPinned([]);
    const map = this.map();
    if (map) map.showEmergency(null);
  }

  /** On (re)load: the newest active mode takes the wall. */
  async load() {
    const page = await api('/api/emergency');
    const active = ((page && page.items) || []).filter((m) => !m.ended_at)
      .sort((a, b) => String(b.started_at).localeCompare(String(a.started_at)));
    if (active.length) this.start(active[0]);
    else if (this.mode) this.end(this.mode);
  }
}
