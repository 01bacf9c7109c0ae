// 迁出 on a person's row of /basedata: after a confirmation, DELETE /api/basedata/people/{id}
// marks them moved out today (audited). They leave the lists and counts at once and are deleted
// by rule when the retention period ends (config basedata.retention.moved_out_days).
// Their row gives way to a 已迁出 line with 撤销迁出: a 迁出 marked in error is undone by
// POST /api/basedata/people/{id}/return (audited), and the person is back in the list.

import { el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { toast } from '../common/util.js';

/** The 迁出 button of person `r`; `onDone(after)` once the server has marked them. */
export function leaveButton(r, onDone) {
  const button = el('button', { class: 'btn btn-small leave', type: 'button' }, t('basedata.leave'));
  button.addEventListener('click', async () => {
    if (!window.confirm(t('basedata.leave.confirm', { name: r.name }))) return;
    button.disabled = true;
    try {
      const after = await api(`/api/basedata/people/${encodeURIComponent(r.id)}`, { method: 'DELETE' });
      toast(t('basedata.leave.done', { name: r.name }), 'ok', 2500);
      onDone(after);
    } catch (err) {
      button.disabled = false;
      toast(t('basedata.leave.failed', { msg: err.message }), 'error');
    }
  });
  return button;
}

/** The line a person marked moved out leaves in the list: 已迁出 on the day, and 撤销迁出,
 *  which clears the mark and calls `onBack(after)` with the record as it now stands. */
export function movedOutRow(r, colspan, onBack) {
  const button = el('button', { class: 'btn btn-small return', type: 'button' }, t('basedata.return'));
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const after = await api(`/api/basedata/people/${encodeURIComponent(r.id)}/return`, { method: 'POST' });
      toast(t('basedata.return.done', { name: r.name }), 'ok', 2500);
      onBack(after);
    } catch (err) {
      button.disabled = false;
      toast(t('basedata.return.failed', { msg: err.message }), 'error');
    }
  });
  return el('tr', { class: 'left-row', dataset: { id: r.id } },
    el('td', { colspan: colspan - 1 }, t('basedata.left', { name: r.name, date: r.left_on || '' })),
    el('td', {}, button));
}
