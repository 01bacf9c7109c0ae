// Field photos (现场照片) on the terminal: take or pick a photo, downscale it in a canvas to a
// JPEG of at most MAX_SIDE px (a phone's 12 MP original is 3-6 MB; this is a few hundred KB,
// which a weak signal still sends), upload it for a grid (POST /api/field-photos) and hand
// back its id for the record: a check-in's photo, a visit's photos (rounds.js), a door plate.
//
// Without network a photo is kept as a data URL (`waiting`), for the caller's outbox to
// upload later with uploadDataUrl(grid, dataUrl) before it sends the record.
//
//   pickAndUpload(grid)        → {id, url, ...}; {id: null, waiting: dataUrl} without network; null: none picked
//   uploadBlob(grid, blob)     → {id, url, width, height, bytes, ...}
//   uploadDataUrl(grid, url)   → the same, for a photo kept offline
//   photoField({grid, max})    → a form's photo button with thumbnails; value() → {ids, waiting}

import { el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { api } from '../common/live.js';

export const MAX_SIDE = 1600;
const QUALITY = 0.85;
export const MAX_DATA_URL = 1_500_000; // as outbox.js: localStorage holds about 5 MB per origin
const UPLOAD_TIMEOUT_MS = 60000;

/** The URL a stored photo is served at (its uploader and the grid's staff may load it). */
export const photoUrl = (id) => `/api/field-photos/${encodeURIComponent(id)}`;

/** An image file as a JPEG Blob of at most `maxSide` px on its long side, upright (EXIF). */
export async function downscale(file, maxSide = MAX_SIDE) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    throw new Error(t('terminal.photo.unreadable'));
  }
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  if (bitmap.close) bitmap.close();
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error(t('terminal.photo.unreadable')))), 'image/jpeg', QUALITY);
  });
}

/** Uploads a JPEG Blob taken in `grid`; resolves to the stored photo {id, url, ...}. */
export function uploadBlob(grid, blob) {
  return api(`/api/field-photos?grid=${encodeURIComponent(grid)}`, {
    method: 'POST', body: blob, headers: { 'Content-Type': blob.type || 'image/jpeg' }, timeoutMs: UPLOAD_TIMEOUT_MS,
  });
}

/** A photo kept offline (a data URL) uploaded now; resolves to the stored photo. */
export function uploadDataUrl(grid, dataUrl) {
  return uploadBlob(grid, blobOf(dataUrl));
}

/** Opens the camera or the gallery; resolves to the File picked, or null. */
export function pick() {
  return new Promise((resolve) => {
    const input = el('input', { type: 'file', accept: 'image/*', capture: 'environment', class: 'file-input' });
    const done = (file) => { input.remove(); resolve(file); };
    input.addEventListener('change', () => done(input.files[0] || null));
    input.addEventListener('cancel', () => done(null));
    document.body.append(input); // some browsers open no chooser for a detached input
    input.click();
  });
}

/**
 * Take or pick a photo, downscale and upload it for `grid`: {id, url, ..., blob}; without
 * network {id: null, blob, waiting}, `waiting` its data URL for uploadDataUrl() later; null
 * when nothing was picked. Other refusals (403 another grid, 415) reject with the ApiError.
 */
export async function pickAndUpload(grid) {
  const file = await pick();
  if (!file) return null;
  const blob = await downscale(file);
  try {
    return { ...(await uploadBlob(grid, blob)), blob };
  } catch (err) {
    if (err.status !== 0) throw err;
    const waiting = await toDataUrl(blob);
    if (waiting.length > MAX_DATA_URL) throw new Error(t('terminal.photo_too_large'));
    return { id: null, blob, waiting };
  }
}

/** A Blob as a data URL (to keep a photo in localStorage while offline). */
export function toDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** A data URL back to a Blob, decoded here (the CSP refuses fetch() of data: URLs). */
export function blobOf(dataUrl) {
  const [head, payload = ''] = dataUrl.split(',', 2);
  const type = (head.match(/^data:([^;,]+)/) || [])[1] || 'image/jpeg';
  const bytes = head.includes(';base64') ? atob(payload) : decodeURIComponent(payload);
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 1) out[i] = bytes.charCodeAt(i);
  return new Blob([out], { type });
}

/**
 * A form's photo field for `grid`: a button that takes or picks up to `max` photos, each
 * downscaled, shown as a thumbnail and uploaded at once. Returns {element, value, busy}:
 * value() waits for uploads under way, tries the waiting ones once more and resolves to
 * {ids, waiting}: the ids uploaded, and the data URLs still to upload (no network).
 */
export function photoField({ grid, max = 1, label }) {
  const input = el('input', { class: 'file-input', type: 'file', accept: 'image/*', capture: 'environment', multiple: max > 1 });
  const thumbs = el('div', { class: 'photo-preview field-photos' });
  const element = el('div', { class: 'field-photo' },
    el('label', { class: 'photo-field' }, el('span', {}, label || t('terminal.photo.label')), input,
      el('span', { class: 'btn file-button' }, t('terminal.photo.take'))),
    thumbs);
  let items = [];

  const render = () => thumbs.replaceChildren(...items.map((item) => item.node));
  const setState = (item, state, text) => {
    Object.assign(item, { state });
    item.node.dataset.state = state;
    if (item.id) item.node.dataset.photoId = item.id;
    item.status.textContent = text;
  };

  async function upload(item) {
    setState(item, 'uploading', t('terminal.photo.uploading'));
    try {
      item.id = (await uploadBlob(grid, item.blob)).id;
      setState(item, 'done', t('terminal.photo.done'));
    } catch (err) {
      if (err.status === 0) setState(item, 'waiting', t('terminal.photo.waiting'));
      else setState(item, 'failed', t('terminal.photo.failed', { reason: err.message }));
    }
  }

  async function prepare(item, file) {
    try {
      item.blob = await downscale(file);
    } catch (err) {
      setState(item, 'failed', err.message);
      return;
    }
    item.node.querySelector('img').src = URL.createObjectURL(item.blob);
    await upload(item);
  }

  function add(file) {
    const item = { state: 'reading', status: el('span', { class: 'field-photo-state' }) };
    const remove = el('button', { class: 'field-photo-remove', type: 'button', 'aria-label': t('terminal.photo.remove') }, '×');
    item.node = el('span', { class: 'field-photo-thumb', dataset: { state: 'reading' } },
      el('img', { alt: t('terminal.photo.alt') }), remove, item.status);
    remove.addEventListener('click', () => { items = items.filter((i) => i !== item); render(); });
    items = max === 1 ? [item] : [...items, item].slice(-max);
    render();
    item.task = prepare(item, file); // value() waits for it
  }

  input.addEventListener('change', () => {
    const files = [...input.files].slice(0, max);
    input.value = ''; // the same photo picked again is a new change
    for (const file of files) add(file);
  });

  async function value() {
    await Promise.all(items.map((i) => i.task));
    await Promise.all(items.filter((i) => i.state === 'waiting').map((i) => (i.task = upload(i))));
    const ids = items.filter((i) => i.state === 'done').map((i) => i.id);
    const waiting = await Promise.all(items.filter((i) => i.state === 'waiting').map((i) => toDataUrl(i.blob)));
    if (waiting.some((u) => u.length > MAX_DATA_URL)) throw new Error(t('terminal.photo_too_large'));
    return { ids, waiting };
  }

  return { element, value, busy: () => items.some((i) => i.state === 'uploading' || i.state === 'reading') };
}
