// Apache ECharts (from npm, served at /vendor/echarts), imported once per page when its first
// chart is drawn. Pages draw their tooltips on the canvas (renderMode richText): ECharts' HTML
// tooltips carry inline styles, which the Content-Security-Policy (style-src 'self') refuses.

const ECHARTS = '/vendor/echarts/echarts.esm.min.mjs';
let loading = null;

/** The ECharts module (a missing node_modules rejects: the page says so or draws no chart). */
export function loadECharts() {
  if (!loading) loading = import(ECHARTS);
  return loading;
}
