// SubscribeToShard across a SplitShard with the JavaScript SDK v3: the parent's subscription
// delivers what was written before the split, then a last event naming the two children, then ends;
// the children's subscriptions deliver what is written after it.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  PutRecordCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';

import {
  MAX_HASH_KEY,
  MID_HASH_KEY,
  Server,
  Subscription,
  bytes,
  createActiveStream,
  defer,
  makeClient,
  sendThrottled,
  registerActiveConsumer,
  startShardline,
  summarize,
  text,
  uniqueName,
  waitForStreamActive,
} from './helpers.mjs';

const TEST_TIMEOUT_MS = 60_000;
const EVENT_TIMEOUT_MS = 10_000;
const PARENT = 'shardId-000000000000';
const LOW_CHILD = 'shardId-000000000001';
const HIGH_CHILD = 'shardId-000000000002';
const LOW_END = (BigInt(MID_HASH_KEY) - 1n).toString();

/** Whether this binary has SplitShard: a build without it answers UnknownOperationException. */
async function detectSplit() {
  const server = new Server();
  const t = { after() {} }; // destroyed below, not by a test
  try {
    await server.start();
    const client = makeClient(t, server.endpoint, { maxAttempts: 1 });
    try {
      await client.send(
        new SplitShardCommand({ StreamName: 'probe', ShardToSplit: PARENT, NewStartingHashKey: MID_HASH_KEY }),
        { abortSignal: AbortSignal.timeout(10_000) },
      );
      return true;
    } catch (e) {
      // Expected: ResourceNotFoundException (the probe names no stream). Any answer but "unknown
      // operation" means SplitShard exists; the tests then show what is wrong with it.
      return e.name !== 'UnknownOperationException';
    } finally {
      client.destroy();
    }
  } finally {
    await server.stop();
  }
}

const splitAvailable = await detectSplit();
const skip = !splitAvailable && 'SplitShard is not in this shardline binary (UnknownOperationException)';

async function subscribe(t, client, ConsumerARN, ShardId, StartingPosition = { Type: 'TRIM_HORIZON' }) {
  const sub = await Subscription.open(client, { ConsumerARN, ShardId, StartingPosition }, { timeoutMs: EVENT_TIMEOUT_MS });
  defer(t, () => sub.close());
  return sub;
}

/** Reads until the server ends the stream; returns all events. */
async function readToEnd(sub, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`the stream did not end within ${timeoutMs} ms: ${summarize(sub.events)}`);
    const r = await sub.next(left);
    if (r.done) return sub.events;
  }
}

function assertChildShards(childShards) {
  assert.deepEqual(
    [...childShards]
      .sort((a, b) => a.ShardId.localeCompare(b.ShardId))
      .map((c) => ({ ShardId: c.ShardId, ParentShards: c.ParentShards, HashKeyRange: c.HashKeyRange })),
    [
      { ShardId: LOW_CHILD, ParentShards: [PARENT], HashKeyRange: { StartingHashKey: '0', EndingHashKey: LOW_END } },
      { ShardId: HIGH_CHILD, ParentShards: [PARENT], HashKeyRange: { StartingHashKey: MID_HASH_KEY, EndingHashKey: MAX_HASH_KEY } },
    ],
  );
}

/** Checks a parent's event list: records as written, then one last event with the children and no continuation. */
function assertParentEvents(events, written) {
  const all = events.map((e) => e.SubscribeToShardEvent);
  assert.ok(all.every(Boolean), `an event that is not a SubscribeToShardEvent: ${summarize(events)}`);
  const records = all.flatMap((e) => e.Records);
  assert.deepEqual(
    records.map((r) => [r.SequenceNumber, r.PartitionKey, text(r.Data)]),
    written.map((w) => [w.seq, w.pk, w.data]),
    'the parent delivers exactly the records written before the split',
  );
  const last = all.at(-1);
  assert.ok(last.ChildShards, `the last event has no ChildShards: ${summarize(events)}`);
  assertChildShards(last.ChildShards);
  assert.equal(last.ContinuationSequenceNumber ?? undefined, undefined, 'the last event of a closed shard has no ContinuationSequenceNumber');
  for (const e of all.slice(0, -1)) {
    assert.equal(e.ChildShards, undefined, `ChildShards before the last event: ${summarize(events)}`);
    assert.match(e.ContinuationSequenceNumber, /^\d+$/);
  }
}

