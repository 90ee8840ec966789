// The everyday Kinesis flow with the JavaScript SDK v3, which sends every call over HTTP/2: against
// shardline's plain-http port that is h2c with prior knowledge (no upgrade, no TLS).

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';

import {
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  ResourceNotFoundException,
  InvalidArgumentException,
  paginateListStreams,
} from '@aws-sdk/client-kinesis';
import { NodeHttp2Handler } from '@smithy/node-http-handler';

import {
  ACCOUNT,
  MAX_HASH_KEY,
  MID_HASH_KEY,
  REGION,
  bytes,
  createActiveStream,
  hashKeyOf,
  makeClient,
  sendThrottled,
  recordConnections,
  startShardline,
  text,
  uniqueName,
} from './helpers.mjs';

const TEST_TIMEOUT_MS = 60_000;
// What node:http2 reports for a peer's SETTINGS_MAX_CONCURRENT_STREAMS before the peer sent any.
const UNLIMITED_STREAMS = 2 ** 32 - 1;

function assertH2c(exchanges, what) {
  assert.ok(exchanges.length > 0, `${what}: no HTTP exchange recorded`);
  for (const x of exchanges) {
    const where = `${what}: ${x.command}`;
    assert.equal(x.isHttp2Stream, true, `${where} did not go through a ClientHttp2Stream`);
    assert.equal(x.alpnProtocol, 'h2c', `${where}: session protocol ${x.alpnProtocol}`);
    assert.equal(x.encrypted, false, `${where}: session is encrypted`);
    assert.equal(x.sessionType, http2.constants.NGHTTP2_SESSION_CLIENT, where);
    assert.equal(x.method, 'POST', where);
    // The server's own SETTINGS frame arrived on the connection (shardline limits concurrent streams).
    assert.ok(
      Number.isInteger(x.remoteSettings.maxConcurrentStreams) && x.remoteSettings.maxConcurrentStreams < UNLIMITED_STREAMS,
      `${where}: no SETTINGS from the server (${JSON.stringify(x.remoteSettings)})`,
    );
  }
}

test('the default request handler of KinesisClient is HTTP/2, and shardline answers it over h2c', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const server = await startShardline(t);
  // No requestHandler: exactly what an application gets.
  const client = makeClient(t, server.endpoint);
  assert.ok(client instanceof KinesisClient);
  const handler = client.config.requestHandler;
  assert.equal(handler.constructor.name, 'NodeHttp2Handler');
  assert.ok(handler instanceof NodeHttp2Handler, 'the handler is @smithy/node-http-handler NodeHttp2Handler');
  assert.equal(handler.metadata?.handlerProtocol, 'h2');

  const exchanges = recordConnections(client);
  const out = await client.send(new ListStreamsCommand({}));
  assert.equal(out.$metadata.httpStatusCode, 200);
  assert.deepEqual(out.StreamNames, []);
  assert.equal(out.HasMoreStreams, false);
  assert.equal(exchanges.length, 1);
  assertH2c(exchanges, 'ListStreams with the default handler');
  assert.equal(exchanges[0].authority, `127.0.0.1:${server.port}`);
});

