// Shared helpers for the JavaScript SDK v3 tests: the real shardline binary, Kinesis clients, and
// bounded waits. Every test talks to its own `shardline serve --in-memory --port 0` and every wait
// here ends after a fixed time, so a broken server fails a test instead of hanging the suite.

import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  CreateStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';

import { Server as SharedServer, sleep, started, withTimeout } from '../lib/shardline-server.mjs';

export { sleep };

const HERE = dirname(fileURLToPath(import.meta.url));

export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';
export const MAX_HASH_KEY = ((1n << 128n) - 1n).toString(); // 340282366920938463463374607431768211455
export const MID_HASH_KEY = (1n << 127n).toString(); // 170141183460469231731687303715884105728

// No creation delays and no per-shard throughput limits (tests move data faster than AWS allows).
const BASE_ARGS = ['--in-memory', '--create-delay-ms', '0', '--delete-delay-ms', '0', '--limits', 'off'];

// Keep a developer's ~/.aws and AWS_* variables (profiles, endpoint overrides, retry modes, FIPS...)
// out of the SDK: every test file runs in its own process, which imports this module first.
const awsDir = mkdtempSync(join(tmpdir(), 'shardline-js-aws-'));
writeFileSync(join(awsDir, 'config'), '');
writeFileSync(join(awsDir, 'credentials'), '');
for (const key of Object.keys(process.env)) {
  if (key.startsWith('AWS_')) delete process.env[key];
}
Object.assign(process.env, {
  AWS_CONFIG_FILE: join(awsDir, 'config'),
  AWS_SHARED_CREDENTIALS_FILE: join(awsDir, 'credentials'),
  AWS_EC2_METADATA_DISABLED: 'true',
  // The SDK warns on stderr that its 2027 releases will need Node 22; nothing to act on here.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
});

/** The binary: $SHARDLINE_BIN (relative to the current directory), else ../../target/debug/shardline from tests/js. */
export function shardlineBin() {
  const fromEnv = process.env.SHARDLINE_BIN;
  return fromEnv ? resolve(process.cwd(), fromEnv) : resolve(HERE, '../../target/debug/shardline');
}

process.on('exit', () => rmSync(awsDir, { recursive: true, force: true }));

/** One running `shardline serve` with the suite's base flags, its output kept for failure messages. */
export class Server extends SharedServer {
  constructor(extraArgs = []) {
    super(shardlineBin(), [...BASE_ARGS, ...extraArgs], {
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHARDLINE_'))),
      prefix: 'shardline-js-',
    });
  }
}

const cleanups = new WeakMap();

/**
 * Runs `fn` when test `t` ends, last registered first (node:test runs `t.after` hooks in
 * registration order): subscriptions and clients close before their server stops.
 */
export function defer(t, fn) {
  let list = cleanups.get(t);
  if (!list) {
    list = [];
    cleanups.set(t, list);
    t.after(async () => {
      const errors = [];
      while (list.length) {
        try {
          await list.pop()();
        } catch (e) {
          errors.push(e);
        }
      }
      if (errors.length) throw errors[0];
    });
  }
  list.push(fn);
}

/** Starts a server for test `t` (stopped when `t` ends) and returns it; `extraArgs` go to `serve`. */
export function startShardline(t, extraArgs = []) {
  return started(new Server(extraArgs), (fn) => defer(t, fn));
}

/**
 * A KinesisClient for `endpoint`, destroyed when `t` ends. `requestHandler` defaults to the SDK's own
 * (NodeHttp2Handler); pass options or a handler to change it.
 */
export function makeClient(t, endpoint, { requestHandler, maxAttempts = 2 } = {}) {
  const client = new KinesisClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts,
    useFipsEndpoint: false,
    useDualstackEndpoint: false,
    ...(requestHandler === undefined ? {} : { requestHandler }),
  });
  defer(t, () => client.destroy());
  return client;
}

/**
 * Records, for every HTTP exchange of `client`, what the connection really was: the middleware sits
 * next to the request handler and looks at the raw response body, which for NodeHttp2Handler is the
 * ClientHttp2Stream of the exchange, with its Http2Session. Returns the (growing) list of records.
 */
export function recordConnections(client) {
  const seen = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const body = result.response?.body;
      const session = body?.session;
      seen.push({
        command: context.commandName,
        status: result.response?.statusCode,
        // A ClientHttp2Stream: it has the pseudo-headers it sent and a ClientHttp2Session.
        isHttp2Stream: typeof body?.sentHeaders === 'object' && typeof session?.request === 'function',
        method: body?.sentHeaders?.[':method'],
        authority: body?.sentHeaders?.[':authority'],
        session,
        alpnProtocol: session?.alpnProtocol,
        encrypted: session?.encrypted,
        sessionType: session?.type,
        remoteSettings: session ? { ...session.remoteSettings } : undefined,
      });
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'shardlineRecordConnections' },
  );
  return seen;
}


