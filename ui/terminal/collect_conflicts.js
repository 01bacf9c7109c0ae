// The collection queue's line (waiting, sending, offline) and the conflicts to settle: a form
// sent while the record changed on the server shows both versions, mine kept or dropped.
// (collect.js builds the rest of the 采集 tab.)

import { $, el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { fieldName, kindName } from './collect_forms.js';

const c = (key, vars) => t(`terminal.collect.${key}`, vars);

export const masked = (v) => (v ? `${'*'.repeat(Math.max(0, v.length - 4))}${v.slice(-4)}` : '');

export function renderQueue(ctx, reload) {
  const waiting = ctx.queue.waiting().length;
  const conflicts = ctx.queue.conflicts();
  const { state: now } = ctx.queue;
  const shown = !waiting ? 'empty' : now === 'sending' ? 'sending' : now === 'offline' || navigator.onLine === false ? 'offline' : 'waiting';
  const words = [c(`queue.${shown}`, { n: waiting }), conflicts.length ? c('queue.conflicts', { n: conflicts.length }) : null];
  $('collect-queue').dataset.state = conflicts.length ? 'conflict' : shown;
  $('collect-queue-text').textContent = words.filter(Boolean).join(' · ');
  $('collect-send').hidden = !waiting;
  $('collect-conflicts').replaceChildren(...conflicts.map((e) => conflictCard(ctx, e, reload)));
  ctx.onCount(waiting + conflicts.length);
}

function shownValue(kind, name, v, mine) {
  if (v == null || v === '') return '—';
  if (name === 'kind') return kindName(kind, v);
  if (name === 'use') return kindName('use', v);
  if (name === 'rental') return c(v ? 'yes' : 'no');
  if (name === 'plate_photo_id') return c('field.photo');
  return mine && (name === 'id_number' || name === 'phone') ? masked(String(v)) : String(v);
}

function conflictCard(ctx, entry, reload) {
  const { current } = entry;
  const names = Object.keys(entry.body).filter((n) => n !== 'verified' && n !== 'building_code' && n !== 'household_id');
  const rows = names.map((n) => el('tr', { dataset: { field: n } }, el('th', {}, fieldName(entry.kind, n)),
    el('td', { class: 'mine' }, shownValue(entry.kind, n, entry.body[n], true)),
    el('td', { class: 'now' }, shownValue(entry.kind, n, current[n], false))));
  if (entry.body.verified) rows.push(el('tr', {}, el('th', {}, c('field.verified')), el('td', { class: 'mine' }, c('verified_today')),
    el('td', { class: 'now' }, current.verified_at || '—')));
  const keep = el('button', { class: 'btn btn-primary', type: 'button', dataset: { keep: '' } }, c('conflict.keep'));
  const drop = el('button', { class: 'btn', type: 'button', dataset: { drop: '' } }, c('conflict.drop'));
  keep.addEventListener('click', () => ctx.queue.keepMine(entry.key));
  drop.addEventListener('click', () => { ctx.queue.dropMine(entry.key); reload(ctx); });
  return el('li', { class: 'collect-conflict', dataset: { key: entry.key } },
    el('p', { class: 'collect-conflict-title' }, c(entry.op === 'create' ? 'conflict.exists' : 'conflict.changed', { what: entry.label })),
    el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, ''), el('th', {}, c('conflict.mine')), el('th', {}, c('conflict.now')))),
      el('tbody', {}, rows)),
    el('div', { class: 'check-buttons' }, keep, drop));
}
