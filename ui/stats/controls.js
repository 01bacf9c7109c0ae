// The statistics page's controls: the period (日/周/月/季/年/自定义, with ‹ › to step), the
// source and matter-class filters, and the breadcrumbs of the area (city → district → street
// → community → grid), each crumb a step back up. They change the view through `onChange`.

import { $, $$, el } from '../common/dom.js';
import { nameOf, t } from '../common/i18n.js';
import { isDay, periodRange, stepAnchor } from './period.js';
import { rangeOf } from './state.js';

export const SOURCES = ['video', 'iot', 'citizen', 'worker', 'emergency'];
export const CLASSES = ['01', '02', '03', '04', '05', '99'];
const option = (value, text) => el('option', { value }, text);

export class Controls {
  constructor({ onChange }) {
    this.onChange = onChange;
    $('f-source').append(...SOURCES.map((s) => option(s, nameOf('source', s))));
    $('f-class').append(...CLASSES.map((c) => option(c, nameOf('common.matter_class', c))));
    for (const button of $$('#periods [data-period]')) {
      button.addEventListener('click', () => this.pickPeriod(button.dataset.period));
    }
    $('prev').addEventListener('click', () => this.step(-1));
    $('next').addEventListener('click', () => this.step(1));
    $('f-source').addEventListener('change', () => this.onChange({ source: $('f-source').value }));
    $('f-class').addEventListener('change', () => this.onChange({ matter_class: $('f-class').value }));
    $('custom').addEventListener('submit', (ev) => { ev.preventDefault(); this.applyCustom(); });
  }

  /** The controls as the view `state` has them. */
  show(state) {
    this.state = state;
    for (const button of $$('#periods [data-period]')) button.setAttribute('aria-pressed', String(button.dataset.period === state.period));
    const custom = state.period === 'custom';
    $('custom').hidden = !custom;
    $('stepper').hidden = custom;
    const { from, to } = rangeOf(state);
    $('f-from').value = from;
    $('f-to').value = to;
    $('period-label').textContent = from === to ? from : t('stats.range', { from, to });
    $('f-source').value = state.source;
    $('f-class').value = state.matter_class;
    $('custom-error').textContent = '';
  }

  pickPeriod(period) {
    if (period === 'custom') {
      const { from, to } = rangeOf(this.state);  // start from the days on screen
      this.onChange({ period, from, to });
      return;
    }
    // Keep the anchor inside what was shown, so 月 after 年 is a month of that year.
    const anchor = this.state.period === 'custom' ? this.state.from : this.state.date;
    this.onChange({ period, date: periodRange(period, anchor).from });
  }

  step(direction) {
    this.onChange({ date: stepAnchor(this.state.period, this.state.date, direction) });
  }

  applyCustom() {
    const from = $('f-from').value;
    const to = $('f-to').value;
    if (!isDay(from) || !isDay(to) || from > to) {
      $('custom-error').textContent = t('stats.err.range');
      return;
    }
    this.onChange({ period: 'custom', from, to });
  }
}

