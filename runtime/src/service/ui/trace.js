// The correlation trace: every command and event of one correlation id as the causation tree
// the service builds (a command's children are the events it caused, an event's children the
// commands sagas sent because of it), with the time from each node's parent.

import { getJson, path } from './api.js';
import { openDetail } from './detail.js';
import { errorElement, formatDelta, formatDuration, h, timeElement } from './dom.js';

// A trace grows while sagas work: read it again this often while it is shown.
const REFRESH_MS = 2000;

const section = document.getElementById('view-trace');
const form = document.getElementById('trace-open');
const idInput = document.getElementById('trace-id');
const body = document.getElementById('trace-body');

let correlation = null;
let timer = null;
// The positions last rendered (null: nothing yet): the tree is rebuilt only when they change.
let renderedPositions = null;
// Nodes a person collapsed, by key, kept across refreshes.
const collapsed = new Set();

export const element = section;

export function show(id) {
  stop();
  idInput.value = id;
  correlation = id || null;
  renderedPositions = null;
  if (!correlation) {
    body.replaceChildren(h('p', { class: 'muted', text: 'Open a correlation id to see what one request caused, or follow “trace” from an event.' }));
    return;
  }
  body.replaceChildren(h('p', { class: 'muted', text: `Loading ${correlation}…` }));
  refresh();
}

export function hide() {
  stop();
  correlation = null;
}

export function focusSearch() {
  idInput.focus();
  idInput.select();
}

function stop() {
  clearTimeout(timer);
  timer = null;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const id = idInput.value.trim();
  if (id) location.hash = `#/trace/${encodeURIComponent(id)}`;
});

async function refresh() {
  const asked = correlation;
  try {
    const answer = await getJson(path('correlations', asked));
    if (asked !== correlation) return;
    const positions = answer.events.map((event) => event.position).join(',');
    if (positions !== renderedPositions) {
      renderedPositions = positions;
      render(answer);
    }
  } catch (error) {
    if (asked !== correlation) return;
    renderedPositions = null;
    body.replaceChildren(errorElement(error));
  }
  if (asked === correlation) {
    clearTimeout(timer);
    timer = setTimeout(refresh, REFRESH_MS);
  }
}

function render(answer) {
  const { events, trace, truncated } = answer;
  if (events.length === 0) {
    body.replaceChildren(h('p', { class: 'muted', text: `No event carries correlation id ${answer.correlation_id}.` }));
    return;
  }
  const times = events.map((event) => Date.parse(event.time));
  const span = Math.max(...times) - Math.min(...times);
  body.replaceChildren(
    h('div', { class: 'trace-head' },
      h('h2', { class: 'mono', text: answer.correlation_id }),
      h('span', { class: 'muted' }, `${events.length} events over ${formatDuration(span)}, from `, timeElement(events[0].time)),
      truncated && h('span', { class: 'error', text: `Only the first ${events.length} events are shown.` })),
    h('ul', { class: 'tree', 'aria-label': 'Causation tree' }, trace.map((node) => renderNode(node, null))),
  );
}

function nodeTime(node) {
  return Date.parse(node.kind === 'command' ? node.at : node.event.time);
}

function nodeKey(node) {
  return node.kind === 'command' ? `command ${node.id}` : `event ${node.event.id}`;
}

function renderNode(node, parentTime) {
  const time = nodeTime(node);
  const key = nodeKey(node);
  const children = node.children ?? [];
  const childList = children.length > 0
    ? h('ul', { class: 'tree', hidden: collapsed.has(key) }, children.map((child) => renderNode(child, time)))
    : null;
  const toggle = childList
    ? h('button', {
      type: 'button', class: 'toggle quiet', 'aria-expanded': String(!collapsed.has(key)),
      'aria-label': `${collapsed.has(key) ? 'Expand' : 'Collapse'} ${children.length} caused`,
      onclick: () => {
        const open = childList.hidden;
        childList.hidden = !open;
        toggle.setAttribute('aria-expanded', String(open));
        toggle.setAttribute('aria-label', `${open ? 'Collapse' : 'Expand'} ${children.length} caused`);
        if (open) collapsed.delete(key);
        else collapsed.add(key);
      },
    })
    : h('span', { class: 'toggle-space' });
  const delta = parentTime === null || Number.isNaN(parentTime) || Number.isNaN(time)
    ? h('span', { class: 'delta' })
    : h('span', { class: 'delta', title: 'after its parent', text: formatDelta(time - parentTime) });
  const kind = node.kind === 'command'
    ? { testid: 'trace-node', kind: 'command', name: node.name }
    : { testid: 'trace-node', kind: 'event', type: node.event.type, position: String(node.event.position) };
  return h('li', { class: `node node-${node.kind}`, dataset: kind },
    h('div', { class: 'node-row' }, toggle,
      h('div', { class: 'node-main' }, node.kind === 'command' ? commandLabel(node) : eventLabel(node), delta,
        timeElement(node.kind === 'command' ? node.at : node.event.time))),
    childList);
}

function commandLabel(node) {
  return h('span', { class: 'node-label' },
    h('span', { class: 'kind', text: 'command' }),
    h('span', { class: 'name mono', text: node.name }),
    h('span', { class: `badge origin origin-${node.origin}`, text: node.origin }),
    node.saga && h('span', { class: 'muted', text: node.saga }));
}

function eventLabel(node) {
  const { event } = node;
  return h('button', {
    type: 'button', class: 'node-label node-open', title: 'Show the event',
    onclick: (click) => openDetail(event, click.currentTarget),
  },
  h('span', { class: 'kind', text: 'event' }),
  h('span', { class: 'name mono', text: event.type }),
  h('span', { class: 'mono subject', text: event.subject }),
  h('span', { class: 'muted', text: `v${event.streamversion}` }));
}
