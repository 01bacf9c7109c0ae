// The grid card's A4 poster (网格员公示) for the community's notice board: the workers with
// photos, numbers and phones, the matters they handle, and a QR code of the card's address.

import { $, el } from '../common/dom.js';
import { matterName, t } from '../common/i18n.js';
import { avatar, gridCode, kindOf, loadCard, pathText, setupPage } from './card.js';

function workerTile(w) {
  const kind = kindOf(w.kind);
  return el('li', { class: 'worker', dataset: { number: w.number } },
    avatar(w),
    el('div', { class: 'who' },
      el('p', { class: 'name' }, w.name),
      el('p', { class: 'meta' }, el('span', { translate: 'no' }, t('grid.number', { number: w.number })), kind ? ` · ${kind}` : ''),
      el('p', { class: 'meta' }, t('grid.shift', { shift: w.shift })),
      w.phone ? el('p', { class: 'phone' }, t('grid.phone', { phone: w.phone })) : null));
}

async function main() {
  setupPage();
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
  document.title = t('grid.title_of', { grid: card.grid.name });
  $('grid-name').textContent = card.grid.name;
  $('path').textContent = pathText(card);
  $('workers').replaceChildren(...card.workers.map(workerTile));
  if (!card.workers.length) $('workers').append(el('li', { class: 'empty' }, t('grid.poster.no_workers')));
  $('matters').replaceChildren(...card.matters.map((m) => el('li', {}, matterName(m.code, m.name))));
  $('matters-box').hidden = !card.matters.length;
  $('qr').alt = t('grid.poster.qr_alt');
  $('qr').src = `/api/public/grids/${encodeURIComponent(card.grid.code)}/qr.svg`;
  $('qr-box').hidden = false;
  $('status').hidden = true;
  const print = $('print');
  print.disabled = false;
  print.addEventListener('click', () => window.print());
}

main();
