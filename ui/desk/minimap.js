// The case's place on a small map: MapLibre (from /vendor/, installed by `make`) over the
// street and district outlines from /api/grids, and the city's basemap when one is set
// (ui/common/basemap.js). One map for the page, moved from case to case. Without MapLibre
// (not installed, no WebGL) the place is given in words and the rest of the desk works on.

import { api } from '../common/live.js';
import { t } from '../common/i18n.js';

const BLANK_STYLE = {
  version: 8,
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#0d141c' } }],
};
const ZOOM = 14.5;
const point = (lon, lat) => ({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [lon, lat] } }] });

export class MiniMap {
  constructor() {
    this.map = null;
    this.ready = null;
    this.at = null;
  }

  /** Shows the case's place in `container` (the map moves there when the detail is rebuilt). */
  async show(container, lon, lat) {
    this.at = [lon, lat];
    if (!Number.isFinite(lon) || !Number.isFinite(lat)) {
      container.textContent = t('desk.map.no_place');
      return;
    }
    try {
      if (!this.map) this.ready = this._make(container);
      else if (this.map.getContainer().parentElement !== container) {
        container.replaceChildren(this.map.getContainer());
        this.map.resize();
      }
      await this.ready;
      this.map.getSource('case').setData(point(lon, lat));
      this.map.jumpTo({ center: [lon, lat], zoom: ZOOM });
    } catch (err) {
      console.warn('no map: MapLibre unavailable', err);
      container.textContent = t('desk.map.unavailable', { lon: lon.toFixed(5), lat: lat.toFixed(5) });
    }
  }

  async _make(container) {
    const { Map: MapLibre } = await import('/vendor/maplibre/maplibre-gl.mjs');
    const holder = document.createElement('div');
    holder.className = 'minimap-canvas';
    container.replaceChildren(holder);
    this.map = new MapLibre({
      container: holder, style: BLANK_STYLE, center: this.at, zoom: ZOOM, attributionControl: false,
      canvasContextAttributes: { preserveDrawingBuffer: true },
    });
    await new Promise((resolve) => this.map.on('load', resolve));
    const m = this.map;
    m.addSource('areas', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    m.addSource('case', { type: 'geojson', data: point(...this.at) });
    m.addLayer({ id: 'street-line', type: 'line', source: 'areas', paint: { 'line-color': '#3b5a78', 'line-width': ['case', ['==', ['get', 'level'], 'district'], 2, 1] } });
    m.addLayer({ id: 'case-halo', type: 'circle', source: 'case', paint: { 'circle-radius': 14, 'circle-color': 'rgba(255,92,92,0.25)' } });
    m.addLayer({ id: 'case-point', type: 'circle', source: 'case', paint: { 'circle-radius': 6, 'circle-color': '#ff5c5c', 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } });
    import('../common/basemap.js').then(({ addBasemap }) => addBasemap(m)).catch(() => {});
    api('/api/grids?levels=district,street').then((doc) => m.getSource('areas').setData(doc)).catch(() => {});
  }
}
