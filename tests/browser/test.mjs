// See run.sh. Exits non-zero with a message on the first check that fails.
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

const BIN = process.env.BIN;
const SHOT = process.env.SHOT;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fail = (msg) => { throw new Error(msg); };

// events at 2 per client per second, so a few seconds show every panel at work
const server = spawn(BIN, ['serve', '--port', '0', '--rate', '2', '--clients', '20', '--duration', '120'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
let log = '';
server.stderr.on('data', (d) => { log += d; });
const exited = new Promise((r) => server.on('exit', (code) => r(code)));
const url = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    const m = out.match(/at (http:\/\/127\.0\.0\.1:\d+\/)/);
    if (m) resolve(m[1]);
  });
  setTimeout(() => reject(new Error(`serve did not start: ${out} ${log}`)), 15000);
});
console.log(`serve is at ${url}`);

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(url);
  const ids = ['short-polling', 'long-polling', 'websocket', 'sse'];
  const figures = (id) => page.$eval(`[data-strategy="${id}"]`, (el) => ({
    events: Number(el.dataset.eventsReceived), requests: Number(el.dataset.requests),
    latency: Number(el.dataset.latencyMs), duplicates: Number(el.dataset.duplicates),
    lastId: el.dataset.lastEventId,
  }));
  const waitFor = async (what, test, ms) => {
    const until = Date.now() + ms;
    while (Date.now() < until) { if (await test()) return; await sleep(200); }
    fail(`timed out waiting for ${what}`);
  };

  // 1. every panel receives events, and says so in its data attributes
  for (const id of ids) {
    await waitFor(`${id} to receive 5 events`, async () => (await figures(id)).events >= 5, 30000);
  }
  console.log('every panel receives events:', JSON.stringify(Object.fromEntries(
    await Promise.all(ids.map(async (id) => [id, await figures(id)])))));

  // 2. a server-side cut: EventSource reconnects by itself with Last-Event-ID
  const before = await figures('sse');
  await page.click('[data-strategy="sse"] button.cut');
  await waitFor('the EventSource to reconnect with Last-Event-ID', async () => {
    const s = await (await fetch(`${url}_lab/stats`)).json();
    return s.strategies.sse.resumed >= 1;
  }, 15000);
  const stats = await (await fetch(`${url}_lab/stats`)).json();
  const sent = stats.strategies.sse.last_event_ids.map(Number);
  if (!sent.some((id) => id >= Number(before.lastId))) {
    fail(`Last-Event-ID ${sent} is older than the last id the page had (${before.lastId})`);
  }
  await waitFor('SSE events after the reconnection', async () => (await figures('sse')).events >= before.events + 3, 20000);
  const after = await figures('sse');
  if (after.duplicates !== 0) fail(`SSE repeated ${after.duplicates} events after resuming`);
  console.log(`EventSource resumed with Last-Event-ID ${sent.join(', ')}; events ${before.events} → ${after.events}, no duplicates`);

  // 3. the WebSocket reconnects too (the page's own code, as an app's would)
  const ws = await figures('websocket');
  await page.click('[data-strategy="websocket"] button.cut');
  await waitFor('the WebSocket to reconnect and receive events', async () => {
    const f = await figures('websocket');
    return f.requests > ws.requests && f.events >= ws.events + 3;
  }, 20000);
  console.log('WebSocket reconnected after the cut');

  // 4. latency, against theory: short polling waits half an interval on average (500 ms at
  // 1 s), a pushed event only the loopback transit
  await sleep(6000); // let the chart fill a little for the screenshot
  const sp = await figures('short-polling');
  const push = await figures('websocket');
  if (!(sp.latency > 250 && sp.latency < 800)) fail(`short-polling mean latency ${sp.latency} ms, expected about 500`);
  if (!(push.latency < 60)) fail(`websocket mean latency ${push.latency} ms, expected a few ms`);
  console.log(`mean latency: short polling ${sp.latency} ms, websocket ${push.latency} ms`);
  if (SHOT) { await page.screenshot({ path: SHOT }); console.log(`screenshot: ${SHOT}`); }

  // 5. Ctrl-C: the server shuts down gracefully; the WebSocket closes with 1001
  server.kill('SIGINT');
  await waitFor('the WebSocket close 1001', async () =>
    (await page.textContent('[data-strategy="websocket"] .state')).includes('1001'), 10000);
  const code = await exited;
  if (code !== 0) fail(`serve exited with ${code}: ${log}`);
  console.log('Ctrl-C: WebSocket closed with 1001, serve exited 0');
} finally {
  await browser.close();
  server.kill('SIGKILL');
}
