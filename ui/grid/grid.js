// The public worker card (三公开) of one grid, phone first: who works here, how to call them,
// whether they are on duty now, what they handle on the spot, and a link to report a problem.

import { $, el } from '../common/dom.js';
import { matterClassName, matterName, t } from '../common/i18n.js';
import { avatar, gridCode, kindOf, levelOf, loadCard, pathText, setupPage, updatedText } from './card.js';

function workerCard(w) {
  const kind = [kindOf(w.kind), levelOf(w.level)].filter(Boolean).join(' · ');
  return el('li', { class: 'worker', dataset: { number: w.number, onDuty: w.on_duty ? '1' : '0' } },
    avatar(w),
    el('div', { class: 'who' },
      el('p', { class: 'name' }, w.name,
        el('span', { class: w.on_duty ? 'badge on' : 'badge off' }, t(w.on_duty ? 'grid.on_duty' : 'grid.off_duty'))),
      // translate=no: the worker's number (工号) is read and quoted as is.
      el('p', { class: 'meta' }, el('span', { translate: 'no' }, t('grid.number', { number: w.number })), kind ? ` · ${kind}` : ''),
      el('p', { class: 'meta' }, t('grid.shift', { shift: w.shift })),
      w.phone ? el('a', { class: 'phone', href: `tel:${w.phone.replace(/[^0-9+]/g, '')}` }, `☎ ${w.phone}`) : null));
}

function render(card) {
  document.title = t('grid.title_of', { grid: card.grid.name });
  $('title').textContent = card.grid.name;
  $('path').textContent = pathText(card);
  $('workers').replaceChildren(...card.workers.map(workerCard));
  if (!card.workers.length) $('workers').append(el('li', { class: 'empty' }, t('grid.no_workers')));
  $('workers-box').hidden = false;
  $('matters').replaceChildren(...card.matters.map((m) => el('li', {}, matterName(m.code, m.name), el('small', {}, matterClassName(m.code, m.class)))));
  $('matters-box').hidden = !card.matters.length;
  const { lon, lat } = card.grid.point || {};
  const report = $('report');
  if (Number.isFinite(lon) && Number.isFinite(lat)) report.href = `/citizen?lat=${lat.toFixed(6)}&lon=${lon.toFixed(6)}`;
  report.hidden = false;
  const poster = $('poster-link');
  poster.href = `/grid/${encodeURIComponent(card.grid.code)}/poster`;
  poster.hidden = false;
  $('updated').textContent = updatedText(card);
  $('status').hidden = true;
}

async function main() {
  setupPage();
  try {
    render(await loadCard(gridCode()));
  } catch (err) {
    $('status').textContent = err.message;
    $('status').classList.add('error');
    $('report').hidden = false; // reporting still works without the card
  }
}

main();
