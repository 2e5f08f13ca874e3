// Talking to the service: JSON requests with the bearer token, the token prompt on 401, problem
// details as errors, and server-sent events read with fetch (EventSource cannot send a token).

const TOKEN_KEY = 'eventsmith-token';

/** An answer that is not 2xx, with the problem+json body when there is one. */
class ProblemError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

const tokenListeners = new Set();

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  tokenListeners.forEach((listener) => listener(null));
}

/** Calls `listener(token)` whenever the token is set or forgotten. */
export function onTokenChange(listener) {
  tokenListeners.add(listener);
}

// The page's token form: set by app.js, resolves with a new token once the person enters one.
let promptForToken = () => Promise.reject(new Error('the service needs a token'));
// One prompt at a time: every request refused meanwhile waits for the same answer.
let pendingPrompt = null;

export function setTokenPrompt(prompt) {
  promptForToken = prompt;
}

async function askToken(problem) {
  pendingPrompt ??= promptForToken(problem).then((entered) => {
    sessionStorage.setItem(TOKEN_KEY, entered);
    tokenListeners.forEach((listener) => listener(entered));
    return entered;
  }).finally(() => {
    pendingPrompt = null;
  });
  return pendingPrompt;
}

function headers(extra = {}) {
  const all = { Accept: 'application/json', ...extra };
  const current = token();
  if (current) all.Authorization = `Bearer ${current}`;
  return all;
}

async function problemOf(response) {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    if (body && typeof body === 'object') return body;
  } catch {
    // Not JSON (a proxy's page, say): its text is the detail.
  }
  return { status: response.status, title: response.statusText, detail: text.trim().slice(0, 300) || `HTTP ${response.status} ${response.statusText}` };
}

/**
 * fetch() with the token: on 401 asks for a token and tries again with it; any other failure
 * throws a ProblemError.
 */
async function send(path, init = {}) {
  for (;;) {
    const sentWith = token();
    const response = await fetch(path, { ...init, headers: headers(init.headers) });
    if (response.status === 401) {
      const problem = await problemOf(response);
      // A request that raced a prompt already answered retries with the new token first.
      if (token() === sentWith) await askToken(problem);
      continue;
    }
    if (response.status === 403) {
      const problem = await problemOf(response);
      // An action with the read-only token: the write token is asked for, and the action sent
      // again with it (the form can be dismissed by entering the same token, which fails again).
      if (String(problem.type ?? '').endsWith(':read-only-token') && init.method === 'POST') {
        if (token() === sentWith) {
          const entered = await askToken({ ...problem, detail: `${problem.detail} Enter the write token to go on.` });
          if (entered === sentWith) throw new ProblemError(response.status, problem);
        }
        continue;
      }
      throw new ProblemError(response.status, problem);
    }
    if (!response.ok) throw new ProblemError(response.status, await problemOf(response));
    return response;
  }
}

/** GET `path` as JSON. */
export async function getJson(path) {
  const response = await send(path);
  return response.json();
}

/** POST `body` (JSON) to `path`, answering the response's JSON. */
export async function postJson(path, body = {}) {
  const response = await send(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' },
  });
  const text = await response.text();
  return text ? JSON.parse(text) : {};
}

/** `/a/b` from path segments, each encoded. */
export function path(...segments) {
  return `/${segments.map((segment) => encodeURIComponent(segment)).join('/')}`;
}

// --- The service's overview (`/operations`): its name, head, event types' latest versions.

let overviewCache = null;
const overviewListeners = new Set();

/** Reads `/operations` again and tells every listener. */
export async function refreshOverview() {
  overviewCache = await getJson('/operations');
  overviewListeners.forEach((listener) => listener(overviewCache));
  return overviewCache;
}

/** The last `/operations` read, or null before the first. */
export function cachedOverview() {
  return overviewCache;
}

export function onOverview(listener) {
  overviewListeners.add(listener);
}

/** The latest version of event type `type`, when it is one of the service's aggregates'. */
export function latestVersion(type) {
  return overviewCache?.events?.find((event) => event.type === type)?.latest;
}

// --- Server-sent events.

/**
 * Splits a text/event-stream into messages `{id, event, data}`, as the SSE format defines them:
 * `field: value` lines (one leading space dropped), several `data` lines joined by "\n", a blank
 * line ends a message, lines starting with ":" are comments (keep-alives).
 */
async function* sseMessages(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let message = { id: null, event: 'message', data: [] };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      // A "\r" at the very end may be the first half of "\r\n": keep it for the next chunk.
      const lines = buffer.split(/\r\n|\r(?!$)|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === '') {
          if (message.data.length > 0) yield { id: message.id, event: message.event, data: message.data.join('\n') };
          message = { id: message.id, event: 'message', data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? '' : line.slice(colon + 1);
        if (text.startsWith(' ')) text = text.slice(1);
        if (field === 'data') message.data.push(text);
        else if (field === 'event') message.event = text;
        else if (field === 'id' && !text.includes('\0')) message.id = text;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

const RECONNECT_DELAYS = [500, 1000, 2000, 5000, 10000];

/**
 * Follows an SSE route until `signal` aborts: `url(lastId)` gives the URL to (re)connect to,
 * `onMessage` is awaited for each message (so they are handled in order), `onStatus` hears
 * `connecting`, `live`, `reconnecting` (with the delay and the error) and `stopped`. After a
 * disconnect it reconnects with `Last-Event-ID` set to the last id seen.
 */
export async function follow({ url, onMessage, onStatus, signal }) {
  let lastId = null;
  let failures = 0;
  while (!signal.aborted) {
    onStatus({ state: 'connecting' });
    let reason = null;
    try {
      const extra = { Accept: 'text/event-stream' };
      if (lastId !== null) extra['Last-Event-ID'] = lastId;
      const response = await send(url(lastId), { headers: extra, signal, cache: 'no-store' });
      onStatus({ state: 'live' });
      for await (const message of sseMessages(response.body)) {
        failures = 0;
        await onMessage(message);
        // Only once handled: a message whose handling failed is sent again after a reconnect.
        if (message.id !== null) lastId = message.id;
      }
      reason = new Error('the service closed the stream');
    } catch (error) {
      if (signal.aborted) break;
      reason = error;
    }
    if (signal.aborted) break;
    const delay = RECONNECT_DELAYS[Math.min(failures, RECONNECT_DELAYS.length - 1)];
    failures += 1;
    onStatus({ state: 'reconnecting', delay, error: reason });
    await sleep(delay, signal);
  }
  onStatus({ state: 'stopped' });
}

function sleep(milliseconds, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, milliseconds);
    signal.addEventListener('abort', done);
  });
}
