// SubscribeToShard (enhanced fan-out) with the JavaScript SDK v3: an HTTP/2 event stream read with
// `for await` semantics (through Subscription in helpers.mjs, which bounds every wait).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ListStreamConsumersCommand,
  PutRecordCommand,
  PutRecordsCommand,
  ResourceInUseException,
} from '@aws-sdk/client-kinesis';

import {
  MAX_HASH_KEY,
  Subscription,
  bytes,
  createActiveStream,
  defer,
  makeClient,
  recordConnections,
  registerActiveConsumer,
  startShardline,
  text,
  uniqueName,
} from './helpers.mjs';

const TEST_TIMEOUT_MS = 60_000;
const EVENT_TIMEOUT_MS = 10_000;
const SHARD0 = 'shardId-000000000000';

const seqOrder = (a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

async function setUp(t, { shards = 1, serveArgs = [] } = {}) {
  const server = await startShardline(t, serveArgs);
  const client = makeClient(t, server.endpoint);
  const exchanges = recordConnections(client);
  const StreamName = uniqueName('sub');
  const stream = await createActiveStream(client, StreamName, shards);
  const consumer = await registerActiveConsumer(client, stream.StreamARN, uniqueName('consumer'));
  return { server, client, exchanges, StreamName, stream, consumer };
}

async function subscribe(t, client, input) {
  const sub = await Subscription.open(client, input, { timeoutMs: EVENT_TIMEOUT_MS });
  defer(t, () => sub.close());
  return sub;
}

test('SubscribeToShard from LATEST delivers the records put after it started', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, exchanges, StreamName, consumer } = await setUp(t, { shards: 2 });
  const { Consumers } = await client.send(new ListStreamConsumersCommand({ StreamARN: consumer.StreamARN }));
  assert.deepEqual(Consumers.map((c) => [c.ConsumerARN, c.ConsumerStatus]), [[consumer.ConsumerARN, 'ACTIVE']]);

  // Before the subscription: LATEST must not deliver it.
  await client.send(new PutRecordCommand({ StreamName, PartitionKey: 'before', ExplicitHashKey: '0', Data: bytes('before') }));

  const sub = await subscribe(t, client, {
    ConsumerARN: consumer.ConsumerARN,
    ShardId: SHARD0,
    StartingPosition: { Type: 'LATEST' },
  });
  assert.equal(sub.response.$metadata.httpStatusCode, 200);
  const subscribeExchange = exchanges.find((x) => x.command === 'SubscribeToShardCommand');
  assert.ok(subscribeExchange, 'SubscribeToShard exchange recorded');
  assert.equal(subscribeExchange.isHttp2Stream, true);
  assert.equal(subscribeExchange.alpnProtocol, 'h2c');

  // Written only now that the subscription is open: one PutRecord, one PutRecords of four, and
  // two records for the other shard, which this subscription must not see.
  const expected = [];
  const one = await client.send(new PutRecordCommand({ StreamName, PartitionKey: 'p0', ExplicitHashKey: '0', Data: bytes('after 0') }));
  assert.equal(one.ShardId, SHARD0);
  expected.push({ seq: one.SequenceNumber, pk: 'p0', data: 'after 0' });
  const batch = await client.send(new PutRecordsCommand({
    StreamName,
    Records: [
      ...[1, 2, 3, 4].map((i) => ({ PartitionKey: `p${i}`, ExplicitHashKey: String(i), Data: bytes(`after ${i} ✓`) })),
      { PartitionKey: 'other', ExplicitHashKey: MAX_HASH_KEY, Data: bytes('other shard') },
    ],
  }));
  assert.equal(batch.FailedRecordCount, 0);
  batch.Records.slice(0, 4).forEach((r, i) => {
    assert.equal(r.ShardId, SHARD0);
    expected.push({ seq: r.SequenceNumber, pk: `p${i + 1}`, data: `after ${i + 1} ✓` });
  });
  await client.send(new PutRecordCommand({ StreamName, PartitionKey: 'other2', ExplicitHashKey: MAX_HASH_KEY, Data: bytes('other shard 2') }));

  const got = await sub.readRecordsUntil((rs) => rs.length >= expected.length, EVENT_TIMEOUT_MS);
  assert.deepEqual(
    got.map((r) => [r.SequenceNumber, r.PartitionKey, text(r.Data)]),
    expected.map((e) => [e.seq, e.pk, e.data]),
  );
  for (const r of got) {
    assert.ok(r.Data instanceof Uint8Array);
    assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
  }

  for (const e of sub.events) {
    const ev = e.SubscribeToShardEvent;
    assert.ok(ev, `unexpected event ${JSON.stringify(Object.keys(e))}`);
    assert.match(ev.ContinuationSequenceNumber, /^\d+$/);
    assert.equal(typeof ev.MillisBehindLatest, 'number');
    assert.equal(ev.ChildShards, undefined);
    const last = ev.Records.at(-1);
    if (last) assert.ok(seqOrder(ev.ContinuationSequenceNumber, last.SequenceNumber) >= 0, 'continuation is at or after the event\'s last record');
  }

  // Idle: a heartbeat (an event without records) arrives about every second.
  const heartbeat = await sub.next(5_000);
  assert.equal(heartbeat.done, false);
  assert.deepEqual(heartbeat.value.SubscribeToShardEvent.Records, []);
  assert.ok(seqOrder(heartbeat.value.SubscribeToShardEvent.ContinuationSequenceNumber, expected.at(-1).seq) >= 0);
});

