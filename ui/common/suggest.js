// Suggested classes as the reporter types (自动输出事件分类建议): the description (debounced)
// and the photo (shrunk to 640 px first: the detector looks at 320) go to POST /api/suggestions;
// the top 3 come back as chips; picking one sets the form's matter. Used by the citizens' page
// and the worker terminal's report form (each passes its own `send`: plain fetch, or api()).

import { el } from '../common/dom.js';
import { matterName, t } from '../common/i18n.js';

const DEBOUNCE_MS = 600;
const SHOWN = 3;
const PHOTO_SIDE = 640;

/** A JPEG of at most PHOTO_SIDE px a side, or null when the browser cannot read the file. */
export async function shrinkPhoto(file) {
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, PHOTO_SIDE / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85));
  } catch {
    return null;
  }
}

/**
 * Wires chips into `box` for a text field and a file input. `send(formData)` posts to
 * /api/suggestions and resolves to its JSON; `onPick(code)` sets the matter; `onSuggested(id)`
 * hears each suggestion's id (to link the report to it). Returns {reset()}.
 */
export function suggestChips({ box, text, photo, select, source, send, onSuggested = () => {} }) {
  let timer = null;
  let asked = 0; // the latest request: an older answer arriving late is dropped
  const render = (items) => {
    const chips = items.slice(0, SHOWN).map((item) => el('button', {
      type: 'button', class: 'btn suggest-chip', dataset: { code: item.code },
      'aria-pressed': String(select.value === item.code),
      title: t('citizen.suggest.score', { p: Math.round(item.score * 100) }),
      onclick: () => { // the select's change listener below marks the chip picked
        select.value = item.code;
        select.dispatchEvent(new Event('change', { bubbles: true }));
      },
    }, matterName(item.code, item.name)));
    box.replaceChildren(...(chips.length ? [el('span', { class: 'muted suggest-label' }, t('citizen.suggest.label')), ...chips] : []));
    box.hidden = !chips.length;
  };
  const ask = async () => {
    const words = text.value.trim();
    const file = photo && photo.files && photo.files[0];
    if (words.length < 2 && !file) { render([]); return; }
    const form = new FormData();
    form.append('text', words);
    form.append('source', source);
    const small = file ? await shrinkPhoto(file) : null;
    if (small) form.append('photo', small, 'photo.jpg');
    const mine = ++asked;
    try {
      const answer = await send(form);
      if (mine !== asked) return;
      onSuggested(answer.id);
      render(answer.items || []);
    } catch { /* a suggestion is a help only: the form works without it */ }
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(ask, DEBOUNCE_MS); };
  text.addEventListener('input', later);
  if (photo) photo.addEventListener('change', later);
  select.addEventListener('change', () => {
    for (const chip of box.querySelectorAll('.suggest-chip')) chip.setAttribute('aria-pressed', String(chip.dataset.code === select.value));
  });
  return { reset: () => { asked += 1; render([]); onSuggested(''); } };
}
