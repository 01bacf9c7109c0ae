// 迁出 on a person's row of /basedata: after a confirmation, DELETE /api/basedata/people/{id}
// marks them moved out today (audited). They leave the lists and counts at once and are deleted
// by rule when the retention period ends (config basedata.retention.moved_out_days).

import { el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { toast } from '../common/util.js';

/** The 迁出 button of person `r`; `onDone()` once the server has marked them. */
export function leaveButton(r, onDone) {
  const button = el('button', { class: 'btn btn-small leave', type: 'button' }, t('basedata.leave'));
  button.addEventListener('click', async () => {
    if (!window.confirm(t('basedata.leave.confirm', { name: r.name }))) return;
    button.disabled = true;
    try {
      await api(`/api/basedata/people/${encodeURIComponent(r.id)}`, { method: 'DELETE' });
      toast(t('basedata.leave.done', { name: r.name }), 'ok', 2500);
      onDone();
    } catch (err) {
      button.disabled = false;
      toast(t('basedata.leave.failed', { msg: err.message }), 'error');
    }
  });
  return button;
}
