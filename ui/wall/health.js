// Delivery health for the wall (finding 23): the hub's heartbeats keep the socket looking
// live even while Redis cannot number messages, so nothing new arrives and a quiet wall
// could pass for a calm city. /api/health says whether delivery really works; while it
// does not (or cannot be reached), a banner says so in plain words.

const POLL_MS = 10000;
const TIMEOUT_MS = 5000;

// What each failing check means for the people watching the wall.
const REASONS = {
  store: '数据库无响应',
  bus: '消息总线（Redis）不可达',
  hub: '实时推送无法编号，新消息暂停送达',
  audit: '审计日志写入失败',
};

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
  if (result.unreachable) return ['无法连接服务器'];
  const checks = (result.body && result.body.checks) || {};
  const failing = Object.entries(checks).filter(([, c]) => c && c.ok === false).map(([name]) => REASONS[name] || name);
  return failing.length ? failing : ['服务状态异常'];
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
    banner.textContent = `实时推送降级：${describe(result).join('；')}。墙上内容可能不是最新，请勿以此判断现场平静。`;
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
