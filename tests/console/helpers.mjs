// Helpers for the web console's browser tests: the real shardline binary (one server per test),
// the system Chromium driven by playwright-core (never a downloaded browser), direct API calls
// from Node (to set up data behind the page's back), bounded waits and screenshots.

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { Server as SharedServer, sleep, started, stopChild, tempDir, track } from '../lib/shardline-server.mjs';

export { sleep };

const HERE = dirname(fileURLToPath(import.meta.url));
export const SCREENSHOTS = join(HERE, 'screenshots');


/** The binary: $SHARDLINE_BIN (relative to the current directory), else ../../target/debug/shardline from here. */
export function shardlineBin() {
  const fromEnv = process.env.SHARDLINE_BIN;
  return fromEnv ? resolve(process.cwd(), fromEnv) : resolve(HERE, '../../target/debug/shardline');
}

/** The browser: $CHROMIUM, else /usr/bin/chromium (installed by scripts/test). */
export function chromiumPath() {
  return process.env.CHROMIUM || '/usr/bin/chromium';
}

/**
 * One running `shardline serve --in-memory --port 0`. The console is served from the files
 * compiled into the binary; set CONSOLE_DIR to serve them from a directory instead (while working
 * on them, to skip the rebuild).
 */
export class Server extends SharedServer {
  constructor(extraArgs = []) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHARDLINE_') && !k.startsWith('AWS_')));
    if (process.env.CONSOLE_DIR) env.SHARDLINE_CONSOLE_DIR = resolve(process.cwd(), process.env.CONSOLE_DIR);
    super(shardlineBin(), ['--in-memory', ...extraArgs], { env, prefix: 'shardline-console-' });
  }

  /** A fresh directory (removed when the tests end), e.g. for a credentials file. */
  static tempDir() {
    return tempDir('shardline-console-files-');
  }
}

/** Starts a server for test `t` (stopped when `t` ends). */
export function startShardline(t, extraArgs = []) {
  return started(new Server(extraArgs), (fn) => t.after(fn));
}

let browser = null;

/** The shared Chromium of this test file (closed by closeBrowser in an `after` hook). */
export async function launchBrowser() {
  if (!browser) browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'], timeout: 30_000 });
  return browser;
}

export async function closeBrowser() {
  if (browser) await browser.close();
  browser = null;
}

/**
 * A new page (own context: own sessionStorage and localStorage) at 1280×800, closed when `t`
 * ends. Page errors and failed console requests are collected in page.problems.
 */
export async function openPage(t) {
  const b = await launchBrowser();
  const context = await b.newContext({ viewport: { width: 1280, height: 800 } });
  t.after(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  return page;
}

/** Saves a full-page screenshot as screenshots/<name>.png. */
export async function shot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Polls `fn` until it returns a truthy value (returned) or `timeoutMs` passes (throws with `what`). */
export async function until(what, fn, { timeoutMs = 10_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  let lastError;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastError = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError.message})` : ''}${last !== undefined ? ` (last value: ${JSON.stringify(last)})` : ''}`);
}

/** A Kinesis call from Node (JSON 1.1, unsigned); throws on an error answer. */
export async function kinesis(endpoint, operation, body = {}) {
  const r = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `Kinesis_20131202.${operation}` },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${operation}: HTTP ${r.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

/** Creates a stream and waits (bounded) until it is ACTIVE. */
export async function createStream(endpoint, name, shards) {
  await kinesis(endpoint, 'CreateStream', { StreamName: name, ShardCount: shards });
  await until(`${name} ACTIVE`, async () => (await kinesis(endpoint, 'DescribeStreamSummary', { StreamName: name })).StreamDescriptionSummary.StreamStatus === 'ACTIVE');
}

export const b64 = (data) => Buffer.from(data).toString('base64');

/** moto's server (the project's .venv, or $MOTO_SERVER), for the leases panel's DynamoDB. */
export function motoServerPath() {
  return process.env.MOTO_SERVER || resolve(HERE, '../../.venv/bin/moto_server');
}

function freePort() {
  return new Promise((done, fail) => {
    const s = net.createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => done(port));
    });
  });
}

/** Starts `moto_server -H 127.0.0.1 -p PORT` for test `t` (stopped when it ends). */
export async function startMoto(t, bin) {
  const port = await freePort();
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (output = (output + d).slice(-4000)));
  child.stderr.setEncoding('utf8').on('data', (d) => (output = (output + d).slice(-4000)));
  t.after(() => stopChild(child, 'moto'));
  const endpoint = `http://127.0.0.1:${port}`;
  await until(`moto listening on ${endpoint}`, async () => {
    if (child.exitCode !== null) throw new Error(`moto_server exited: ${output}`);
    try {
      await fetch(`${endpoint}/moto-api/`);
      return true;
    } catch {
      return false;
    }
  }, { timeoutMs: 20_000, intervalMs: 200 });
  return { endpoint, child };
}

/** A DynamoDB call to `dynamo` (signed with a placeholder key: moto routes by the signature's service). */
export async function dynamoCall(dynamo, operation, body) {
  const text = JSON.stringify(body);
  const headers = { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': `DynamoDB_20120810.${operation}` };
  const { signRequest } = await import('../../crates/console/assets/sigv4.js');
  const signed = await signRequest({ method: 'POST', url: `${dynamo.endpoint}/`, headers, body: text }, { accessKeyId: 'test', secretAccessKey: 'test', region: 'us-east-1', service: 'dynamodb' });
  const r = await fetch(`${dynamo.endpoint}/`, { method: 'POST', headers: signed.headers, body: text });
  const out = await r.text();
  if (!r.ok) throw new Error(`DynamoDB ${operation}: HTTP ${r.status} ${out}`);
  return JSON.parse(out);
}
