// One grid's records on /basedata: the columns of each kind (楼栋/住户/人员/单位) in words,
// one row per record, 标记已核实 (a re-check on the version the row shows; a stale one gets the
// conflict notice with the record as it stands, then the list again), and the masked ID
// numbers and phones with 查看 for the roles that may reveal them (reveal.js).

import { $, el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { toast } from '../common/util.js';
import { leaveButton, movedOutRow } from './leave.js';

/** The record's key as the URL names it: buildings and addresses by code, the rest by id. */
export const keyOf = (kind, r) => (kind === 'buildings' || kind === 'addresses' ? r.code : r.id);

/** A name for a value of a kind of identifier (use, household kind…), never the identifier. */
const word = (group, value) => (value ? t(`basedata.${group}.${value}`) : '—');

/** Whole years from an ISO birth date to today. */
export function ageOf(birth, today = new Date()) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birth || '');
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  let age = today.getFullYear() - y;
  if (today.getMonth() + 1 < mo || (today.getMonth() + 1 === mo && today.getDate() < d)) age -= 1;
  return age;
}

// Codes people copy as they are: not words of any language (translate="no").
const code = (text) => el('span', { class: 'code', translate: 'no' }, text || '—');

function nextCheck(r) {
  const when = r.next_check_at ? code(r.next_check_at) : el('span', {}, t('basedata.never'));
  return el('span', { class: 'next-check' }, when,
    r.due ? el('span', { class: 'badge due', dataset: { state: 'overdue' } }, t('basedata.due_badge')) : null);
}

/** A masked personal value, with 查看 where the caller may reveal it. */
function masked(r, field, reveal) {
  const value = r[field];
  if (!value) return '—';
  const box = el('span', { class: 'masked', dataset: { field, id: r.id } }, el('span', { class: 'value code', translate: 'no' }, value));
  if (reveal && reveal.allowed) {
    box.append(el('button', {
      class: 'btn btn-small reveal', type: 'button', dataset: { field },
      onclick: () => reveal.open(r, field, box.querySelector('.value')),
    }, t('basedata.reveal')));
  }
  return box;
}

// Each kind's columns: the heading's key and the cell (text or a node) of one record.
const COLUMNS = {
  buildings: [
    ['basedata.f.code', (r) => code(r.name ? `${r.name} ${r.code}` : r.code)],
    ['basedata.f.use', (r) => word('use', r.use)],
    ['basedata.f.floors', (r) => String(r.floors ?? '—')],
    ['basedata.f.rental', (r) => t(r.rental ? 'basedata.yes' : 'basedata.no')],
  ],
  households: [
    ['basedata.f.room', (r) => code(r.room)],
    ['basedata.f.building', (r) => code(r.building_code)],
    ['basedata.f.kind', (r) => word('household', r.kind)],
  ],
  people: [
    ['basedata.f.name', (r) => r.name],
    ['basedata.f.sex', (r) => word('sex', r.sex)],
    ['basedata.f.age', (r) => { const n = ageOf(r.birth_date); return n == null ? '—' : t('basedata.age', { n }); }],
    ['basedata.f.kind', (r) => word('person', r.kind)],
    ['basedata.f.id_number', (r, reveal) => masked(r, 'id_number', reveal)],
    ['basedata.f.phone', (r, reveal) => masked(r, 'phone', reveal)],
  ],
  organisations: [
    ['basedata.f.org_name', (r) => r.name],
    ['basedata.f.kind', (r) => word('org', r.kind)],
    ['basedata.f.credit_code', (r) => code(r.credit_code)],
    ['basedata.f.contact_phone', (r) => el('span', { class: 'masked' }, code(r.contact_phone))],
  ],
};

/** The record in one line of words (the conflict notice's "it now reads"). */
export function summary(kind, r) {
  const parts = COLUMNS[kind].map(([, cell]) => {
    const shown = cell(r, null);
    return typeof shown === 'string' ? shown : shown.textContent;
  });
  parts.push(`${t('basedata.f.next_check_at')} ${r.next_check_at || t('basedata.never')}`);
  return parts.join(' · ');
}

export class RecordTable {
  /** `reveal`: the reveal dialog (reveal.js); `onStale`: the list is to be asked again;
   *  `onChange`: a record was re-checked (the grids' overdue counts move). */
  constructor({ reveal, onStale, onChange = () => {} }) {
    this.reveal = reveal;
    this.onStale = onStale;
    this.onChange = onChange;
    this.kind = 'people';
    $('conflict-close').addEventListener('click', () => { $('conflict').hidden = true; });
  }

  show(kind, items) {
    this.kind = kind;
    const heads = [...COLUMNS[kind].map(([key]) => key), 'basedata.f.next_check_at', 'basedata.f.actions'];
    $('record-head').replaceChildren(...heads.map((key) => el('th', {}, t(key))));
    const rows = items.map((r) => this.row(kind, r));
    if (!rows.length) rows.push(el('tr', { class: 'empty' }, el('td', { colspan: heads.length }, t('basedata.empty'))));
    $('record-rows').replaceChildren(...rows);
  }

  row(kind, r) {
    const cells = COLUMNS[kind].map(([key, cell]) => el('td', { dataset: { col: key.split('.').pop() } }, cell(r, this.reveal)));
    const verify = el('button', { class: 'btn btn-small verify', type: 'button' }, t('basedata.verify'));
    const tr = el('tr', { class: 'record-row', dataset: { id: keyOf(kind, r), due: String(!!r.due), version: r.version } },
      cells, el('td', { dataset: { col: 'next_check_at' } }, nextCheck(r)),
      // 迁出 (leave.js): the person leaves the list, and the grid's counts move
      el('td', {}, verify, kind === 'people' ? leaveButton(r, (after) => this.movedOut(tr, after)) : null));
    verify.addEventListener('click', () => this.verify(kind, r, tr, verify));
    return tr;
  }

  /** 迁出 done: the row gives way to 已迁出 with 撤销迁出, which puts the person's row back. */
  movedOut(tr, after) {
    const line = movedOutRow(after, tr.children.length, (back) => {
      line.replaceWith(this.row('people', back));
      this.onChange();
    });
    tr.replaceWith(line);
    this.onChange();
  }

  /** 标记已核实 on the version shown: the row takes the answer; a stale version, the notice. */
  async verify(kind, r, tr, button) {
    button.disabled = true;
    try {
      const path = `/api/basedata/${kind}/${encodeURIComponent(keyOf(kind, r))}`;
      const after = await api(path, { method: 'PATCH', body: { version: r.version, verified: true } });
      tr.replaceWith(this.row(kind, after));
      toast(t('basedata.verified', { date: after.next_check_at || '—' }), 'ok', 2500);
      this.onChange();
    } catch (err) {
      button.disabled = false;
      if (err.status === 409) {
        const current = err.detail && err.detail.current;
        $('conflict-current').textContent = current ? summary(kind, current) : '';
        $('conflict').hidden = false;
        this.onStale();
      } else {
        toast(err.message, 'error');
      }
    }
  }
}
