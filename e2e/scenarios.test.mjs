// Scenarios 1–3 of the seed's guide, proved in headless Chromium against
// the real demo stack (redis-server, three stand-ins, the companion).
// Screenshots: test-output/screenshots/. Propagation times per panel are
// printed and written to test-output/propagation.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDemo, launchBrowser, shot, root, portIsFree } from './stack.mjs';

const NAMES = ['api-1', 'api-2', 'api-3'];
let demo, browser, page;
const dialogs = [];
const negotiates = [];
const latencies = Object.fromEntries(NAMES.map((n) => [n, []]));
let sentByPage = 0; // Test Broadcast clicks so far

before(async () => {
  demo = await startDemo();
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  page.on('request', (r) => { if (r.url().includes('/negotiate?')) negotiates.push(r); });
  await page.goto(demo.url);
});

after(async () => {
  await browser?.close();
  await demo?.stop(); // already stopped by the last test unless something failed first
  const summary = Object.fromEntries(Object.entries(latencies).map(([n, xs]) => {
    const s = [...xs].sort((a, b) => a - b);
    return [n, { samples: s.length, medianMs: s[Math.floor((s.length - 1) / 2)] ?? null, maxMs: s.at(-1) ?? null }];
  }));
  writeFileSync(join(root, 'test-output', 'propagation.json'), JSON.stringify(summary, null, 2));
  console.log('propagation (click to arrival, per panel):', JSON.stringify(summary));
});

/** Waits until every named panel shows `status`. */
async function panelsAre(status, names, timeout = 20_000) {
  await page.waitForFunction(
    ([names, status]) => names.every((n) => document.querySelector(`[data-instance="${n}"]`)?.dataset.status === status),
    [names, status], { timeout, polling: 50 });
}

async function connectionId(name) {
  return page.$eval(`[data-instance="${name}"] [data-connection-id]`, (e) => e.textContent.trim());
}

/** Clicks Test Broadcast and waits for that broadcast's verdict; returns it. */
async function broadcastAndJudge(expected) {
  const before = await page.$$eval('[data-verdict]', (rows) => rows.map((r) => r.dataset.broadcastId));
  await page.getByRole('button', { name: 'Test Broadcast' }).click();
  sentByPage += 1;
  const handle = await page.waitForFunction((seen) => {
    const row = [...document.querySelectorAll('[data-verdict]')].find((r) => !seen.includes(r.dataset.broadcastId));
    return row && row.dataset.verdict !== 'pending' ? row.dataset.broadcastId : null;
  }, before, { timeout: 15_000, polling: 50 });
  const id = await handle.jsonValue();
  const row = page.locator(`[data-verdict][data-broadcast-id="${id}"]`);
  const verdict = await row.getAttribute('data-verdict');
  const received = await row.locator('[data-received-by]').evaluateAll((cells) =>
    cells.map((c) => ({ name: c.dataset.receivedBy, ms: Number(c.dataset.latencyMs) })));
  if (expected) assert.equal(verdict, expected, `verdict for ${id}`);
  return { id, verdict, received };
}

function record(received) {
  for (const { name, ms } of received) if (Number.isFinite(ms)) latencies[name]?.push(ms);
}

test('Scenario 1: every panel connects and receives a broadcast; verdict PASS', async () => {
  await panelsAre('connected', NAMES);
  const { id, received } = await broadcastAndJudge('pass');
  assert.deepEqual(received.map((r) => r.name).sort(), NAMES);
  record(received);
  for (const n of NAMES) {
    const rows = await page.locator(`[data-instance="${n}"] [data-target="NavigationStateUpdate"][data-seq]`).count();
    assert.ok(rows >= 1, `${n} shows the broadcast`);
  }
  assert.ok(id);
  // Negotiate crossed origins as @microsoft/signalr sends it (its headers, credentials) and the
  // stand-in's preflight let it through: every panel has a server id, not the skipNegotiation fallback.
  for (const n of NAMES) assert.match(await connectionId(n), /^[A-Za-z0-9_-]{22}$/, `${n} negotiated`);
  assert.ok(negotiates.length >= NAMES.length);
  for (const r of negotiates) {
    const h = await r.allHeaders();
    assert.equal(h['x-requested-with'], 'XMLHttpRequest');
    assert.match(h['x-signalr-user-agent'], /^signalscope\/\d+\.\d+ \(.*; Unknown OS; Browser; Unknown Runtime Version\)$/);
  }
  await page.screenshot({ path: shot('scenario-1-broadcast-pass'), fullPage: true });
});

/** A panel's counts: lost while connected, missed while disconnected. */
async function counts(name) {
  return {
    lost: await page.$eval(`[data-instance="${name}"] [data-lost]`, (e) => Number(e.dataset.lost)),
    missed: await page.$eval(`[data-instance="${name}"] [data-missed]`, (e) => Number(e.dataset.missed)),
  };
}

