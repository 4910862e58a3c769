// Several hubs, and keys, proved in headless Chromium against a real stack:
// a Redis of its own, one stand-in instance serving the navigation hub
// (anonymous) and the notifications hub (key `vk-1`), and the companion
// naming both hubs. The page opens one panel per hub; the keyless
// notifications panel is refused with a 401 and waits for a key without
// asking again, takes a typed key and connects; each hub's test broadcast
// reaches only its own panel, and the topology draws a panel node per hub
// with each broadcast timed on its own hub's edge.
// Screenshots: test-output/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { launchBrowser, shot, root } from './stack.mjs';

const BIN = join(root, 'target', 'debug', 'signalscope');
const INSTANCE = 'api-1';
const KEY = 'vk-1';
const NAV = `section.panel[data-hub="navigation"][data-instance="${INSTANCE}"]`;
const NOTE = `section.panel[data-hub="notifications"][data-instance="${INSTANCE}"]`;

const children = [];
let companionUrl, browser, page;
const consoleLines = [];
/** Every negotiate the page sent to the notifications hub: its key header. */
const noteNegotiates = [];

/** A free TCP port on 127.0.0.1 (an ephemeral one: never Redis's 6379). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => (port === 6379 ? freePort().then(resolve, reject) : resolve(port)));
    });
  });
}

/** Spawns a process, keeping its output for failure messages. */
function start(name, cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { name, child, output: '' };
  child.stdout.on('data', (c) => { proc.output += c; });
  child.stderr.on('data', (c) => { proc.output += c; });
  children.push(proc);
  return proc;
}

/** Polls `ready()` until it resolves true, or fails naming `proc`'s output. */
async function waitUntil(proc, what, ready, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (proc.child.exitCode !== null) {
      throw new Error(`${proc.name} exited (${proc.child.exitCode}) before ${what}:\n${proc.output}`);
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${proc.name}: no ${what} within ${timeout} ms:\n${proc.output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Redis answers PING with +PONG. */
function redisPongs(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.setTimeout(1000, () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (c) => { got += c; if (got.includes('\r\n')) { s.destroy(); resolve(got.startsWith('+PONG')); } });
  });
}

async function httpOk(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

/** What the processes and the page said, for a failing assertion. */
function diagnostics() {
  return [
    ...children.map((p) => `--- ${p.name} output ---\n${p.output.slice(-4000)}`),
    `--- browser console ---\n${consoleLines.slice(-50).join('\n')}`,
  ].join('\n');
}

async function trigger(body) {
  const res = await fetch(new URL('/api/test/trigger-navigation-update', companionUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `trigger ${JSON.stringify(body)}: HTTP ${res.status} ${text}`);
  return JSON.parse(text);
}

/** A panel's state: status, status words, received count, listed messages' seqs. */
function panelState(selector) {
  return page.$eval(selector, (p) => ({
    status: p.dataset.status,
    words: p.querySelector('p.status')?.textContent ?? '',
    text: p.textContent,
    received: p.querySelector('[data-received]')?.dataset.received,
    messages: p.querySelectorAll('ol.messages li').length,
    seqs: [...p.querySelectorAll('ol.messages li')].map((li) => li.dataset.seq ?? null),
  }));
}

/** Waits for `fn(arg)` in the page, and on a timeout says what the panels showed. */
async function waitInPage(what, fn, arg, timeout = 20_000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 50 });
  } catch (e) {
    const panels = await page.$$eval('section.panel', (ps) => ps.map((p) => ({ ...p.dataset, text: p.textContent })))
      .catch(() => 'page gone');
    throw new Error(`${what}: ${e.message}\npanels: ${JSON.stringify(panels, null, 1)}\n${diagnostics()}`);
  }
}

