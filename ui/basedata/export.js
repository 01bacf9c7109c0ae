// 导出 on /basedata: the records of the kind on screen, for the picked grid or the caller's whole
// area, as XLSX or CSV (GET /api/basedata-export/{kind}). The dialog says first that the file
// records who exported it and when (the server watermarks and audits every export); admins may
// ask for full ID numbers and phones, with a reason (audited too). The file is fetched with the
// page's token, so a refusal (too many records, no right) is shown here rather than downloaded,
// then saved under the name the server gives.

import { $ } from '../common/dom.js';
import { lang, t } from '../common/i18n.js';
import { ApiError, api, ensureSession, getToken } from '../common/live.js';
import { toast } from '../common/util.js';

/** The file name from Content-Disposition (RFC 6266: filename* first), else a plain one. */
export function fileName(header, fallback) {
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header || '');
  if (star) {
    try { return decodeURIComponent(star[1]); } catch { /* a bad escape: the plain name below */ }
  }
  const plain = /filename="([^"]+)"/i.exec(header || '');
  return plain ? plain[1] : fallback;
}

async function download(url) {
  await ensureSession();
  const headers = { Accept: 'application/json, */*' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(url, { headers });
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch { /* not JSON: the status says it */ }
    throw new ApiError(res.status, (body && body.error) || `HTTP ${res.status}`, body && body.detail);
  }
  const blob = await res.blob();
  const name = fileName(res.headers.get('Content-Disposition'), 'export');
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  return { id: res.headers.get('X-Export-Id') || '', name };
}

/** The grid and kind on screen, as basedata.js marks them on #records (none picked: people). */
function onScreen() {
  const records = $('records');
  return { grid: records.dataset.grid || null, kind: records.dataset.kind || 'people' };
}

export class ExportDialog {
  constructor() {
    this.state = onScreen();
    this.role = null;  // asked once, at the first opening (the page is signed in by then)
    this.dialog = $('export-dialog');
    $('export-reveal').addEventListener('change', () => { $('export-reason-row').hidden = !$('export-reveal').checked; });
    $('export-form').addEventListener('submit', (ev) => { ev.preventDefault(); this.send(); });
    $('export-cancel').addEventListener('click', () => this.dialog.close());
    $('export-open').addEventListener('click', () => this.open());
  }

  async open() {
    if (this.role === null) {
      try { this.role = (await api('/api/auth/me')).role; } catch { this.role = ''; }
    }
    // Full values are offered to admins (config basedata.reveal_roles' default); a 403 says otherwise.
    $('export-reveal-row').hidden = this.role !== 'admin';
    this.state = onScreen();
    const { grid, kind } = this.state;
    $('export-what').textContent = t(`basedata.tab.${kind}`);
    $('export-scope-grid').disabled = !grid;
    $(grid ? 'export-scope-grid' : 'export-scope-all').checked = true;
    $('export-reveal').checked = false;
    $('export-reason-row').hidden = true;
    $('export-reason').value = '';
    $('export-error').textContent = '';
    $('export-ok').disabled = false;
    this.dialog.showModal();
  }

  url() {
    const query = new URLSearchParams({ format: $('export-format').value, lang });
    if ($('export-scope-grid').checked && this.state.grid) query.set('area', this.state.grid);
    if ($('export-reveal').checked) {
      query.set('reveal', '1');
      query.set('reason', $('export-reason').value.trim());
    }
    return `/api/basedata-export/${this.state.kind}?${query}`;
  }

  async send() {
    if ($('export-reveal').checked && !$('export-reason').value.trim()) {
      $('export-error').textContent = t('basedata.export.need_reason');
      return;
    }
    $('export-ok').disabled = true;
    $('export-error').textContent = '';
    try {
      const saved = await download(this.url());
      this.dialog.close();
      this.dialog.dataset.lastExport = saved.id;
      toast(t('basedata.export.done', { id: saved.id }), 'ok', 4000);
    } catch (err) {
      $('export-ok').disabled = false;
      $('export-error').textContent = t('basedata.export.failed', { msg: err.message });
    }
  }
}

new ExportDialog();
