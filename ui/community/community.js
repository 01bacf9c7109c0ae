// 社区服务与论坛管理 (/community; officers and admins): within the caller's jurisdiction, or one
// community of it picked by name — provider applications to approve or reject, supply against
// demand per grid (ECharts bars and a table by category), the moderation queue (reported, held
// and hidden posts: 隐藏 / 恢复 / 禁言 7 天, each with its trail), and a notice to publish. The
// queue, the applications and supply/demand are re-read when the hub says they changed (/ws,
// channel `community`, only the caller's jurisdiction's: command_center/community_live.py),
// every POLL_MS as well while the socket is down. API: /api/community-admin/… (api/marketplace.py,
// api/forum.py; docs/RESIDENTS.md).

import { $, el } from '../common/dom.js';
import { applyI18n, fmtTime, t } from '../common/i18n.js';
import { loadECharts } from '../common/echarts.js';
import { LiveSocket, api, bindIndicator, post } from '../common/live.js';
import { mountNav } from '../common/nav.js';
import { exposeTestHooks } from '../common/testhooks.js';

const POLL_MS = 120000; // only while the live socket is down
const SUPPLY_WAIT_MS = 400; // a burst of requests re-reads supply/demand once
const view = { area: '', areaName: '', community: null, own: null, chart: null, me: null, live: null };

function status(text) { $('status').textContent = text || ''; }

async function guard(work) {
  try { await work(); status(''); } catch (err) { status(err.message || t('community.s.failed')); }
}

const query = () => (view.area ? `?area=${view.area}` : '');

function providerItem(p) {
  const decide = (verdict, label) => el('button', { class: `btn${verdict === 'approve' ? ' btn-primary' : ''}`, type: 'button', dataset: { verdict },
    onclick: () => guard(async () => { await post(`/api/community-admin/providers/${p.id}/${verdict}`, {}); await loadProviders(); }) }, label);
  const kind = p.kind === 'organisation' ? t('community.s.organisation') : t('community.s.volunteer');
  return el('li', { class: 'cm-item', dataset: { id: p.id } }, el('strong', {}, p.name), ' ', el('span', { class: 'cm-chip' }, kind),
    el('div', { class: 'meta' }, `${p.area_name} · ${fmtTime(p.created_at)}`), p.intro ? el('p', {}, p.intro) : null,
    el('div', { class: 'row' }, decide('approve', t('community.s.approve')), decide('reject', t('community.s.reject'))));
}

async function loadProviders() {
  const { items } = await api(`/api/community-admin/providers${query()}${view.area ? '&' : '?'}state=pending`);
  $('providers').replaceChildren(...(items.length ? items.map(providerItem) : [el('li', { class: 'hint' }, t('community.s.none'))]));
}

let supplyTimer = null;
function supplySoon() {
  if (supplyTimer === null) supplyTimer = setTimeout(() => { supplyTimer = null; guard(loadSupply); }, SUPPLY_WAIT_MS);
}

async function loadSupply() {
  const { items, days } = await api(`/api/community-admin/supply${query()}`);
  const byArea = new Map();
  for (const row of items) {
    const cell = byArea.get(row.area_code) || { name: row.area_name, offers: 0, requests: 0 };
    cell.offers += row.offers; cell.requests += row.requests;
    byArea.set(row.area_code, cell);
  }
  const areas = [...byArea.values()].sort((a, b) => b.requests + b.offers - a.requests - a.offers).slice(0, 20);
  const echarts = await loadECharts().catch(() => null);
  if (echarts) {
    view.chart = view.chart || echarts.init($('supply-chart'), null, { renderer: 'canvas' });
    view.chart.setOption({
      color: ['#4aa3ff', '#f0b43c'], textStyle: { color: '#9fb0c3' },
      tooltip: { trigger: 'axis' }, legend: { top: 0, textStyle: { color: '#9fb0c3' }, data: [t('community.s.offers'), t('community.s.requests')] },
      grid: { left: 40, right: 10, bottom: 90, top: 36 },
      xAxis: { type: 'category', data: areas.map((a) => a.name), axisLabel: { rotate: 30, interval: 0 } },
      yAxis: { type: 'value', minInterval: 1 },
      series: [{ name: t('community.s.offers'), type: 'bar', data: areas.map((a) => a.offers) },
        { name: t('community.s.requests'), type: 'bar', data: areas.map((a) => a.requests) }],
    }, true);
  }
  const head = el('tr', {}, [t('community.s.grid'), t('community.s.category'), t('community.s.offers'), t('community.s.requests')].map((h) => el('th', {}, h)));
  $('supply-table').replaceChildren(el('caption', { class: 'hint' }, t('community.s.days', { days })), head,
    ...items.map((r) => el('tr', { dataset: { area: r.area_code, category: r.category } },
      el('td', {}, r.area_name), el('td', {}, r.category_name), el('td', {}, r.offers), el('td', {}, r.requests))));
}

function stateText(state) {
  return { visible: t('community.s.visible'), hidden: t('community.s.hidden'), held: t('community.s.held') }[state] || state;
}

