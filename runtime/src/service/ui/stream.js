// Time travel: a stream's events as versions 1..N, a stepper to pick one, and the aggregate's
// state after it, with what that version changed marked against the state before it.

import { getJson, path } from './api.js';
import { openDetail } from './detail.js';
import { errorElement, h, jsonBlock, sameJson, timeElement } from './dom.js';
import { recentStreams } from './timeline.js';

const PAGE = 1000;
// Versions listed beside the state; the stepper reaches every version.
const MAX_LISTED = 5000;
// Dragging the slider asks for the state once it rests this long.
const SLIDER_SETTLE_MS = 80;

const section = document.getElementById('view-stream');
const form = document.getElementById('stream-open');
const nameInput = document.getElementById('stream-name');
const knownStreams = document.getElementById('known-streams');
const body = document.getElementById('stream-body');

/** The open stream: its name, current version, listed events and the states read so far. */
let opened = null;
// Which request the view waits for: answers to earlier ones are dropped.
let request = 0;
let sliderTimer = null;
let controls = null;

export const element = section;

export function show(stream) {
  knownStreams.replaceChildren(...recentStreams(50).map((name) => h('option', { value: name })));
  nameInput.value = stream;
  if (stream) {
    load(stream);
  } else {
    opened = null;
    request += 1;
    body.replaceChildren(h('p', { class: 'muted', text: 'Open a stream by name to step through its versions, or follow “stream” from an event.' }));
  }
}

export function hide() {
  clearTimeout(sliderTimer);
}

export function focusSearch() {
  nameInput.focus();
  nameInput.select();
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  if (name) location.hash = `#/stream/${encodeURIComponent(name)}`;
});

async function load(stream) {
  const mine = ++request;
  opened = null;
  body.replaceChildren(h('p', { class: 'muted', text: `Loading ${stream}…` }));
  try {
    const events = [];
    let after = 0;
    let version = 0;
    // Pages are bounded in bytes too: read on until the stream's current version.
    for (;;) {
      const page = await getJson(`${path('streams', stream)}?after=${after}&limit=${PAGE}`);
      version = page.version;
      events.push(...page.events);
      if (page.events.length === 0 || page.next >= version || events.length >= MAX_LISTED) break;
      after = page.next;
    }
    if (mine !== request) return;
    if (version === 0) {
      body.replaceChildren(h('p', { class: 'muted', text: `${stream} has no events.` }));
      return;
    }
    opened = { stream, latest: version, events, states: new Map(), version };
    renderFrame();
    select(version);
  } catch (error) {
    if (mine === request) body.replaceChildren(errorElement(error));
  }
}

function renderFrame() {
  const back = h('button', { type: 'button', dataset: { testid: 'step-back' }, 'aria-label': 'Previous version (←)', text: '←', onclick: () => select(opened.version - 1) });
  const forward = h('button', { type: 'button', dataset: { testid: 'step-forward' }, 'aria-label': 'Next version (→)', text: '→', onclick: () => select(opened.version + 1) });
  const slider = h('input', {
    type: 'range', min: '1', max: String(opened.latest), value: String(opened.version),
    'aria-label': 'Version', dataset: { testid: 'version-input' },
    oninput: () => {
      clearTimeout(sliderTimer);
      sliderTimer = setTimeout(() => select(Number(slider.value)), SLIDER_SETTLE_MS);
    },
  });
  const label = h('output', { class: 'version-label' });
  const versions = h('ol', { class: 'versions', 'aria-label': 'Versions' },
    opened.events.map((event) => h('li', {},
      h('button', { type: 'button', class: 'version-item', dataset: { version: String(event.streamversion) }, onclick: () => select(event.streamversion) },
        h('span', { class: 'mono', text: `v${event.streamversion}` }),
        h('span', { class: 'type', text: event.type }),
        timeElement(event.time)))));
  const state = h('div', { class: 'state-panel', 'aria-live': 'polite' });
  const listedNote = opened.events.length < opened.latest
    ? h('p', { class: 'muted', text: `The first ${opened.events.length.toLocaleString()} versions are listed; the stepper reaches all ${opened.latest.toLocaleString()}.` })
    : null;
  controls = { back, forward, slider, label, versions, state };
  body.replaceChildren(
    h('div', { class: 'stream-head' },
      h('h2', { class: 'mono', text: opened.stream }),
      h('span', { class: 'muted', text: `${opened.latest.toLocaleString()} versions` })),
    h('div', { class: 'stepper', role: 'group', 'aria-label': 'Pick a version' }, back, slider, forward, label),
    h('div', { class: 'stream-columns' },
      h('div', { class: 'versions-panel' }, h('h3', { text: 'Events' }), versions, listedNote),
      state),
  );
}

