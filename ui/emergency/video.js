// Live video of the scene: the pinned drones first, then the cameras nearest the centre, each
// over WebRTC (WHEP, the shared player: ui/common/whep.js) with the detector's boxes; a feed
// whose WebRTC cannot connect falls back to the annotated MJPEG stream. At most MAX_LIVE play
// at once (each holds a peer connection, and MJPEG a browser connection of six).

import { el } from '../common/dom.js';
import { t } from '../common/i18n.js';
import { WhepPlayer } from '../common/whep.js';

const MAX_LIVE = 4;

export class VideoWall {
  constructor(container, { onCount = () => {} } = {}) {
    this.container = container;
    this.onCount = onCount;
    this.tiles = new Map(); // camera id -> {root, video, img, player, state}
    if ('ResizeObserver' in window) new ResizeObserver(() => this._fit()).observe(container);
  }

  /** Where the panel has a height of its own (laptop and wall screen), the tiles share it:
   *  the column count that gives the biggest 16:9 pictures. A phone stacks them at 16:9. */
  _fit() {
    const box = this.container;
    const n = this.tiles.size;
    const fit = n > 0 && getComputedStyle(box).getPropertyValue('--fit').trim() === '1';
    box.toggleAttribute('data-fit', fit);
    if (!fit) return;
    const w = box.clientWidth;
    const h = box.clientHeight;
    let best = { cols: 1, size: 0 };
    for (let cols = 1; cols <= n; cols += 1) {
      const rows = Math.ceil(n / cols);
      const size = Math.min(w / cols, (h / rows) * (16 / 9));
      if (size > best.size) best = { cols, size };
    }
    box.style.setProperty('--cols', String(best.cols));
    box.style.setProperty('--rows', String(Math.ceil(n / best.cols)));
  }

  /** Show exactly these feeds (drones first), in order; keeps the ones already playing. */
  show(feeds) {
    const wanted = feeds.slice(0, MAX_LIVE);
    const ids = new Set(wanted.map((f) => f.id));
    for (const [id, tile] of this.tiles) if (!ids.has(id)) this._drop(id, tile);
    const nodes = wanted.map((feed) => (this.tiles.get(feed.id) || this._open(feed)).root);
    this.container.replaceChildren(...nodes);
    if (!nodes.length) this.container.append(el('p', { class: 'empty' }, t('emergency.video.none')));
    this.onCount(wanted.length);
    this._fit();
  }

  stop() {
    for (const [id, tile] of this.tiles) this._drop(id, tile);
  }

  _open(feed) {
    const video = el('video', { muted: true, autoplay: true, playsinline: true, dataset: { cameraId: feed.id } });
    video.muted = true; // the attribute alone does not allow autoplay everywhere
    const state = el('span', { class: 'em-video-state' }, t('emergency.video.connecting'));
    const kind = feed.drone ? 'drone' : 'camera';
    const root = el('figure', { class: 'em-video', dataset: { cameraId: feed.id, kind, stream: 'connecting' } }, video,
      el('figcaption', {}, el('span', {}, feed.drone ? `✈ ${feed.name}` : feed.name), state));
    const tile = { root, video, img: null, state, player: null };
    tile.player = new WhepPlayer(video, {
      onState: (s) => {
        root.dataset.stream = s;
        if (s === 'playing') state.textContent = t('emergency.video.live');
        if (s === 'failed') this._fallback(feed.id, tile);
      },
    });
    tile.player.play(feed.id).catch(() => this._fallback(feed.id, tile));
    this.tiles.set(feed.id, tile);
    return tile;
  }

  /** WebRTC could not connect (a NAT, a proxy): the annotated MJPEG stream instead. */
  _fallback(id, tile) {
    if (tile.img || !this.tiles.has(id)) return;
    tile.player.stop();
    tile.video.remove();
    tile.img = el('img', { alt: '', src: `/api/cameras/${encodeURIComponent(id)}/live.mjpg?_=${Date.now()}` });
    tile.root.prepend(tile.img);
    tile.root.dataset.stream = 'mjpeg';
    tile.state.textContent = t('emergency.video.mjpeg');
  }

  _drop(id, tile) {
    tile.player.stop();
    if (tile.img) tile.img.removeAttribute('src'); // ends the MJPEG response and frees its connection
    tile.root.remove();
    this.tiles.delete(id);
  }
}
