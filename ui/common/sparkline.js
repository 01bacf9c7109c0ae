// A reading series as a small inline SVG line (the wall's device panel, the worker's device
// card): no chart library, attributes only (the CSP refuses style attributes).

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/**
 * `points`: [{ts, value}] oldest first. An SVG `width`×`height` with the line scaled to the
 * series' own range (a flat series is drawn across the middle) and the last point marked.
 */
export function sparkline(points, { width = 160, height = 32, label = '' } = {}) {
  const values = points.map((p) => Number(p.value)).filter(Number.isFinite);
  const root = svg('svg', {
    class: 'sparkline', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label,
    'data-points': values.length,
  });
  if (!values.length) return root;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = 3;
  const x = (i) => (values.length === 1 ? width / 2 : pad + (i * (width - 2 * pad)) / (values.length - 1));
  const y = (v) => (hi === lo ? height / 2 : height - pad - ((v - lo) * (height - 2 * pad)) / (hi - lo));
  const coords = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  root.append(svg('polyline', { points: coords, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5, 'stroke-linejoin': 'round' }));
  const last = values.length - 1;
  root.append(svg('circle', { cx: x(last).toFixed(1), cy: y(values[last]).toFixed(1), r: 2.5, fill: 'currentColor' }));
  return root;
}

/** A reading's value in words: yes/no for a switch, else up to 3 decimals. */
export function fmtValue(value, boolean = false, yes = '1', no = '0') {
  if (boolean) return Number(value) ? yes : no;
  const n = Number(value);
  return Number.isFinite(n) ? String(Math.round(n * 1000) / 1000) : '—';
}
