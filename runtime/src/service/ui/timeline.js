// The live timeline: the latest events, then every new one as the service appends it, newest on
// top. Tens of thousands of events stay responsive because the list is virtual: rows have one
// fixed height, a spacer gives the list its full height, and only the rows in view (plus a few)
// are in the DOM.

import { cachedOverview, follow, getJson, latestVersion, refreshOverview } from './api.js';
import { isDetailOpen, openDetail } from './detail.js';
import { describeError, h, timeElement } from './dom.js';

const PAGE = 1000;
// The most events kept in memory (see forgetOldest).
const MOST_LOADED = 100_000;
// Rows rendered above and below the visible ones, so a quick scroll shows no gap.
const OVERSCAN = 10;
// Lane colors are classes lane-c0..lane-c11 in app.css.
const COLORS = 12;
// When the first page cannot be read, try again this much later.
const START_RETRY_MS = 5000;

const section = document.getElementById('view-timeline');
const list = document.getElementById('timeline-list');
const spacer = document.getElementById('timeline-spacer');
const laneHeaders = document.getElementById('lane-headers');
const laneLegend = document.getElementById('lane-legend');
const countLine = document.getElementById('timeline-count');
const olderButton = document.getElementById('load-older');
const errorLine = document.getElementById('timeline-error');
const emptyLine = document.getElementById('timeline-empty');
const connection = document.getElementById('connection');
const filtersForm = document.getElementById('timeline-filters');
const typeFilter = section.querySelector('.type-filter');
const typeOptions = document.getElementById('type-options');
const typeSummary = document.getElementById('type-summary');
const filterPanel = document.getElementById('filter-panel');
const filterSummary = document.getElementById('filter-summary');
// On a phone the filters fold away under "Filters"; wider, they are always open.
const phone = matchMedia('(max-width: 640px)');
const inputs = {
  stream: document.getElementById('filter-stream'),
  correlation: document.getElementById('filter-correlation'),
  from: document.getElementById('filter-from'),
  to: document.getElementById('filter-to'),
};

/** `{event, ms}` for every loaded event, ascending by position. */
let loaded = [];
const positions = new Set();
/** The loaded events the filters let through, ascending by position. */
let shown = [];
let selected = null;
let lanesBy = 'aggregate';
/** Lane name → column. */
let lanes = new Map();
const knownTypes = new Set();
let oldestReached = false;
let filter = readFilters();
let renderQueued = false;
/** Rendered row elements by position. */
const rows = new Map();
// The timeline follows the live feed for as long as the page is open.
const following = new AbortController();

export const element = section;

export function show() {
  queueRender();
}

// Hidden, it keeps following the feed: back on it, everything that came meanwhile is there.
export function hide() {}

export function focusSearch() {
  filterPanel.open = true;
  inputs.stream.focus();
  inputs.stream.select();
}

/** The streams of the most recent loaded events, newest first (for the time travel form). */
export function recentStreams(count) {
  const streams = new Set();
  for (let i = loaded.length - 1; i >= 0 && streams.size < count; i -= 1) {
    if (loaded[i].event.subject) streams.add(loaded[i].event.subject);
  }
  return [...streams];
}

/** Loads the latest page, then follows the live feed for as long as the page is open. */
export async function start() {
  for (;;) {
    try {
      const service = await refreshOverview();
      for (const { type } of service.events ?? []) knownTypes.add(type);
      const page = await getJson(`/events?before=${service.head + 1}&limit=${PAGE}`);
      addOlder(page.events);
      noteOldest(page.events);
      showError(null);
      const after = loaded.at(-1)?.event.position ?? service.head;
      follow({
        url: (lastId) => `/events/live?after=${lastId ?? after}`,
        onMessage: receive,
        onStatus: showConnection,
        signal: following.signal,
      });
      return;
    } catch (error) {
      showError(error);
      showConnection({ state: 'reconnecting', delay: START_RETRY_MS, error });
      await new Promise((resolve) => setTimeout(resolve, START_RETRY_MS));
    }
  }
}

function receive(message) {
  // On overflow the service ends the stream; follow() resumes after the last id it saw.
  if (message.event === 'overflow') return;
  addNewer([JSON.parse(message.data)]);
}

function showConnection({ state, delay, error }) {
  connection.dataset.state = state;
  connection.textContent = {
    connecting: 'connecting…',
    live: 'live',
    reconnecting: `reconnecting in ${Math.round((delay ?? 0) / 1000)} s`,
    stopped: 'not following',
  }[state];
  connection.title = error ? `The live feed: ${describeError(error)}` : 'The live feed of new events';
}

