// The demo stack for end-to-end tests: `signalscope demo` on free ports,
// and headless Chromium (Debian's, driven by playwright-core) pointed at it.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const screenshots = join(root, 'test-output', 'screenshots');

export function portIsFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port with `count` free ports after it. */
async function freeRange(count) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 20000);
    const all = await Promise.all([...Array(count).keys()].map((i) => portIsFree(base + i)));
    if (all.every(Boolean)) return base;
  }
  throw new Error('no free port range found');
}

/** Starts `signalscope demo` with three instances; resolves once it says it is ready. */
export async function startDemo() {
  const base = await freeRange(4);
  const bin = join(root, 'target', 'debug', 'signalscope');
  // The verdict threshold is raised from 50 ms: these tests prove delivery,
  // not the speed of a loaded CI machine (speeds are recorded, not judged).
  // The canary runs throughout, so every scenario also proves the page
  // keeps its broadcasts out of its own verdicts and counts.
  const args = ['demo', '--listen', `127.0.0.1:${base + 3}`, '--base-port', String(base), '--instances', '3',
    '--dist', join(root, 'dist'), '--pass-within-ms', '1000', '--canary', '1s'];
  const child = spawn(bin, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo not ready within 60 s:\n${output}`)), 60_000);
    const onData = (chunk) => {
      output += chunk;
      const m = output.match(/signalscope demo ready: (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`demo exited (${code}):\n${output}`)); });
  });
  return {
    url,
    /** Every port the demo listens on: the instances and the dashboard. */
    ports: [base, base + 1, base + 2, base + 3],
    output: () => output,
    async api(path, body) {
      const res = await fetch(new URL(path, url), {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
      return res.json();
    },
    /** Ctrl-C, as a user would; resolves with the exit code. */
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGINT');
      });
    },
  };
}

/** Headless Chromium with the flags this machine needs (TOOLCHAIN.md). */
export async function launchBrowser() {
  mkdirSync(screenshots, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export function shot(name) {
  return join(screenshots, `${name}.png`);
}