/**
 * Sends `command`, waiting out ProvisionedThroughputExceededException as a Kinesis consumer must:
 * shardline enforces AWS's per-shard limits (e.g. 5 GetRecords calls a second) by default.
 */
export async function sendThrottled(client, command, { attempts = 12, delayMs = 250 } = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.send(command);
    } catch (e) {
      if (e?.name !== 'ProvisionedThroughputExceededException' || attempt >= attempts) throw e;
      await sleep(delayMs);
    }
  }
}

/** Polls `fn` until it returns a truthy value, for at most `timeoutMs`. */
export async function waitFor(what, fn, { timeoutMs = 10_000, intervalMs = 25 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Creates a stream and waits until it is ACTIVE; returns its DescribeStreamSummary. */
export async function createActiveStream(client, StreamName, ShardCount) {
  await client.send(new CreateStreamCommand({ StreamName, ShardCount }));
  return waitForStreamActive(client, StreamName);
}

export async function waitForStreamActive(client, StreamName) {
  return waitFor(`stream ${StreamName} ACTIVE`, async () => {
    const { StreamDescriptionSummary: s } = await client.send(new DescribeStreamSummaryCommand({ StreamName }));
    return s.StreamStatus === 'ACTIVE' && s;
  });
}

/** Registers a consumer and waits until it is ACTIVE; returns its ConsumerDescription. */
export async function registerActiveConsumer(client, StreamARN, ConsumerName) {
  const { Consumer } = await client.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName }));
  return waitFor(`consumer ${ConsumerName} ACTIVE`, async () => {
    const { ConsumerDescription: c } = await client.send(
      new DescribeStreamConsumerCommand({ ConsumerARN: Consumer.ConsumerARN }),
    );
    return c.ConsumerStatus === 'ACTIVE' && c;
  }, { timeoutMs: 15_000, intervalMs: 100 });
}

/**
 * A SubscribeToShard session read with bounded waits. `next(ms)` gives the next event (or
 * `{ done: true }` when the server ended the stream); `close()` aborts the HTTP/2 stream.
 */
export class Subscription {
  static async open(client, input, { timeoutMs = 10_000 } = {}) {
    const abort = new AbortController();
    const response = await withTimeout(
      client.send(new SubscribeToShardCommand(input), { abortSignal: abort.signal }),
      timeoutMs,
      () => `SubscribeToShard ${input.ShardId} gave no response within ${timeoutMs} ms`,
    ).catch((e) => {
      abort.abort();
      throw e;
    });
    return new Subscription(response, abort);
  }

  constructor(response, abort) {
    this.response = response;
    this.abort = abort;
    this.iterator = response.EventStream[Symbol.asyncIterator]();
    this.events = [];
    this.ended = false;
  }

  async next(timeoutMs) {
    const r = await withTimeout(this.iterator.next(), timeoutMs, () =>
      `no event within ${timeoutMs} ms (after ${this.events.length} events: ${summarize(this.events)})`,
    );
    if (r.done) this.ended = true;
    else this.events.push(r.value);
    return r;
  }

  /** Reads events until `done(records)` holds for the records received so far; returns those records. */
  async readRecordsUntil(done, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    const records = () => this.events.flatMap((e) => e.SubscribeToShardEvent?.Records ?? []);
    while (!done(records())) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms; events so far: ${summarize(this.events)}`);
      const r = await this.next(left);
      if (r.done) throw new Error(`event stream ended early; events: ${summarize(this.events)}`);
    }
    return records();
  }

  close() {
    this.abort.abort();
  }
}

export function summarize(events) {
  return JSON.stringify(
    events.map((e) => {
      const ev = e.SubscribeToShardEvent;
      if (!ev) return Object.keys(e);
      return {
        records: ev.Records?.map((r) => r.SequenceNumber),
        continuation: ev.ContinuationSequenceNumber,
        childShards: ev.ChildShards?.map((c) => c.ShardId),
      };
    }),
  );
}

export const enc = new TextEncoder();
export const dec = new TextDecoder();
export const bytes = (s) => enc.encode(s);
export const text = (u8) => dec.decode(u8);

/** Kinesis routing: the 128-bit big-endian MD5 of the partition key. */
export function hashKeyOf(partitionKey) {
  return BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
}

/** A unique, valid stream or consumer name. */
export function uniqueName(prefix) {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
