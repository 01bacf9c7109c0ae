// 工作日历: a year as twelve month grids, marking holidays (休) and make-up workdays (班).
// Clicking a day sets it to the chosen kind, or clears a day set here; time limits run in
// working time, so the change moves the deadlines of cases created after it (city admins).

const KINDS = { holiday: '法定假日', workday: '调休上班' };
const WEEK = ['一', '二', '三', '四', '五', '六', '日'];

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
    <section class="panel" aria-label="工作日历">
      <div class="panel-head"><h2>工作日历</h2>
        <span class="muted hint" data-part="hours"></span></div>
      <div class="panel-body">
        <form class="admin-form" data-part="controls">
          <label>年份<input type="number" name="year" min="1970" max="2200" data-part="year"></label>
          <label>点击日期设为<select name="kind" data-part="kind">
            <option value="holiday">${KINDS.holiday}</option><option value="workday">${KINDS.workday}</option></select></label>
          <label>名称<input name="name" maxlength="40" placeholder="例：国庆节" data-part="name"></label>
        </form>
        <p class="muted">休 = 放假；班 = 周末调休上班；灰色为周末。点击本页设置过的日期可清除（恢复配置文件中的安排）。</p>
        <div class="months" data-part="months"></div>
      </div>
    </section>`;
}

function dayCell(year, month, d, special) {
  const { el } = ctx;
  const day = iso(year, month, d);
  const weekday = (new Date(Date.UTC(year, month, d)).getUTCDay() + 6) % 7; // 0 = Monday
  const cls = ['day', data.weekend.includes(weekday) ? 'weekend' : '', special ? special.kind : '', special?.source === 'stored' ? 'stored' : '']
    .filter(Boolean).join(' ');
  const title = special ? `${day} ${KINDS[special.kind]}${special.name ? ` · ${special.name}` : ''}` : day;
  const mark = special ? (special.kind === 'holiday' ? '休' : '班') : '';
  const cell = el('button', { type: 'button', class: cls, title, dataset: { day } }, String(d), mark ? el('small', {}, mark) : null);
  cell.addEventListener('click', () => toggle(day, special));
  return cell;
}

function monthGrid(year, month, byDay) {
  const { el } = ctx;
  const first = (new Date(Date.UTC(year, month, 1)).getUTCDay() + 6) % 7;
  const count = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const cells = [...WEEK.map((w) => el('span', { class: 'wk' }, w)), ...Array.from({ length: first }, () => el('span', {}))];
  for (let d = 1; d <= count; d += 1) cells.push(dayCell(year, month, d, byDay.get(iso(year, month, d))));
  return el('div', { class: 'month' }, el('h3', {}, `${month + 1} 月`), el('div', { class: 'month-grid' }, cells));
}

async function load() {
  const year = Number(part('year').value);
  const out = await ctx.call(() => ctx.api(`/api/calendar?year=${year}`));
  if (!out) return;
  data = out;
  part('hours').textContent = `工作时间 ${out.work_hours.map(([a, b]) => `${a}–${b}`).join('、')}`;
  const byDay = new Map(out.days.map((d) => [d.day, d]));
  part('months').replaceChildren(...Array.from({ length: 12 }, (_, m) => monthGrid(year, m, byDay)));
}

async function toggle(day, special) {
  if (ctx.me.jurisdiction) {
    ctx.toast('只有市级管理员可以修改工作日历', 'error', 4000);
    return;
  }
  const kind = part('kind').value;
  const path = `/api/calendar/${day}`;
  if (special?.source === 'stored' && special.kind === kind) {
    const cleared = await ctx.call(async () => { await ctx.api(path, { method: 'DELETE' }); return true; }, `${day} 已清除`);
    if (cleared) load();
    return;
  }
  const body = { kind, name: part('name').value.trim() };
  if (await ctx.call(() => ctx.api(path, { method: 'PUT', body }), `${day} 设为${KINDS[kind]}`)) load();
}

export async function mount(section, context) {
  root = section;
  ctx = context;
  layout();
  part('year').value = new Date().getFullYear();
  part('year').addEventListener('change', load);
  await load();
}
