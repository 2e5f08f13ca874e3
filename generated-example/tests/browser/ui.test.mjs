// The service's /ui page in headless Chromium, against a running shop service: the timeline
// shows a new order live, its correlation trace shows what the saga did, time travel steps
// through its payment, operations retries a dead letter, the page calls nothing but the
// service, and it fits a phone.
//
// Run by the Rust harness as `node --test ui.test.mjs` with:
//   SHOP_URL            the service, e.g. http://127.0.0.1:40123 (required)
//   SCREENSHOTS         where to write timeline.png, trace.png, stream.png, operations.png,
//                       timeline-phone.png (default: shop-ui-screenshots in the temp directory)
//   CHROMIUM            the browser (default /usr/bin/chromium)
//   DEAD_LETTER_RUNNER, DEAD_LETTER_ID
//                       a retryable dead letter the harness prepared (required by its test)
//   TOKEN               a write token, when the service has tokens

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const SHOP_URL = (process.env.SHOP_URL ?? '').replace(/\/+$/, '');
const SCREENSHOTS = process.env.SCREENSHOTS || path.join(tmpdir(), 'shop-ui-screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TOKEN = process.env.TOKEN || null;
const DEAD_LETTER_RUNNER = process.env.DEAD_LETTER_RUNNER || null;
const DEAD_LETTER_ID = process.env.DEAD_LETTER_ID || null;

assert.ok(SHOP_URL, 'SHOP_URL must name the running service, e.g. http://127.0.0.1:40123');
const ORIGIN = new URL(SHOP_URL).origin;

// Waits: long enough for a loaded CI machine, short enough to fail while someone still cares.
const PAGE_READY_MS = 15_000;
const LIVE_ROW_MS = 2_000;
const SAGA_MS = 20_000;
const STEP_MS = 10_000;

let browser;
let page;
/** Every URL the page requested, for the same-origin test. */
const requested = [];
/** Console errors, policy violations and failed API answers, reported by the last test. */
const consoleProblems = [];
/** The order the tests place, pay and look at. */
let order = null;

before(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  context.on('request', (request) => requested.push(request.url()));
  // One tab for every test: the token the page is given stays in its session storage.
  page = await context.newPage();
  page.on('console', (message) => {
    const text = message.text();
    // A 401 before the token is given is how the page learns it needs one: the browser logs
    // every non-2xx answer, which is no fault of the page.
    if (/^Failed to load resource/.test(text)) return;
    if (message.type() === 'error' || /Content.Security.Policy/i.test(text)) consoleProblems.push(text);
  });
  page.on('pageerror', (error) => consoleProblems.push(`uncaught: ${error.message}`));
  // The console's "Failed to load resource" lines are ignored above: the answers themselves are
  // checked here. Only a 401 (before the token is given) is expected.
  page.on('response', (response) => {
    if (response.status() >= 400 && response.status() !== 401) {
      consoleProblems.push(`${response.status()} for ${response.request().method()} ${response.url()}`);
    }
  });
});

after(async () => {
  await browser?.close();
});

// --- The service's API, from the test.