before(async () => {
  const [redisPort, simPort, companionPort] = [await freePort(), await freePort(), await freePort()];
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const redis = start('redis', 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1',
    '--save', '', '--appendonly', 'no']);
  await waitUntil(redis, 'PONG', () => redisPongs(redisPort));

  const sim = start('sim', BIN, ['sim', '--listen', `127.0.0.1:${simPort}`, '--redis', redisUrl,
    '--name', INSTANCE, '--hub', 'navigation', '--hub', 'notifications', '--require-key', KEY]);
  await waitUntil(sim, 'health', () => httpOk(`http://127.0.0.1:${simPort}/health/live`));

  const companion = start('companion', BIN, ['serve', '--listen', `127.0.0.1:${companionPort}`,
    '--redis', redisUrl, '--instance', `${INSTANCE}=http://127.0.0.1:${simPort}`,
    '--hub', 'navigation', '--hub', 'notifications', '--dist', join(root, 'dist'), '--pass-within-ms', '1000']);
  companionUrl = `http://127.0.0.1:${companionPort}/`;
  await waitUntil(companion, '/api/config', () => httpOk(new URL('/api/config', companionUrl)));

  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/hubs/notifications/negotiate') {
      noteNegotiates.push(r.headers().authorization ?? null);
    }
  });
  await page.goto(companionUrl);
});

after(async () => {
  await browser?.close().catch(() => {});
  await Promise.all(children.reverse().map(({ child }) => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    child.kill('SIGTERM');
  })));
});

test('Two hubs, two panels: navigation connects, notifications without a key is refused with a 401', async () => {
  await page.waitForSelector(NAV, { state: 'attached', timeout: 20_000 });
  await page.waitForSelector(NOTE, { state: 'attached', timeout: 20_000 });
  assert.equal(await page.locator('section.panel').count(), 2, 'one panel per hub on the one instance');
  await waitInPage('navigation panel connected',
    (sel) => document.querySelector(sel)?.dataset.status === 'connected', NAV);
  await waitInPage('notifications panel shows the refused key',
    (sel) => document.querySelector(sel)?.textContent.includes('401 Unauthorized: key refused'), NOTE);
  const note = await panelState(NOTE);
  assert.equal(note.status, 'needs-key', `notifications waits for a key: ${JSON.stringify(note)}`);
  assert.match(note.words, /Waiting for a key/, `the panel says it waits for a key: ${note.words}`);
  assert.doesNotMatch(note.text, /unreachable/i, `a refused key is not an unreachable instance: ${note.text}`);
  await page.screenshot({ path: shot('hubs-key-refused'), fullPage: true });
});

test('A refused key is not retried: no further negotiate until a key is typed', async () => {
  assert.deepEqual(noteNegotiates, [null], 'one keyless negotiate, refused');
  // The official policy would retry at once and again after 2 s: watch
  // for 3 s that nothing is sent.
  const watchUntil = Date.now() + 3_000;
  while (Date.now() < watchUntil) {
    assert.equal(noteNegotiates.length, 1, `the refused key was retried: ${JSON.stringify(noteNegotiates)}`);
    assert.equal((await panelState(NOTE)).status, 'needs-key');
    await page.waitForTimeout(100);
  }
});

test('A key typed into the notifications panel connects it', async () => {
  const panel = page.locator(NOTE);
  await panel.getByLabel(`Key for notifications on ${INSTANCE}`).fill(KEY);
  await panel.getByRole('button', { name: 'Use key' }).click();
  await waitInPage('notifications panel connected with the key',
    (sel) => document.querySelector(sel)?.dataset.status === 'connected', NOTE);
  assert.equal((await panelState(NAV)).status, 'connected', 'navigation stays connected');
  assert.deepEqual(noteNegotiates, [null, `Bearer ${KEY}`], 'one more negotiate, with the typed key');
  await page.screenshot({ path: shot('hubs-key-accepted'), fullPage: true });
});

/** Broadcasts on `hub` and proves it reaches `to`'s panel and not `other`'s. */
async function broadcastOnlyTo(hub, to, other) {
  const before = { to: await panelState(to), other: await panelState(other) };
  const sent = await trigger({ hub });
  assert.ok(sent.seq !== undefined, `trigger answered with a seq: ${JSON.stringify(sent)}`);
  const seq = String(sent.seq);
  await waitInPage(`${hub} broadcast seq ${seq} listed on its panel`, ([sel, seq]) =>
    !!document.querySelector(sel)?.querySelector(`ol.messages li[data-seq="${seq}"]`), [to, seq]);
  await waitInPage(`${hub} panel counts it received`, ([sel, n]) =>
    Number(document.querySelector(sel)?.querySelector('[data-received]')?.dataset.received) > n,
  [to, Number(before.to.received ?? 0)], 5_000);
  // The other panel is on the same instance, fed by the same Redis
  // subscription: had the broadcast leaked, it would land there as soon.
  // Watch it for a second to be sure nothing arrives.
  const watchUntil = Date.now() + 1_000;
  while (Date.now() < watchUntil) {
    const now = await panelState(other);
    assert.equal(now.messages, before.other.messages, `${hub} broadcast leaked into ${other}: ${JSON.stringify(now)}`);
    assert.equal(now.received, before.other.received, `${other} counted ${hub}'s broadcast: ${JSON.stringify(now)}`);
    assert.ok(!now.seqs.includes(seq), `${other} lists seq ${seq}`);
    await page.waitForTimeout(100);
  }
  const after = await panelState(to);
  assert.equal(after.messages, before.to.messages + 1, `${to} gained one message: ${JSON.stringify(after)}`);
  return after;
}

