// The worker's re-check tasks (基础数据定期核实, GET /api/basedata/tasks): each record due for
// re-checking in words (a building's name and address, a household's building and room), its
// deadline, overdue ones in red. 核实无误 PATCHes the record with "verified": true on the version
// the list gave (the task closes and the next check moves on by the cycle); 修改 hands the record
// to the 采集 tab's form (collect.js) with a 'collect:edit' event, whose submit is a re-check too.
//
// A module of its own, loaded by index.html: it renders into the 采集 tab's #collect-checks and
// reloads on opening that tab, every few minutes, when the phone is back online, and on a
// window 'checks:reload' event (e.g. when the hub says `verify_tasks.opened`).

import { $, el } from '../common/dom.js';
import { fmtTime, t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { retryWithBackoff } from '../common/retry.js';
import { toast } from '../common/util.js';

const c = (key, vars) => t(`terminal.checks.${key}`, vars);
const RELOAD_MS = 5 * 60 * 1000;
const KINDS = new Set(['address', 'building', 'household', 'person', 'organisation']);
const state = { worker: '', today: '', items: [], total: 0, busy: new Set(), loaded: false };

/** The server's refusal in the worker's words (never its English). */
function reasonOf(err) {
  if (err.status === 0) return err.message;
  if (err.status === 409) return c('err.changed');
  if (err.status === 404) return c('err.gone');
  if (err.status === 403) return c('err.forbidden');
  return c('err.other', { status: err.status });
}

function whenText(task) {
  if (task.state === 'overdue') return c('overdue', { n: task.days_overdue });
  const date = fmtTime(`${task.due_on}T12:00:00`, 'date');
  return task.due_on === state.today ? c('due_today') : c('due_by', { date });
}

function taskCard(task) {
  const kind = KINDS.has(task.kind) ? c(`kind.${task.kind}`) : task.kind;
  const busy = state.busy.has(task.id);
  const ok = el('button', { class: 'btn btn-ok', type: 'button', disabled: busy, dataset: { action: 'verify' } },
    busy ? c('sending') : c('ok'));
  const edit = el('button', { class: 'btn', type: 'button', disabled: busy, dataset: { action: 'edit' } }, c('edit'));
  ok.addEventListener('click', () => verify(task));
  edit.addEventListener('click', () => {
    window.dispatchEvent(new CustomEvent('collect:edit', { detail: { kind: task.kind, id: task.record_id } }));
  });
  const where = [task.address && task.address !== task.label ? task.address : null, task.grid_name].filter(Boolean);
  return el('li', { class: 'check', dataset: { taskId: task.id, state: task.state } },
    el('div', { class: 'check-head' },
      el('span', { class: 'check-label' }, task.label),
      el('span', { class: 'check-kind badge' }, kind)),
    where.length ? el('div', { class: 'check-where muted' }, where.join(' · ')) : null,
    el('div', { class: 'check-when', dataset: { state: task.state } }, whenText(task)),
    el('div', { class: 'check-buttons' }, ok, edit));
}

function render() {
  const box = $('collect-checks');
  if (!box) return;
  const shown = state.items.map(taskCard);
  const more = state.total > state.items.length ? el('p', { class: 'muted' }, c('more', { n: state.total - state.items.length })) : null;
  box.replaceChildren(...[
    el('h2', { class: 'checks-title' }, c('title'), ' ', el('span', { class: 'tab-count', id: 'checks-count' }, String(state.total))),
    el('p', { class: 'rounds-error', id: 'checks-error', role: 'alert', hidden: true }),
    el('ul', { class: 'checks', id: 'checks' }, shown.length ? shown : el('li', { class: 'empty' }, c(state.loaded ? 'empty' : 'loading'))),
    more,
  ].filter(Boolean));
}

function sayError(text) {
  const node = $('checks-error');
  if (!node) return;
  node.textContent = text || '';
  node.hidden = !text;
}

async function load() {
  if (!state.worker) return;
  try {
    const page = await api(`/api/basedata/tasks?state=open&limit=100&worker=${encodeURIComponent(state.worker)}`);
    state.items = page.items || [];
    state.total = page.total || 0;
    state.today = page.today;
    state.loaded = true;
    render();
  } catch (err) {
    if (err.status === 401) return; // the page's own sign-in handles it
    render();
    sayError(c('failed', { reason: reasonOf(err) }));
  }
}

/** 核实无误: the record re-checked as it stands, on the version the list gave. */
async function verify(task) {
  state.busy.add(task.id);
  render();
  try {
    await api(task.record_path, { method: 'PATCH', body: { version: task.version, verified: true } });
    toast(c('done', { label: task.label }), 'ok', 3000);
  } catch (err) {
    toast(c('refused', { label: task.label, reason: reasonOf(err) }), 'error', 8000);
  } finally {
    state.busy.delete(task.id);
  }
  await load(); // the task gone (done), or the record's new version after a 409
}

async function start() {
  const asked = (new URLSearchParams(location.search).get('worker') || '').trim();
  // As the nav asks: a phone between cells waits for the server; a 401 is the page's sign-in.
  const me = await retryWithBackoff(() => api('/api/auth/me'), { onError: (err) => !(err.status >= 400 && err.status < 500) })
    .catch(() => null);
  state.worker = (me && me.worker_id) || asked;
  if (!state.worker || !$('collect-checks')) return;
  render();
  load();
  setInterval(() => { if (!document.hidden) load(); }, RELOAD_MS);
  window.addEventListener('online', load);
  window.addEventListener('checks:reload', load);
  const tab = document.querySelector('.tab[data-tab="collect"]');
  if (tab) tab.addEventListener('click', load);
}

start();