test('a SubscribeToShard session ends after --subscription-secs and resumes from its ContinuationSequenceNumber', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, StreamName, consumer } = await setUp(t, { serveArgs: ['--subscription-secs', '2'] });
  const put = async (label) => {
    const out = await client.send(new PutRecordCommand({ StreamName, PartitionKey: label, Data: bytes(label) }));
    return { seq: out.SequenceNumber, data: label };
  };
  const first = [await put('r0'), await put('r1'), await put('r2')];

  const started = Date.now();
  const sub = await subscribe(t, client, {
    ConsumerARN: consumer.ConsumerARN,
    ShardId: SHARD0,
    StartingPosition: { Type: 'TRIM_HORIZON' },
  });
  const got = await sub.readRecordsUntil((rs) => rs.length >= first.length, EVENT_TIMEOUT_MS);
  assert.deepEqual(got.map((r) => [r.SequenceNumber, text(r.Data)]), first.map((w) => [w.seq, w.data]));

  // The server ends the stream cleanly after ~2 s: the iterator finishes, no exception.
  for (;;) {
    const r = await sub.next(EVENT_TIMEOUT_MS);
    if (r.done) break;
  }
  const lasted = Date.now() - started;
  assert.ok(lasted >= 1_500 && lasted < 8_000, `session lasted ${lasted} ms`);
  const last = sub.events.at(-1).SubscribeToShardEvent;
  assert.equal(last.ChildShards, undefined);
  assert.match(last.ContinuationSequenceNumber, /^\d+$/);
  const extra = sub.events.flatMap((e) => e.SubscribeToShardEvent.Records).slice(first.length);
  assert.deepEqual(extra, [], 'records nobody wrote');

  // Written while nobody listens, then read by a new session started after the continuation.
  const second = [await put('r3'), await put('r4')];
  const resumed = await subscribeWhenFree(t, client, {
    ConsumerARN: consumer.ConsumerARN,
    ShardId: SHARD0,
    StartingPosition: { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: last.ContinuationSequenceNumber },
  });
  const again = await resumed.readRecordsUntil((rs) => rs.length >= second.length, EVENT_TIMEOUT_MS);
  assert.deepEqual(again.map((r) => [r.SequenceNumber, text(r.Data)]), second.map((w) => [w.seq, w.data]));
});

/** AWS refuses a new subscription within 5 s of the last one for the same consumer and shard. */
async function subscribeWhenFree(t, client, input) {
  const deadline = Date.now() + 8_000;
  for (;;) {
    try {
      return await subscribe(t, client, input);
    } catch (e) {
      if (!(e instanceof ResourceInUseException) || Date.now() > deadline) throw e;
      await new Promise((done) => setTimeout(done, 250));
    }
  }
}

test('a second subscription is refused within 5 s, then takes over and ends the first with ResourceInUseException', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { server, client, consumer } = await setUp(t, { serveArgs: ['--test-clock'] });
  const input = { ConsumerARN: consumer.ConsumerARN, ShardId: SHARD0, StartingPosition: { Type: 'LATEST' } };
  const firstSub = await subscribe(t, client, input);
  const firstEvent = await firstSub.next(EVENT_TIMEOUT_MS);
  assert.equal(firstEvent.done, false);

  const refused = await Subscription.open(client, input, { timeoutMs: EVENT_TIMEOUT_MS }).then(
    (s) => {
      s.close();
      assert.fail('a second SubscribeToShard at once was accepted');
    },
    (e) => e,
  );
  assert.ok(refused instanceof ResourceInUseException, `got ${refused?.name}: ${refused?.message}`);
  assert.equal(refused.$metadata.httpStatusCode, 400);

  // Five seconds later (on the server's test clock) the newcomer takes over.
  const res = await fetch(`${server.endpoint}/_shardline/clock?advance_ms=6000`, { method: 'POST', signal: AbortSignal.timeout(5_000) });
  assert.equal(res.status, 200);
  const secondSub = await subscribe(t, client, input);
  assert.equal((await secondSub.next(EVENT_TIMEOUT_MS)).done, false);

  // The first session's iterator throws the modeled exception from the event stream.
  const error = await (async () => {
    for (let i = 0; i < 20; i++) {
      const r = await firstSub.next(EVENT_TIMEOUT_MS);
      if (r.done) return new Error('the first session ended without an exception event');
    }
    return new Error('the first session kept going after the takeover');
  })().catch((e) => e);
  assert.ok(error instanceof ResourceInUseException, `got ${error?.name}: ${error?.message}`);
  assert.ok(error.message.length > 0);
});
