// The public worker card (三公开) of one grid, phone first: who works here, how to call them,
// whether they are on duty now, what they handle on the spot, and a link to report a problem.

import { $, el } from '../common/dom.js';
import { KIND, LEVEL, avatar, gridCode, loadCard, pathText } from './card.js';

function workerCard(w) {
  return el('li', { class: 'worker', dataset: { number: w.number, onDuty: w.on_duty ? '1' : '0' } },
    avatar(w),
    el('div', { class: 'who' },
      el('p', { class: 'name' }, w.name,
        el('span', { class: w.on_duty ? 'badge on' : 'badge off' }, w.on_duty ? '在岗' : '不在岗')),
      el('p', { class: 'meta' }, `编号 ${w.number}`, ' · ', KIND[w.kind] || '', LEVEL[w.level] ? ` · ${LEVEL[w.level]}` : ''),
      el('p', { class: 'meta' }, `班次：${w.shift}`),
      w.phone ? el('a', { class: 'phone', href: `tel:${w.phone.replace(/[^0-9+]/g, '')}` }, `☎ ${w.phone}`) : null));
}

function render(card) {
  document.title = `${card.grid.name} · 网格员公示`;
  $('title').textContent = card.grid.name;
  $('path').textContent = pathText(card);
  $('workers').replaceChildren(...card.workers.map(workerCard));
  if (!card.workers.length) $('workers').append(el('li', { class: 'empty' }, '本网格暂未配置网格员，请拨打街道或社区电话。'));
  $('workers-box').hidden = false;
  $('matters').replaceChildren(...card.matters.map((m) => el('li', {}, m.name, el('small', {}, m.class))));
  $('matters-box').hidden = !card.matters.length;
  const { lon, lat } = card.grid.point || {};
  const report = $('report');
  if (Number.isFinite(lon) && Number.isFinite(lat)) report.href = `/citizen?lat=${lat.toFixed(6)}&lon=${lon.toFixed(6)}`;
  report.hidden = false;
  const poster = $('poster-link');
  poster.href = `/grid/${encodeURIComponent(card.grid.code)}/poster`;
  poster.hidden = false;
  $('updated').textContent = `更新于 ${new Date(card.updated_at).toLocaleString('zh-CN', { hour12: false })}`;
  $('status').hidden = true;
}

async function main() {
  try {
    render(await loadCard(gridCode()));
  } catch (err) {
    $('status').textContent = err.message;
    $('status').classList.add('error');
    $('report').hidden = false; // reporting still works without the card
  }
}

main();
