// 服务 on the citizen page (服务超市): the community's services by category, 申请 with a note,
// 我的申请 with the state in words and 评价 (1–5 stars, once, after done); and for a provider
// (a resident whose profile the community approved): 发布服务 and 收到的申请 with 接单 / 婉拒 / 完成.
// Live: a request made, accepted, done or rated, a verdict on the provider profile, a service
// published or closed re-read at once (community.js's socket); a slow poll while it is down.
// API: api/marketplace.py (docs/RESIDENTS.md).

import { $, el } from '../common/dom.js';
import { fmtTime, t } from '../common/i18n.js';
import { session } from './resident.js';
import { POLL_MS, api, communityPicker, connectLive, failure, liveDot, liveUp, myCommunity, onLive, ownTab, price, stars } from './community.js';

const ME = '/api/residents/me';
let categories = [];
let relist = null; // the offers list's refresh, with the category filter shown

function say(text) {
  const box = $('sv-error');
  if (box) { box.textContent = text || ''; box.hidden = !text; }
}

async function guard(work) {
  say('');
  try { await work(); } catch (err) { say(failure(err)); }
}

function serviceItem(s) {
  const ask = el('form', { class: 'sv-ask', hidden: true, onsubmit: (ev) => {
    ev.preventDefault();
    guard(async () => {
      await api('POST', `${ME}/service-requests`, { service_id: s.id, note: ask.querySelector('input').value });
      await paint();
    });
  } }, el('input', { maxlength: 300, placeholder: t('community.c.note_hint'), 'aria-label': t('community.c.note') }),
  el('button', { class: 'btn btn-primary', type: 'submit' }, t('community.c.send_request')));
  const open = el('button', { class: 'btn', type: 'button', onclick: () => {
    if (!session()) { say(t('community.c.sign_in_first')); return; }
    ask.hidden = false;
  } }, t('community.c.request'));
  return el('li', { class: 'sv-item panel', dataset: { id: s.id } },
    el('div', { class: 'mine-head' }, el('strong', {}, s.title), el('span', { class: 'chip' }, s.category_name)),
    el('p', { class: 'hint' }, `${s.provider_name || ''} · ${s.area_name} · ${price(s)}${s.hours ? ` · ${s.hours}` : ''}`),
    s.body ? el('p', { class: 'mine-text' }, s.body) : null, open, ask);
}

function requestItem(r, provider) {
  const head = el('div', { class: 'mine-head' }, el('strong', {}, r.title || r.category_name), el('span', { class: 'chip', dataset: { state: r.state } }, r.state_text));
  const parts = [head, el('p', { class: 'hint' }, `${provider ? r.area_name : r.provider_name || ''} · ${fmtTime(r.created_at)}`)];
  if (r.note) parts.push(el('p', { class: 'mine-text' }, r.note));
  if (provider) {
    const act = (action, label, primary) => el('button', { class: `btn${primary ? ' btn-primary' : ''}`, type: 'button', dataset: { action },
      onclick: () => guard(async () => { await api('POST', `${ME}/incoming/${r.id}/${action}`); await paint(); }) }, label);
    if (r.state === 'requested') parts.push(el('div', { class: 'row' }, act('accept', t('community.c.accept'), true), act('decline', t('community.c.decline'))));
    if (r.state === 'accepted') parts.push(act('done', t('community.c.done'), true));
  } else if (r.can_rate) {
    parts.push(el('p', {}, t('community.c.rate')), stars((n) => guard(async () => {
      await api('POST', `${ME}/service-requests/${r.id}/rating`, { stars: n });
      await paint();
    })));
  }
  if (r.rating) parts.push(el('p', { class: 'rated' }, t('community.c.rated'), ' ', '★'.repeat(r.rating.stars)));
  return el('li', { class: 'mine-item panel', dataset: { id: r.id } }, parts);
}

function applyForm(provider) {
  const name = el('input', { id: 'sv-provider-name', maxlength: 40, required: true });
  const kind = el('select', { id: 'sv-provider-kind' },
    el('option', { value: 'volunteer' }, t('community.c.volunteer')), el('option', { value: 'organisation' }, t('community.c.organisation')));
  const org = el('input', { id: 'sv-provider-org', maxlength: 64, placeholder: t('community.c.org_hint') });
  const intro = el('textarea', { id: 'sv-provider-intro', rows: 2, maxlength: 500 });
  return el('form', { class: 'sv-apply', onsubmit: (ev) => {
    ev.preventDefault();
    const body = { name: name.value, kind: kind.value, intro: intro.value, community: myCommunity().code };
    if (kind.value === 'organisation') body.organisation_id = org.value.trim();
    guard(async () => { await api('POST', `${ME}/provider`, body); await paint(); });
  } },
  provider && provider.state === 'rejected' ? el('p', { class: 'banner' }, t('community.c.rejected', { reason: provider.reason || '—' })) : null,
  el('label', { for: 'sv-provider-name' }, t('community.c.provider_name')), name,
  el('label', { for: 'sv-provider-kind' }, t('community.c.provider_kind')), kind, org,
  el('label', { for: 'sv-provider-intro' }, t('community.c.intro')), intro,
  el('p', {}, el('button', { class: 'btn btn-primary', type: 'submit', id: 'sv-apply' }, t('community.c.apply'))));
}

