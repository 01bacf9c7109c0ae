// A mode's timeline in words: each structured entry (who, what, which task, the note) becomes
// a sentence from the catalogue's emergency.tl.* messages, exactly as the server writes the
// handover (command_center/emergency/timeline.py): "14:02 王伟（天河南街应急队）完成任务「现场警戒」：已拉警戒线".

import { el } from '../common/dom.js';
import { fmtTime, has, nameOf, t } from '../common/i18n.js';

/** A person by name (and team); staff without a roster name by their role. */
export function who(entry) {
  const person = entry.actor_name || nameOf('role', entry.actor_role, '') || t('emergency.tl.someone');
  return entry.actor_team ? t('emergency.tl.who_team', { name: person, team: entry.actor_team }) : person;
}

/** A task's assignee in words: a member (with their team) or a team. */
export function target(assignee) {
  if (!assignee) return '';
  if (assignee.kind === 'worker' && assignee.team) return t('emergency.tl.who_team', { name: assignee.name, team: assignee.team });
  return assignee.name || '';
}

export function sentence(entry) {
  const action = String(entry.action || '');
  const text = String(entry.text || '');
  const values = {
    who: who(entry), task: entry.task_title || '', text, target: target(entry.target), plan: entry.plan || '',
    cameras: entry.cameras ?? 0, radius: Math.round(Number(entry.radius_m) || 0),
  };
  let key = `emergency.tl.${action}`;
  if ((action === 'task.done' || action === 'end') && text) key += '_note';
  if (action === 'start' && !('plan' in entry)) key = 'emergency.tl.note'; // an entry from before the structure
  return t(has(key) ? key : 'emergency.tl.note', values);
}

/** The timeline as list items, newest last (the page scrolls to the end). */
export function renderTimeline(list, entries) {
  list.replaceChildren(...(entries || []).map((e) => el('li', { dataset: { action: e.action || '' } },
    el('time', { class: 'num', datetime: e.ts }, fmtTime(e.ts, 'time')), ' ', sentence(e))));
  const body = list.parentElement;
  if (body) body.scrollTop = body.scrollHeight;
}
