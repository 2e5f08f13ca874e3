// The detail pane: one CloudEvent in full, opened from the timeline, a trace or time travel.
// When the event was stored in an older version than its type's latest, it also shows the
// payload as the service reads it now (upcast), from `/events/{position}`.

import { getJson, latestVersion, path } from './api.js';
import { errorElement, h, jsonBlock, timeElement } from './dom.js';

const pane = document.getElementById('detail');
const title = document.getElementById('detail-title');
const body = document.getElementById('detail-body');

// Where focus goes back to when the pane closes.
let returnFocus = null;
// Which opening the pane shows: an answer for an earlier one is dropped.
let shown = 0;

document.getElementById('detail-close').addEventListener('click', () => closeDetail());

export function isDetailOpen() {
  return !pane.hidden;
}

/** Closes the pane and gives focus back to what opened it. */
export function closeDetail() {
  if (pane.hidden) return;
  pane.hidden = true;
  shown += 1;
  returnFocus?.focus({ preventScroll: true });
  returnFocus = null;
}

/** Shows `event` (a CloudEvent); `from` is the element to focus again on close. */
export function openDetail(event, from = document.activeElement) {
  const opening = ++shown;
  returnFocus = from;
  title.textContent = `${event.type} #${event.position}`;
  const latest = latestVersion(event.type);
  const upcast = latest !== undefined && event.eventversion < latest;
  const readAs = h('div', { class: 'read-as' });

  body.replaceChildren(
    h('dl', { class: 'facts' },
      fact('Time', timeElement(event.time)),
      fact('Position', String(event.position)),
      fact('Stream', h('span', { class: 'mono', text: event.subject ?? '—' })),
      fact('Stream version', String(event.streamversion ?? '—')),
      fact('Event version', upcast
        ? h('strong', { class: 'upcast', text: `stored v${event.eventversion}, read as v${latest}` })
        : `v${event.eventversion ?? '?'}`),
      fact('Correlation', h('span', { class: 'mono', text: event.correlationid ?? '—' })),
      fact('Causation', h('span', { class: 'mono', text: event.causationid ?? '—' })),
    ),
    h('p', { class: 'links' },
      event.subject && h('a', { href: `#/stream/${encodeURIComponent(event.subject)}`, dataset: { testid: 'detail-stream-link' }, text: 'stream' }),
      event.correlationid && h('a', { href: `#/trace/${encodeURIComponent(event.correlationid)}`, dataset: { testid: 'detail-trace-link' }, text: 'trace' }),
    ),
    readAs,
    h('h3', { text: 'CloudEvent' }),
    jsonBlock(event, undefined, { dataset: { testid: 'detail-json' } }),
  );
  pane.hidden = false;
  // Asked for every event: the service knows whether it read it upcast, even when the overview
  // did not list its type.
  showUpcast(event, latest, readAs, opening);
}

function fact(name, ...value) {
  return [h('dt', { text: name }), h('dd', {}, ...value)];
}

async function showUpcast(event, latest, into, opening) {
  const expected = latest !== undefined && event.eventversion < latest;
  if (expected) {
    into.replaceChildren(h('h3', { text: `Read as v${latest}` }), h('p', { class: 'muted', text: 'Loading…' }));
  }
  try {
    const answer = await getJson(path('events', String(event.position)));
    if (opening !== shown) return;
    const readAs = answer.read_as;
    if (!readAs) {
      into.replaceChildren(...(expected ? [h('p', { class: 'muted', text: 'The service reads it as stored.' })] : []));
      return;
    }
    into.replaceChildren(
      h('h3', { text: `Read as v${readAs.version}` }),
      h('p', { class: 'upcast', text: `stored v${event.eventversion}, read as v${readAs.version}` }),
      jsonBlock(readAs.data, undefined, { dataset: { testid: 'read-as-json' } }),
    );
  } catch (error) {
    if (opening !== shown) return;
    into.replaceChildren(h('h3', { text: 'Read as' }), errorElement(error));
  }
}
