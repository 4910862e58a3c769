// The dashboard against the hand-written page it replaces, side by side in
// one headless Chromium, on the same stream (issue #12 part 1).
//
// It starts `signalscope demo` (Redis + three stand-ins + the companion
// serving the dashboard from --dist), serves the seed's page
// (bench/seed-page/, the official @microsoft/signalr bundle) and the
// publisher (server/examples/page_publisher.rs: raw backplane invocations
// PUBLISHed into Redis by our codec). Then, one page at a time (the other
// closed, so neither takes CPU from the other), each page connected to all
// three stand-ins — the dashboard with its Redis feed open, as a user
// leaves it:
//
//  0. idle: main-thread time per second over 5 s without messages;
//  1. paced stream: main-thread time per message (CDP Performance.getMetrics
//     TaskDuration + ScriptDuration + LayoutDuration + RecalcStyleDuration,
//     as the issue sums them, in thread time; delta over the stream / messages) and publish → visible on all three
//     panels, p50/p99 (a MutationObserver in the page stamps when each
//     message, or a newer one, first appears in a panel);
//  2. bursts: main-thread time per message, and the time until the last
//     is visible on all three panels;
//  3. sustained rate: what the page drew or counted against what was sent,
//     how far behind it ended, JS heap after GC before and after, and input
//     delay (a key pressed every 100 ms: handler start − event time);
//  4. dashboard only: click → arrival as the verdict row shows it, against
//     an independent observer (the official client under node, connected to
//     the same three hubs) timing the same broadcasts from the same click.
//
// Usage: bash bench/page-cost.sh [--dist DIR] [options]  (builds, then runs this)
//        node bench/page-cost.mjs --bin BIN --publisher BIN --dist DIR [options]
// Options: --quick (paced 100, 1 burst, 3 s sustained, 3 clicks) --paced N (200) --rate R (40) --bursts K (2) --burst-size N (500)
//          --sustain-s S (10) --sustain-rate R (1000) --clicks N (15)
//          --only seed|dashboard  --json FILE
//          --feed-in-view 1 (the dashboard scrolled to its feed: off screen, its sections skip rendering)
//          --trace FILE (a CDP trace of each page's paced stream, style/layout/paint
//          and invalidation tracking, written to FILE-<page>.json and summarised)
//          --trace-phase paced|sustained (which stream --trace records; paced)
//          --sockets worker|page (page: the dashboard's context has no Worker, so its
//          sockets fall back to the page's own thread, for comparing the two)
// Figures: docs/BENCHMARKS.md, "Dashboard vs the seed page".
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { launchBrowser, root } from '../e2e/stack.mjs';

const require = createRequire(import.meta.url);
const signalR = require('@microsoft/signalr');

const opts = {
  bin: null, publisher: null, dist: join(root, 'dist'), paced: 200, rate: 40, bursts: 2, burstSize: 500,
  sustainS: 10, sustainRate: 1000, clicks: 15, only: null, json: null, trace: null, tracePhase: 'paced', sockets: 'worker',
  feedInView: 0,
};
/** `--quick`: a shorter run (about a minute) for trying one change; its
 *  figures are noisier, so the docs quote full runs. Later options win. */
const QUICK = { paced: 100, bursts: 1, sustainS: 3, clicks: 3 };
for (let i = 2; i < process.argv.length; i += 2) {
  if (process.argv[i] === '--quick') {
    Object.assign(opts, QUICK);
    i -= 1;
    continue;
  }
  const [flag, value] = [process.argv[i], process.argv[i + 1]];
  const key = flag.replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase());
  if (!(key in opts) || value === undefined) throw new Error(`unknown or incomplete option ${flag}`);
  opts[key] = typeof opts[key] === 'number' ? Number(value) : value;
}
if (!opts.bin || !opts.publisher) throw new Error('--bin and --publisher are required (see bench/page-cost.sh)');