function showError(error) {
  errorLine.hidden = !error;
  errorLine.textContent = error ? describeError(error) : '';
}

// --- The events.

function entry(event) {
  return { event, ms: Date.parse(event.time) };
}

function addNewer(events) {
  const fresh = events.filter((event) => !positions.has(event.position));
  if (fresh.length === 0) return;
  let passed = 0;
  for (const event of fresh) {
    positions.add(event.position);
    const item = entry(event);
    loaded.push(item);
    if (matches(item)) {
      shown.push(item);
      passed += 1;
    }
    noteLane(event);
  }
  // Newest is on top: keep what a person scrolled to in place while rows arrive above it.
  if (passed > 0 && list.scrollTop > 0) list.scrollTop += passed * rowHeight();
  forgetOldest();
  queueRender();
}

/** A tab left open on a busy service keeps the newest MOST_LOADED events: the oldest tenth
 * goes once there are more ("load older" brings them back). */
function forgetOldest() {
  if (loaded.length <= MOST_LOADED) return;
  const gone = loaded.splice(0, loaded.length - Math.floor(MOST_LOADED * 0.9));
  for (const { event } of gone) positions.delete(event.position);
  shown = shown.filter(({ event }) => positions.has(event.position));
  oldestReached = false;
}

function addOlder(events) {
  const fresh = events.filter((event) => !positions.has(event.position)).map(entry);
  fresh.forEach(({ event }) => {
    positions.add(event.position);
    noteLane(event);
  });
  loaded = fresh.concat(loaded);
  shown = fresh.filter(matches).concat(shown);
  queueRender();
}

/**
 * Whether a page read backwards reached the store's first event. A short page does not say so
 * (pages are bounded in bytes too, and positions may have gaps): an empty one does.
 */
function noteOldest(page) {
  if (page.length === 0 || page[0].position <= 1) oldestReached = true;
}

async function loadOlder() {
  const before = loaded[0]?.event.position;
  if (before === undefined || oldestReached) return;
  olderButton.disabled = true;
  olderButton.textContent = 'Loading…';
  try {
    const page = await getJson(`/events?before=${before}&limit=${PAGE}`);
    addOlder(page.events);
    noteOldest(page.events);
    showError(null);
  } catch (error) {
    showError(error);
  } finally {
    olderButton.textContent = 'Load older';
    updateCount();
  }
}

// --- Lanes: one column per aggregate, or per event type.

/** Lanes in the order their first event was seen. */
let seenLanes = new Set();
let lanesStale = true;
let typeOptionsStale = true;
// The `/operations` answer `aggregateOf` was built from.
let aggregatesFrom = null;
let aggregateOf = new Map();

function laneOf(event) {
  if (lanesBy === 'type') return event.type;
  const service = cachedOverview();
  if (service !== aggregatesFrom) {
    aggregatesFrom = service;
    aggregateOf = new Map((service?.events ?? []).map((known) => [known.type, known.aggregate]));
  }
  const aggregate = aggregateOf.get(event.type);
  if (aggregate) return aggregate;
  // Not an aggregate's event (a saga's outcome, say): its stream's category.
  const subject = event.subject ?? '';
  const category = service?.aggregates?.find((known) => subject.startsWith(`${known.category}-`));
  if (category) return category.name;
  const dash = subject.indexOf('-');
  return dash > 0 ? subject.slice(0, dash) : subject || event.type;
}

function noteLane(event) {
  if (!knownTypes.has(event.type)) {
    knownTypes.add(event.type);
    typeOptionsStale = true;
  }
  const lane = laneOf(event);
  if (!seenLanes.has(lane)) {
    seenLanes.add(lane);
    lanesStale = true;
  }
}

function resetLanes() {
  seenLanes = new Set();
  loaded.forEach(({ event }) => noteLane(event));
  lanesStale = true;
}

