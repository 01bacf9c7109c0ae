// 建议分类 in the case detail: the classes the report classifier suggests for the case's
// description (GET /api/cases/{id}/suggestions), the current one marked. 采纳 keeps the class
// and records it as the choice; 改为… reclassifies the case to the picked suggestion (the case
// action, with its required reason) and records that. Either is feedback the classifier
// learns from (POST /api/suggestions/{id}/choice).

import { el } from '../common/dom.js';
import { matterName, t } from '../common/i18n.js';
import { api, post } from '../common/live.js';
import { errorText } from './actions.js';

const SHOWN = 3;

export class SuggestPanel {
  /** onCase(updated): the case after a reclassification, to show it again. */
  constructor({ onCase }) {
    this.onCase = onCase;
    this.box = null; // {sig, node}
  }

  /** The panel for case `c`; rebuilt only when the case, its class or its description changed. */
  node(c) {
    const sig = JSON.stringify([c.id, c.matter_code, c.description, c.state]);
    if (this.box && this.box.sig === sig) return this.box.node;
    const node = el('section', { class: 'detail-suggest', dataset: { caseId: c.id } },
      el('h3', {}, t('desk.suggest.title')), el('p', { class: 'muted' }, t('desk.suggest.loading')));
    this.box = { sig, node };
    api(`/api/cases/${encodeURIComponent(c.id)}/suggestions`)
      .then((found) => this._render(node, c, found))
      .catch((err) => node.lastChild.replaceWith(el('p', { class: 'muted' }, errorText(err))));
    return node;
  }

  _render(node, c, found) {
    const items = (found.items || []).slice(0, SHOWN);
    if (!items.length) {
      node.lastChild.replaceWith(el('p', { class: 'muted' }, t('desk.suggest.none')));
      return;
    }
    let picked = items.find((i) => i.code !== c.matter_code) || null;
    const status = el('p', { class: 'muted small suggest-status', role: 'status' },
      found.chosen_code ? t('desk.suggest.recorded', { name: this._name(found.chosen_code, items, c) }) : '');
    const chips = items.map((item) => el('button', {
      type: 'button', class: `btn suggest-chip${picked === item ? ' btn-primary' : ''}`, dataset: { code: item.code, current: String(item.code === c.matter_code) },
      'aria-pressed': String(picked === item),
      onclick: () => {
        picked = item;
        for (const b of chips) { b.setAttribute('aria-pressed', String(b.dataset.code === item.code)); b.classList.toggle('btn-primary', b.dataset.code === item.code); }
      },
    }, `${matterName(item.code, item.name)} ${Math.round(item.score * 100)}%`,
    item.code === c.matter_code ? el('span', { class: 'muted small' }, ` · ${t('desk.suggest.current')}`) : null));
    const open = (c.allowed_actions || []).includes('reclassify');
    const reason = el('input', { class: 'suggest-reason', maxlength: 200, placeholder: t('desk.suggest.reason'), hidden: true });
    const record = async (code) => {
      await post(`/api/suggestions/${encodeURIComponent(found.id)}/choice`, { code, case_id: c.id });
      status.textContent = t('desk.suggest.recorded', { name: this._name(code, items, c) });
    };
    const accept = el('button', { type: 'button', class: 'btn btn-ok suggest-accept', onclick: () => record(c.matter_code).catch((err) => { status.textContent = errorText(err); }) }, t('desk.suggest.accept'));
    const change = el('button', { type: 'button', class: 'btn suggest-change', disabled: !open, onclick: async () => {
      if (!picked || picked.code === c.matter_code) { status.textContent = t('desk.suggest.pick'); return; }
      if (reason.hidden) { reason.hidden = false; reason.focus(); status.textContent = t('desk.suggest.why'); return; }
      if (!reason.value.trim()) { status.textContent = t('desk.err.reason'); return; }
      try {
        const updated = await post(`/api/cases/${encodeURIComponent(c.id)}/reclassify`, { matter: picked.code, note: reason.value.trim(), version: c.version });
        await record(picked.code);
        this.onCase(updated);
      } catch (err) { status.textContent = errorText(err); }
    } }, t('desk.suggest.change'));
    node.lastChild.replaceWith(el('div', { class: 'suggest-body' },
      el('div', { class: 'suggest-chips' }, chips), el('div', { class: 'suggest-actions' }, accept, change, reason), status));
  }

  _name(code, items, c) {
    const item = items.find((i) => i.code === code);
    if (item) return matterName(code, item.name);
    return code === c.matter_code && c.matter_name ? matterName(code, c.matter_name) : code;
  }
}
