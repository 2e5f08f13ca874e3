// Operations: how far behind each runner (projection, saga, window) is, its dead letters with
// Retry and Skip, saga instances by status, and a live chart of each window's latest windows.
// `/operations` and `/dead-letters` are polled while the view is open; rows are updated in
// place, so focus and inline messages survive a refresh.

import { getJson, path, postJson, refreshOverview } from './api.js';
import { badge, describeError, errorElement, h, jsonBlock, svg, syncChildren, timeElement } from './dom.js';

const POLL_MS = 2000;
const INSTANCES_LISTED = 50;
const WINDOWS_LISTED = 8;
const SESSION_BARS = 12;

const section = document.getElementById('view-operations');
const statusLine = document.getElementById('operations-status');
const body = document.getElementById('operations-body');

const runnersBody = h('tbody');
const deadLetterList = h('ul', { class: 'dead-letters' });
const deadLetterNote = h('p', { class: 'muted' });
const sagaCards = h('div', { class: 'cards' });
const windowCards = h('div', { class: 'cards' });

// What each dead letter's last action said, by `runner/id`, kept across refreshes.
const letterMessages = new Map();
// Each window's live chart, by name: its card, data and stream.
const windowCharts = new Map();
let pollTimer = null;
// Each showing of the view polls as its own generation: a late answer to an earlier one is dropped.
let generation = 0;

export const element = section;

export function show() {
  if (body.childElementCount === 0) buildSkeleton();
  generation += 1;
  poll(generation);
}

export function hide() {
  generation += 1;
  clearTimeout(pollTimer);
  for (const chart of windowCharts.values()) chart.resize.disconnect();
  windowCharts.clear();
  windowCards.replaceChildren();
}

function buildSkeleton() {
  body.append(
    h('h2', { text: 'Runners' }),
    h('div', { class: 'table-wrap' }, h('table', { class: 'runners' },
      h('thead', {}, h('tr', {}, ['Runner', 'State', 'Lag', 'Position', 'Dead letters', 'Kind', 'Error'].map((name) => h('th', { scope: 'col', text: name })))),
      runnersBody)),
    h('h2', { text: 'Dead letters' }),
    deadLetterNote,
    deadLetterList,
    h('h2', { text: 'Sagas' }),
    sagaCards,
    h('h2', { text: 'Windows' }),
    windowCards,
  );
}

async function poll(mine) {
  clearTimeout(pollTimer);
  try {
    const [service, letters] = await Promise.all([refreshOverview(), getJson('/dead-letters')]);
    if (mine !== generation) return;
    renderRunners(service);
    renderDeadLetters(letters.dead_letters);
    renderSagas(service.sagas ?? []);
    renderWindows(service.windows ?? []);
    statusLine.replaceChildren('Updated ', timeElement(new Date().toISOString()), ` · every ${POLL_MS / 1000} s`);
    statusLine.classList.remove('error');
  } catch (error) {
    if (mine !== generation) return;
    statusLine.textContent = `Could not refresh: ${describeError(error)}`;
    statusLine.classList.add('error');
  }
  // An action's refresh may end beside the timer's: keep one timer.
  clearTimeout(pollTimer);
  pollTimer = setTimeout(() => poll(mine), POLL_MS);
}

// --- Runners.

function runnerRows(service) {
  const row = (kind) => ({ name, position, lag, state, error, dead_letters: deadLetters }) => ({ kind, name, position, lag, state, error, deadLetters });
  return [
    ...(service.projections ?? []).map(row('projection')),
    ...(service.sagas ?? []).map(row('saga')),
    ...(service.windows ?? []).map(row('window')),
  ];
}

function renderRunners(service) {
  syncChildren(runnersBody, runnerRows(service), (runner) => `${runner.kind}/${runner.name}`, (runner) => h('tr', {
    dataset: { testid: 'projection-row', name: runner.name, kind: runner.kind },
  }), (tr, runner) => {
    tr.replaceChildren(
      h('th', { scope: 'row', class: 'mono', text: runner.name }),
      h('td', {}, badge(runner.state)),
      h('td', { class: runner.lag > 0 ? 'number behind' : 'number', text: runner.lag?.toLocaleString() ?? '—' }),
      h('td', { class: 'number', text: runner.position?.toLocaleString() ?? '—' }),
      // null: the runner cannot say now (not running here, or busy).
      h('td', { class: runner.deadLetters > 0 ? 'number behind' : 'number', dataset: { testid: 'dead-letter-count' }, text: runner.deadLetters === null || runner.deadLetters === undefined ? '—' : String(runner.deadLetters) }),
      h('td', { text: runner.kind }),
      h('td', { class: 'runner-error', text: runner.error ?? '' }),
    );
  });
}