function queueItem(p) {
  const act = (action, label) => el('button', { class: 'btn', type: 'button', dataset: { action },
    onclick: () => guard(async () => { await post(`/api/community-admin/posts/${p.id}/${action}`, { reason: label }); await loadQueue(); }) }, label);
  const trail = el('ul', { class: 'cm-trail', hidden: true });
  const showTrail = el('button', { class: 'btn btn-small', type: 'button', onclick: () => guard(async () => {
    const full = await api(`/api/community-admin/posts/${p.id}`);
    trail.replaceChildren(...full.trail.map((m) => el('li', {}, `${fmtTime(m.at)} ${m.actor} · ${m.action}${m.reason ? ` · ${m.reason}` : ''}`)));
    trail.hidden = false;
  }) }, t('community.s.trail'));
  const buttons = [p.state === 'visible' ? act('hide', t('community.s.hide')) : act('restore', t('community.s.restore'))];
  if (p.author_kind === 'resident') {
    buttons.push(el('button', { class: 'btn', type: 'button', dataset: { action: 'ban' }, onclick: () => guard(async () => {
      await post('/api/community-admin/bans', { resident_id: p.author, community: p.area_code, days: 7, reason: t('community.s.ban_reason') });
      status(t('community.s.banned', { name: p.author_name }));
    }) }, t('community.s.ban')));
  }
  return el('li', { class: 'cm-item', dataset: { id: p.id, state: p.state } },
    el('strong', {}, p.title || t('community.s.reply')), ' ', el('span', { class: 'cm-chip', dataset: { state: p.state } }, stateText(p.state)),
    el('div', { class: 'meta' }, `${p.author_name} · ${p.area_name} · ${t('community.s.reports', { n: p.reports })} · ${fmtTime(p.created_at)}`),
    el('p', {}, p.body), el('div', { class: 'row' }, buttons, showTrail), trail);
}

async function loadQueue() {
  const { items } = await api(`/api/community-admin/queue${query()}`);
  $('queue').replaceChildren(...(items.length ? items.map(queueItem) : [el('li', { class: 'hint' }, t('community.s.none'))]));
}

function paintArea() {
  $('area-name').textContent = view.areaName || view.me.jurisdiction_name || t('common.nav.whole_city');
  $('notice-where').textContent = view.community ? t('community.s.notice_to', { name: view.community.name }) : t('community.s.pick_community');
  $('notice-send').disabled = !view.community;
}

async function loadAll() {
  paintArea();
  await guard(() => Promise.all([loadProviders(), loadSupply(), loadQueue()]));
}

function pick(community) {
  Object.assign(view, { area: community ? community.code : '', areaName: community ? community.name : '', community: community || view.own });
  $('area-choices').replaceChildren();
  loadAll();
}

async function findArea(event) {
  event.preventDefault();
  const q = $('area-q').value.trim();
  if (!q) return;
  await guard(async () => {
    const { items } = await api(`/api/community/communities?q=${encodeURIComponent(q)}`);
    $('area-choices').replaceChildren(...items.map((c) => el('button', { class: 'btn btn-small', type: 'button', dataset: { code: c.code }, onclick: () => pick(c) },
      `${c.name}（${c.path.slice(-1)[0] || ''}）`)));
    if (!items.length) status(t('community.s.no_area'));
  });
}

async function publishNotice(event) {
  event.preventDefault();
  if (!view.community) return;
  await guard(async () => {
    await post('/api/community-admin/notices', { community: view.community.code, title: $('notice-title-input').value, body: $('notice-body').value });
    $('notice-form').reset();
    status(t('community.s.published'));
  });
}

async function main() {
  applyI18n(document);
  const me = await mountNav('community');
  if (!me) return;
  view.me = me;
  // an officer of one community (a 12-digit jurisdiction) publishes to it without picking it
  if (me.jurisdiction && me.jurisdiction.length === 12) {
    view.own = { code: me.jurisdiction.padEnd(15, '0'), name: me.jurisdiction_name || me.jurisdiction };
    view.community = view.own;
  }
  $('main').hidden = false;
  $('area-form').addEventListener('submit', findArea);
  $('area-all').addEventListener('click', () => pick(null));
  $('notice-form').addEventListener('submit', publishNotice);
  await loadAll();
  view.live = new LiveSocket({
    channels: ['community'],
    onEvent: (msg) => {
      if (msg.type.startsWith('provider.')) guard(loadProviders);
      else if (msg.type.startsWith('post.')) guard(loadQueue);
      else if (msg.type.startsWith('service.')) supplySoon();
    },
    onResync: () => guard(() => Promise.all([loadQueue(), loadProviders(), loadSupply()])),
    onStatus: bindIndicator($('conn')),
  });
  view.live.connect();
  setInterval(() => {
    if (!document.hidden && view.live.state !== 'open') guard(() => Promise.all([loadQueue(), loadProviders(), loadSupply()]));
  }, POLL_MS);
  window.addEventListener('resize', () => view.chart && view.chart.resize());
  exposeTestHooks({ community: view, reload: loadAll });
}

main();