/** How long each page is watched doing nothing, for its idle cost. */
const IDLE_WINDOW_MS = 5_000;

/** Clock of this process: Unix ms with µs, like the page's timeOrigin + now. */
const nowMs = () => performance.timeOrigin + performance.now();
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] : NaN;
};
const median = (xs) => quantile(xs, 0.5);

// ---------------------------------------------------------------- the stack

/** Starts the demo on free ports; resolves with its URLs once ready. */
function startDemo() {
  const base = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(opts.bin, ['demo', '--dist', opts.dist, '--listen', `127.0.0.1:${base + 3}`,
    '--base-port', String(base), '--instances', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo not ready within 60 s:\n${output}`)), 60_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const ready = output.match(/signalscope demo ready: (http:\/\/\S+)/);
      if (!ready) return;
      clearTimeout(timer);
      const redis = output.match(/^\s+redis\s+(\S+)/m)[1];
      const instances = [...output.matchAll(/^\s+(api-\d+)\s+(http:\/\/\S+)/gm)].map((m) => ({ name: m[1], url: m[2] }));
      resolve({ url: ready[1], redis, instances, stop: () => child.kill('SIGINT') });
    });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`demo exited (${code}):\n${output}`)); });
  });
}

/** The seed's page and the official bundle, on a free loopback port. */
function serveSeedPage() {
  const files = {
    '/index.html': ['text/html', readFileSync(join(root, 'bench', 'seed-page', 'index.html'))],
    '/signalr.min.js': ['text/javascript',
      readFileSync(join(root, 'node_modules', '@microsoft', 'signalr', 'dist', 'browser', 'signalr.min.js'))],
  };
  const server = createServer((req, res) => {
    const file = files[new URL(req.url, 'http://x').pathname];
    res.writeHead(file ? 200 : 404, { 'content-type': file ? file[0] : 'text/plain' });
    res.end(file ? file[1] : 'not found');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** The publisher: one command a line in, one JSON answer a line out. */
function startPublisher(redis) {
  const child = spawn(opts.publisher, [redis], { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = [];
  createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  return {
    /** Sends `command`; resolves with {first, last, sent_us}. */
    run(command) {
      return new Promise((resolve) => { waiting.push(resolve); child.stdin.write(`${command}\n`); });
    },
    stop: () => child.stdin.end(),
  };
}

/** The independent observer: the official client under node on every hub,
 *  stamping each broadcast's arrival (by id, per instance) as it comes. */
async function startObserver(instances) {
  const arrivals = new Map(); // id -> {instance name -> ms on this process's clock}
  const connections = await Promise.all(instances.map(async ({ name, url }) => {
    const connection = new signalR.HubConnectionBuilder()
      .withUrl(`${url}/hubs/navigation-state`, { transport: signalR.HttpTransportType.WebSockets, skipNegotiation: true })
      .configureLogging(signalR.LogLevel.None)
      .build();
    connection.on('NavigationStateUpdate', (update) => {
      const at = nowMs();
      const id = update?.data?.id;
      if (!id) return;
      if (!arrivals.has(id)) arrivals.set(id, {});
      arrivals.get(id)[name] ??= at;
    });
    await connection.start();
    return connection;
  }));
  return { arrivals, stop: () => Promise.all(connections.map((c) => c.stop())) };
}

// ---------------------------------------------------------------- the pages

/** How to read each page: its three panels, and when they are connected. */
const PAGES = {
  seed: { panels: '.instance', connected: '.instance.connected' },
  dashboard: { panels: '[data-instance]', connected: '[data-instance][data-status="connected"]' },
};

/** In the page: a MutationObserver per panel stamping, per seq of the
 *  publisher's broadcasts, when it first appeared there; and waiters that
 *  resolve once every panel shows a given seq (or a newer one). */
function instrument(panelSelector) {
  const panels = [...document.querySelectorAll(panelSelector)];
  const pc = {
    seen: panels.map(() => new Map()),
    max: panels.map(() => 0),
    waiters: [],
    keyDelays: [],
    clicks: [],
  };
  const check = () => {
    pc.waiters = pc.waiters.filter((w) => !(pc.max.every((m) => m >= w.seq) && (w.resolve(), true)));
  };
  panels.forEach((panel, i) => {
    const note = (text, at) => {
      for (const m of (text ?? '').matchAll(/"id":\s*"page-cost:(\d+)"/g)) {
        const seq = Number(m[1]);
        if (!pc.seen[i].has(seq)) pc.seen[i].set(seq, at);
        if (seq > pc.max[i]) pc.max[i] = seq;
      }
    };
    new MutationObserver((records) => {
      const at = performance.timeOrigin + performance.now();
      for (const record of records) {
        // A page may insert a row (the seed), or rewrite a row's text or
        // attributes in place (the dashboard's rows are made once): both
        // make the message visible.
        if (record.type === 'childList') for (const node of record.addedNodes) note(node.textContent, at);
        else if (record.type === 'characterData') note(record.target.data, at);
        else note(record.target.getAttribute(record.attributeName), at);
      }
      check();
    }).observe(panel, { childList: true, subtree: true, characterData: true, attributes: true });
  });
  pc.until = (seq) => new Promise((resolve) => {
    pc.waiters.push({ seq, resolve });
    check();
  });
  document.addEventListener('keydown', (e) => pc.keyDelays.push(performance.now() - e.timeStamp), true);
  document.addEventListener('click', () => pc.clicks.push(performance.timeOrigin + performance.now()), true);
  window.__pc = pc;
}

/** Per seq in [first, last]: when every panel showed it or a newer one
 *  (page clock, Unix ms). */
async function visibleTimes(page, first, last) {
  const perPanel = await page.evaluate(() => window.__pc.seen.map((m) => [...m.entries()]));
  const times = new Map();
  for (const entries of perPanel) {
    // A message drawn over by a newer one in the same frame counts as
    // visible when that newer one appeared.
    const bySeq = new Map(entries);
    let earliest = Infinity;
    for (let seq = last; seq >= first; seq--) {
      earliest = Math.min(earliest, bySeq.get(seq) ?? Infinity);
      times.set(seq, Math.max(times.get(seq) ?? -Infinity, earliest));
    }
  }
  return times;
}

/** Main-thread time so far (ms) and the JS heap in use (bytes). */
async function metrics(cdp) {
  const { metrics: list } = await cdp.send('Performance.getMetrics');
  const m = Object.fromEntries(list.map((x) => [x.name, x.value]));
  return {
    mainMs: (m.TaskDuration + m.ScriptDuration + m.LayoutDuration + m.RecalcStyleDuration) * 1000,
    parts: { task: m.TaskDuration * 1000, script: m.ScriptDuration * 1000, layout: m.LayoutDuration * 1000,
      style: m.RecalcStyleDuration * 1000, layouts: m.LayoutCount, styleRecalcs: m.RecalcStyleCount },
    nodes: m.Nodes,
    heap: m.JSHeapUsedSize,
  };
}

/** The offset of the page's clock from this process's (page − here, ms):
 *  the round trip with the least delay bounds it best (up to 100 tries,
 *  fewer once one takes under half a millisecond). */
async function clockOffset(page) {
  let best = { rtt: Infinity, offset: 0 };
  for (let i = 0; i < 100 && best.rtt > 0.5; i++) {
    const t0 = nowMs();
    const tp = await page.evaluate(() => performance.timeOrigin + performance.now());
    const t1 = nowMs();
    if (t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: tp - (t0 + t1) / 2 };
  }
  return best;
}

/** `promise`, or `undefined` once `ms` pass (a swamped page answers late). */
function within(promise, ms) {
  let timer;
  return Promise.race([promise, new Promise((resolve) => { timer = setTimeout(resolve, ms); })])
    .finally(() => clearTimeout(timer));
}

/** Runs one publisher command against the page and waits until every
 *  panel shows its last message (then, for the dashboard, until the feed
 *  has it too, so the feed's share of the work is counted). A page that
 *  has not caught up `limitMs` after the last publish is reported as
 *  behind, unmeasured. */
async function stream(ctx, command, limitMs) {
  const { page, cdp, publisher, offset } = ctx;
  const before = await metrics(cdp);
  const sent = await publisher.run(command);
  const caughtUp = await within(page.evaluate((seq) => window.__pc.until(seq).then(() => true), sent.last).catch(() => false), limitMs);
  if (!caughtUp) return { sent, behind: true };
  if (ctx.name === 'dashboard') await feedHas(page, sent.last);
  const after = await metrics(cdp);
  const visible = await visibleTimes(page, sent.first, sent.last);
  const latencies = sent.sent_us.map((us, k) => visible.get(sent.first + k) - offset - us / 1000);
  const n = sent.sent_us.length;
  const parts = Object.fromEntries(Object.keys(after.parts).map((k) => [k, (after.parts[k] - before.parts[k]) / n]));
  return { sent, behind: false, mainMsPerMessage: (after.mainMs - before.mainMs) / n, parts, nodes: after.nodes, latencies };
}

/** Waits (5 s at most) until the dashboard's feed shows the publish of
 *  `seq`; a feed that dropped it under load only ends the wait. A feed off
 *  screen is not drawn (it draws its lines when it comes into view): no wait. */
async function feedHas(page, seq) {
  await page.waitForFunction((seq) => {
    const feed = document.querySelector('[data-feed]');
    if (feed.getBoundingClientRect().top >= innerHeight) return true;
    return [...feed.querySelectorAll('.feed-line')].some((l) => l.textContent.includes(`page-cost:${seq}"`));
  }, seq, { timeout: 5_000, polling: 100 }).catch(() => {});
}

