// The emergency teams as people, nearest the scene first: each member by name, leader or
// member, on duty or not, where their phone last was, and the tasks they hold.

import { el } from '../common/dom.js';
import { fmtTime, t } from '../common/i18n.js';

const OPEN_TEAMS = 2; // the nearest teams open; the rest folded

function member(m) {
  return el('li', { class: 'em-member', dataset: { workerId: m.worker_id, duty: String(m.on_duty) } },
    el('span', { class: 'em-member-name' }, m.name),
    m.role === 'leader' ? el('span', { class: 'badge' }, t('emergency.teams.leader')) : null,
    el('span', { class: 'em-duty', dataset: { on: String(m.on_duty) } }, t(m.on_duty ? 'emergency.teams.on_duty' : 'emergency.teams.off_duty')),
    m.position ? el('span', { class: 'muted' }, t('emergency.teams.seen', { time: fmtTime(m.position.ts, 'time') })) : null,
    m.tasks && m.tasks.length ? el('span', { class: 'em-member-tasks' }, t('emergency.teams.holds', { tasks: m.tasks.join('、') })) : null);
}

export function renderTeams(list, teams) {
  const open = new Set([...list.querySelectorAll('details[open]')].map((d) => d.dataset.teamId));
  const first = list.children.length === 0;
  list.replaceChildren(...teams.map((team, i) => el('li', { class: 'em-team', dataset: { teamId: team.id } },
    el('details', { dataset: { teamId: team.id }, open: first ? i < OPEN_TEAMS : open.has(team.id) },
      el('summary', {},
        el('b', {}, team.name),
        el('span', { class: 'muted' }, t('emergency.teams.count', { on: team.on_duty, n: team.members.length })),
        Number.isFinite(team.distance_m) ? el('span', { class: 'muted' }, t('emergency.teams.distance', { km: (team.distance_m / 1000).toFixed(1) })) : null),
      el('ul', { class: 'em-members' }, team.members.map(member))))));
  if (!teams.length) list.append(el('li', { class: 'empty' }, t('emergency.teams.none')));
}