/** The lanes that have events: the service's own first (aggregates or event types), in its order. */
function renderLanes() {
  lanesStale = false;
  const service = cachedOverview();
  const declared = lanesBy === 'type'
    ? (service?.events ?? []).map((event) => event.type)
    : (service?.aggregates ?? []).map((aggregate) => aggregate.name);
  const order = declared.filter((lane) => seenLanes.has(lane))
    .concat([...seenLanes].filter((lane) => !declared.includes(lane)));
  lanes = new Map(order.map((lane, column) => [lane, column]));
  section.style.setProperty('--lanes', String(Math.max(1, lanes.size)));
  laneHeaders.replaceChildren(...order.map((lane) => h('span', { class: 'lane-header', title: lane }, h('span', { text: lane }))));
  laneLegend.replaceChildren(...order.map((lane, column) => h('span', {}, h('span', { class: `marker lane-c${column % COLORS}` }), lane)));
  // Markers move to their lane's new column.
  rows.forEach((row) => row.remove());
  rows.clear();
}

// --- Filters.

function readFilters() {
  const types = new Set([...typeOptions.querySelectorAll('input:checked')].map((input) => input.value));
  const time = (input) => (input.value ? new Date(input.value).getTime() : null);
  return {
    types,
    stream: inputs.stream.value.trim().toLowerCase(),
    correlation: inputs.correlation.value.trim(),
    from: time(inputs.from),
    to: time(inputs.to),
  };
}

function matches({ event, ms }) {
  if (filter.types.size > 0 && !filter.types.has(event.type)) return false;
  if (filter.stream && !(event.subject ?? '').toLowerCase().includes(filter.stream)) return false;
  if (filter.correlation && event.correlationid !== filter.correlation) return false;
  if (filter.from !== null && !(ms >= filter.from)) return false;
  if (filter.to !== null && !(ms <= filter.to)) return false;
  return true;
}

function applyFilters() {
  filter = readFilters();
  shown = loaded.filter(matches);
  typeSummary.textContent = filter.types.size === 0 ? 'all' : `${filter.types.size} selected`;
  const active = [filter.types.size > 0, filter.stream, filter.correlation, filter.from !== null, filter.to !== null].filter(Boolean).length;
  filterSummary.textContent = active === 0 ? '' : `(${active} active)`;
  list.scrollTop = 0;
  queueRender();
}

function renderTypeOptions() {
  typeOptionsStale = false;
  const checked = filter.types;
  const options = [...knownTypes].sort().map((type) => h('label', {},
    h('input', { type: 'checkbox', value: type, checked: checked.has(type) }),
    ` ${type}`));
  typeOptions.replaceChildren(typeOptions.querySelector('legend'), ...options);
}

// --- Rendering.