async function openPage(browser, name, url, publisher) {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  if (opts.sockets === 'page') await context.addInitScript(() => { delete window.Worker; });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  // Thread time, not wall time: on a shared machine a task's wall time
  // also counts while other processes hold the CPU.
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  await page.goto(url);
  await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 3, PAGES[name].connected,
    { timeout: 30_000, polling: 100 });
  if (name === 'dashboard') {
    await page.waitForFunction(() => document.querySelector('[data-feed] .feed-state')?.textContent.includes('stream open'),
      null, { timeout: 30_000, polling: 100 });
  }
  if (name === 'dashboard' && opts.feedInView) await page.locator('[data-feed]').scrollIntoViewIfNeeded();
  await page.evaluate(instrument, PAGES[name].panels);
  const { offset, rtt } = await clockOffset(page);
  return { name, context, page, cdp, publisher, offset, rtt };
}

/** Presses Shift every 100 ms while `during` runs; returns its result. */
async function withKeys(ctx, during) {
  let pressing = true;
  const presses = [];
  const presser = (async () => {
    while (pressing) {
      const t = Date.now();
      presses.push(ctx.cdp.send('Input.dispatchKeyEvent', { type: 'rawKeyDown', key: 'Shift', code: 'ShiftLeft', windowsVirtualKeyCode: 16 })
        .then(() => ctx.cdp.send('Input.dispatchKeyEvent', { type: 'keyUp', key: 'Shift', code: 'ShiftLeft', windowsVirtualKeyCode: 16 }))
        .catch(() => {})); // a page closed while still behind never answers
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - t))));
    }
  })();
  try { return await during(); } finally { pressing = false; await presser; await within(Promise.all(presses), 5_000); }
}