test('SubscribeToShard across SplitShard: the parent ends with its ChildShards, the children carry on', { skip, timeout: TEST_TIMEOUT_MS }, async (t) => {
  const server = await startShardline(t);
  const client = makeClient(t, server.endpoint);
  const StreamName = uniqueName('split');
  const stream = await createActiveStream(client, StreamName, 1);
  const consumer = await registerActiveConsumer(client, stream.StreamARN, uniqueName('consumer'));

  const parentSub = await subscribe(t, client, consumer.ConsumerARN, PARENT);
  const written = [];
  const batch = await client.send(new PutRecordsCommand({
    StreamName,
    Records: ['a', 'b', 'c'].map((k) => ({ PartitionKey: `before-${k}`, Data: bytes(`before ${k}`) })),
  }));
  assert.equal(batch.FailedRecordCount, 0);
  batch.Records.forEach((r, i) => written.push({ seq: r.SequenceNumber, pk: `before-${'abc'[i]}`, data: `before ${'abc'[i]}` }));
  const seen = await parentSub.readRecordsUntil((rs) => rs.length >= 3, EVENT_TIMEOUT_MS);
  assert.equal(seen.length, 3);

  // Two more just before the split: written to the parent, perhaps not yet delivered when it closes.
  for (const [pk, hashKey] of [['last-low', '0'], ['last-high', MAX_HASH_KEY]]) {
    const out = await client.send(new PutRecordCommand({ StreamName, PartitionKey: pk, ExplicitHashKey: hashKey, Data: bytes(pk) }));
    assert.equal(out.ShardId, PARENT);
    written.push({ seq: out.SequenceNumber, pk, data: pk });
  }

  await client.send(new SplitShardCommand({ StreamName, ShardToSplit: PARENT, NewStartingHashKey: MID_HASH_KEY }));

  // The parent's subscription: the records, then the children, then the end of the stream.
  const events = await readToEnd(parentSub, EVENT_TIMEOUT_MS);
  assertParentEvents(events, written);

  await waitForStreamActive(client, StreamName);
  const { StreamDescription: d } = await client.send(new DescribeStreamCommand({ StreamName }));
  const shards = Object.fromEntries(d.Shards.map((s) => [s.ShardId, s]));
  assert.deepEqual(Object.keys(shards).sort(), [PARENT, LOW_CHILD, HIGH_CHILD]);
  assert.match(shards[PARENT].SequenceNumberRange.EndingSequenceNumber ?? '', /^\d+$/, 'the parent is closed');
  for (const child of [LOW_CHILD, HIGH_CHILD]) {
    assert.equal(shards[child].ParentShardId, PARENT);
    assert.equal(shards[child].SequenceNumberRange.EndingSequenceNumber, undefined);
  }

  // The children: subscribed first, written after; each sees exactly its own records.
  const lowSub = await subscribe(t, client, consumer.ConsumerARN, LOW_CHILD);
  const highSub = await subscribe(t, client, consumer.ConsumerARN, HIGH_CHILD);
  const expected = { [LOW_CHILD]: [], [HIGH_CHILD]: [] };
  for (let i = 0; i < 3; i++) {
    for (const [hashKey, child] of [['0', LOW_CHILD], [MAX_HASH_KEY, HIGH_CHILD]]) {
      const pk = `after-${i}-${child.slice(-1)}`;
      const out = await client.send(new PutRecordCommand({ StreamName, PartitionKey: pk, ExplicitHashKey: hashKey, Data: bytes(pk) }));
      assert.equal(out.ShardId, child, `ExplicitHashKey ${hashKey} routes to ${child}`);
      expected[child].push({ seq: out.SequenceNumber, pk, data: pk });
    }
  }
  const batch2 = await client.send(new PutRecordsCommand({
    StreamName,
    Records: [
      { PartitionKey: 'batch-low', ExplicitHashKey: '0', Data: bytes('batch-low') },
      { PartitionKey: 'batch-high', ExplicitHashKey: MAX_HASH_KEY, Data: bytes('batch-high') },
    ],
  }));
  assert.equal(batch2.FailedRecordCount, 0);
  assert.deepEqual(batch2.Records.map((r) => r.ShardId), [LOW_CHILD, HIGH_CHILD]);
  expected[LOW_CHILD].push({ seq: batch2.Records[0].SequenceNumber, pk: 'batch-low', data: 'batch-low' });
  expected[HIGH_CHILD].push({ seq: batch2.Records[1].SequenceNumber, pk: 'batch-high', data: 'batch-high' });

  for (const [sub, child] of [[lowSub, LOW_CHILD], [highSub, HIGH_CHILD]]) {
    const got = await sub.readRecordsUntil((rs) => rs.length >= expected[child].length, EVENT_TIMEOUT_MS);
    assert.deepEqual(
      got.map((r) => [r.SequenceNumber, r.PartitionKey, text(r.Data)]),
      expected[child].map((w) => [w.seq, w.pk, w.data]),
      child,
    );
    for (const e of sub.events) {
      assert.equal(e.SubscribeToShardEvent.ChildShards, undefined, `${child} is open: no ChildShards`);
      assert.match(e.SubscribeToShardEvent.ContinuationSequenceNumber, /^\d+$/);
    }
  }
});

