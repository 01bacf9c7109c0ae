// The citizen's photos, voice note and video on a case, for staff (the desk's case detail and
// the worker terminal's card): GET /api/cases/{id}/media, each file played or shown from its
// URL (the staff cookie signs the <img>, <audio> and <video> requests in). Words: report_media.*.

import { el } from '../common/dom.js';
import { t } from '../common/i18n.js';

/** A figure that fills itself with the case's citizen media; `get(url)` is the page's JSON GET. */
export function citizenMedia(caseId, get) {
  const box = el('div', { class: 'citizen-media' });
  const fig = el('figure', { class: 'media-citizen', dataset: { case: caseId } }, el('figcaption', {}, t('report_media.media_title')), box);
  get(`/api/cases/${encodeURIComponent(caseId)}/media`).then((answer) => {
    const items = (answer && answer.items) || [];
    box.replaceChildren(...(items.length ? items.map(mediaNode) : [el('p', { class: 'muted' }, t('report_media.no_media'))]));
  }).catch(() => box.replaceChildren(el('p', { class: 'muted' }, t('report_media.no_media'))));
  return fig;
}

function mediaNode(item) {
  // swept by the retention rule: its row stays, said in words instead of a broken link
  if (item.removed || !item.url) return el('p', { class: 'muted media-removed', dataset: { id: item.id, kind: item.kind } }, t('report_media.removed'));
  if (item.kind === 'photo') {
    return el('a', { href: item.url, target: '_blank', rel: 'noopener' }, el('img', { class: 'photo-before', src: item.url, alt: t('report_media.media_title'), loading: 'lazy', width: 320 }));
  }
  const tag = item.kind === 'voice' ? 'audio' : 'video';
  // a width attribute, not a style: the pages' CSP allows no inline style, and the file is not the page's
  return el(tag, { class: `citizen-${item.kind}`, src: item.url, controls: true, preload: 'metadata', playsinline: true, width: item.kind === 'video' ? 320 : null, dataset: { id: item.id } });
}

/** The same, folded: loaded when first opened (the terminal rebuilds its cards often). */
export function citizenMediaDetails(caseId, get) {
  const details = el('details', { class: 'task-citizen-media', dataset: { case: caseId } }, el('summary', {}, t('report_media.media_title')));
  details.addEventListener('toggle', () => {
    if (details.open && !details.dataset.loaded) {
      details.dataset.loaded = '1';
      details.append(citizenMedia(caseId, get));
    }
  });
  return details;
}