/** Received count per panel as the page itself says it: the dashboard's
 *  `data-received`, else (the seed page has no count) the seqs it drew. */
async function counts(page, first, last) {
  return page.evaluate(([first, last]) => {
    const shown = [...document.querySelectorAll('[data-instance] [data-received]')].map((e) => Number(e.dataset.received));
    const drawn = window.__pc.seen.map((m) => [...m.keys()].filter((s) => s >= first && s <= last).length);
    const lost = [...document.querySelectorAll('[data-instance] [data-lost]')].map((e) => Number(e.dataset.lost));
    return { shown, drawn, lost };
  }, [first, last]);
}

/** A phase the page did not keep up with: fails the run unless it is the
 *  sustained one, whose point is to show it. */
function mustKeepUp(result, what) {
  if (result.behind) throw new Error(`the page did not show ${what} in time`);
  return result;
}

async function measurePage(browser, name, url, publisher, observer) {
  const ctx = await openPage(browser, name, url, publisher);
  const result = { page: name, clock: { offsetMs: ctx.offset, rttMs: ctx.rtt } };
  // Warm up: the first messages pay for compiling and first layouts.
  mustKeepUp(await stream(ctx, 'paced 20 50', 30_000), 'the warm-up');

  // What the page costs with no messages at all (timers, clocks, polls),
  // over a fixed window: part of every per-message figure below.
  const idleBefore = await metrics(ctx.cdp);
  await new Promise((resolve) => { setTimeout(resolve, IDLE_WINDOW_MS); });
  result.idleMsPerSecond = ((await metrics(ctx.cdp)).mainMs - idleBefore.mainMs) / (IDLE_WINDOW_MS / 1000);

  const paced = await traced(browser, ctx, 'paced', opts.paced, result,
    async () => mustKeepUp(await stream(ctx, `paced ${opts.paced} ${opts.rate}`, 60_000), 'the paced stream'));
  result.paced = {
    messages: opts.paced, rate: opts.rate, mainMsPerMessage: paced.mainMsPerMessage, parts: paced.parts, nodes: paced.nodes,
    p50: quantile(paced.latencies, 0.5), p99: quantile(paced.latencies, 0.99),
  };

  const bursts = [];
  for (let i = 0; i < opts.bursts; i++) {
    const b = mustKeepUp(await stream(ctx, `burst ${opts.burstSize}`, 60_000), 'a burst');
    bursts.push({ mainMsPerMessage: b.mainMsPerMessage, lastVisibleMs: Math.max(...b.latencies) });
  }
  result.burst = {
    size: opts.burstSize, runs: bursts,
    mainMsPerMessage: median(bursts.map((b) => b.mainMsPerMessage)),
    lastVisibleMs: median(bursts.map((b) => b.lastVisibleMs)),
  };

  if (name === 'dashboard' && opts.clicks > 0) result.clicks = await clicks(ctx, observer);

  await ctx.cdp.send('HeapProfiler.collectGarbage');
  const heapBefore = (await metrics(ctx.cdp)).heap;
  await ctx.page.evaluate(() => { window.__pc.keyDelays = []; });
  const n = opts.sustainS * opts.sustainRate;
  const limit = 20_000;
  const sustained = await traced(browser, ctx, 'sustained', n, result,
    () => withKeys(ctx, () => stream(ctx, `paced ${n} ${opts.sustainRate}`, limit)));
  result.sustained = { messages: n, rate: opts.sustainRate, behind: sustained.behind, limitMs: limit };
  if (!sustained.behind) {
    await ctx.cdp.send('HeapProfiler.collectGarbage');
    const heapAfter = (await metrics(ctx.cdp)).heap;
    const keyDelays = await ctx.page.evaluate(() => window.__pc.keyDelays);
    Object.assign(result.sustained, {
      mainMsPerMessage: sustained.mainMsPerMessage,
      p99: quantile(sustained.latencies, 0.99), lagAtEndMs: sustained.latencies.at(-1),
      counts: await counts(ctx.page, sustained.sent.first, sustained.sent.last),
      heapBeforeMiB: heapBefore / 2 ** 20, heapAfterMiB: heapAfter / 2 ** 20,
      keys: keyDelays.length, keyDelayP99: quantile(keyDelays, 0.99), keyDelayMax: Math.max(...keyDelays),
    });
  }
  // A page still behind keeps its renderer busy; closing ends that.
  await ctx.context.close();
  return result;
}

