// The worker's assessment notices on the terminal (考核通知: top or bottom of the month, honours;
// GET /api/assessment/notices, docs/ASSESSMENT.md), shown above the 已办 list when that tab opens.
// A module of its own so the terminal's code stays as it is: it only adds this one section.

import { $, el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { api } from '../common/live.js';

async function show() {
  const box = $('assessment-notices');
  if (!box) return;
  try {
    const { rows } = await api('/api/assessment/notices');
    box.replaceChildren(...(rows.length ? [el('h2', { class: 'as-notices-title' }, t('assessment.notices.title')),
      el('ul', { class: 'as-notices-list' }, rows.slice(0, 12).map((n) => el('li', { dataset: { kind: n.kind } }, n.text)))] : []));
  } catch { /* not signed in yet, or offline: the next opening of the tab tries again */ }
}

document.head.append(el('link', { rel: 'stylesheet', href: '/ui/assessment/notices.css' }));
for (const tab of document.querySelectorAll('[data-tab=history]')) tab.addEventListener('click', show);
if (location.hash === '#history') show();
