// The mode's tasks: title and kind, to whom (a named member or a team), when due (counting
// down), state (待处理 / 已指派 / 已收到 / 已完成), and for staff a reassign control (a member or
// a team, nearest teams first), 收到 and 完成 on behalf of the assignee.

import { el } from '../common/dom.js';
import { fmtTime, t } from '../common/i18n.js';
import { fmtRemaining, parseTs } from '../common/util.js';
import { target } from './timeline.js';

const TEAMS_IN_PICKER = 6; // the nearest teams: a city has hundreds

function picker(task, teams, onAssign) {
  const select = el('select', { 'aria-label': t('emergency.tasks.reassign'), dataset: { task: task.id } },
    el('option', { value: '' }, t('emergency.tasks.reassign')));
  for (const team of teams.slice(0, TEAMS_IN_PICKER)) {
    const group = el('optgroup', { label: team.name });
    group.append(el('option', { value: `team:${team.id}` }, t('emergency.tasks.whole_team', { team: team.name })));
    for (const m of team.members) {
      const duty = m.on_duty ? t('emergency.teams.on_duty') : t('emergency.teams.off_duty');
      group.append(el('option', { value: `worker:${m.worker_id}` }, `${m.name} · ${duty}`));
    }
    select.append(group);
  }
  select.addEventListener('change', () => {
    const [kind, id] = select.value.split(/:(.*)/s);
    if (!id) return;
    select.disabled = true;
    onAssign(task, kind === 'team' ? { team: id } : { worker: id }).finally(() => { select.disabled = false; select.value = ''; });
  });
  return select;
}

function stateBadge(task) {
  const state = task.state || (task.done ? 'done' : 'open');
  return el('span', { class: 'badge', dataset: { state } }, t(`emergency.task_state.${state}`));
}

/** One task's row; `actions` {assign(task, body), ack(task), done(task)} or null when ended. */
function row(task, teams, actions) {
  const assignee = target(task.assignee) || t('emergency.tasks.nobody');
  const due = task.done
    ? el('span', { class: 'em-task-due' }, t('emergency.tasks.done_at', { time: fmtTime(task.done_at, 'time') }))
    : el('span', { class: 'em-task-due num', dataset: { due: task.due_at } }, '');
  const side = el('div', { class: 'em-task-side' }, stateBadge(task));
  const rowEl = el('li', { class: 'em-task', dataset: { taskId: task.id, state: task.state || '' } },
    el('div', {},
      el('div', { class: 'em-task-title' }, task.title),
      el('div', { class: 'em-task-meta' }, t('emergency.tasks.kind', { kind: task.role || '—' }), ' · ', due),
      el('div', { class: 'em-task-who' }, t('emergency.tasks.assignee', { who: assignee }),
        task.acked_at ? ` · ${t('emergency.tasks.acked', { who: task.acked_by_name || '', time: fmtTime(task.acked_at, 'time') })}` : ''),
      task.note ? el('div', { class: 'em-task-note' }, t('emergency.tasks.note', { note: task.note })) : null),
    side);
  if (actions && !task.done) {
    const buttons = el('div', { class: 'em-task-actions' }, picker(task, teams, actions.assign));
    if (task.state !== 'acked') buttons.append(el('button', { class: 'btn', type: 'button', dataset: { act: 'ack' }, onclick: () => actions.ack(task) }, t('emergency.tasks.ack')));
    buttons.append(el('button', { class: 'btn btn-ok', type: 'button', dataset: { act: 'done' }, onclick: () => actions.done(task) }, t('emergency.tasks.done')));
    rowEl.append(buttons);
  }
  return rowEl;
}

export function renderTasks(list, mode, teams, actions) {
  const tasks = (mode && mode.tasks) || [];
  list.replaceChildren(...tasks.map((task) => row(task, teams, mode.ended_at ? null : actions)));
  if (!tasks.length) list.append(el('li', { class: 'empty' }, t('emergency.tasks.none')));
  tickDue(list);
  return tasks.filter((x) => !x.done).length;
}

/** Countdowns to each open task's deadline ("剩余 12 分钟", "已超时 3 分钟"). */
export function tickDue(root) {
  const now = Date.now();
  for (const node of root.querySelectorAll('[data-due]')) {
    const ms = parseTs(node.dataset.due) - now;
    node.textContent = fmtRemaining(ms);
    node.dataset.late = String(ms < 0);
  }
}