// --- Dead letters.

function letterKey(letter) {
  return `${letter.runner}/${letter.id}`;
}

function renderDeadLetters(letters) {
  deadLetterNote.textContent = letters.length === 0
    ? 'None: every runner handled every event it read.'
    : 'Events a runner failed to handle. Retry runs it again; Skip drops it for that runner. Only the earliest of a stream can be retried or skipped.';
  const keys = new Set(letters.map(letterKey));
  for (const key of letterMessages.keys()) if (!keys.has(key)) letterMessages.delete(key);
  syncChildren(deadLetterList, letters, letterKey, createLetter, updateLetter);
}

function createLetter(letter) {
  const retry = h('button', { type: 'button', dataset: { testid: 'retry-dead-letter' }, text: 'Retry', onclick: () => act(letter, 'retry', item) });
  const skip = h('button', { type: 'button', class: 'quiet', dataset: { testid: 'skip-dead-letter' }, text: 'Skip', onclick: () => act(letter, 'skip', item) });
  const item = h('li', { class: 'dead-letter', dataset: { testid: 'dead-letter', runner: letter.runner, id: String(letter.id) } },
    h('div', { class: 'letter-head' }),
    h('pre', { class: 'letter-error' }),
    h('div', { class: 'letter-actions' }, retry, skip, h('span', { class: 'letter-message', role: 'status' })));
  return item;
}

function updateLetter(item, letter) {
  item.querySelector('.letter-head').replaceChildren(
    h('strong', { class: 'mono', text: letter.runner }), ` #${letter.id} · `,
    h('span', { class: 'mono', text: letter.type }), ' on ',
    h('a', { class: 'mono', href: `#/stream/${encodeURIComponent(letter.stream)}`, text: letter.stream }),
    ` · position ${letter.position} · ${letter.attempts} attempts`,
    letter.parked ? h('span', { class: 'badge badge-parked', title: 'Waits behind an earlier dead letter of its stream', text: 'parked' }) : '');
  item.querySelector('.letter-error').textContent = letter.error;
  for (const button of item.querySelectorAll('button')) {
    button.disabled = letter.parked;
    button.title = letter.parked ? 'Waits behind an earlier dead letter of its stream' : '';
  }
  showLetterMessage(item, letterMessages.get(letterKey(letter)));
}

function showLetterMessage(item, message) {
  const line = item.querySelector('.letter-message');
  line.textContent = message?.text ?? '';
  line.classList.toggle('error', Boolean(message?.error));
}

async function act(letter, action, item) {
  if (action === 'skip' && !confirm(`Skip event #${letter.position} for ${letter.runner}? It will never handle it.`)) return;
  const key = letterKey(letter);
  const buttons = item.querySelectorAll('button');
  buttons.forEach((button) => { button.disabled = true; });
  showLetterMessage(item, { text: action === 'retry' ? 'Retrying…' : 'Skipping…' });
  try {
    const answer = await postJson(`${path('dead-letters', letter.runner, String(letter.id))}/${action}`);
    // Released, then one parked behind it may have failed in turn.
    const failed = answer.failed ? `; #${answer.failed.id} failed: ${answer.failed.error}` : '';
    letterMessages.set(key, { text: `${action === 'retry' ? 'Retried' : 'Skipped'}: ${answer.released ?? 0} released${failed}`, error: Boolean(answer.failed) });
  } catch (error) {
    letterMessages.set(key, { text: describeError(error), error: true });
  }
  showLetterMessage(item, letterMessages.get(key));
  buttons.forEach((button) => { button.disabled = false; });
  if (!section.hidden) poll(generation);
}

// --- Sagas: instances by status, one instance in full.

function renderSagas(sagas) {
  syncChildren(sagaCards, sagas.map(({ name, state, instances }) => ({ name, state, instances })), (saga) => saga.name, createSagaCard, (card, saga) => {
    card.querySelector('.saga-state').replaceChildren(badge(saga.state));
    const counts = card.querySelector('.status-counts');
    syncChildren(counts, Object.entries(saga.instances ?? {}), ([status]) => status, ([status]) => h('button', {
      type: 'button', class: 'quiet', 'aria-pressed': 'false', dataset: { status },
      onclick: (click) => listInstances(card, saga.name, status, click.currentTarget),
    }), (button, [status, count]) => {
      button.textContent = `${status} ${count.toLocaleString()}`;
    });
  });
}

