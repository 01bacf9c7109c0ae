// A task the camera sent back (视频核查): the worker reported it handled, the camera looked
// again and still saw the problem. The card says so at the top, in the check's own words
// ("视频核查：摊贩仍在"), with the camera's fresh frame, so the worker knows why it is back.

import { el } from '../common/dom.js';
import { fmtTime, t } from '../common/i18n.js';
import { sameOriginPath } from '../common/live.js';
import { isOpenCase } from '../common/util.js';

// The check's frame as attached to the case (command_center/api/verifications.py serves it).
const AFTER_PHOTO = /^\/api\/verifications\/[^/]+\/after\.jpg$/;
const CAMERA_ACTORS = new Set(['video', 'verification']);
const CHECK_NOTE = /^视频核查[：:]/;  // the server words its notes in Chinese, whoever confirms them
const PHOTO_TAIL = /\s*\[\d+ photos?\]$/;

/** The latest return, when the camera made it and the worker has not reported back since. */
export function cameraReturn(c) {
  const entries = Array.isArray(c.timeline) ? c.timeline : [];
  if (!isOpenCase(c)) return null;
  for (let i = entries.length - 1; i >= 0; i -= 1) {
    const e = entries[i];
    if (e.action === 'feedback') return null;
    if (e.action === 'return') return CAMERA_ACTORS.has(e.actor) || CHECK_NOTE.test(e.note || '') ? e : null;
  }
  return null;
}

/** The card's block for a camera return, or null. */
export function cameraReturnNode(c) {
  const entry = cameraReturn(c);
  if (!entry) return null;
  const photos = (Array.isArray(c.photos) ? c.photos : []).map(sameOriginPath).filter((u) => AFTER_PHOTO.test(u));
  const photo = photos[photos.length - 1];
  const note = (entry.note || '').replace(PHOTO_TAIL, '').trim();
  return el('div', { class: 'camera-return', role: 'note', dataset: { cameraReturn: '' } },
    el('p', { class: 'camera-return-note' }, note || t('verify.term.returned')),
    photo ? el('a', { class: 'task-photo camera-return-photo', href: photo, target: '_blank', rel: 'noopener' },
      el('img', { src: photo, alt: t('verify.term.photo_alt'), loading: 'lazy', decoding: 'async' })) : null,
    photo ? el('p', { class: 'muted camera-return-caption' }, t('verify.term.photo_caption', { time: fmtTime(entry.ts, 'short') })) : null);
}