test('everyday flow over h2c: streams, shards, put and get records', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const server = await startShardline(t);
  // Configured explicitly, with concurrent streams allowed (the SDK's default for Kinesis opens one
  // connection per call): concurrent calls must then share a single HTTP/2 connection.
  const client = makeClient(t, server.endpoint, {
    requestHandler: new NodeHttp2Handler({ requestTimeout: 15_000, disableConcurrentStreams: false }),
  });
  assert.equal(client.config.requestHandler.constructor.name, 'NodeHttp2Handler');
  const exchanges = recordConnections(client);
  const name = uniqueName('flow');

  await t.test('CreateStream (2 shards), DescribeStream, DescribeStreamSummary', async () => {
    const summary = await createActiveStream(client, name, 2);
    assert.equal(summary.StreamName, name);
    assert.equal(summary.OpenShardCount, 2);
    assert.equal(summary.StreamARN, `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/${name}`);
    assert.equal(summary.RetentionPeriodHours, 24);
    assert.ok(summary.StreamCreationTimestamp instanceof Date);

    const { StreamDescription: d } = await client.send(new DescribeStreamCommand({ StreamName: name }));
    assert.equal(d.StreamStatus, 'ACTIVE');
    assert.equal(d.HasMoreShards, false);
    assert.deepEqual(
      d.Shards.map((s) => [s.ShardId, s.HashKeyRange.StartingHashKey, s.HashKeyRange.EndingHashKey]),
      [
        ['shardId-000000000000', '0', ((1n << 127n) - 1n).toString()],
        ['shardId-000000000001', MID_HASH_KEY, MAX_HASH_KEY],
      ],
    );
    for (const s of d.Shards) {
      assert.match(s.SequenceNumberRange.StartingSequenceNumber, /^\d+$/);
      assert.equal(s.SequenceNumberRange.EndingSequenceNumber, undefined);
      assert.equal(s.ParentShardId, undefined);
    }
  });

  await t.test('ListStreams pages with Limit and NextToken', async () => {
    const others = [uniqueName('flow-a'), uniqueName('flow-b')];
    for (const other of others) await createActiveStream(client, other, 1);
    const all = [name, ...others].sort();

    const seen = [];
    let page = await client.send(new ListStreamsCommand({ Limit: 1 }));
    for (let i = 0; ; i++) {
      assert.ok(i < 10, 'ListStreams does not stop paging');
      assert.ok(page.StreamNames.length <= 1);
      assert.equal(page.StreamSummaries.length, page.StreamNames.length);
      seen.push(...page.StreamNames);
      if (!page.HasMoreStreams) {
        assert.equal(page.NextToken, undefined);
        break;
      }
      assert.equal(typeof page.NextToken, 'string');
      page = await client.send(new ListStreamsCommand({ Limit: 1, NextToken: page.NextToken }));
    }
    assert.deepEqual(seen, all);

    // The SDK's own paginator (Limit + NextToken) gets there too.
    const paged = [];
    for await (const p of paginateListStreams({ client, pageSize: 2 }, {})) paged.push(...p.StreamNames);
    assert.deepEqual(paged, all);

    // The older way: ExclusiveStartStreamName.
    const rest = await client.send(new ListStreamsCommand({ ExclusiveStartStreamName: all[0] }));
    assert.deepEqual(rest.StreamNames, all.slice(1));
    assert.equal(rest.HasMoreStreams, false);
  });

  await t.test('ListShards pages with MaxResults and NextToken', async () => {
    const first = await client.send(new ListShardsCommand({ StreamName: name, MaxResults: 1 }));
    assert.deepEqual(first.Shards.map((s) => s.ShardId), ['shardId-000000000000']);
    assert.equal(typeof first.NextToken, 'string');
    // With a NextToken the stream is named by the token alone.
    const second = await client.send(new ListShardsCommand({ NextToken: first.NextToken, MaxResults: 1 }));
    assert.deepEqual(second.Shards.map((s) => s.ShardId), ['shardId-000000000001']);
    if (second.NextToken !== undefined) {
      const third = await client.send(new ListShardsCommand({ NextToken: second.NextToken, MaxResults: 1 }));
      assert.deepEqual(third.Shards, []);
      assert.equal(third.NextToken, undefined);
    }
    await assert.rejects(
      client.send(new ListShardsCommand({ StreamName: name, NextToken: first.NextToken })),
      (e) => e instanceof InvalidArgumentException && e.$metadata.httpStatusCode === 400,
    );
  });

  const written = { 'shardId-000000000000': [], 'shardId-000000000001': [] };

  await t.test('PutRecord and PutRecords with Uint8Array data', async () => {
    // ExplicitHashKey picks the shard.
    for (const [i, hashKey, shard] of [
      [0, '0', 'shardId-000000000000'],
      [1, MAX_HASH_KEY, 'shardId-000000000001'],
      [2, MID_HASH_KEY, 'shardId-000000000001'],
    ]) {
      const data = bytes(`put-record ${i} ✓`);
      const out = await client.send(
        new PutRecordCommand({ StreamName: name, PartitionKey: `pk-${i}`, ExplicitHashKey: hashKey, Data: data }),
      );
      assert.equal(out.ShardId, shard, `record ${i}`);
      assert.match(out.SequenceNumber, /^\d+$/);
      written[shard].push({ seq: out.SequenceNumber, pk: `pk-${i}`, data });
    }

    // Without ExplicitHashKey the MD5 of the partition key picks the shard; binary data round-trips.
    const records = Array.from({ length: 12 }, (_, i) => ({
      PartitionKey: `batch-key-${i}`,
      Data: Uint8Array.from([i, 0, 255, 0x80, ...bytes(`batch ${i}`)]),
    }));
    records.push({ PartitionKey: 'empty-data', Data: new Uint8Array(0) });
    const out = await client.send(new PutRecordsCommand({ StreamName: name, Records: records }));
    assert.equal(out.FailedRecordCount, 0);
    assert.equal(out.Records.length, records.length);
    out.Records.forEach((r, i) => {
      const expected = hashKeyOf(records[i].PartitionKey) < (1n << 127n) ? 'shardId-000000000000' : 'shardId-000000000001';
      assert.equal(r.ShardId, expected, `PutRecords entry ${i} (${records[i].PartitionKey})`);
      assert.equal(r.ErrorCode, undefined);
      written[r.ShardId].push({ seq: r.SequenceNumber, pk: records[i].PartitionKey, data: records[i].Data });
    });

    // Ten PutRecord calls at once: multiplexed on one HTTP/2 connection.
    const before = exchanges.length;
    const outs = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        client.send(new PutRecordCommand({ StreamName: name, PartitionKey: `concurrent-${i}`, ExplicitHashKey: '1', Data: bytes(`concurrent ${i}`) })),
      ),
    );
    const concurrent = exchanges.slice(before);
    assert.equal(concurrent.length, 10);
    assert.equal(new Set(concurrent.map((x) => x.session)).size, 1, 'the 10 concurrent calls used more than one connection');
    // Concurrent writes to one shard: sequence numbers are distinct; record them in sequence order.
    assert.equal(new Set(outs.map((o) => o.SequenceNumber)).size, 10);
    const concurrentRecords = outs.map((o, i) => ({ seq: o.SequenceNumber, pk: `concurrent-${i}`, data: bytes(`concurrent ${i}`) }));
    concurrentRecords.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
    for (const o of outs) assert.equal(o.ShardId, 'shardId-000000000000');
    written['shardId-000000000000'].push(...concurrentRecords);

    for (const list of Object.values(written)) {
      for (let i = 1; i < list.length; i++) assert.ok(BigInt(list[i - 1].seq) < BigInt(list[i].seq), 'sequence numbers increase per shard');
    }
  });

  await t.test('GetShardIterator + GetRecords read back exactly what was written, per shard', async () => {
    const started = Date.now();
    for (const [shardId, expected] of Object.entries(written)) {
      assert.ok(expected.length > 0, `nothing was written to ${shardId}`);
      const { ShardIterator } = await sendThrottled(
        client,
        new GetShardIteratorCommand({ StreamName: name, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
      );
      assert.equal(typeof ShardIterator, 'string');
      const got = [];
      let iterator = ShardIterator;
      for (let i = 0; got.length < expected.length; i++) {
        assert.ok(i < 20, `${shardId}: only ${got.length} of ${expected.length} records after 20 GetRecords`);
        // Limit 5: several calls per shard, more than AWS's 5 a second in all (see sendThrottled).
        const out = await sendThrottled(client, new GetRecordsCommand({ ShardIterator: iterator, Limit: 5 }));
        assert.ok(out.Records.length <= 5);
        got.push(...out.Records);
        assert.equal(typeof out.NextShardIterator, 'string');
        iterator = out.NextShardIterator;
      }
      const rest = await sendThrottled(client, new GetRecordsCommand({ ShardIterator: iterator }));
      assert.deepEqual(rest.Records, [], `${shardId}: more records than written`);
      assert.equal(rest.MillisBehindLatest, 0);

      assert.deepEqual(
        got.map((r) => [r.SequenceNumber, r.PartitionKey, Buffer.from(r.Data).toString('hex')]),
        expected.map((w) => [w.seq, w.pk, Buffer.from(w.data).toString('hex')]),
        shardId,
      );
      for (const r of got) {
        assert.ok(r.Data instanceof Uint8Array);
        assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
        assert.ok(Math.abs(r.ApproximateArrivalTimestamp.getTime() - started) < 120_000, 'arrival time is now-ish');
      }
    }

    // AT_ / AFTER_SEQUENCE_NUMBER start where they say.
    const shard1 = written['shardId-000000000001'];
    const at = await sendThrottled(client, new GetShardIteratorCommand({
      StreamName: name, ShardId: 'shardId-000000000001', ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: shard1[1].seq,
    }));
    const atRecords = (await sendThrottled(client, new GetRecordsCommand({ ShardIterator: at.ShardIterator }))).Records;
    assert.deepEqual(atRecords.map((r) => r.SequenceNumber), shard1.slice(1).map((w) => w.seq));
    const after = await sendThrottled(client, new GetShardIteratorCommand({
      StreamName: name, ShardId: 'shardId-000000000001', ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: shard1[1].seq,
    }));
    const afterRecords = (await sendThrottled(client, new GetRecordsCommand({ ShardIterator: after.ShardIterator }))).Records;
    assert.deepEqual(afterRecords.map((r) => r.SequenceNumber), shard1.slice(2).map((w) => w.seq));
    assert.equal(text(afterRecords[0].Data), text(shard1[2].data));
  });

  await t.test('errors are modeled exceptions over h2c', async () => {
    const e = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'no-such-stream' })).then(
      () => assert.fail('DescribeStreamSummary of a missing stream succeeded'),
      (err) => err,
    );
    assert.ok(e instanceof ResourceNotFoundException, `got ${e?.name}: ${e?.message}`);
    assert.equal(e.name, 'ResourceNotFoundException');
    assert.equal(e.$fault, 'client');
    assert.equal(e.$metadata.httpStatusCode, 400);
    assert.match(e.message, /no-such-stream/);
  });

  await t.test('every call above went over h2c', () => {
    assertH2c(exchanges, 'everyday flow');
    assert.ok(exchanges.length >= 30, `only ${exchanges.length} exchanges recorded`);
    // One client, concurrency allowed: everything shared one connection.
    assert.equal(new Set(exchanges.map((x) => x.session)).size, 1);
  });
});
