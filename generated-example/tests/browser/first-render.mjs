// The page's weight and its time to first render with many events in the store: not a test (it
// asserts nothing), the measurement docs/service.md reports. Against a running shop service:
//
//   SHOP_URL=http://127.0.0.1:8080 node first-render.mjs [events]
//
// It appends `receive_stock` commands until the store holds `events` (default 10,000), then
// loads /ui in a fresh headless Chromium five times and prints the size of the page's files and
// the median time from navigation to the first timeline row, and to the live feed connected.

import { chromium } from 'playwright-core';

const SHOP_URL = (process.env.SHOP_URL ?? '').replace(/\/+$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WANTED = Number(process.argv[2] ?? 10_000);
const LOADS = 5;

if (!SHOP_URL) {
  console.error('SHOP_URL must name the running service, e.g. http://127.0.0.1:8080');
  process.exit(2);
}

async function head() {
  const response = await fetch(`${SHOP_URL}/operations`);
  if (!response.ok) throw new Error(`GET /operations: ${response.status} ${await response.text()}`);
  return (await response.json()).head;
}

/** Appends events, 32 commands at a time, until the store holds `wanted`. */
async function fill(wanted) {
  let have = await head();
  let sku = 0;
  while (have < wanted) {
    const batch = Math.min(32, wanted - have);
    await Promise.all(Array.from({ length: batch }, () => {
      sku += 1;
      return fetch(`${SHOP_URL}/commands/stock/RENDER-${Date.now()}-${sku}/receive_stock`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ quantity: 1 }),
      }).then((r) => { if (!r.ok) throw new Error(`receive_stock: ${r.status}`); });
    }));
    have += batch;
  }
  return head();
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const events = await fill(WANTED);
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const firstRow = [];
const live = [];
let bytes = new Map();
for (let load = 0; load < LOADS; load += 1) {
  // A fresh context each time: nothing cached.
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  bytes = new Map();
  page.on('response', async (response) => {
    const url = new URL(response.url());
    if (url.pathname === '/ui' || url.pathname.startsWith('/ui/')) {
      bytes.set(url.pathname, (await response.body()).length);
    }
  });
  await page.goto(`${SHOP_URL}/ui`);
  await page.locator('[data-testid="timeline-row"]').first().waitFor({ timeout: 30_000 });
  firstRow.push(await page.evaluate(() => performance.now()));
  await page.locator('[data-testid="connection-status"]', { hasText: 'live' }).waitFor({ timeout: 30_000 });
  live.push(await page.evaluate(() => performance.now()));
  await context.close();
}
await browser.close();
const total = [...bytes.values()].reduce((sum, size) => sum + size, 0);
console.log(`events in the store: ${events}`);
console.log(`page: ${bytes.size} files, ${total} bytes uncompressed`);
console.log(`first timeline row: median ${median(firstRow).toFixed(0)} ms over ${LOADS} loads (${firstRow.map((t) => t.toFixed(0)).join(', ')})`);
console.log(`live feed connected: median ${median(live).toFixed(0)} ms`);
