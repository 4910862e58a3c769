#!/usr/bin/env node
// The reference peer for signalscope's Rust load generator: N connections
// made with the official @microsoft/signalr client (WebSockets, JSON
// protocol), each listening for the navigation event, with the same
// figures `signalscope load` reports: connect throughput per CPU-second,
// RSS per connection, arrivals and delivery latency.
//
//   node [--expose-gc] bench/node-clients.mjs --url http://127.0.0.1:5000 \
//     [--url http://127.0.0.1:5001 …] [--hub-path /hubs/navigation-state] \
//     [--connections 100] [--ramp 500] [--hold 10] \
//     [--event NavigationStateUpdate] [--skip-negotiation] \
//     [--json FILE] [--deadline SECONDS] [--connect-timeout 30] \
//     [--log-level warning|error|none]
//
// Connections go round-robin over the --url bases, started in batches of at
// most --ramp per second. After all have settled (opened or failed) they are
// held --hold seconds; broadcasts sent meanwhile (e.g. the stand-in's
// `POST /api/test/trigger-navigation-update`) are timed on arrival.
// Latency is arrival (unix µs, sub-ms) minus data.sentAtUs, or minus
// Date.parse(data.sentAt) (ms precision) when sentAtUs is absent: the
// sender's and this machine's clocks must agree.
//
// One JSON object goes to stdout (and to --json FILE); progress to stderr.
// The run always ends by itself: at --deadline (default hold + 120 s) every
// connection is stopped and the partial result printed with
// "deadline_hit": true. Exit status: 0 done, 1 deadline hit or nothing
// opened, 2 bad arguments.
// Thousands of connections need a matching open-file limit (`ulimit -n`).

import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";

const require = createRequire(import.meta.url);

const USAGE = `usage: node bench/node-clients.mjs --url BASE [--url BASE …] [options]
  --url BASE            server base, e.g. http://127.0.0.1:5000 (repeatable; round-robin)
  --hub-path PATH       hub path (default /hubs/navigation-state)
  --connections N       connections to open (default 100)
  --ramp R              connections started per second, at most (default 500)
  --hold S              seconds to hold once all are open (default 10)
  --event NAME          event to listen for (default NavigationStateUpdate)
  --skip-negotiation    connect the WebSocket directly (skipNegotiation)
  --json FILE           also write the result to FILE
  --deadline S          hard stop after S seconds (default hold + 120)
  --connect-timeout S   give up on one connection's start after S seconds (default 30)
  --log-level LEVEL     client log level: warning (default), error, none
  --help                this text`;

function fail(message) {
  process.stderr.write(`node-clients: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    urls: [],
    hubPath: "/hubs/navigation-state",
    connections: 100,
    ramp: 500,
    hold: 10,
    event: "NavigationStateUpdate",
    skipNegotiation: false,
    json: null,
    deadline: null,
    connectTimeout: 30,
    logLevel: "warning",
  };
  const number = (flag, raw, { integer = false, min = 0, exclusive = false } = {}) => {
    if (raw === undefined) fail(`${flag} needs a value`);
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n)) ||
        (exclusive ? n <= min : n < min)) {
      fail(`${flag}: '${raw}' is not ${integer ? "an integer" : "a number"} ${exclusive ? ">" : ">="} ${min}`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let inline;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const value = () => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) fail(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case "--url": {
        const raw = value();
        let u;
        try { u = new URL(raw); } catch { fail(`--url: '${raw}' is not a URL`); }
        if (u.protocol !== "http:" && u.protocol !== "https:") fail(`--url: '${raw}' must be http:// or https://`);
        o.urls.push(raw.replace(/\/+$/, ""));
        break;
      }
      case "--hub-path": {
        const p = value();
        if (!p.startsWith("/")) fail(`--hub-path: '${p}' must start with /`);
        o.hubPath = p;
        break;
      }
      case "--connections": o.connections = number(arg, value(), { integer: true, min: 1 }); break;
      case "--ramp": o.ramp = number(arg, value(), { min: 0, exclusive: true }); break;
      case "--hold": o.hold = number(arg, value()); break;
      case "--event": {
        const e = value();
        if (e.trim() === "") fail("--event must not be empty");
        o.event = e;
        break;
      }
      case "--skip-negotiation":
        if (inline !== undefined) fail("--skip-negotiation takes no value");
        o.skipNegotiation = true;
        break;
      case "--json": o.json = value(); break;
      case "--deadline": o.deadline = number(arg, value(), { min: 0, exclusive: true }); break;
      case "--connect-timeout": o.connectTimeout = number(arg, value(), { min: 0, exclusive: true }); break;
      case "--log-level": {
        const l = value().toLowerCase();
        if (!["warning", "error", "none"].includes(l)) fail(`--log-level: '${l}' is not warning, error or none`);
        o.logLevel = l;
        break;
      }
      case "--help": case "-h":
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        fail(`unknown argument '${argv[i]}'`);
    }
  }
  if (o.urls.length === 0) fail("--url is required");
  if (o.deadline === null) o.deadline = o.hold + 120;
  return o;
}

