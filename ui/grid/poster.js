// The grid card's A4 poster (网格员公示) for the community's notice board: the workers with
// photos, numbers and phones, the matters they handle, and a QR code of the card's address.

import { $, el } from '../common/dom.js';
import { KIND, avatar, gridCode, loadCard, pathText } from './card.js';

function workerTile(w) {
  return el('li', { class: 'worker', dataset: { number: w.number } },
    avatar(w),
    el('div', { class: 'who' },
      el('p', { class: 'name' }, w.name),
      el('p', { class: 'meta' }, `编号 ${w.number}`, KIND[w.kind] ? ` · ${KIND[w.kind]}` : ''),
      el('p', { class: 'meta' }, `班次：${w.shift}`),
      w.phone ? el('p', { class: 'phone' }, `电话 ${w.phone}`) : null));
}

async function main() {
  const code = gridCode();
  $('back').href = `/grid/${encodeURIComponent(code)}`;
  let card;
  try {
    card = await loadCard(code);
  } catch (err) {
    $('status').textContent = err.message;
    $('status').classList.add('error');
    return;
  }
  document.title = `${card.grid.name} · 网格员公示`;
  $('grid-name').textContent = card.grid.name;
  $('path').textContent = pathText(card);
  $('workers').replaceChildren(...card.workers.map(workerTile));
  if (!card.workers.length) $('workers').append(el('li', { class: 'empty' }, '本网格暂未配置网格员'));
  $('matters').replaceChildren(...card.matters.map((m) => el('li', {}, m.name)));
  $('matters-box').hidden = !card.matters.length;
  $('qr').src = `/api/public/grids/${encodeURIComponent(card.grid.code)}/qr.svg`;
  $('qr-box').hidden = false;
  $('status').hidden = true;
  const print = $('print');
  print.disabled = false;
  print.addEventListener('click', () => window.print());
}

main();