/** Test Broadcast clicks: the verdict row's click → arrival per panel
 *  against the observer's, from the same click, on one clock. */
async function clicks(ctx, observer) {
  const { page, offset } = ctx;
  const diffs = [];
  const rows = [];
  for (let k = 0; k < opts.clicks; k++) {
    const seen = await page.$$eval('[data-verdict]', (rs) => rs.map((r) => r.dataset.broadcastId));
    await page.evaluate(() => { window.__pc.clicks = []; });
    await page.getByRole('button', { name: 'Test Broadcast' }).click();
    const handle = await page.waitForFunction((seen) => {
      const row = [...document.querySelectorAll('[data-verdict]')].find((r) => !seen.includes(r.dataset.broadcastId));
      return row && row.querySelectorAll('[data-received-by]').length === 3 ? row.dataset.broadcastId : null;
    }, seen, { timeout: 10_000, polling: 100 });
    const id = await handle.jsonValue();
    const shown = await page.$$eval(`[data-broadcast-id="${id}"] [data-received-by]`,
      (cs) => cs.map((c) => [c.dataset.receivedBy, Number(c.dataset.latencyMs)]));
    const clickedAt = (await page.evaluate(() => window.__pc.clicks[0])) - offset;
    const observed = observer.arrivals.get(id) ?? {};
    for (const [panel, ms] of shown) {
      if (observed[panel] === undefined) continue;
      const independent = observed[panel] - clickedAt;
      rows.push({ id, panel, dashboardMs: ms, observerMs: independent });
      diffs.push(Math.abs(ms - independent));
    }
  }
  return {
    clicks: opts.clicks, rows,
    dashboardP50: median(rows.map((r) => r.dashboardMs)),
    observerP50: median(rows.map((r) => r.observerMs)),
    diffP50: median(diffs), diffMax: Math.max(...diffs),
  };
}

