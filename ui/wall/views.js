// The event view's layers: the camera view and the incident view cover most of the screen, the
// incident view above the camera view it was opened from. Esc closes the top one; focus goes
// back where it was when the first opened.

export class Layers {
  constructor() {
    this.stack = []; // [{node, onClose}], top last
    this.returnFocus = null;
  }

  get open() { return this.stack.length > 0; }

  top() { return this.stack.length ? this.stack[this.stack.length - 1].node : null; }

  isOpen(node) { return this.stack.some((l) => l.node === node); }

  /** Shows `node` on top; onClose runs when it closes (Esc, its button, or close()). */
  show(node, onClose = () => {}) {
    if (!this.stack.length) this.returnFocus = document.activeElement;
    this.stack = this.stack.filter((l) => l.node !== node);
    this.stack.push({ node, onClose });
    node.hidden = false;
    this.stack.forEach((l, i) => { l.node.style.zIndex = String(60 + i); });
    document.body.classList.add('ev-open');
  }

  close(node) {
    const layer = this.stack.find((l) => l.node === node);
    if (!layer) return;
    this.stack = this.stack.filter((l) => l !== layer);
    node.hidden = true;
    layer.onClose();
    if (!this.stack.length) {
      document.body.classList.remove('ev-open');
      if (this.returnFocus && this.returnFocus.isConnected) this.returnFocus.focus({ preventScroll: true });
      this.returnFocus = null;
    }
  }

  closeTop() {
    const node = this.top();
    if (node) this.close(node);
    return !!node;
  }
}

/**
 * Places `boxEl` over the picture in `frameEl` (an <img> or <video> shown with object-fit:
 * contain): `box` is [x1, y1, x2, y2] in a picture of `srcW`×`srcH` pixels (the snapshot's).
 * A clip with another size than the snapshot is scaled to it.
 */
export function placeBox(media, boxEl, box, srcW, srcH) {
  const natW = media.naturalWidth || media.videoWidth;
  const natH = media.naturalHeight || media.videoHeight;
  const w = media.clientWidth;
  const h = media.clientHeight;
  if (!Array.isArray(box) || box.length !== 4 || !natW || !natH || !w || !h) {
    boxEl.hidden = true;
    return;
  }
  const sx = natW / (srcW || natW);
  const sy = natH / (srcH || natH);
  const scale = Math.min(w / natW, h / natH);
  const ox = media.offsetLeft + (w - natW * scale) / 2;
  const oy = media.offsetTop + (h - natH * scale) / 2;
  const [x1, y1, x2, y2] = box;
  Object.assign(boxEl.style, {
    left: `${ox + x1 * sx * scale}px`,
    top: `${oy + y1 * sy * scale}px`,
    width: `${Math.max(2, (x2 - x1) * sx * scale)}px`,
    height: `${Math.max(2, (y2 - y1) * sy * scale)}px`,
  });
  boxEl.hidden = false;
}