function createSagaCard(saga) {
  return h('article', { class: 'card saga', dataset: { name: saga.name } },
    h('div', { class: 'card-head' }, h('h3', { class: 'mono', text: saga.name }), h('span', { class: 'saga-state' })),
    h('div', { class: 'status-counts', role: 'group', 'aria-label': 'Instances by status' }),
    h('div', { class: 'instances' }),
    h('div', { class: 'instance' }));
}

async function listInstances(card, saga, status, pressed) {
  for (const button of card.querySelectorAll('.status-counts button')) button.setAttribute('aria-pressed', String(button === pressed));
  const list = card.querySelector('.instances');
  card.querySelector('.instance').replaceChildren();
  list.replaceChildren(h('p', { class: 'muted', text: 'Loading…' }));
  try {
    const answer = await getJson(`${path('sagas', saga)}?status=${encodeURIComponent(status)}&limit=${INSTANCES_LISTED}`);
    list.replaceChildren(answer.instances.length === 0
      ? h('p', { class: 'muted', text: `No ${status} instance.` })
      : h('ul', { class: 'instance-list', 'aria-label': `${status} instances, newest first` }, answer.instances.map((instance) => h('li', {},
        h('button', { type: 'button', class: 'quiet instance-item', onclick: () => showInstance(card, saga, instance.id) },
          h('span', { class: 'mono', text: instance.id }),
          h('span', { class: 'muted', text: instance.state }),
          timeElement(instance.updated))))));
  } catch (error) {
    list.replaceChildren(errorElement(error));
  }
}

async function showInstance(card, saga, id) {
  const panel = card.querySelector('.instance');
  panel.replaceChildren(h('p', { class: 'muted', text: 'Loading…' }));
  try {
    const instance = await getJson(path('sagas', saga, id));
    panel.replaceChildren(instanceDetail(card, saga, instance));
  } catch (error) {
    panel.replaceChildren(errorElement(error));
  }
}

function instanceDetail(card, saga, instance) {
  const message = h('span', { class: 'letter-message', role: 'status' });
  const retry = instance.status === 'failed' && h('button', {
    type: 'button', text: 'Retry',
    onclick: async () => {
      retry.disabled = true;
      message.classList.remove('error');
      message.textContent = 'Retrying…';
      try {
        await postJson(`${path('sagas', saga, instance.id)}/retry`);
        await showInstance(card, saga, instance.id);
      } catch (error) {
        message.textContent = describeError(error);
        message.classList.add('error');
        retry.disabled = false;
      }
    },
  });
  return h('div', { class: 'instance-detail' },
    h('h4', {}, 'Instance ', h('span', { class: 'mono', text: instance.id }), ' ', badge(instance.status), ' in ', h('span', { class: 'mono', text: instance.state })),
    instance.error && h('pre', { class: 'letter-error', text: instance.error }),
    retry ? h('p', {}, retry, ' ', message) : null,
    h('p', {}, 'Timeout: ', instance.timeout ? [h('span', { class: 'mono', text: instance.timeout.name }), ' due ', timeElement(instance.timeout.due)] : 'none'),
    h('h5', { text: 'Pending commands' }),
    instance.pending.length === 0
      ? h('p', { class: 'muted', text: 'None.' })
      : h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['Step', 'Command', 'To', 'Payload'].map((name) => h('th', { scope: 'col', text: name })))),
        h('tbody', {}, instance.pending.map((pending) => h('tr', {},
          h('td', { class: 'mono', text: pending.step }),
          h('td', { class: 'mono', text: pending.command }),
          h('td', { class: 'mono', text: pending.to }),
          h('td', { class: 'mono', text: JSON.stringify(pending.payload) })))))),
    h('h5', { text: 'Data' }),
    jsonBlock(instance.data),
    h('h5', { text: 'History' }),
    h('ol', { class: 'history' }, instance.history.map((step) => h('li', {},
      timeElement(step.at), ' ', h('span', { class: 'mono', text: summary(step.input) }),
      ' → ', summary(step.did), ' → ', h('span', { class: 'mono', text: summary(step.state) }),
      step.sent && (!Array.isArray(step.sent) || step.sent.length > 0) ? [' · sent ', h('span', { class: 'mono', text: summary(step.sent) })] : null))),
  );
}