// ---------------------------------------------------------------- the trace

/** Runs `phase`; when it is the one `--trace` asks for, records a CDP trace
 *  of it into FILE-<page>.json and summarises it per message in `result`. */
async function traced(browser, ctx, phase, messages, result, run) {
  if (!opts.trace || opts.tracePhase !== phase) return run();
  await browser.startTracing(ctx.page, { categories: TRACE_CATEGORIES });
  const outcome = await run();
  const file = `${opts.trace.replace(/\.json$/, '')}-${ctx.name}.json`;
  const trace = await browser.stopTracing();
  writeFileSync(file, trace);
  result.trace = summariseTrace(JSON.parse(trace), messages);
  console.error(`${ctx.name}: trace of the ${phase} stream in ${file}\n${result.trace.text}`);
  return outcome;
}

/** What a frame's rendering is made of: the timeline's events, and who
 *  invalidated style and layout (node and reason), as Chrome records them. */
const TRACE_CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline',
  'disabled-by-default-devtools.timeline.frame', 'disabled-by-default-devtools.timeline.invalidationTracking'];

/** Per message: wall time of each kind of renderer main-thread event (nested
 *  ones count inside their parents too), how many elements a style recalc
 *  touched and how many objects a layout redid, and the invalidations
 *  grouped by kind, node and reason — what makes a frame expensive. */
