// 工作日历: a year as twelve month grids, marking holidays (休) and make-up workdays (班).
// Clicking a day sets it to the chosen kind, or clears a day set here; time limits run in
// working time, so the change moves the deadlines of cases created after it (city admins).

import { applyI18n, locale, t } from '../common/i18n.js';

const KINDS = { holiday: t('admin.calendar.kind.holiday'), workday: t('admin.calendar.kind.workday') };
const MARKS = { holiday: t('admin.calendar.mark.holiday'), workday: t('admin.calendar.mark.workday') };
const WEEK = t('admin.calendar.week').split(','); // Monday first
const escape = (text) => String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

let ctx;
let root;
let data = { days: [], weekend: [5, 6] };
const part = (name) => root.querySelector(`[data-part="${name}"]`);
const iso = (y, m, d) => `${y}-${String(m + 1).padStart(2, '0')}-${String(d).padStart(2, '0')}`;

// Kept with the section (the shell's stylesheet is shared): twelve months, 3 a row on a wide
// screen, 1 on a phone.
const STYLE = `
  .months { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 0.8rem; }
  .month h3 { font-size: 0.95rem; margin: 0 0 0.3rem; }
  .month-grid { display: grid; grid-template-columns: repeat(7, 1fr); gap: 2px; }
  .month-grid .wk { text-align: center; font-size: 0.75rem; color: var(--text-muted, #9aa4b2); }
  .month-grid .day { padding: 0.25rem 0; min-height: 2.2rem; border: 1px solid transparent; border-radius: 0.3rem;
    background: rgba(127, 127, 127, 0.08); color: inherit; font: inherit; font-size: 0.85rem; cursor: pointer; }
  .month-grid .day small { display: block; font-size: 0.7rem; line-height: 1; }
  .month-grid .day.weekend { background: rgba(127, 127, 127, 0.25); }
  .month-grid .day.holiday { background: rgba(220, 60, 60, 0.35); }
  .month-grid .day.workday { background: rgba(59, 130, 246, 0.35); }
  .month-grid .day.stored { border-color: currentColor; }`;

function layout() {
  if (!document.getElementById('calendar-style')) {
    document.head.append(ctx.el('style', { id: 'calendar-style' }, STYLE));
  }
  root.innerHTML = `
    <section class="panel" data-i18n-aria-label="admin.calendar.title">
      <div class="panel-head"><h2 data-i18n="admin.calendar.title"></h2>
        <span class="muted hint" data-part="hours"></span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="controls">
          <label><span data-i18n="admin.calendar.year"></span><input type="number" name="year" min="1970" max="2200" data-part="year"></label>
          <label><span data-i18n="admin.calendar.set_as"></span><select name="kind" data-part="kind">
            <option value="holiday">${escape(KINDS.holiday)}</option><option value="workday">${escape(KINDS.workday)}</option></select></label>
          <label><span data-i18n="admin.calendar.name"></span><input name="name" maxlength="40" data-i18n-placeholder="admin.calendar.name_hint"
            data-part="name"></label>
        </form>
        <p class="muted" data-i18n="admin.calendar.legend"></p>
        <div class="months" data-part="months"></div>
      </div>
    </section>`;
  applyI18n(root);
}

function dayCell(year, month, d, special) {
  const { el } = ctx;
  const day = iso(year, month, d);
  const weekday = (new Date(Date.UTC(year, month, d)).getUTCDay() + 6) % 7; // 0 = Monday
  const cls = ['day', data.weekend.includes(weekday) ? 'weekend' : '', special ? special.kind : '', special?.source === 'stored' ? 'stored' : '']
    .filter(Boolean).join(' ');
  const title = special ? `${day} ${KINDS[special.kind]}${special.name ? ` · ${special.name}` : ''}` : day;
  const mark = special ? (MARKS[special.kind] || '') : '';
  const cell = el('button', { type: 'button', class: cls, title, dataset: { day } }, String(d), mark ? el('small', {}, mark) : null);
  cell.addEventListener('click', () => toggle(day, special));
  return cell;
}

/** A month's heading: "3 月" in Chinese, the month's own name in another language. */
const monthName = (year, month) => t('admin.calendar.month', {
  m: month + 1, name: new Date(Date.UTC(year, month, 1)).toLocaleString(locale, { month: 'long', timeZone: 'UTC' }),
});

function monthGrid(year, month, byDay) {
  const { el } = ctx;
  const first = (new Date(Date.UTC(year, month, 1)).getUTCDay() + 6) % 7;
  const count = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const cells = [...WEEK.map((w) => el('span', { class: 'wk' }, w)), ...Array.from({ length: first }, () => el('span', {}))];
  for (let d = 1; d <= count; d += 1) cells.push(dayCell(year, month, d, byDay.get(iso(year, month, d))));
  return el('div', { class: 'month' }, el('h3', {}, monthName(year, month)), el('div', { class: 'month-grid' }, cells));
}

async function load() {
  const year = Number(part('year').value);
  const out = await ctx.call(() => ctx.api(`/api/calendar?year=${year}`));
  if (!out) return;
  data = out;
  part('hours').textContent = t('admin.calendar.hours', { hours: out.work_hours.map(([a, b]) => `${a}–${b}`).join(t('admin.list_sep')) });
  const byDay = new Map(out.days.map((d) => [d.day, d]));
  part('months').replaceChildren(...Array.from({ length: 12 }, (_, m) => monthGrid(year, m, byDay)));
}

async function toggle(day, special) {
  if (ctx.me.jurisdiction) {
    ctx.toast(t('admin.calendar.city_only'), 'error', 4000);
    return;
  }
  const kind = part('kind').value;
  const path = `/api/calendar/${day}`;
  if (special?.source === 'stored' && special.kind === kind) {
    const cleared = await ctx.call(async () => { await ctx.api(path, { method: 'DELETE' }); return true; },
      t('admin.calendar.cleared', { day }));
    if (cleared) load();
    return;
  }
  const body = { kind, name: part('name').value.trim() };
  const done = t(kind === 'holiday' ? 'admin.calendar.set.holiday' : 'admin.calendar.set.workday', { day });
  if (await ctx.call(() => ctx.api(path, { method: 'PUT', body }), done)) load();
}

export async function mount(section, context) {
  root = section;
  ctx = context;
  layout();
  part('year').value = new Date().getFullYear();
  part('year').addEventListener('change', load);
  await load();
}