function rowHeight() {
  return parseFloat(getComputedStyle(list).getPropertyValue('--row-height')) || 28;
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function render() {
  if (section.hidden) return;
  if (lanesStale) renderLanes();
  if (typeOptionsStale) renderTypeOptions();
  const height = rowHeight();
  const total = shown.length;
  spacer.style.height = `${total * height}px`;
  const first = Math.max(0, Math.floor(list.scrollTop / height) - OVERSCAN);
  const last = Math.min(total, Math.ceil((list.scrollTop + list.clientHeight) / height) + OVERSCAN);
  const wanted = new Set();
  for (let index = first; index < last; index += 1) {
    // Index 0 is the newest event.
    const item = shown[total - 1 - index];
    const position = item.event.position;
    wanted.add(position);
    let row = rows.get(position);
    if (!row) {
      row = createRow(item.event);
      rows.set(position, row);
      list.append(row);
    }
    row.style.transform = `translateY(${index * height}px)`;
    row.setAttribute('aria-posinset', String(index + 1));
    row.setAttribute('aria-setsize', String(total));
    row.setAttribute('aria-selected', String(position === selected));
  }
  for (const [position, row] of rows) {
    if (!wanted.has(position)) {
      row.remove();
      rows.delete(position);
    }
  }
  if (selected !== null && rows.has(selected)) list.setAttribute('aria-activedescendant', rowId(selected));
  else list.removeAttribute('aria-activedescendant');
  updateCount();
}

function rowId(position) {
  return `event-${position}`;
}

function createRow(event) {
  const column = lanes.get(laneOf(event)) ?? 0;
  const marker = h('span', { class: `marker lane-c${column % COLORS}` });
  marker.style.setProperty('--lane', String(column));
  const latest = latestVersion(event.type);
  const upcast = latest !== undefined && event.eventversion < latest;
  return h('div', {
    id: rowId(event.position),
    class: 'row',
    role: 'option',
    dataset: { testid: 'timeline-row', position: String(event.position), type: event.type },
  },
  h('span', { class: 'lanes' }, marker),
  timeElement(event.time),
  h('span', { class: 'type', text: event.type }),
  h('span', { class: 'subject', text: event.subject ?? '' }),
  h('span', {
    class: upcast ? 'version upcast' : 'version',
    title: upcast ? `stored v${event.eventversion}, read as v${latest}` : `stored v${event.eventversion}`,
    text: `v${event.eventversion}`,
  }));
}

function updateCount() {
  const all = loaded.length;
  emptyLine.hidden = shown.length > 0;
  emptyLine.textContent = all === 0 ? 'No events yet: new ones appear here as they are appended.' : 'No loaded event matches the filters.';
  const range = all > 0 ? ` (positions ${loaded[0].event.position.toLocaleString()}–${loaded[all - 1].event.position.toLocaleString()})` : '';
  countLine.textContent = shown.length === all
    ? `${all.toLocaleString()} events loaded${range}`
    : `${shown.length.toLocaleString()} of ${all.toLocaleString()} loaded events match${range}`;
  olderButton.disabled = oldestReached || all === 0;
  olderButton.title = oldestReached ? 'Every event is loaded' : `Load ${PAGE} events before #${loaded[0]?.event.position ?? ''}`;
}

// --- Selection and keys.

function indexOfSelected() {
  if (selected === null) return -1;
  // Binary search: `shown` ascends by position.
  let low = 0;
  let high = shown.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const position = shown[middle].event.position;
    if (position === selected) return shown.length - 1 - middle;
    if (position < selected) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}

function select(index) {
  if (shown.length === 0) return;
  const clamped = Math.max(0, Math.min(shown.length - 1, index));
  selected = shown[shown.length - 1 - clamped].event.position;
  const height = rowHeight();
  const top = clamped * height;
  if (top < list.scrollTop) list.scrollTop = top;
  else if (top + height > list.scrollTop + list.clientHeight) list.scrollTop = top + height - list.clientHeight;
  render();
  // An open pane follows the selection.
  if (isDetailOpen()) openSelected();
}

function openSelected() {
  const index = indexOfSelected();
  if (index < 0) return;
  openDetail(shown[shown.length - 1 - index].event, list);
}

list.addEventListener('keydown', (event) => {
  const page = Math.max(1, Math.floor(list.clientHeight / rowHeight()) - 1);
  const current = indexOfSelected();
  const moves = {
    ArrowDown: current + 1,
    ArrowUp: current < 0 ? 0 : current - 1,
    PageDown: current + page,
    PageUp: current - page,
    Home: 0,
    End: shown.length - 1,
  };
  if (event.key in moves) {
    event.preventDefault();
    select(moves[event.key]);
  } else if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();
    if (current < 0) select(0);
    else openSelected();
  }
});

// Focus without a selection selects the first row in view (not the newest: no jump).
list.addEventListener('focus', () => {
  if (indexOfSelected() < 0) select(Math.ceil(list.scrollTop / rowHeight()));
});

list.addEventListener('click', (event) => {
  const row = event.target.closest('[data-testid="timeline-row"]');
  if (!row) return;
  selected = Number(row.dataset.position);
  list.focus({ preventScroll: true });
  render();
  openSelected();
});

list.addEventListener('scroll', queueRender, { passive: true });
new ResizeObserver(queueRender).observe(list);

filtersForm.addEventListener('submit', (event) => event.preventDefault());
filtersForm.addEventListener('input', (event) => {
  if (event.target.name === 'lanes') return;
  applyFilters();
});
filtersForm.addEventListener('change', (event) => {
  if (event.target.name !== 'lanes') return;
  lanesBy = event.target.value;
  resetLanes();
  queueRender();
});
// A reset clears the inputs after this event: filter on the next task.
filtersForm.addEventListener('reset', () => setTimeout(() => {
  typeOptions.querySelectorAll('input').forEach((input) => { input.checked = false; });
  applyFilters();
  lanesBy = 'aggregate';
  resetLanes();
}));

olderButton.addEventListener('click', loadOlder);

// The type list is a popup: a click elsewhere or Escape folds it.
document.addEventListener('click', (event) => {
  if (typeFilter.open && !typeFilter.contains(event.target)) typeFilter.open = false;
});
typeFilter.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape' || !typeFilter.open) return;
  event.preventDefault();
  typeFilter.open = false;
  typeFilter.querySelector('summary').focus();
});

function foldFilters() {
  filterPanel.open = !phone.matches;
}
phone.addEventListener('change', foldFilters);
foldFilters();
