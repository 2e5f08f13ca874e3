// Small DOM helpers shared by the views: element builders, time formatting and a JSON renderer
// that can mark what changed. Everything builds nodes (never HTML strings), so nothing the
// service returns is ever parsed as markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Builds an element: `h('a', {href, class, dataset, onclick}, child...)`. */
export function h(tag, attributes = {}, ...children) {
  return fill(document.createElement(tag), attributes, children);
}

/** Builds an SVG element, as `h` does. */
export function svg(tag, attributes = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attributes, children);
}

function fill(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'text') element.textContent = value;
    else element.setAttribute(name, value === true ? '' : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

const localTime = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  fractionalSecondDigits: 3, hour12: false,
});

/** A time in the browser's zone; `title` holds the UTC time it was stored with. */
export function timeElement(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h('span', { class: 'time', text: iso ?? '' });
  return h('time', { class: 'time', datetime: date.toISOString(), title: `${date.toISOString()} (UTC)`, text: localTime.format(date) });
}

/** `12 ms`, `1.4 s`, `3.0 min`, `2.5 h`. */
export function formatDuration(milliseconds) {
  const ms = Math.abs(milliseconds);
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** `+12 ms`: the time between a node and its parent (`−` when it came first). */
export function formatDelta(milliseconds) {
  return `${milliseconds < 0 ? '−' : '+'}${formatDuration(milliseconds)}`;
}

/** What an error says to a person: a problem's detail, else its message. */
export function describeError(error) {
  return error?.problem?.detail || error?.problem?.title || error?.message || String(error);
}

/** A visible error line (`role="alert"` so screen readers announce it). */
export function errorElement(error) {
  return h('p', { class: 'error', role: 'alert', text: describeError(error) });
}

/** Whether two JSON values are equal. */
export function sameJson(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * JSON.stringify(value, null, 2) as nodes, where each member whose value differs from the
 * same path in `previous` is wrapped in <mark>. Pass `previous` undefined to mark nothing.
 */
function jsonNodes(value, previous) {
  const out = [];
  write(out, value, previous, previous !== undefined, '');
  return out;
}

function write(out, value, previous, compare, indent) {
  const isObject = value !== null && typeof value === 'object';
  if (!isObject) {
    out.push(JSON.stringify(value) ?? 'null');
    return;
  }
  const isArray = Array.isArray(value);
  const entries = isArray ? value.map((item, index) => [index, item]) : Object.entries(value);
  const [open, close] = isArray ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) {
    out.push(open + close);
    return;
  }
  const inner = `${indent}  `;
  const before = previous !== null && typeof previous === 'object' && Array.isArray(previous) === isArray ? previous : undefined;
  out.push(`${open}\n`);
  entries.forEach(([key, item], index) => {
    const old = before?.[key];
    const changed = compare && !sameJson(item, old);
    // A nested container that changed marks only its changed members, unless it is new.
    const nested = item !== null && typeof item === 'object' && old !== null && typeof old === 'object';
    const member = isArray ? [] : [`${JSON.stringify(String(key))}: `];
    write(member, item, old, compare && changed && nested, inner);
    const comma = index < entries.length - 1 ? ',' : '';
    out.push(inner);
    if (changed && !nested) out.push(h('mark', { title: old === undefined ? 'new' : `was ${JSON.stringify(old).slice(0, 200)}` }, ...member));
    else out.push(...member);
    out.push(`${comma}\n`);
  });
  out.push(indent + close);
}

/** Pretty JSON in a <pre>, optionally marking changes from `previous`. */
export function jsonBlock(value, previous, attributes = {}) {
  return h('pre', { class: 'json', ...attributes }, ...jsonNodes(value, previous));
}

// What each element kept by syncChildren was last rendered from.
const renderedFrom = new WeakMap();

/**
 * Keeps `container`'s children in step with `items` by key, reusing the element of a key that
 * stays (so focus and inline messages survive a refresh); `update` runs only when an item's
 * JSON changed.
 */
export function syncChildren(container, items, keyOf, create, update) {
  const existing = new Map();
  for (const child of container.children) existing.set(child.dataset.key, child);
  const wanted = items.map((item) => {
    const key = String(keyOf(item));
    const json = JSON.stringify(item);
    let element = existing.get(key);
    if (!element) {
      element = create(item);
      element.dataset.key = key;
    }
    if (renderedFrom.get(element) !== json) {
      update(element, item);
      renderedFrom.set(element, json);
    }
    existing.delete(key);
    return element;
  });
  for (const stale of existing.values()) stale.remove();
  wanted.forEach((element, index) => {
    if (container.children[index] !== element) container.insertBefore(element, container.children[index] ?? null);
  });
}

/** A status badge: `running`, `down`, ... each with its own color class. */
export function badge(state) {
  return h('span', { class: `badge badge-${String(state).replace(/[^a-z_]/g, '')}`, text: state });
}