function publishForm(community) {
  const field = (id, label, input) => [el('label', { for: id }, label), input];
  const category = el('select', { id: 'sv-category' }, categories.map((c) => el('option', { value: c.code }, c.name)));
  const area = el('select', { id: 'sv-area' }, el('option', { value: community.code }, community.name),
    (community.grids || []).map((g) => el('option', { value: g.code }, g.name)));
  const title = el('input', { id: 'sv-title', maxlength: 60, required: true });
  const body = el('textarea', { id: 'sv-body', rows: 2, maxlength: 1000 });
  const cost = el('input', { id: 'sv-price', type: 'number', min: 0, max: 10000, step: '0.01', value: '0' });
  const hours = el('input', { id: 'sv-hours', maxlength: 60, placeholder: t('community.c.hours_hint') });
  return el('form', { class: 'sv-publish', onsubmit: (ev) => {
    ev.preventDefault();
    const offer = { category: category.value, area: area.value, title: title.value, description: body.value, price: Number(cost.value || 0), hours: hours.value };
    guard(async () => { await api('POST', `${ME}/services`, offer); await paint(); });
  } },
  field('sv-category', t('community.c.category'), category), field('sv-area', t('community.c.area'), area),
  field('sv-title', t('community.c.title'), title), field('sv-body', t('community.c.description'), body),
  field('sv-price', t('community.c.price_label'), cost), field('sv-hours', t('community.c.hours'), hours),
  el('p', {}, el('button', { class: 'btn btn-primary', type: 'submit', id: 'sv-publish' }, t('community.c.publish'))));
}

async function providerPart(community) {
  const { provider } = await api('GET', `${ME}/provider`);
  const part = [el('h2', {}, t('community.c.provider'))];
  if (!provider || provider.state === 'rejected') return [...part, applyForm(provider)];
  if (provider.state === 'pending') return [...part, el('p', { class: 'hint', id: 'sv-pending' }, t('community.c.pending', { name: provider.name }))];
  const incoming = (await api('GET', `${ME}/incoming`)).items;
  return [...part, el('p', { class: 'hint' }, t('community.c.approved', { name: provider.name })),
    el('h3', {}, t('community.c.incoming')),
    el('ul', { class: 'mine-list', id: 'sv-incoming' }, incoming.length ? incoming.map((r) => requestItem(r, true)) : el('li', { class: 'hint' }, t('community.c.none'))),
    el('details', {}, el('summary', {}, t('community.c.publish')), publishForm(community))];
}

async function paint() {
  const root = $('services');
  const community = myCommunity();
  const parts = [el('h2', {}, t('community.c.services_title'), ' ', liveDot()), communityPicker(), el('p', { id: 'sv-error', class: 'banner', role: 'alert', hidden: true })];
  connectLive();
  if (!community) { root.replaceChildren(...parts); return; }
  try {
    if (!categories.length) categories = (await api('GET', '/api/community/categories')).items;
    const filter = el('select', { id: 'sv-filter', 'aria-label': t('community.c.category'), onchange: () => list(filter.value) },
      el('option', { value: '' }, t('community.c.all')), categories.map((c) => el('option', { value: c.code }, c.name)));
    const offers = el('ul', { class: 'mine-list', id: 'sv-list' });
    const list = async (category) => {
      const query = new URLSearchParams({ community: community.code, ...(category ? { category } : {}) });
      const { items } = await api('GET', `/api/community/services?${query}`);
      offers.replaceChildren(...(items.length ? items.map(serviceItem) : [el('li', { class: 'hint' }, t('community.c.no_services'))]));
    };
    await list('');
    relist = () => list(filter.value);
    parts.push(filter, offers);
    if (session()) {
      const mine = (await api('GET', `${ME}/service-requests`)).items;
      parts.push(el('h2', {}, t('community.c.my_requests')),
        el('ul', { class: 'mine-list', id: 'sv-mine' }, mine.length ? mine.map((r) => requestItem(r, false)) : el('li', { class: 'hint' }, t('community.c.none'))),
        ...(await providerPart(community)));
    } else {
      parts.push(el('p', { class: 'hint' }, t('community.c.sign_in_first')));
    }
  } catch (err) {
    parts.push(el('p', { class: 'banner', role: 'alert' }, failure(err)));
  }
  root.replaceChildren(...parts);
}

/** The two lists that change by others' hands (a provider accepting, a resident requesting),
 * refreshed in place on a live event, or every POLL_MS while the socket is down: forms being
 * filled are left alone. */
async function refreshLists() {
  if ($('services').hidden || document.hidden || !session()) return;
  const lists = [['sv-mine', `${ME}/service-requests`, false], ['sv-incoming', `${ME}/incoming`, true]];
  for (const [id, path, provider] of lists) {
    const box = $(id);
    if (!box) continue;
    try {
      const { items } = await api('GET', path);
      box.replaceChildren(...(items.length ? items.map((r) => requestItem(r, provider)) : [el('li', { class: 'hint' }, t('community.c.none'))]));
    } catch { /* a weak network: the list stays as it was */ }
  }
}

function onEvent(msg) {
  if ($('services').hidden) return; // painted afresh when shown
  const type = msg.type || '';
  if (type === 'provider.approved' || type === 'provider.rejected') paint();
  else if (type.startsWith('service.') && msg.channel.startsWith('market:')) refreshLists();
  else if (type === 'service.published' || type === 'service.closed' || type === 'resync') {
    if (relist) relist().catch(() => {});
    if (type === 'resync') refreshLists();
  }
}

ownTab('services', paint);
onLive(onEvent);
setInterval(() => { if (!liveUp()) { refreshLists(); if (relist && !$('services').hidden) relist().catch(() => {}); } }, POLL_MS);