function summariseTrace(trace, messages) {
  const events = trace.traceEvents ?? trace;
  const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain'
    && events.some((x) => x.pid === e.pid && x.name === 'Layout'));
  const mine = events.filter((e) => main && e.pid === main.pid && e.tid === main.tid);
  const byName = new Map();
  for (const e of mine.filter((x) => x.ph === 'X')) {
    const t = byName.get(e.name) ?? { ms: 0, n: 0 };
    t.ms += (e.dur ?? 0) / 1000;
    t.n += 1;
    byName.set(e.name, t);
  }
  const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const recalcs = mine.filter((e) => e.name === 'UpdateLayoutTree' && e.ph === 'X');
  const layouts = mine.filter((e) => e.name === 'Layout' && e.ph === 'X');
  const invalidations = new Map();
  for (const e of mine.filter((x) => /InvalidationTracking$/.test(x.name))) {
    const d = e.args?.data ?? {};
    const key = `${e.name.replace('InvalidationTracking', '')} ${d.nodeName ?? '?'} ${d.reason ?? d.invalidationSet?.[0]?.id ?? ''}`
      + `${d.extraData ? ` ${d.extraData}` : ''}`;
    invalidations.set(key, (invalidations.get(key) ?? 0) + 1);
  }
  const summary = {
    perMessageMs: Object.fromEntries([...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 16)
      .map(([k, v]) => [k, { ms: v.ms / messages, count: v.n / messages }])),
    styleRecalc: { count: recalcs.length, meanMs: mean(recalcs.map((e) => e.dur / 1000)),
      meanElements: mean(recalcs.map((e) => e.args?.elementCount ?? e.args?.endData?.elementCount ?? 0)) },
    layout: { count: layouts.length, meanMs: mean(layouts.map((e) => e.dur / 1000)),
      meanDirty: mean(layouts.map((e) => e.args?.beginData?.dirtyObjects ?? 0)),
      meanTotal: mean(layouts.map((e) => e.args?.beginData?.totalObjects ?? 0)) },
    invalidations: [...invalidations].sort((a, b) => b[1] - a[1]).slice(0, 30),
  };
  const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : '—');
  summary.text = [
    'per message, renderer main thread (ms, count):',
    ...Object.entries(summary.perMessageMs).map(([k, v]) => `  ${k.padEnd(28)} ${f(v.ms).padStart(8)} ${f(v.count).padStart(7)}`),
    `style recalcs ${recalcs.length}: mean ${f(summary.styleRecalc.meanMs)} ms, ${f(summary.styleRecalc.meanElements)} elements`,
    `layouts ${layouts.length}: mean ${f(summary.layout.meanMs)} ms, ${f(summary.layout.meanDirty)} dirty of ${f(summary.layout.meanTotal)} objects`,
    'invalidations (kind node reason: count):',
    ...summary.invalidations.map(([k, n]) => `  ${String(n).padStart(6)}  ${k}`),
  ].join('\n');
  return summary;
}

// ---------------------------------------------------------------- the run

