// DOM helpers every page uses: find elements, build them, keep a list in order, batch renders.

/** The element with this id (pages look up their fixed parts by id). */
export const $ = (id) => document.getElementById(id);

/** Every element under `root` matching `selector`, as an array (so map/filter work). */
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** el('div', {class: 'x', dataset: {id: 1}, onclick: fn}, child, 'text', [more]) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) if (v != null) node.dataset[k] = String(v);
    } else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/**
 * Makes `container`'s children exactly `nodes`, in order, moving only nodes that are out of
 * place (so rows that stay keep their scroll position, focus and running animations).
 */
export function reconcile(container, nodes) {
  const keep = new Set(nodes);
  for (const child of [...container.children]) {
    if (!keep.has(child)) child.remove();
  }
  nodes.forEach((node, i) => {
    const at = container.children[i];
    if (at !== node) container.insertBefore(node, at || null);
  });
}

/** Batches renders into one per animation frame. */
export function rafBatch(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}