const opts = parseArgs(process.argv.slice(2));

let signalR;
let signalRVersion;
try {
  signalR = require("@microsoft/signalr");
  const main = require.resolve("@microsoft/signalr");
  // dist/cjs/index.js → the package root; package.json may be outside "exports".
  let dir = dirname(main);
  for (let k = 0; k < 5; k++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      if (pkg.name === "@microsoft/signalr") { signalRVersion = pkg.version; break; }
    } catch { /* keep climbing */ }
    dir = dirname(dir);
  }
} catch (e) {
  process.stderr.write(`node-clients: cannot load @microsoft/signalr (run npm ci in the repository root): ${e.message}\n`);
  process.exit(2);
}

const log = (msg) => process.stderr.write(`[node-clients ${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Unix microseconds, sub-millisecond precision. */
const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;
const rssKiB = () => Math.round(process.memoryUsage().rss / 1024);
const cpuS = (delta) => (delta.user + delta.system) / 1e6;
const collect = () => { if (typeof globalThis.gc === "function") globalThis.gc(); };

const t0 = performance.now();
const cpu0 = process.cpuUsage();

// --- measurements -----------------------------------------------------------
const MAX_PER_BROADCAST = 100_000;
let arrivals = 0;
let unmatched = 0; // event invocations without a usable TestBroadcast
const latencies = []; // ms, every arrival with a known send time
const firstArrival = new Map(); // "origin\0seq" → {origin, seq, latency_ms}
let broadcastsSeen = 0;

function onEvent(arg) {
  const arrivalUs = nowUs(); // first: nothing may run before the timestamp
  arrivals++;
  const data = arg && typeof arg === "object" && arg.type === "TestBroadcast" ? arg.data : null;
  if (!data || typeof data !== "object") { unmatched++; return; }
  let latencyMs;
  if (typeof data.sentAtUs === "number") {
    latencyMs = (arrivalUs - data.sentAtUs) / 1000;
  } else {
    const sentMs = Date.parse(data.sentAt);
    if (!Number.isFinite(sentMs)) { unmatched++; return; }
    latencyMs = arrivalUs / 1000 - sentMs;
  }
  latencies.push(latencyMs);
  const key = `${data.origin}\u0000${data.seq}`;
  if (!firstArrival.has(key)) {
    broadcastsSeen++;
    if (firstArrival.size < MAX_PER_BROADCAST) {
      firstArrival.set(key, { origin: data.origin, seq: data.seq, latency_ms: round3(latencyMs) });
    }
  }
}

function round3(x) { return Math.round(x * 1000) / 1000; }

function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

// --- connections ------------------------------------------------------------
const logLevel = { warning: signalR.LogLevel.Warning, error: signalR.LogLevel.Error, none: signalR.LogLevel.None }[opts.logLevel];
const connections = []; // every HubConnection built
let opened = 0;
let failed = 0;
let droppedByServer = 0; // opened, then closed before we stopped them
const failures = {}; // connect failures by reason
const drops = {}; // opened, then closed by the other side, by reason
let stopping = false;

function reason(e) {
  const text = String(e && e.message ? e.message : e)
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}:\d+\b/g, "ADDR")
    .replace(/\[[0-9a-f:]+\]:\d+/gi, "ADDR")
    .replace(/[?&]id=[^\s&'"]+/g, "?id=…");
  return text.length > 240 ? `${text.slice(0, 237)}…` : text;
}

function count(map, key) { map[key] = (map[key] || 0) + 1; }

function openOne(i) {
  const url = `${opts.urls[i % opts.urls.length]}${opts.hubPath}`;
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(url, {
      transport: signalR.HttpTransportType.WebSockets,
      skipNegotiation: opts.skipNegotiation,
    })
    .configureLogging(logLevel)
    .build();
  connections.push(connection);
  connection.on(opts.event, onEvent);
  let settled = false;
  let up = false;
  connection.onclose((err) => {
    if (up && !stopping) {
      droppedByServer++;
      count(drops, err ? reason(err) : "closed without error");
    }
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      failed++;
      count(failures, `start timed out after ${opts.connectTimeout}s`);
      connection.stop().catch(() => {});
      resolve();
    }, opts.connectTimeout * 1000);
    connection.start().then(
      () => {
        if (settled) return; // timed out meanwhile; stop() is under way
        settled = true;
        clearTimeout(timer);
        up = true;
        opened++;
        resolve();
      },
      (e) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        failed++;
        count(failures, reason(e));
        resolve();
      },
    );
  });
}

async function stopAll(limitMs) {
  stopping = true;
  const all = Promise.allSettled(connections.map((c) => c.stop()));
  const done = await Promise.race([all.then(() => true), sleep(limitMs).then(() => false)]);
  if (!done) log(`some connections did not stop within ${limitMs} ms`);
}

// --- the run ----------------------------------------------------------------
const result = {
  tool: `@microsoft/signalr ${signalRVersion ?? "unknown"}`,
  node: process.version,
  urls: opts.urls.map((u) => `${u}${opts.hubPath}`),
  skip_negotiation: opts.skipNegotiation,
  gc_available: typeof globalThis.gc === "function",
  connections: { asked: opts.connections, opened: 0, failed: 0, failures, dropped: 0, drops },
  connect_s: null,
  hold_s: opts.hold,
  wall_s: null,
  rss_idle_kib: null,
  rss_loaded_kib: null,
  kib_per_connection: null,
  cpu_s_connect: null,
  cpu_s_total: null,
  connections_per_cpu_second: null,
  arrivals: 0,
  unmatched: 0,
  broadcasts_seen: 0,
  latency_ms: { count: 0, p50: null, p99: null, max: null },
  deadline_hit: false,
  per_broadcast: [],
};
let finished = false;

async function finish(deadlineHit) {
  if (finished) return;
  finished = true;
  result.deadline_hit = deadlineHit;
  await stopAll(deadlineHit ? 5000 : 15000);
  result.connections.opened = opened;
  result.connections.failed = failed;
  result.connections.dropped = droppedByServer;
  result.connections.not_settled = opts.connections - opened - failed;
  result.cpu_s_total = round3(cpuS(process.cpuUsage(cpu0)));
  result.wall_s = round3((performance.now() - t0) / 1000);
  result.arrivals = arrivals;
  result.unmatched = unmatched;
  result.broadcasts_seen = broadcastsSeen;
  const sorted = Float64Array.from(latencies).sort();
  result.latency_ms = {
    count: sorted.length,
    p50: sorted.length ? round3(percentile(sorted, 0.5)) : null,
    p99: sorted.length ? round3(percentile(sorted, 0.99)) : null,
    max: sorted.length ? round3(sorted[sorted.length - 1]) : null,
  };
  result.per_broadcast = [...firstArrival.values()];
  if (broadcastsSeen > firstArrival.size) result.per_broadcast_truncated = broadcastsSeen - firstArrival.size;
  const text = JSON.stringify(result);
  process.stdout.write(`${text}\n`);
  if (opts.json) {
    try { writeFileSync(opts.json, `${text}\n`); } catch (e) { log(`cannot write ${opts.json}: ${e.message}`); }
  }
  log(`done: ${opened}/${opts.connections} opened, ${failed} failed, ${arrivals} arrivals`);
  // Leftover sockets or timers must not keep the process alive.
  process.exit(deadlineHit || opened === 0 ? 1 : 0);
}

const deadlineTimer = setTimeout(() => {
  log(`deadline of ${opts.deadline}s reached: stopping`);
  finish(true);
}, opts.deadline * 1000);

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => { log(`${sig}: stopping`); finish(true); });
}
process.on("unhandledRejection", (e) => log(`unhandled rejection: ${reason(e)}`));

async function run() {
  collect();
  await sleep(100);
  result.rss_idle_kib = rssKiB();
  log(`${signalRVersion ? `@microsoft/signalr ${signalRVersion}` : "@microsoft/signalr"}, node ${process.version}; ` +
      `${opts.connections} connections to ${result.urls.join(", ")} at ≤ ${opts.ramp}/s; idle RSS ${result.rss_idle_kib} KiB`);

  // Batches of ≤ R/10, at least batchSize/R seconds apart: no one-second
  // window holds more than R starts.
  const batchSize = Math.max(1, Math.ceil(opts.ramp / 10));
  const intervalMs = (batchSize / opts.ramp) * 1000;
  const cpuConnect0 = process.cpuUsage();
  const connect0 = performance.now();
  const pending = [];
  const progress = setInterval(() => log(`connect: ${opened} open, ${failed} failed, ${pending.length} started`), 1000);
  // A batch also waits a full interval after the previous one actually
  // started, so a stalled event loop does not catch up in a burst.
  let lastBatch = -Infinity;
  for (let i = 0, k = 0; i < opts.connections && !finished; k++) {
    const due = Math.max(connect0 + k * intervalMs, lastBatch + intervalMs);
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    lastBatch = performance.now();
    for (let j = 0; j < batchSize && i < opts.connections; j++, i++) pending.push(openOne(i));
  }
  await Promise.all(pending);
  clearInterval(progress);
  if (finished) return;
  result.connect_s = round3((performance.now() - connect0) / 1000);
  result.cpu_s_connect = round3(cpuS(process.cpuUsage(cpuConnect0)));
  result.connections_per_cpu_second = result.cpu_s_connect > 0 ? round3(opened / result.cpu_s_connect) : null;
  log(`connect phase: ${opened} open, ${failed} failed in ${result.connect_s}s, ${result.cpu_s_connect} CPU-s`);

  const hold0 = performance.now();
  const holdProgress = setInterval(() => log(`hold: ${arrivals} arrivals, ${opened - droppedByServer} open`), 1000);
  const rssAt = Math.min(2, opts.hold) * 1000;
  await sleep(rssAt);
  if (finished) return;
  collect();
  result.rss_loaded_kib = rssKiB();
  if (opened > 0) result.kib_per_connection = round3((result.rss_loaded_kib - result.rss_idle_kib) / opened);
  log(`loaded RSS ${result.rss_loaded_kib} KiB (${result.kib_per_connection} KiB per connection)`);
  const left = opts.hold * 1000 - (performance.now() - hold0);
  if (left > 0) await sleep(left);
  clearInterval(holdProgress);
  if (finished) return;
  await finish(false);
}

run().catch((e) => {
  log(`error: ${e && e.stack ? e.stack : e}`);
  finish(true);
});
