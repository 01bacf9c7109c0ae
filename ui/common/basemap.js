// A street basemap under a page's MapLibre map, when the city configured one (`map.basemap` in
// the server's config, read from /api/map/config): raster tiles from a URL template, or the
// sources and layers of a vector style. It goes beneath every layer the page drew (the grid
// outlines stay on top). None configured, the default: nothing changes and the map stays offline.
// A tile server that fails leaves the map without tiles; its errors are logged once, not per tile.

import { AttributionControl } from '/vendor/maplibre/maplibre-gl.mjs';
import { api } from './live.js';

const PREFIX = 'basemap';

// MapLibre shows attributions as HTML: the configured text is shown as text.
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The first layer drawn over the background: the basemap goes beneath it. */
function firstOverlay(map) {
  return (map.getStyle().layers || []).find((l) => l.type !== 'background' && !l.id.startsWith(PREFIX))?.id;
}

function addRaster(map, basemap, below) {
  map.addSource(PREFIX, {
    type: 'raster', tiles: [basemap.url], tileSize: basemap.tile_size,
    minzoom: basemap.min_zoom, maxzoom: basemap.max_zoom, attribution: escapeHtml(basemap.attribution || ''),
  });
  map.addLayer({ id: PREFIX, type: 'raster', source: PREFIX }, below);
}

/** A vector style's sources and layers, renamed `basemap-…`, under the page's own layers. */
async function addVector(map, basemap, below) {
  const res = await fetch(basemap.url, { credentials: 'omit' });
  if (!res.ok) throw new Error(`style ${basemap.url}: HTTP ${res.status}`);
  const style = await res.json();
  if (style.glyphs) map.setGlyphs(style.glyphs);
  if (style.sprite) map.setSprite(style.sprite);
  for (const [id, source] of Object.entries(style.sources || {})) {
    const { attribution, ...rest } = source; // the configured attribution is shown instead (as text)
    map.addSource(`${PREFIX}-${id}`, rest);
  }
  for (const layer of style.layers || []) {
    if (layer.type === 'background') continue; // the page keeps its own
    map.addLayer({ ...layer, id: `${PREFIX}-${layer.id}`, ...(layer.source ? { source: `${PREFIX}-${layer.source}` } : {}) }, below);
  }
}

/** Tile errors of the basemap are logged once; other errors as MapLibre would (console.error). */
function quietErrors(map) {
  let told = false;
  map.on('error', (event) => {
    if (!String(event.sourceId || '').startsWith(PREFIX)) { console.error(event.error || event); return; }
    if (!told) console.warn('street basemap unavailable: the map shows no tiles', event.error || event);
    told = true;
  });
}

/** Adds the configured basemap to a loaded `map`. Resolves to the basemap settings, or null; never rejects. */
export async function addBasemap(map) {
  let basemap = null;
  try {
    ({ basemap } = await api('/api/map/config'));
  } catch (err) {
    console.warn('map settings unavailable: no street basemap', err);
  }
  if (!basemap) return null;
  quietErrors(map);
  try {
    if (basemap.kind === 'vector') await addVector(map, basemap, firstOverlay(map));
    else addRaster(map, basemap, firstOverlay(map));
  } catch (err) {
    console.warn('street basemap not added', err);
    return null;
  }
  map.addControl(new AttributionControl({ compact: true, customAttribution: basemap.kind === 'vector' ? escapeHtml(basemap.attribution || '') : undefined }));
  return basemap;
}