function table(seed, dash) {
  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const row = (name, a, b, d) => {
    const ratio = Number.isFinite(a) && Number.isFinite(b) && a !== 0 ? f(b / a) : '—';
    return `${name.padEnd(58)} ${f(a, d).padStart(10)} ${f(b, d).padStart(10)} ${ratio.padStart(7)}`;
  };
  const g = (r, path) => path.split('.').reduce((o, k) => o?.[k], r);
  const lines = [`${'figure'.padEnd(58)} ${'seed'.padStart(10)} ${'dashboard'.padStart(10)} ${'ratio'.padStart(7)}`];
  const figures = [
    ['main-thread ms per second, no messages', 'idleMsPerSecond', 1],
    [`main-thread ms per message, paced ${opts.rate}/s`, 'paced.mainMsPerMessage', 3],
    [`main-thread ms per message, burst of ${opts.burstSize}`, 'burst.mainMsPerMessage', 3],
    [`main-thread ms per message, ${opts.sustainRate}/s for ${opts.sustainS} s`, 'sustained.mainMsPerMessage', 3],
    ['publish → visible on all 3 panels, paced, p50 (ms)', 'paced.p50', 1],
    ['publish → visible on all 3 panels, paced, p99 (ms)', 'paced.p99', 1],
    [`burst of ${opts.burstSize}: last visible after (ms)`, 'burst.lastVisibleMs', 0],
    [`${opts.sustainRate}/s: publish → visible p99 (ms)`, 'sustained.p99', 1],
    [`${opts.sustainRate}/s: last message visible after (ms)`, 'sustained.lagAtEndMs', 1],
    [`${opts.sustainRate}/s: JS heap after GC, before (MiB)`, 'sustained.heapBeforeMiB', 1],
    [`${opts.sustainRate}/s: JS heap after GC, after (MiB)`, 'sustained.heapAfterMiB', 1],
    [`${opts.sustainRate}/s: key press → handler, p99 (ms)`, 'sustained.keyDelayP99', 1],
    [`${opts.sustainRate}/s: key press → handler, max (ms)`, 'sustained.keyDelayMax', 1],
  ];
  for (const [name, path, d] of figures) lines.push(row(name, g(seed, path), g(dash, path), d));
  for (const [name, r] of [['seed', seed], ['dashboard', dash]]) {
    if (r?.sustained?.behind) {
      lines.push(`${opts.sustainRate}/s, ${name}: FELL BEHIND — the last of ${r.sustained.messages} messages not on every panel ` +
        `${r.sustained.limitMs / 1000} s after the stream ended`);
    }
    const c = r?.sustained?.counts;
    if (c) {
      lines.push(`${opts.sustainRate}/s, ${name}: sent ${r.sustained.messages}; counted per panel ${c.shown.join(', ') || '— (no count shown)'}; ` +
        `drawn per panel ${c.drawn.join(', ')}; lost per panel ${c.lost.join(', ') || '—'}; ${r.sustained.keys} key presses handled`);
    }
  }
  for (const [name, r] of [['seed', seed], ['dashboard', dash]]) {
    const p = r?.paced?.parts;
    if (p) {
      lines.push(`paced, ${name}, per message: task ${f(p.task)} script ${f(p.script)} layout ${f(p.layout)} ` +
        `style ${f(p.style)} ms; ${f(p.layouts)} layouts, ${f(p.styleRecalcs)} style recalcs; ${r.paced.nodes} DOM nodes`);
    }
  }
  const c = dash?.clicks;
  if (c) {
    lines.push(`click → arrival, ${c.rows.length} arrivals of ${c.clicks} clicks: dashboard p50 ${f(c.dashboardP50, 1)} ms, ` +
      `independent observer p50 ${f(c.observerP50, 1)} ms; |difference| p50 ${f(c.diffP50, 1)} ms, max ${f(c.diffMax, 1)} ms`);
  }
  return lines.join('\n');
}

const demo = await startDemo();
const seedServer = await serveSeedPage();
const publisher = startPublisher(demo.redis);
const observer = await startObserver(demo.instances);
const browser = await launchBrowser();
const ports = demo.instances.map((i) => new URL(i.url).port);
const results = {};
try {
  const urls = {
    seed: `http://127.0.0.1:${seedServer.address().port}/index.html?ports=${ports.join(',')}`,
    dashboard: demo.url,
  };
  for (const name of ['seed', 'dashboard']) {
    if (opts.only && opts.only !== name) continue;
    console.error(`measuring the ${name} page…`);
    results[name] = await measurePage(browser, name, urls[name], publisher, observer);
  }
} finally {
  await browser.close();
  await observer.stop();
  publisher.stop();
  seedServer.close();
  demo.stop();
}
console.log(`\n${table(results.seed, results.dashboard)}`);
console.log(`(clock offset page − node: ${['seed', 'dashboard'].map((n) => results[n] &&
  `${n} ${results[n].clock.offsetMs.toFixed(2)} ms ± ${(results[n].clock.rttMs / 2).toFixed(2)}`).filter(Boolean).join(', ')})`);
if (opts.json) writeFileSync(opts.json, JSON.stringify({ opts, results }, null, 2));
