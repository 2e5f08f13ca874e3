// The page's shell: the header, the token form, the hash routes and the keys that work
// everywhere. Each view is a module with its section (`element`), show(param), hide() and,
// when it has a search field for `/`, focusSearch().

import { forgetToken, onOverview, onTokenChange, setTokenPrompt, token } from './api.js';
import { closeDetail, isDetailOpen } from './detail.js';
import * as operations from './operations.js';
import * as stream from './stream.js';
import * as timeline from './timeline.js';
import * as trace from './trace.js';

const views = { timeline, stream, trace, operations };
const forgetButton = document.getElementById('forget-token');
let current = null;

/** `#/stream/order-1` → `{name: 'stream', param: 'order-1'}`; anything unknown is the timeline. */
function parseRoute(hash) {
  const [, name = '', ...rest] = hash.replace(/^#/, '').split('/');
  const raw = rest.join('/');
  let param = raw;
  try {
    param = decodeURIComponent(raw);
  } catch {
    // A hand-typed "%" that encodes nothing: take the text as it is.
  }
  return Object.hasOwn(views, name) && name !== 'timeline' ? { name, param } : { name: 'timeline', param: '' };
}

function route() {
  const { name, param } = parseRoute(location.hash);
  if (current !== name) {
    if (current) {
      views[current].hide();
      views[current].element.hidden = true;
    }
    closeDetail();
    current = name;
    views[name].element.hidden = false;
  }
  for (const link of document.querySelectorAll('nav.views a')) {
    if (link.dataset.view === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  views[name].show(param);
}

// --- The token form: shown when a request answers 401, until a token is entered.

const dialog = document.getElementById('token-dialog');
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token-input');
const tokenProblem = document.getElementById('token-problem');

setTokenPrompt((problem) => new Promise((resolve) => {
  const refused = token() !== null;
  tokenProblem.textContent = refused
    ? `The token was refused: ${problem.detail ?? problem.title ?? 'unauthorized'}`
    : (problem.detail ?? 'Enter a token to read this service.');
  tokenProblem.classList.toggle('error', refused);
  tokenInput.value = '';
  tokenForm.onsubmit = (event) => {
    event.preventDefault();
    const entered = tokenInput.value.trim();
    if (!entered) return;
    dialog.close();
    resolve(entered);
  };
  if (!dialog.open) dialog.showModal();
  tokenInput.focus();
}));

// Without a token nothing can be read: Escape must not close the form.
dialog.addEventListener('cancel', (event) => event.preventDefault());

function showForgetButton(stored) {
  forgetButton.hidden = !stored;
}

forgetButton.addEventListener('click', () => {
  forgetToken();
  // Streams opened with the old token stay open: start over, and be asked again.
  location.reload();
});

onTokenChange(showForgetButton);
showForgetButton(token());

onOverview((service) => {
  document.getElementById('service-name').textContent = service.service;
  document.title = `${service.service} · eventsmith`;
});

// --- Keys that work in every view.

function typing(target) {
  return target.closest('input, textarea, select, [contenteditable="true"]') !== null;
}

document.addEventListener('keydown', (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === 'Escape' && isDetailOpen()) {
    event.preventDefault();
    closeDetail();
  } else if (event.key === '/' && !typing(event.target)) {
    event.preventDefault();
    views[current].focusSearch?.();
  }
});

window.addEventListener('hashchange', route);
route();
timeline.start();
