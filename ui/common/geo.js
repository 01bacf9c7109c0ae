// GeoJSON helpers the pages' maps share (the wall's city map, the emergency scene map).

/** Whether `p` has a finite lon and lat. */
export const hasLoc = (p) => Boolean(p) && Number.isFinite(p.lon) && Number.isFinite(p.lat);

/** A GeoJSON point feature. */
export const point = (lon, lat, props = {}) => ({ type: 'Feature', properties: props, geometry: { type: 'Point', coordinates: [lon, lat] } });

/** A polygon approximating a circle of `radiusM` metres (equirectangular: fine at city scale). */
export function circle(lon, lat, radiusM, steps = 64) {
  const dLat = radiusM / 111320;
  const dLon = dLat / Math.cos((lat * Math.PI) / 180);
  const ring = [];
  for (let i = 0; i <= steps; i += 1) {
    const a = (i / steps) * 2 * Math.PI;
    ring.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
  }
  return { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [ring] } };
}
