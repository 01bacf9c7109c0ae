// How long a row or task card that just arrived live stays highlighted (`.fresh` in style.css),
// and the bookkeeping that keeps the highlight on a row rebuilt while its time runs.

/** The wall's incident feed and case board. */
export const FRESH_ROW_MS = 8000;
/** The worker terminal: longer, as a phone is looked at less often than the wall. */
export const FRESH_TASK_MS = 10000;

/**
 * Ids marked fresh, each until its highlight ends. A list rebuilds a row whenever its data
 * changes; apply() gives the new node the class for what is left of the id's time.
 */
export class FreshMarks {
  constructor(ms) {
    this.ms = ms;
    this.until = new Map(); // id -> time the highlight ends
  }

  mark(id, now = Date.now()) {
    this.until.set(id, now + this.ms);
  }

  /** Highlights a newly built `node` for `id` while its mark lasts. */
  apply(id, node, now = Date.now()) {
    const until = this.until.get(id);
    if (!until || until <= now) return;
    node.classList.add('fresh');
    setTimeout(() => node.classList.remove('fresh'), until - now);
  }

  /** Forgets marks whose time is over (once per render keeps the map small). */
  prune(now = Date.now()) {
    for (const [id, until] of this.until) if (until <= now) this.until.delete(id);
  }
}