test('Scenario 2: a dead instance reconnects with a new id; what it missed while down is told apart from loss', async () => {
  await panelsAre('connected', NAMES);
  const oldId = await connectionId('api-2');
  const missedBefore = (await counts('api-2')).missed;
  await demo.api('/api/demo/instances/api-2/stop', {});
  await panelsAre('reconnecting', ['api-2']);
  await panelsAre('connected', ['api-1', 'api-3'], 1_000);
  // Three broadcasts while api-2 is down: the others PASS; api-2 misses
  // them, as SignalR does not replay, and that is no loss.
  for (let i = 0; i < 3; i++) record((await broadcastAndJudge('pass')).received);
  assert.deepEqual(await counts('api-2'), { lost: 0, missed: missedBefore + 3 });
  await page.screenshot({ path: shot('scenario-2-instance-down'), fullPage: true });

  await demo.api('/api/demo/instances/api-2/start', {});
  await panelsAre('connected', NAMES, 45_000);
  assert.notEqual(await connectionId('api-2'), oldId, 'a reconnect negotiates a new connection id');

  for (let i = 0; i < 3; i++) record((await broadcastAndJudge('pass')).received);
  for (const n of NAMES) {
    assert.equal((await counts(n)).lost, 0, `${n} lost no broadcast sent while it was connected`);
  }
  assert.equal((await counts('api-2')).missed, missedBefore + 3, 'the gap api-2 saw is not counted twice');
  await page.screenshot({ path: shot('scenario-2-recovered'), fullPage: true });
});

test('Scenario 3: Redis down shows in the feed, panels stay connected; back up, broadcasts flow again', async () => {
  await panelsAre('connected', NAMES);
  await demo.api('/api/demo/redis/stop', {});
  await page.waitForSelector('[data-feed][data-redis="down"]', { timeout: 20_000 });
  await page.waitForSelector('[data-redis-reachable="false"]', { timeout: 10_000 });
  await panelsAre('connected', NAMES, 1_000);
  await page.screenshot({ path: shot('scenario-3-redis-down'), fullPage: true });

  await demo.api('/api/demo/redis/start', {});
  await page.waitForSelector('[data-feed][data-redis="up"]', { timeout: 30_000 });
  await page.waitForSelector('[data-redis-reachable="true"]', { timeout: 10_000 });
  // Every stand-in has resubscribed when the all channel has three subscribers again.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await demo.api('/api/status');
    if (status.redis.allSubscribers === 3) break;
    assert.ok(Date.now() < deadline, `stand-ins did not resubscribe: ${JSON.stringify(status.redis)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await panelsAre('connected', NAMES, 1_000);
  record((await broadcastAndJudge('pass')).received);
  await page.screenshot({ path: shot('scenario-3-redis-back'), fullPage: true });
});

test('The canary runs beside the page: its rounds show per instance, none counted as the page\'s', async () => {
  await panelsAre('connected', NAMES);
  await page.waitForFunction(() => Number(document.querySelector('[data-canary-sent]')?.dataset.canarySent) >= 3,
    null, { timeout: 20_000, polling: 100 });
  for (const n of NAMES) {
    const row = page.locator(`[data-canary-instance="${n}"]`);
    assert.equal(await row.getAttribute('data-connected'), 'true', `the canary is connected to ${n}`);
    assert.ok(await row.locator('.cell.good').count() >= 1, `${n} received canaries in time`);
  }
  // Verdict rows are this page's broadcasts only: as many as it sent.
  const verdicts = await page.locator('[data-verdict]').count();
  assert.equal(verdicts, sentByPage, 'no canary became a verdict');
  await page.locator('section.canary').screenshot({ path: shot('canary-history') });
});

test('A hostile payload is shown as text, never run as HTML', async () => {
  const evil = '<img src=x onerror=alert(1)>';
  await demo.api('/api/test/trigger-navigation-update', { payload: { type: evil, data: { note: evil } } });
  await page.waitForFunction((evil) => document.body.innerText.includes(evil), evil, { timeout: 10_000 });
  assert.equal(await page.locator('[data-instance] img').count(), 0, 'no <img> was created from the payload');
  assert.deepEqual(dialogs, [], 'no script ran');
  await page.screenshot({ path: shot('hostile-payload-as-text'), fullPage: true });
});

test('Ctrl-C stops the whole demo: clean exit, no child left holding a port', async () => {
  await browser.close();
  browser = undefined;
  const code = await demo.stop();
  assert.equal(code, 0, `demo should exit cleanly on Ctrl-C:\n${demo.output()}`);
  // A child that outlived the demo would still hold its port.
  const redisPort = Number(demo.output().match(/redis +redis:\/\/127\.0\.0\.1:(\d+)/)?.[1]);
  assert.ok(redisPort, 'the demo said where Redis runs');
  for (const port of [...demo.ports, redisPort]) assert.ok(await portIsFree(port), `port ${port} is free after Ctrl-C`);
});
