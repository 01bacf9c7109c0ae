// Drones on a page's MapLibre map (the wall's, the emergency page's): a marker that turns with
// the heading, and each drone's track in one GeoJSON source the page added as `tracks`.

import { Marker } from '/vendor/maplibre/maplibre-gl.mjs';
import { el } from './dom.js';

const TRACK_POINTS = 300; // the last points of each track kept

/**
 * drone.position {id, lon, lat, heading, track: [[lon, lat], …]} → its marker moved and the
 * `tracks` source redrawn. `drones` is the page's id → {marker, track} map; `name` the title.
 */
export function moveDrone(map, drones, d, name = '') {
  if (!Number.isFinite(d.lon) || !Number.isFinite(d.lat)) return;
  let drone = drones.get(d.id);
  if (!drone) {
    const node = el('div', { class: 'drone-marker', title: name, dataset: { droneId: d.id } }, el('span', {}, '✈'));
    drone = { marker: new Marker({ element: node, rotationAlignment: 'map' }).setLngLat([d.lon, d.lat]).addTo(map), track: [] };
    drones.set(d.id, drone);
  }
  drone.marker.setLngLat([d.lon, d.lat]);
  if (Number.isFinite(d.heading)) drone.marker.setRotation(d.heading - 45); // the glyph points north-east
  drone.track = Array.isArray(d.track) && d.track.length ? d.track : [...drone.track, [d.lon, d.lat]].slice(-TRACK_POINTS);
  const features = [...drones.entries()].filter(([, x]) => x.track.length > 1).map(([id, x]) => ({
    type: 'Feature', properties: { id }, geometry: { type: 'LineString', coordinates: x.track },
  }));
  const source = map.getSource('tracks');
  if (source) source.setData({ type: 'FeatureCollection', features });
}
