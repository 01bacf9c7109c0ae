// 导出 CSV / XLSX of what a panel shows (GET /api/stats/export?view=…&format=…, with the page's
// filters). The file is fetched with the page's token, so a refusal is told on the page in
// words rather than downloaded as a file, then saved under the name the server gives.

import { ApiError, ensureSession, getToken } from '../common/live.js';

/** The file name from Content-Disposition (RFC 6266: filename* first), else `fallback`. */
function fileName(header, fallback) {
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header || '');
  if (star) {
    try { return decodeURIComponent(star[1]); } catch { /* a bad escape: the plain name below */ }
  }
  const plain = /filename="([^"]+)"/i.exec(header || '');
  return plain ? plain[1] : fallback;
}

/** Downloads `/api/stats/export?<query>`; throws ApiError on a refusal. */
export async function downloadExport(query) {
  await ensureSession();
  const headers = { Accept: 'application/json, */*' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(`/api/stats/export?${query}`, { headers });
  } catch {
    throw new ApiError(0, 'network', null);
  }
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch { /* not JSON: the status says it */ }
    throw new ApiError(res.status, (body && body.error) || `HTTP ${res.status}`, body && body.detail);
  }
  const blob = await res.blob();
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = fileName(res.headers.get('Content-Disposition'), `stats.${query.get('format')}`);
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  return link.download;
}
