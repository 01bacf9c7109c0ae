// The hall operator's keyboard: ↑/↓ or j/k move through the incident feed (and the open
// incident view follows), Enter opens, a / d / c / e acknowledge, dismiss, confirm and raise
// incident mode for the incident in view (else the selected one), Esc closes, ? shows the keys.
// Nothing fires while typing in a field or while a question (a <dialog>) is open.

const TYPING = new Set(['INPUT', 'TEXTAREA', 'SELECT']);

function typing(target) {
  return !!target && (TYPING.has(target.tagName) || target.isContentEditable);
}

/**
 * feed: the incident feed; incView / camView: the views; layers: their stack; triage: the
 * actions; help: the keys' <dialog>.
 */
export function bindKeys({ feed, incView, layers, triage, help }) {
  const target = () => incView.current || feed.selectedIncident();
  const step = (delta) => {
    const inc = feed.move(delta);
    if (inc && incView.current) incView.open(inc.id);
  };
  const actions = {
    ArrowDown: () => step(1),
    j: () => step(1),
    ArrowUp: () => step(-1),
    k: () => step(-1),
    Enter: () => {
      const inc = feed.selectedIncident() || feed.move(0);
      if (inc) incView.open(inc.id);
    },
    a: () => { const inc = target(); if (inc && inc.state === 'new') triage.ack(inc); },
    d: () => { const inc = target(); if (inc && inc.state === 'new') triage.dismiss(inc); },
    c: () => { const inc = target(); if (inc && triage.waiting(inc)) triage.confirm(inc); },
    e: () => { const inc = target(); if (inc && inc.state !== 'dismissed') triage.raise(inc); },
    Escape: () => layers.closeTop(),
    '?': () => { if (help.open) help.close(); else help.showModal(); },
  };
  document.addEventListener('keydown', (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
    if (document.querySelector('dialog[open]')) return; // a question is up: it has the keys (Esc closes it)
    // Enter on a button or link presses it; only on the page itself does it open the selection.
    if (ev.key === 'Enter' && ev.target && ev.target.closest && ev.target.closest('button, a, [role=button], .cam-tile')) return;
    const run = actions[ev.key];
    if (!run) return;
    ev.preventDefault();
    run();
  });
}