/** Shows the state after `version` (clamped to the stream's versions). */
async function select(version) {
  if (!opened) return;
  const target = Math.max(1, Math.min(opened.latest, version));
  opened.version = target;
  const { back, forward, slider, label, versions, state } = controls;
  back.disabled = target <= 1;
  forward.disabled = target >= opened.latest;
  slider.value = String(target);
  slider.setAttribute('aria-valuetext', `version ${target} of ${opened.latest}`);
  label.textContent = `version ${target} of ${opened.latest}`;
  for (const item of versions.querySelectorAll('.version-item')) {
    const current = Number(item.dataset.version) === target;
    if (current) {
      item.setAttribute('aria-current', 'step');
      item.scrollIntoView({ block: 'nearest' });
    } else {
      item.removeAttribute('aria-current');
    }
  }
  const mine = ++request;
  try {
    const [after, before] = await Promise.all([stateAt(target), stateAt(target - 1)]);
    if (mine !== request) return;
    renderState(after, before);
  } catch (error) {
    if (mine === request) state.replaceChildren(errorElement(error));
  }
}

function stateAt(version) {
  const { states, stream } = opened;
  if (!states.has(version)) {
    const answer = getJson(`${path('streams', stream, 'state')}?version=${version}`);
    // A failed read is not kept: the next step asks again.
    answer.catch(() => states.delete(version));
    states.set(version, answer);
  }
  return states.get(version);
}

function renderState(after, before) {
  const changed = changedFields(after.state, before.state);
  const event = after.event;
  const state = after.state === null
    ? h('p', { class: 'muted', dataset: { testid: 'state-json', version: String(after.version) }, text: 'No state: the aggregate does not exist at this version.' })
    : jsonBlock(after.state, before.state, { class: 'json state-json', dataset: { testid: 'state-json', version: String(after.version) } });
  controls.state.replaceChildren(
    h('h3', { text: `State after version ${after.version}` }),
    h('p', { class: 'changes' }, changed.length === 0
      ? 'No field changed.'
      : ['Changed: ', ...changed.flatMap((field, index) => [index > 0 ? ', ' : '', h('mark', { class: 'mono', text: field })])]),
    state,
    event && h('div', { class: 'event-at' },
      h('h3', {}, `Event at version ${after.version}: `, h('span', { class: 'mono', text: event.type })),
      h('p', {}, timeElement(event.time), ' ',
        h('button', { type: 'button', class: 'quiet', text: 'Details', onclick: (click) => openDetail(event, click.currentTarget) })),
      jsonBlock(event.data)),
  );
  // A large state scrolls by itself: bring its first change into view.
  const mark = state.querySelector('mark');
  if (mark) state.scrollTop = Math.max(0, mark.offsetTop - state.clientHeight / 3);
}

/** The top-level fields whose values differ between two states. */
function changedFields(state, previous) {
  const now = state ?? {};
  const then = previous ?? {};
  return [...new Set([...Object.keys(now), ...Object.keys(then)])].filter((field) => !sameJson(now[field], then[field]));
}

// ← and → step through the versions, unless a field has the keys (the slider steps by itself).
document.addEventListener('keydown', (event) => {
  if (section.hidden || !opened || event.defaultPrevented) return;
  if (event.ctrlKey || event.metaKey || event.altKey || event.target.closest('input, textarea, select')) return;
  if (event.key === 'ArrowLeft' || event.key === 'ArrowRight') {
    event.preventDefault();
    select(opened.version + (event.key === 'ArrowLeft' ? -1 : 1));
  }
});
