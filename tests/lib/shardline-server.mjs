// One running `shardline serve --port 0` for the Node test suites (tests/js, tests/console): the
// real binary, its output kept for failure messages, ready once it printed its endpoint and its
// health check answers; stopped with SIGTERM (then SIGKILL), its working directory removed.
// Node built-ins only, so each suite imports it by path whatever its own dependencies.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const OUTPUT_KEEP_CHARS = 8_000;
const LISTENING = /^shardline listening on (http:\/\/127\.0\.0\.1:(\d+))\b/;

const running = new Set();
const workdirs = new Set();
process.on('exit', () => {
  // Last resort if the test process ends without running the `after` hooks.
  for (const child of running) child.kill('SIGKILL');
  for (const dir of workdirs) rmSync(dir, { recursive: true, force: true });
});
// Stopped from outside (Ctrl-C, the test runner giving up): take the servers along, then die.
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
  process.once(signal, () => process.exit(128 + number));
}

export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

export function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => child.once('exit', () => done()));
}

function healthOnce(endpoint) {
  return new Promise((done) => {
    const req = http.get(`${endpoint}/_shardline/health`, { timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode === 200 ? null : `status ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => done(String(e)));
  });
}

/** Makes sure `child` dies with the test process if nothing stopped it before. */
export function track(child) {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

/** Stops `child`: SIGTERM, then SIGKILL if it is still there after a while. */
export async function stopChild(child, what = 'child') {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  try {
    await withTimeout(exited(child), STOP_TIMEOUT_MS, () => `${what}: no exit after SIGTERM`);
  } catch {
    child.kill('SIGKILL');
    await withTimeout(exited(child), STOP_TIMEOUT_MS, () => `${what} (pid ${child.pid}) survived SIGKILL`);
  }
}

/** A directory removed when the test process ends (or by the caller). */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  workdirs.add(dir);
  return dir;
}

export class Server {
  /**
   * `bin serve --port 0 ...args`, run in a fresh directory (a developer's ./shardline.toml and
   * ./shardline-data stay out) with `env`.
   */
  constructor(bin, args, { env = process.env, prefix = 'shardline-test-' } = {}) {
    this.bin = bin;
    this.workdir = tempDir(prefix);
    this.stdout = '';
    this.stderr = '';
    this.child = spawn(bin, ['serve', '--port', '0', ...args], { cwd: this.workdir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    track(this.child);
    const keep = (s) => (s.length > OUTPUT_KEEP_CHARS * 2 ? s.slice(-OUTPUT_KEEP_CHARS) : s);
    this.child.stdout.setEncoding('utf8').on('data', (d) => (this.stdout = keep(this.stdout + d)));
    this.child.stderr.setEncoding('utf8').on('data', (d) => (this.stderr = keep(this.stderr + d)));
  }

  output() {
    return `--- stdout ---\n${this.stdout.slice(-4000)}\n--- stderr ---\n${this.stderr.slice(-4000)}`;
  }

  async start() {
    const firstLine = new Promise((done, fail) => {
      const check = () => {
        const nl = this.stdout.indexOf('\n');
        if (nl >= 0) done(this.stdout.slice(0, nl));
      };
      this.child.stdout.on('data', check);
      this.child.once('error', (e) => fail(new Error(`cannot run ${this.bin}: ${e.message} (run \`cargo build --bin shardline\` or set SHARDLINE_BIN)`)));
      this.child.once('exit', (code, signal) => fail(new Error(`shardline exited (${code ?? signal}) before listening\n${this.output()}`)));
      check();
    });
    const line = await withTimeout(firstLine, START_TIMEOUT_MS, () => `shardline printed no endpoint within ${START_TIMEOUT_MS} ms\n${this.output()}`);
    const m = LISTENING.exec(line);
    if (!m) throw new Error(`unexpected first stdout line ${JSON.stringify(line)}\n${this.output()}`);
    this.endpoint = m[1];
    this.port = Number(m[2]);
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last;
    while (Date.now() < deadline) {
      last = await healthOnce(this.endpoint);
      if (last === null) return this;
      if (this.child.exitCode !== null) break;
      await sleep(20);
    }
    throw new Error(`/_shardline/health not ok within ${START_TIMEOUT_MS} ms (${last})\n${this.output()}`);
  }

  async stop() {
    await stopChild(this.child, 'shardline');
    rmSync(this.workdir, { recursive: true, force: true });
    workdirs.delete(this.workdir);
  }
}

/**
 * Starts `server` and hands its stop to `onEnd` (the suite's way of running something when the
 * test ends); a server that fails to start is stopped at once.
 */
export async function started(server, onEnd) {
  onEnd(() => server.stop());
  try {
    await server.start();
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}