function summary(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

// --- Windows: a live bar chart of the latest windows, one bar per key.

function windowKey(window) {
  return `${window.start}|${JSON.stringify(window.key)}`;
}

function keyLabel(key) {
  return Object.values(key ?? {}).map(String).join(', ') || '(all)';
}

function renderWindows(windows) {
  for (const definition of windows) {
    if (!windowCharts.has(definition.name)) startWindow(definition);
    const chart = windowCharts.get(definition.name);
    chart.definition = definition;
    refreshWindow(chart);
  }
}

function startWindow(definition) {
  const picker = h('select', { 'aria-label': `Aggregate charted for ${definition.name}` },
    definition.aggregates.map((name) => h('option', { value: name, text: name })));
  const figure = h('figure', { class: 'chart' });
  const chartSvg = svg('svg', { class: 'chart-svg', role: 'img', 'data-testid': 'window-chart', 'data-name': definition.name });
  const caption = h('figcaption', { class: 'muted' });
  figure.append(chartSvg, caption);
  const table = h('div', { class: 'table-wrap' });
  const live = h('span', { class: 'muted window-live' });
  const card = h('article', { class: 'card window', dataset: { name: definition.name } },
    h('div', { class: 'card-head' },
      h('h3', { class: 'mono', text: definition.name }),
      h('span', { class: 'muted', text: [definition.window?.kind, span(definition.window), `by ${definition.key.join(', ')}`].filter(Boolean).join(' · ') }),
      live),
    h('label', { class: 'aggregate-picker' }, 'Aggregate ', picker),
    figure,
    table);
  windowCards.append(card);

  const chart = {
    definition,
    windows: new Map(),
    picked: null,
    live,
    // The chart is drawn at its figure's width, in pixels, so its text keeps its size.
    resize: new ResizeObserver(() => chart.draw()),
    draw: () => drawWindow(chart, { picker, chartSvg, caption, table, figure }),
  };
  windowCharts.set(definition.name, chart);
  picker.addEventListener('change', () => {
    chart.picked = picker.value;
    chart.draw();
  });
  chart.resize.observe(figure);
}

/** A window's size (and hop) or gap, in ms, as `1 h`, `15 min`, `1 h every 15 min`. */
function span(window) {
  const text = (ms) => {
    for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['min', 60_000], ['s', 1000]]) {
      if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
    }
    return `${ms} ms`;
  };
  if (!window) return null;
  if (window.gap !== undefined) return `gap ${text(window.gap)}`;
  return window.hop !== undefined ? `${text(window.size)} every ${text(window.hop)}` : text(window.size);
}

/** Reads the window's latest windows again: polled with the overview, so a tab holds no
 * stream per window (a browser opens six connections per host over HTTP/1.1, for all tabs). */
async function refreshWindow(chart) {
  try {
    const answer = await getJson(`${path('windows', chart.definition.name)}?limit=${WINDOWS_LISTED * 4}`);
    chart.windows = new Map(answer.windows.map((window) => [windowKey(window), window]));
    chart.live.textContent = '● live';
    chart.live.title = `Refreshed every ${POLL_MS / 1000} s`;
  } catch (error) {
    chart.live.textContent = 'unavailable';
    chart.live.title = describeError(error);
  }
  chart.draw();
}

/** The first aggregate with a number in any window, else the first declared. */
function firstNumericAggregate(definition, windows) {
  return definition.aggregates.find((name) => windows.some((window) => Number.isFinite(Number(window.aggregates?.[name])))) ?? definition.aggregates[0];
}

/** The bars: each key's window at the latest start, or each key's latest session. */
function latestBars(definition, windows) {
  if (windows.length === 0) return { bars: [], caption: 'No windows yet: the chart fills as events arrive.' };
  if (definition.window?.kind === 'session') {
    const latest = new Map();
    for (const window of windows) {
      const key = keyLabel(window.key);
      if (!latest.has(key) || latest.get(key).start < window.start) latest.set(key, window);
    }
    const bars = [...latest.values()].sort((a, b) => b.start.localeCompare(a.start)).slice(0, SESSION_BARS);
    return { bars, caption: `The latest session of the ${bars.length} most recently active keys` };
  }
  const start = windows.reduce((latest, window) => (window.start > latest ? window.start : latest), windows[0].start);
  const bars = windows.filter((window) => window.start === start).sort((a, b) => keyLabel(a.key).localeCompare(keyLabel(b.key)));
  return { bars, caption: ['The window from ', timeElement(start), ' to ', timeElement(bars[0].end)] };
}

