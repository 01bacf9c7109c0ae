// 查看: a person's ID number or phone in the clear, for the roles config basedata.reveal_roles
// names (admins unless set otherwise). The page offers it to admins; a 403 (a city that chose
// otherwise) takes the control away for good. A reason is required (the server audits the
// reveal with it before it answers); the value shows for REVEAL_S seconds, then is masked again
// and dropped: nothing keeps it.

import { $, $$ } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { toast } from '../common/util.js';

export const REVEAL_S = 30;

export class RevealDialog {
  /** `allowed`: whether to offer 查看 at all (the caller's role). */
  constructor(allowed) {
    this.allowed = allowed;
    this.target = null;  // {record, field, node}: what the open dialog reveals
    this.dialog = $('reveal-dialog');
    $('reveal-intro').textContent = t('basedata.reveal.intro', { s: REVEAL_S });
    $('reveal-form').addEventListener('submit', (ev) => { ev.preventDefault(); this.send(); });
    $('reveal-cancel').addEventListener('click', () => this.dialog.close());
  }

  open(record, field, node) {
    this.target = { record, field, node };
    $('reveal-reason').value = '';
    $('reveal-error').textContent = '';
    $('reveal-ok').disabled = false;
    this.dialog.dataset.field = field;
    this.dialog.showModal();
    $('reveal-reason').focus();
  }

  async send() {
    const reason = $('reveal-reason').value.trim();
    if (!reason) {
      $('reveal-error').textContent = t('basedata.reveal.need_reason');
      return;
    }
    const { record, field, node } = this.target;
    $('reveal-ok').disabled = true;
    try {
      const path = `/api/basedata/people/${encodeURIComponent(record.id)}/reveal`;
      const answer = await api(path, { method: 'POST', body: { field, reason } });
      this.dialog.close();
      show(node, answer.value);
    } catch (err) {
      $('reveal-ok').disabled = false;
      if (err.status === 403) {  // this role may not after all: no more 查看 on this page
        this.dialog.close();
        this.allowed = false;
        for (const button of $$('button.reveal')) button.remove();
        toast(t('basedata.reveal.denied'), 'error');
      } else {
        $('reveal-error').textContent = err.message;
      }
    }
  }
}

/** The clear value in place of the mask for REVEAL_S seconds (even if the row is redrawn, the
 *  old node is restored and the new one never held it). */
function show(node, value) {
  const mask = node.textContent;
  node.textContent = value;
  node.classList.add('revealed');
  setTimeout(() => {
    node.textContent = mask;
    node.classList.remove('revealed');
  }, REVEAL_S * 1000);
}
