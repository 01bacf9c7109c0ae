// A conversation's messages as the chat pages hold them (the citizen page's chat, the staff
// panel): the server delivers a message before it is stored (pending, no seq yet), then
// confirms it (chat.stored: its seq) or takes it back (chat.retracted: refused or failed,
// never stored). Both sides keep one list in seq order, pending ones last.

export const bySeq = (a, b) => (a.seq ?? 1e18) - (b.seq ?? 1e18); // pending ones last, in arrival order

/** `m`, live or caught up, into `messages` once (by its id, else its seq), in seq order; the
 *  stored view wins over the pending one. */
export function merge(messages, m) {
  const same = messages.find((x) => (m.id && x.id === m.id) || (m.seq && x.seq === m.seq));
  if (!same) messages.push(m);
  else if (!m.pending) Object.assign(same, m);
  messages.sort(bySeq);
}

/** A pending message confirmed by chat.stored {id, seq}; whether it was in `messages`. */
export function confirm(messages, data) {
  const m = messages.find((x) => x.id === data.id);
  if (!m) return false;
  Object.assign(m, { seq: data.seq, pending: false });
  messages.sort(bySeq);
  return true;
}

/** `root` showing conversation `id` in a frame built by `frame()` once per conversation and kept
 *  after: a tap on its buttons, what is being typed and the focus are never lost to a repaint
 *  (a message arriving, confirmed, read), as they were when every repaint made new elements
 *  (a button replaced between a tap's press and release gets no click). */
export function keepFrame(root, id, frame) {
  if (root.dataset.conv === String(id)) return;
  root.replaceChildren(...frame().filter(Boolean));
  root.dataset.conv = String(id);
}

/** `root` made to show something else (the list, a sign-in hint): the next conversation builds its frame. */
export function dropFrame(root) { delete root.dataset.conv; }

/** `slot`'s children made again by `make()` only when `key` changed since the last time. */
export function refill(slot, key, make) {
  if (slot.dataset.key === key) return;
  slot.dataset.key = key;
  slot.replaceChildren(...[make()].flat().filter(Boolean));
}