function drawWindow(chart, { picker, chartSvg, caption, table, figure }) {
  const windows = [...chart.windows.values()];
  const aggregate = chart.picked ?? firstNumericAggregate(chart.definition, windows);
  picker.value = aggregate;
  const { bars, caption: text } = latestBars(chart.definition, windows);
  caption.replaceChildren(...[text].flat());
  drawBars(chartSvg, figure.clientWidth || 320, bars.map((window) => ({ label: keyLabel(window.key), value: Number(window.aggregates?.[aggregate]) || 0 })), `${chart.definition.name}: ${aggregate} by ${chart.definition.key.join(', ')}`);
  const newest = windows.sort((a, b) => b.start.localeCompare(a.start) || keyLabel(a.key).localeCompare(keyLabel(b.key))).slice(0, WINDOWS_LISTED);
  table.replaceChildren(newest.length === 0 ? h('p', { class: 'muted', text: 'No open windows.' }) : h('table', { class: 'windows-table' },
    h('thead', {}, h('tr', {}, ['Start', 'End', chart.definition.key.join(', '), ...chart.definition.aggregates, 'Closed'].map((name) => h('th', { scope: 'col', text: name })))),
    h('tbody', {}, newest.map((window) => h('tr', {},
      h('td', {}, timeElement(window.start)),
      h('td', {}, timeElement(window.end)),
      h('td', { class: 'mono', text: keyLabel(window.key) }),
      chart.definition.aggregates.map((name) => h('td', { class: 'number', text: String(window.aggregates?.[name] ?? '') })),
      h('td', { text: window.closed ? 'yes' : 'no' }))))));
}

/** A bar chart, one bar per `{label, value}`, drawn at `width` pixels. */
function drawBars(target, width, bars, title) {
  const height = 200;
  const margin = { top: 18, right: 8, bottom: 34, left: 44 };
  const plotWidth = Math.max(10, width - margin.left - margin.right);
  const plotHeight = height - margin.top - margin.bottom;
  const max = niceCeiling(Math.max(0, ...bars.map((bar) => bar.value)));
  const y = (value) => margin.top + plotHeight * (1 - value / max);
  const band = plotWidth / Math.max(1, bars.length);
  target.setAttribute('viewBox', `0 0 ${width} ${height}`);
  target.setAttribute('width', String(width));
  target.setAttribute('height', String(height));
  target.setAttribute('aria-label', bars.length === 0 ? `${title}: no data` : `${title}: ${bars.map((bar) => `${bar.label} ${bar.value}`).join(', ')}`);
  const grid = [0, max / 2, max].map((value) => svg('g', { class: 'grid' },
    svg('line', { x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value) }),
    svg('text', { x: margin.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, formatNumber(value))));
  const drawn = bars.map((bar, index) => {
    const x = margin.left + index * band + band * 0.15;
    const barWidth = Math.max(1, band * 0.7);
    const center = x + barWidth / 2;
    return svg('g', { class: 'bar-group' },
      svg('rect', { class: 'bar', x, y: y(bar.value), width: barWidth, height: Math.max(0, margin.top + plotHeight - y(bar.value)) },
        svg('title', {}, `${bar.label}: ${bar.value}`)),
      svg('text', { class: 'bar-value', x: center, y: y(bar.value) - 4, 'text-anchor': 'middle' }, formatNumber(bar.value)),
      svg('text', { class: 'bar-label', x: center, y: height - margin.bottom + 16, 'text-anchor': 'middle' }, truncate(bar.label, Math.max(3, Math.floor(band / 8)))));
  });
  target.replaceChildren(svg('title', {}, title), ...grid, ...drawn);
}

/** 1, 2 or 5 times a power of ten, at least `value` (1 for nothing). */
function niceCeiling(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value);
}

function formatNumber(value) {
  return Number.isInteger(value) ? value.toLocaleString() : value.toLocaleString(undefined, { maximumFractionDigits: 2 });
}

function truncate(text, length) {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}