test('a closed parent read again: SubscribeToShard and GetRecords replay it, then name its children and end', { skip, timeout: TEST_TIMEOUT_MS }, async (t) => {
  const server = await startShardline(t);
  const client = makeClient(t, server.endpoint);
  const StreamName = uniqueName('split-replay');
  const stream = await createActiveStream(client, StreamName, 1);
  const written = [];
  for (const pk of ['x', 'y', 'z']) {
    const out = await client.send(new PutRecordCommand({ StreamName, PartitionKey: pk, Data: bytes(`data ${pk}`) }));
    written.push({ seq: out.SequenceNumber, pk, data: `data ${pk}` });
  }
  await client.send(new SplitShardCommand({ StreamName, ShardToSplit: PARENT, NewStartingHashKey: MID_HASH_KEY }));
  await waitForStreamActive(client, StreamName);

  // A consumer that arrives after the split, from TRIM_HORIZON.
  const consumer = await registerActiveConsumer(client, stream.StreamARN, uniqueName('late'));
  const sub = await subscribe(t, client, consumer.ConsumerARN, PARENT);
  assertParentEvents(await readToEnd(sub, EVENT_TIMEOUT_MS), written);

  // GetRecords on the parent: the same records, then ChildShards and no NextShardIterator.
  const { ShardIterator } = await sendThrottled(client, new GetShardIteratorCommand({ StreamName, ShardId: PARENT, ShardIteratorType: 'TRIM_HORIZON' }));
  const records = [];
  let iterator = ShardIterator;
  let last;
  for (let i = 0; iterator; i++) {
    assert.ok(i < 20, 'GetRecords on a closed shard never ends');
    last = await sendThrottled(client, new GetRecordsCommand({ ShardIterator: iterator }));
    records.push(...last.Records);
    iterator = last.NextShardIterator;
  }
  assert.deepEqual(records.map((r) => [r.SequenceNumber, r.PartitionKey, text(r.Data)]), written.map((w) => [w.seq, w.pk, w.data]));
  assert.ok(last.ChildShards, 'the last GetRecords names the children');
  assertChildShards(last.ChildShards);
});