test('A broadcast to each hub reaches only that hub\'s panel', async () => {
  await broadcastOnlyTo('notifications', NOTE, NAV);
  await broadcastOnlyTo('navigation', NAV, NOTE);
  await page.screenshot({ path: shot('hubs-broadcasts'), fullPage: true });
});

test('The status bar shows each hub on the prefix: both hubs with their connections', async () => {
  // Both panels are connected by now: one connection channel per hub.
  await waitInPage('a status chip per hub, each with a connection', () =>
    ['navigation', 'notifications'].every((h) =>
      /: 1 servers · [1-9]\d* connections/.test(document.querySelector(`[data-hub-traffic="${h}"]`)?.textContent ?? '')),
  undefined, 15_000);
});

/** Each hop's `data-ms` in the topology, by its `data-hop`. */
function hops() {
  return page.$$eval('.topology [data-hop]', (els) => Object.fromEntries(els.map((e) => [e.dataset.hop, e.dataset.ms ?? null])));
}

/** Sends a test broadcast to `hub` from the page and waits until the topology times its panel's hop. */
async function broadcastFromPage(hub) {
  const seq = await page.getAttribute('.topology', 'data-seq');
  await page.getByLabel('Hub').selectOption(hub);
  await page.getByRole('button', { name: 'Test Broadcast' }).click();
  await waitInPage(`the topology times ${hub}'s hop`, ([seq, hop]) => {
    const topology = document.querySelector('.topology');
    return topology.dataset.seq !== seq && document.querySelector(`[data-hop="${hop}"]`)?.dataset.ms !== undefined;
  }, [seq, `${INSTANCE}/${hub}`], 10_000);
  return hops();
}

test('The topology draws a panel per hub; a broadcast to each hub is timed on its own hub\'s edge only', async () => {
  const panels = [`panel:${INSTANCE}/navigation`, `panel:${INSTANCE}/notifications`];
  await waitInPage('both panel nodes connected', (ids) =>
    ids.every((id) => document.querySelector(`[data-node="${id}"]`)?.dataset.status === 'connected'), panels);
  assert.equal(await page.locator(`.topology [data-node="${INSTANCE}"]`).count(), 1, 'one instance node');
  assert.deepEqual(Object.keys(await hops()).sort(), [`${INSTANCE}/navigation`, `${INSTANCE}/notifications`, 'publish']);

  const afterNote = await broadcastFromPage('notifications');
  assert.ok(Number(afterNote[`${INSTANCE}/notifications`]) > 0, `notifications hop timed: ${JSON.stringify(afterNote)}`);
  assert.equal(afterNote[`${INSTANCE}/navigation`], null, `no navigation hop for a notifications broadcast: ${JSON.stringify(afterNote)}`);
  // Freeze the dots where they are: one into Redis, one out to the notifications panel.
  const dots = await page.evaluate(() => document.getAnimations()
    .filter((a) => a.effect?.target?.classList.contains('hop-dot'))
    .map((a) => { a.pause(); return a.effect.target.getAttribute('class'); }));
  assert.deepEqual(dots.sort(), ['hop-dot delivery', 'hop-dot publish'], 'a dot only to the hub\'s own panel');
  await page.locator('section.topology').screenshot({ path: shot('hubs-topology-notifications') });

  const afterNav = await broadcastFromPage('navigation');
  assert.ok(Number(afterNav[`${INSTANCE}/navigation`]) > 0, `navigation hop timed: ${JSON.stringify(afterNav)}`);
  assert.equal(afterNav[`${INSTANCE}/notifications`], null, `no notifications hop for a navigation broadcast: ${JSON.stringify(afterNav)}`);
  await page.locator('section.topology').screenshot({ path: shot('hubs-topology') });
});
