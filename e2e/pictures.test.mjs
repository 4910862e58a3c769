// Pictures for the room, proved in headless Chromium against the real demo
// stack: the topology's hop times mid-broadcast, a stopped instance greying
// out and coming back, and presentation mode at 1920×1080 with its keys.
// Screenshots: test-output/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, launchBrowser, shot } from './stack.mjs';

const NAMES = ['api-1', 'api-2', 'api-3'];
let demo, browser, page;

before(async () => {
  demo = await startDemo();
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(demo.url);
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

/** Waits until the topology draws every named panel with `status`. */
async function panelNodesAre(status, names, timeout = 20_000) {
  await page.waitForFunction(
    ([names, status]) => names.every((n) => document.querySelector(`[data-node="panel:${n}"]`)?.dataset.status === status),
    [names, status], { timeout, polling: 50 });
}

/** Waits until the topology draws instance `name` with health `status`. */
async function instanceNodeIs(name, status, timeout = 20_000) {
  await page.waitForSelector(`[data-node="${name}"][data-status="${status}"]`, { state: 'attached', timeout });
}

/** Every hop's `data-ms` as numbers, publish first then the panels. */
async function hops() {
  return page.$$eval('[data-hop]', (els) => Object.fromEntries(els.map((e) => [e.dataset.hop, e.dataset.ms])));
}

test('Topology: a broadcast travels publisher → Redis → every panel, each hop timed on its edge', async () => {
  await panelNodesAre('connected', NAMES);
  await instanceNodeIs('api-1', 'healthy');
  const seq = await page.getAttribute('.topology', 'data-seq');
  await page.getByRole('button', { name: 'Test Broadcast' }).click();
  await page.waitForFunction(([seq, names]) => {
    const topology = document.querySelector('.topology');
    const timed = (hop) => document.querySelector(`[data-hop="${hop}"]`)?.dataset.ms !== undefined;
    return topology.dataset.seq !== seq && ['publish', ...names].every(timed);
  }, [seq, NAMES], { timeout: 10_000, polling: 20 });
  // Freeze the dots where they are, so the screenshot shows them on the edges.
  const progress = await page.evaluate(() => document.getAnimations()
    .filter((a) => a.effect?.target?.classList.contains('hop-dot'))
    .map((a) => { a.pause(); return a.effect.getComputedTiming().progress; }));
  assert.equal(progress.length, 1 + NAMES.length, 'a dot into Redis and one out to each panel');
  assert.ok(progress.some((p) => p !== null && p < 1), `some dot is mid-edge: ${progress}`);
  await page.locator('section.topology').screenshot({ path: shot('topology-mid-broadcast') });
  const times = await hops();
  for (const hop of ['publish', ...NAMES]) {
    assert.ok(Number(times[hop]) > 0, `${hop} hop timed: ${JSON.stringify(times)}`);
    const text = await page.textContent(`[data-hop="${hop}"]`);
    assert.equal(text, `${times[hop]} ms`, `${hop}'s time is written on its edge`);
  }
  await page.evaluate(() => document.getAnimations().forEach((a) => a.finish()));
});

test('Topology: a stopped instance greys out and comes back', async () => {
  const panel = page.locator('[data-instance="api-2"]');
  await panel.getByRole('button', { name: 'Stop instance' }).click();
  await instanceNodeIs('api-2', 'down');
  await page.waitForFunction(() => document.querySelector('[data-node="panel:api-2"]')?.dataset.status !== 'connected',
    null, { timeout: 10_000, polling: 50 });
  const opacity = await page.$eval('[data-node="api-2"]', (e) => Number(getComputedStyle(e).opacity));
  assert.ok(opacity < 1, `the stopped instance is greyed (opacity ${opacity})`);
  await page.locator('section.topology').screenshot({ path: shot('topology-instance-down') });

  await panel.getByRole('button', { name: 'Start instance' }).click();
  await instanceNodeIs('api-2', 'healthy', 30_000);
  await panelNodesAre('connected', NAMES, 45_000);
  assert.equal(await page.$eval('[data-node="api-2"]', (e) => getComputedStyle(e).opacity), '1');
});

test('Presentation at 1920×1080: the verdict banner, topology and chart fill the screen, in big type', async () => {
  await page.close();
  page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  await page.goto(new URL('?present', demo.url).href);
  await panelNodesAre('connected', NAMES);
  assert.equal(await page.getAttribute('.banner', 'data-verdict'), 'NONE');
  assert.equal(await page.locator('.panels').isVisible(), false, 'the panels step aside');
  await page.getByRole('button', { name: 'Test Broadcast' }).click();
  await page.waitForSelector('.banner[data-verdict="PASS"]', { timeout: 10_000 });
  const banner = await page.$eval('.banner', (e) => ({ ...e.dataset }));
  assert.ok(NAMES.includes(banner.slowest), `the slowest is named: ${JSON.stringify(banner)}`);
  assert.ok(Number(banner.slowestMs) > 0);
  assert.match(await page.textContent('.banner'), new RegExp(`slowest ${banner.slowest} ${banner.slowestMs} ms`));
  const px = await page.$eval('.banner-verdict', (e) => parseFloat(getComputedStyle(e).fontSize));
  assert.ok(px >= 80, `the verdict reads from across a room (${px}px)`);
  for (const section of ['.banner', 'section.topology', 'section.latency']) {
    const box = await page.locator(section).boundingBox();
    assert.ok(box && box.y >= 0 && box.y + box.height <= 1080, `${section} is on screen: ${JSON.stringify(box)}`);
  }
  for (const n of NAMES) {
    assert.ok(Number(await page.getAttribute(`[data-series="${n}"]`, 'data-points')) >= 1, `${n} on the chart`);
  }
  // The demo's threshold for these tests (stack.mjs), read from the config.
  assert.equal(await page.getAttribute('[data-threshold-ms]', 'data-threshold-ms'), '1000');
  await page.screenshot({ path: shot('presentation-1920x1080') });
});

test('Presentation keys: b sends a new verdict, r reconnects every panel', async () => {
  const seq = Number(await page.getAttribute('.banner', 'data-seq'));
  await page.keyboard.press('b');
  await page.waitForFunction((seq) => {
    const b = document.querySelector('.banner');
    return Number(b.dataset.seq) > seq && b.dataset.verdict !== 'PENDING';
  }, seq, { timeout: 10_000, polling: 50 });
  assert.equal(await page.getAttribute('.banner', 'data-verdict'), 'PASS');

  const ids = async () => page.$$eval('[data-connection-id]', (els) => els.map((e) => e.dataset.connectionId));
  const before = await ids();
  assert.equal(before.filter(Boolean).length, NAMES.length);
  await page.keyboard.press('r');
  await page.waitForFunction((before) => {
    const now = [...document.querySelectorAll('[data-connection-id]')].map((e) => e.dataset.connectionId);
    return now.every((id, i) => id && id !== before[i]);
  }, before, { timeout: 20_000, polling: 50 });
  await panelNodesAre('connected', NAMES);
  await page.keyboard.press('Escape');
  await page.waitForSelector('.board:not(.present)', { timeout: 5_000 });
  assert.equal(await page.locator('.panels').isVisible(), true, 'Esc brings the dashboard back');
});