async function call(method, route, body, headers = {}) {
  const response = await fetch(`${SHOP_URL}${route}`, {
    method,
    headers: {
      'Content-Type': 'application/json',
      ...(TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${route} answered ${response.status}: ${text}`);
  return { body: text ? JSON.parse(text) : null, headers: response.headers };
}

/** Places an order of two lines whose stock was received, once for the whole file. */
async function placedOrder() {
  if (order) return order;
  const suffix = randomUUID().slice(0, 8).toUpperCase();
  const lines = [
    { sku: `UI-BOOK-${suffix}`, quantity: 2, unit_price: 12.5 },
    { sku: `UI-PEN-${suffix}`, quantity: 1, unit_price: 3.99 },
  ];
  for (const line of lines) await call('POST', `/commands/stock/${line.sku}/receive_stock`, { quantity: 10 });
  const customer = randomUUID();
  await call('POST', `/commands/customer/${customer}/register_customer`, { email: `ui-${suffix.toLowerCase()}@example.com`, name: 'Ada Browser' });
  const id = randomUUID();
  const correlationId = `ui-test-${randomUUID()}`;
  const placed = await call('POST', `/commands/order/${id}/place_order`,
    { customer_id: customer, currency: 'EUR', lines },
    { 'X-Correlation-Id': correlationId });
  const placedEvent = placed.body.events.find((event) => event.type === 'order.placed');
  assert.ok(placedEvent, `place_order appended no order.placed: ${JSON.stringify(placed.body)}`);
  assert.equal(placed.headers.get('x-correlation-id'), correlationId, 'the command did not keep the X-Correlation-Id it was sent');
  order = {
    id,
    stream: `order-${id}`,
    lines,
    total: Math.round(lines.reduce((sum, line) => sum + line.quantity * line.unit_price * 100, 0)) / 100,
    correlationId,
    position: placedEvent.position,
  };
  return order;
}

// --- The page.

/** Opens `hash` of /ui, giving the token form the token when the page asks for one. */
async function openUi(hash = '') {
  await page.goto(`${SHOP_URL}/ui${hash}`);
  if (!TOKEN) return;
  const form = page.getByTestId('token-form');
  const timeline = page.getByTestId('connection-status').and(page.locator('[data-state="live"]'));
  // Asked only the first time: the tab keeps the token afterwards.
  await form.or(timeline).first().waitFor({ timeout: PAGE_READY_MS });
  if (await form.isVisible()) {
    await form.locator('input[type="password"]').fill(TOKEN);
    await form.locator('button[type="submit"]').click();
  }
}

async function screenshot(name) {
  await page.screenshot({ path: path.join(SCREENSHOTS, name) });
}

/** Polls `check` until it answers true, failing with `message` after `timeout` ms. */
async function eventually(check, timeout, message) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last === true) return;
    await page.waitForTimeout(100);
  }
  assert.fail(`${message}${last !== false && last !== undefined ? ` (last seen: ${last})` : ''}`);
}

/** The text of the state the time travel view shows after `version`, once it shows it. */
async function stateAfter(version) {
  const state = page.locator(`[data-testid="state-json"][data-version="${version}"]`);
  await state.waitFor({ timeout: STEP_MS })
    .catch(() => assert.fail(`the time travel view did not show the state after version ${version}`));
  return state.textContent();
}

test('the timeline shows a new order.placed row within 2 s, without a reload', async () => {
  await openUi('#/');
  await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor({ timeout: PAGE_READY_MS })
    .catch(async () => assert.fail(`the live feed did not connect: the indicator says "${await page.getByTestId('connection-status').textContent()}"`));
  const navigations = [];
  const noteNavigation = (frame) => {
    if (frame === page.mainFrame()) navigations.push(frame.url());
  };
  page.on('framenavigated', noteNavigation);

  const placed = await placedOrder();
  const row = page.locator(`[data-testid="timeline-row"][data-position="${placed.position}"]`);
  await row.waitFor({ timeout: LIVE_ROW_MS }).catch(() => assert.fail(`no timeline row for order.placed #${placed.position} within ${LIVE_ROW_MS} ms of the command's answer`));
  assert.equal(await row.getAttribute('data-type'), 'order.placed');
  assert.match(await row.textContent(), new RegExp(placed.stream), 'the row does not show the order\'s stream');
  page.off('framenavigated', noteNavigation);
  assert.deepEqual(navigations, [], 'the page navigated (reloaded) to show the row');
  await screenshot('timeline.png');
});

test('the trace of the order shows the saga\'s reserve_stock commands and their stock.reserved events under order.placed', async () => {
  const placed = await placedOrder();
  await openUi('#/');
  // From the timeline: the row's details, then its "trace" link.
  const row = page.locator(`[data-testid="timeline-row"][data-position="${placed.position}"]`);
  await row.waitFor({ timeout: PAGE_READY_MS });
  await row.click();
  const pane = page.getByTestId('detail-pane');
  await pane.waitFor({ timeout: STEP_MS });
  await pane.getByRole('link', { name: 'trace' }).click();
  assert.equal(new URL(page.url()).hash, `#/trace/${encodeURIComponent(placed.correlationId)}`);

  const placedNode = page.locator('[data-testid="trace-node"][data-kind="event"][data-type="order.placed"]');
  await placedNode.waitFor({ timeout: PAGE_READY_MS });
  const reserves = placedNode.locator('[data-testid="trace-node"][data-kind="command"][data-name$="reserve_stock"]');
  const reserved = reserves.locator('[data-testid="trace-node"][data-kind="event"][data-type="stock.reserved"]');
  // The saga works after the command answered; the trace view reads it again until it has.
  await eventually(async () => (await reserves.count()) === placed.lines.length || `${await reserves.count()} reserve_stock nodes`,
    SAGA_MS, `the trace did not show ${placed.lines.length} reserve_stock commands under order.placed`);
  await eventually(async () => (await reserved.count()) === placed.lines.length || `${await reserved.count()} stock.reserved nodes`,
    SAGA_MS, `the trace did not show ${placed.lines.length} stock.reserved events under the reserve_stock commands`);
  const origins = await reserves.evaluateAll((nodes) => nodes.map((node) => node.querySelector('.origin')?.textContent));
  assert.deepEqual(origins, placed.lines.map(() => 'saga'), 'the reserve_stock commands are not shown as sent by a saga');
  await screenshot('trace.png');
});

test('time travel steps back to the order before its payment and forward to it paid', async () => {
  const placed = await placedOrder();
  await call('POST', `/commands/order/${placed.id}/pay_order`, { amount: placed.total, method: 'card' });
  await openUi(`#/stream/${encodeURIComponent(placed.stream)}`);

  const slider = page.getByTestId('version-input');
  await slider.waitFor({ timeout: PAGE_READY_MS });
  const latest = Number(await slider.getAttribute('max'));
  assert.ok(latest >= 2, `the order's stream has ${latest} versions; placed and paid make two`);
  assert.match(await stateAfter(latest), /"status": "paid"/, 'the latest state is not paid');

  await page.getByTestId('step-back').click();
  const beforePayment = await stateAfter(latest - 1);
  assert.doesNotMatch(beforePayment, /"status": "paid"/, 'one version back, the order is still paid');
  assert.match(beforePayment, /"status": "placed"/, 'one version back, the order is not placed');

  await page.getByTestId('step-forward').click();
  assert.match(await stateAfter(latest), /"status": "paid"/, 'forward again, the order is not paid');
  await screenshot('stream.png');
});

test('operations shows the prepared dead letter, and Retry releases it', async () => {
  assert.ok(DEAD_LETTER_RUNNER && DEAD_LETTER_ID, 'DEAD_LETTER_RUNNER and DEAD_LETTER_ID must name the dead letter the harness prepared');
  await openUi('#/operations');
  const letter = page.locator(`[data-testid="dead-letter"][data-runner="${DEAD_LETTER_RUNNER}"][data-id="${DEAD_LETTER_ID}"]`);
  await letter.waitFor({ timeout: PAGE_READY_MS })
    .catch(() => assert.fail(`operations does not list dead letter ${DEAD_LETTER_ID} of ${DEAD_LETTER_RUNNER}`));
  const count = page.locator(`[data-testid="projection-row"][data-name="${DEAD_LETTER_RUNNER}"] [data-testid="dead-letter-count"]`);
  await count.waitFor({ timeout: STEP_MS })
    .catch(() => assert.fail(`operations has no runner row for ${DEAD_LETTER_RUNNER}`));
  const before = Number(await count.textContent());
  assert.ok(before >= 1, `${DEAD_LETTER_RUNNER} counts ${before} dead letters, yet one is listed`);
  await screenshot('operations.png');

  await letter.getByTestId('retry-dead-letter').click();
  // Released, it leaves the list; refused, the page shows the problem's detail beside it.
  const refused = letter.locator('.letter-message.error');
  const outcome = await Promise.race([
    letter.waitFor({ state: 'detached', timeout: STEP_MS }).then(() => 'released'),
    refused.waitFor({ timeout: STEP_MS }).then(() => 'refused'),
  ]).catch(() => 'still listed');
  if (outcome === 'refused') assert.fail(`Retry was refused: ${await refused.textContent()}`);
  assert.equal(outcome, 'released', `dead letter ${DEAD_LETTER_ID} of ${DEAD_LETTER_RUNNER} is still listed ${STEP_MS} ms after Retry`);
  await eventually(async () => Number(await count.textContent()) < before || `count ${await count.textContent()}`,
    STEP_MS, `${DEAD_LETTER_RUNNER}'s dead letter count did not drop below ${before} after Retry`);
});

test('at 375 px the timeline fits the width: the page does not scroll sideways', async () => {
  await page.setViewportSize({ width: 375, height: 740 });
  await openUi('#/');
  await page.locator('[data-testid="timeline-row"]').first().waitFor({ timeout: PAGE_READY_MS });
  const widths = await page.evaluate(() => {
    const measure = (element) => ({ scroll: element.scrollWidth, client: element.clientWidth });
    return {
      document: measure(document.documentElement),
      body: measure(document.body),
      main: measure(document.querySelector('main')),
    };
  });
  for (const [name, { scroll, client }] of Object.entries(widths)) {
    assert.ok(scroll <= client, `at 375 px the ${name} is ${scroll} px wide, wider than its ${client} px`);
  }
  await screenshot('timeline-phone.png');
  await page.setViewportSize({ width: 1280, height: 720 });
});

test('every request the page made went to the service, and the console stayed clean', () => {
  assert.ok(requested.length > 0, 'the page made no request at all');
  const elsewhere = requested.filter((url) => new URL(url).origin !== ORIGIN);
  assert.deepEqual(elsewhere, [], `the page requested URLs outside ${ORIGIN}`);
  assert.deepEqual(consoleProblems, [], 'the console reported errors or policy violations');
});
