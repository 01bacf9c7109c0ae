// The response plans' editor (预案管理), for the city's administrators: per emergency class its
// radius, detect rate, threshold factor, drones pinned, and its tasks (title, kind, minutes
// to do it in, the team it goes to and whether to its leader alone). The server validates the
// whole plan (PUT /api/emergency/plans/{class}); a refusal names each field, marked here.

import { $, el } from '../common/dom.js';
import { has, nameOf, t } from '../common/i18n.js';
import { api } from '../common/live.js';
import { toast } from '../common/util.js';

let plans = [];
let teams = [];

function taskRow(task = { title: '', role: '', due_min: 15, team: '', assign: 'team' }, i = 0) {
  const input = (name, attrs) => el('input', { name, value: task[name] ?? '', dataset: { field: `tasks.${i}.${name}` }, ...attrs });
  const team = el('select', { name: 'team', dataset: { field: `tasks.${i}.team` } },
    el('option', { value: '' }, t('emergency.plans.street_team')),
    teams.map((x) => el('option', { value: x.id, selected: x.id === task.team }, x.name)));
  const assign = el('select', { name: 'assign', dataset: { field: `tasks.${i}.assign` } },
    el('option', { value: 'team', selected: task.assign !== 'leader' }, t('emergency.plans.to_team')),
    el('option', { value: 'leader', selected: task.assign === 'leader' }, t('emergency.plans.to_leader')));
  const row = el('div', { class: 'em-plan-task' },
    el('label', {}, t('emergency.plans.task_title'), input('title', { maxlength: 200, required: true })),
    el('label', {}, t('emergency.plans.task_kind'), input('role', { maxlength: 50, required: true })),
    el('label', {}, t('emergency.plans.task_due'), input('due_min', { type: 'number', min: 1, step: 'any', required: true })),
    el('label', {}, t('emergency.plans.task_team'), team),
    el('label', {}, t('emergency.plans.task_assign'), assign),
    el('button', { class: 'btn', type: 'button', 'aria-label': t('emergency.plans.remove_task'), onclick: () => { row.remove(); renumber(); } }, '✕'));
  return row;
}

function renumber() {
  [...$('plan-tasks').children].forEach((row, i) => {
    for (const node of row.querySelectorAll('[data-field]')) node.dataset.field = node.dataset.field.replace(/^tasks\.\d+/, `tasks.${i}`);
  });
}

function fill(cls) {
  const item = plans.find((p) => p.class === cls);
  if (!item) return;
  const form = $('plans-form');
  const plan = item.plan;
  for (const name of ['name', 'radius_m', 'detect_fps', 'threshold_factor']) form.elements[name].value = plan[name] ?? '';
  form.elements.pin_drones.checked = !!plan.pin_drones;
  $('plan-tasks').replaceChildren(...(plan.tasks || []).map((task, i) => taskRow(task, i)));
  clearErrors();
}

function clearErrors() {
  $('plans-error').textContent = '';
  for (const node of $('plans-form').querySelectorAll('[data-invalid]')) node.removeAttribute('data-invalid');
}

function collect(item) {
  const form = $('plans-form');
  const number = (v) => (v === '' ? v : Number(v));
  const tasks = [...$('plan-tasks').children].map((row) => {
    const get = (name) => row.querySelector(`[name=${name}]`).value;
    return { title: get('title').trim(), role: get('role').trim(), due_min: number(get('due_min')), team: get('team'), assign: get('assign') };
  });
  return {
    ...item.plan, name: form.elements.name.value.trim(), radius_m: number(form.elements.radius_m.value),
    detect_fps: number(form.elements.detect_fps.value), threshold_factor: number(form.elements.threshold_factor.value),
    pin_drones: form.elements.pin_drones.checked, tasks,
  };
}

async function save() {
  const cls = $('plan-class').value;
  const item = plans.find((p) => p.class === cls);
  clearErrors();
  try {
    const saved = await api(`/api/emergency/plans/${encodeURIComponent(cls)}`, { method: 'PUT', body: collect(item) });
    plans = plans.map((p) => (p.class === cls ? saved : p));
    toast(t('emergency.plans.saved', { name: nameOf('emclass', cls) }), 'ok');
  } catch (err) {
    const problems = Array.isArray(err.detail) ? err.detail : [];
    for (const p of problems) {
      const node = $('plans-form').querySelector(`[data-field="${CSS.escape(p.field)}"]`);
      if (node) { node.dataset.invalid = 'true'; node.title = p.reason; } // the validator's reason, on hover
    }
    $('plans-error').textContent = problems.length
      ? t('emergency.plans.problem', { fields: problems.map((p) => fieldName(p.field)).join('、') })
      : t('emergency.error.failed', { status: err.status || '' });
  }
}

/** A field path in words ("任务 2 · 时限"), for the error line. */
function fieldName(path) {
  const m = /^tasks\.(\d+)\.(\w+)$/.exec(path || '');
  if (m) return t('emergency.plans.field_task', { n: Number(m[1]) + 1, field: t(`emergency.plans.field.${m[2]}`) });
  const key = `emergency.plans.field.${path}`;
  return t(has(key) ? key : `emergency.plans.field.${String(path).split('.')[0]}`);
}

/** Wires the dialog (the button shows it: city administrators only). */
export function setupPlans(button) {
  button.hidden = false;
  $('plan-class').addEventListener('change', () => fill($('plan-class').value));
  $('plan-add-task').addEventListener('click', () => $('plan-tasks').append(taskRow(undefined, $('plan-tasks').children.length)));
  $('plan-save').addEventListener('click', save);
  button.addEventListener('click', async () => {
    try {
      const [found, stored] = await Promise.all([api('/api/emergency/plans'), api('/api/roster/teams')]);
      plans = found.items;
      teams = stored.items; // every team, for a task's default team
      $('plan-class').replaceChildren(...plans.map((p) => el('option', { value: p.class }, nameOf('emclass', p.class))));
      fill(plans[0] && plans[0].class);
      $('plans-dialog').showModal();
    } catch (err) {
      toast(t('emergency.error.failed', { status: err.status || '' }), 'error');
    }
  });
}
