// Delivery health for the wall (finding 23): the hub's heartbeats keep the socket looking
// live even while Redis cannot number messages, so nothing new arrives and a quiet wall
// could pass for a calm city. /api/health says whether delivery really works; while it
// does not (or cannot be reached), a banner says so in plain words.

import { t } from '../common/i18n.js';

const POLL_MS = 10000;
const TIMEOUT_MS = 5000;

// What each failing check means for the people watching the wall.
const REASONS = ['store', 'bus', 'hub', 'audit'];
const BUS_NAMES = { redis: 'Redis', memory: '' }; // a product name people know, as it is written

async function fetchHealth() {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
  try {
    const res = await fetch('/api/health', { cache: 'no-store', credentials: 'same-origin', signal: ctrl.signal });
    const body = await res.json().catch(() => null);
    return { ok: res.ok && body?.status === 'ok', body };
  } catch {
    return { ok: false, body: null, unreachable: true };
  } finally {
    clearTimeout(timer);
  }
}

function describe(result) {
  if (result.unreachable) return [t('wall.health.unreachable')];
  const checks = (result.body && result.body.checks) || {};
  const failing = Object.entries(checks).filter(([, c]) => c && c.ok === false)
    .map(([name, c]) => (REASONS.includes(name) ? t(`wall.health.${name}`, { name: BUS_NAMES[c.kind] || c.kind || '' }) : t('wall.health.other')));
  return failing.length ? [...new Set(failing)] : [t('wall.health.degraded')];
}

/** Polls /api/health and shows `banner` (and marks `indicator`) while delivery is degraded. */
export function watchDelivery(banner, indicator) {
  const show = (result) => {
    if (result.ok) {
      banner.hidden = true;
      banner.textContent = '';
      if (indicator) delete indicator.dataset.degraded;
      return;
    }
    banner.textContent = t('wall.health.banner', { reasons: describe(result).join(t('wall.health.sep')) });
    banner.hidden = false;
    if (indicator) indicator.dataset.degraded = 'true';
  };
  const poll = async () => {
    if (!document.hidden) show(await fetchHealth());
  };
  poll();
  setInterval(poll, POLL_MS);
  document.addEventListener('visibilitychange', poll);
  return { poll };
}
