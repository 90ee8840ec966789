// Browser tests of the web console: each test starts its own `shardline serve --in-memory`, opens
// /console/ in the system Chromium (playwright-core) and checks what the page shows against what
// the server holds. Every wait is bounded; every page visited is saved in screenshots/.

import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { b64, closeBrowser, createStream, dynamoCall, kinesis, motoServerPath, openPage, Server, shot, startMoto, startShardline, until } from './helpers.mjs';

after(() => closeBrowser());

const TEST_TIMEOUT = { timeout: 90_000 };
const MID = (1n << 127n).toString();

/** Whether the server answers CloudWatch's ListMetrics. */
async function metricsApi(server) {
  const r = await fetch(`${server.endpoint}/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'GraniteServiceVersion20100801.ListMetrics' },
    body: '{}',
  });
  return r.ok && (await r.text()).includes('"Metrics"');
}

/** The error texts the page shows (inline errors and error notices); [] when all went well. */
async function visibleErrors(page) {
  return page.locator('.inline-error:visible, .notice.error:visible').allTextContents();
}

const rowOf = (page, stream) => page.locator(`[data-testid=stream-row][data-stream="${stream}"]`);

test('create a provisioned stream, watch it become ACTIVE, delete it', TEST_TIMEOUT, async (t) => {
  const server = await startShardline(t, ['--create-delay-ms', '1500', '--delete-delay-ms', '1500']);
  const page = await openPage(t);
  await page.goto(`${server.endpoint}/console/`);
  await page.getByTestId('streams-table').waitFor();
  await page.getByLabel('Data stream name').fill('orders');
  await page.getByLabel('Provisioned', { exact: true }).check();
  await page.getByLabel('Provisioned shards').fill('2');
  await page.getByTestId('create-submit').click();

  const row = rowOf(page, 'orders');
  await until('the row CREATING', async () => (await row.getAttribute('data-status')) === 'CREATING');
  assert.equal(await row.getByTestId('status').textContent(), 'CREATING');
  await shot(page, 'streams-creating');
  await until('the row ACTIVE', async () => (await row.getAttribute('data-status')) === 'ACTIVE', { timeoutMs: 10_000 });
  assert.equal(await row.getByTestId('open-shards').textContent(), '2');
  assert.match(await row.textContent(), /Provisioned/);
  const api = (await kinesis(server.endpoint, 'DescribeStreamSummary', { StreamName: 'orders' })).StreamDescriptionSummary;
  assert.equal(api.OpenShardCount, 2);
  assert.equal(api.StreamModeDetails.StreamMode, 'PROVISIONED');

  // An on-demand one too, so the list shows both modes.
  await page.getByLabel('Data stream name').fill('clicks');
  await page.getByLabel('On-demand').check();
  await page.getByTestId('create-submit').click();
  await until('clicks listed', async () => (await rowOf(page, 'clicks').count()) === 1);
  await until('clicks ACTIVE', async () => (await rowOf(page, 'clicks').getAttribute('data-status')) === 'ACTIVE');
  assert.match(await rowOf(page, 'clicks').textContent(), /On-demand/);
  await shot(page, 'streams-list');
  await page.getByLabel('Find streams by name').fill('ord');
  assert.equal(await rowOf(page, 'clicks').isVisible(), false);
  assert.equal(await rowOf(page, 'orders').isVisible(), true);
  await page.getByLabel('Find streams by name').fill('');
  assert.equal(await rowOf(page, 'clicks').isVisible(), true);

  // A refused name shows AWS's error verbatim.
  await page.getByLabel('Data stream name').fill('orders');
  await page.getByLabel('Provisioned', { exact: true }).check();
  await page.getByTestId('create-submit').click();
  await page.getByTestId('create-error').waitFor({ state: 'visible' });
  assert.match(await page.getByTestId('create-error').textContent(), /^ResourceInUseException: /);

  await row.getByTestId('delete-stream').click();
  await page.getByTestId('modal-confirm').click();
  await page.getByTestId('modal').waitFor({ state: 'detached' });
  await until('the row DELETING', async () => (await row.count()) === 0 || (await row.getAttribute('data-status')) === 'DELETING');
  await until('the row gone', async () => (await row.count()) === 0, { timeoutMs: 10_000 });
  const names = (await kinesis(server.endpoint, 'ListStreams', {})).StreamNames;
  assert.deepEqual(names, ['clicks']);
  assert.deepEqual(page.problems, []);
});

test('data viewer: text, JSON and hex; follow mode; the put-record form', TEST_TIMEOUT, async (t) => {
  const server = await startShardline(t, ['--create-delay-ms', '0']);
  await createStream(server.endpoint, 'events', 1);
  const put = await kinesis(server.endpoint, 'PutRecords', {
    StreamName: 'events',
    Records: [
      { PartitionKey: 'k-text', Data: b64('hello world') },
      { PartitionKey: 'k-json', Data: b64('{"n":2,"tags":["a","b"]}') },
      { PartitionKey: 'k-bin', Data: b64(Buffer.from([0x00, 0x01, 0xfe, 0xff])) },
    ],
  });
  assert.equal(put.FailedRecordCount, 0);

  const page = await openPage(t);
  await page.goto(`${server.endpoint}/console/#/streams/events/data`);
  await page.getByLabel('Starting position').selectOption('TRIM_HORIZON');
  await page.getByTestId('data-get').click();
  const rows = page.getByTestId('record-row');
  await until('3 records', async () => (await rows.count()) === 3);
  assert.equal(await rows.nth(0).getByTestId('record-key').textContent(), 'k-text');
  assert.equal(await rows.nth(0).getByTestId('record-seq').textContent(), put.Records[0].SequenceNumber);
  assert.equal(await rows.nth(0).getByTestId('record-data').textContent(), 'hello world');
  assert.match(await rows.nth(0).getByTestId('record-time').textContent(), /\d{2}:\d{2}:\d{2}/);

  await page.getByTestId('format-json').click();
  assert.equal(await rows.nth(1).getByTestId('record-data').textContent(), JSON.stringify({ n: 2, tags: ['a', 'b'] }, null, 2));
  assert.match(await rows.nth(0).getByTestId('record-data').textContent(), /not JSON/);
  await page.getByTestId('format-hex').click();
  assert.match(await rows.nth(0).getByTestId('record-data').textContent(), /^00000000  68 65 6c 6c 6f 20 77 6f 72 6c 64\s+hello world$/);
  assert.match(await rows.nth(2).getByTestId('record-data').textContent(), /^00000000  00 01 fe ff\s+\.\.\.\.$/);
  await shot(page, 'data-viewer-hex');
  await page.getByTestId('format-text').click();

  // Follow from LATEST: only what is put afterwards shows up.
  await page.getByLabel('Starting position').selectOption('LATEST');
  await page.getByTestId('data-follow').click();
  await page.getByTestId('following').waitFor();
  assert.equal(await rows.count(), 0);
  await kinesis(server.endpoint, 'PutRecord', { StreamName: 'events', PartitionKey: 'late', Data: b64('put after following started') });
  await until('the followed record', async () => (await rows.count()) === 1, { timeoutMs: 8_000 });
  assert.equal(await rows.nth(0).getByTestId('record-data').textContent(), 'put after following started');

  // The put-record form; following shows its record too.
  await page.getByLabel('Partition key').fill('from-form');
  await page.getByLabel('Data (UTF-8 text)').fill('{"from":"the form"}');
  await page.getByTestId('put-form-submit').click();
  await page.getByTestId('put-form-ok').waitFor({ state: 'visible' });
  assert.match(await page.getByTestId('put-form-ok').textContent(), /^Put into shardId-000000000000, sequence number \d+\.$/);
  await until('the form record', async () => (await rows.count()) === 2, { timeoutMs: 8_000 });
  assert.equal(await rows.nth(1).getByTestId('record-key').textContent(), 'from-form');
  assert.equal(await rows.nth(1).getByTestId('record-data').textContent(), '{"from":"the form"}');
  await page.getByTestId('format-json').click();
  await shot(page, 'data-viewer');
  await page.getByTestId('data-follow').click();
  assert.equal(await page.getByTestId('data-follow').getAttribute('aria-pressed'), 'false');

  // AT_SEQUENCE_NUMBER of the second record reads it and what follows.
  await page.getByLabel('Starting position').selectOption('AT_SEQUENCE_NUMBER');
  await page.getByLabel('Sequence number').fill(put.Records[1].SequenceNumber);
  await page.getByTestId('data-get').click();
  await until('4 records from the second', async () => (await rows.count()) === 4);
  assert.equal(await rows.nth(0).getByTestId('record-key').textContent(), 'k-json');

  // One record a call, then one more with the iterator GetRecords handed back.
  await page.getByLabel('Starting position').selectOption('TRIM_HORIZON');
  await page.getByLabel('Records per call').fill('1');
  await page.getByTestId('data-get').click();
  await until('1 record', async () => (await rows.count()) === 1 && (await page.getByTestId('data-more').isVisible()));
  await page.getByTestId('data-more').click();
  await until('2 records', async () => (await rows.count()) === 2);
  assert.deepEqual(await page.getByTestId('record-key').allTextContents(), ['k-text', 'k-json']);
  assert.deepEqual(await visibleErrors(page), []);
  assert.deepEqual(page.problems, []);
});

test('shard map: split a shard, see the lineage and 3 open shards, merge two', TEST_TIMEOUT, async (t) => {
  const server = await startShardline(t, ['--create-delay-ms', '0']);
  await createStream(server.endpoint, 'split-me', 2);
  const page = await openPage(t);
  await page.goto(`${server.endpoint}/console/#/streams/split-me/shards`);
  const bar = page.getByTestId('hash-bar');
  await bar.waitFor();
  // Without shard-level metrics the page says how to turn them on.
  await page.getByTestId('shard-metrics-hint').waitFor();

  // With them (and records put), the open shards' table shows each shard's share.
  await kinesis(server.endpoint, 'EnableEnhancedMonitoring', { StreamName: 'split-me', ShardLevelMetrics: ['ALL'] });
  const put = await kinesis(server.endpoint, 'PutRecords', { StreamName: 'split-me', Records: Array.from({ length: 20 }, (_, i) => ({ PartitionKey: `p${i}`, Data: b64(`r${i}`) })) });
  const perShard = (id) => put.Records.filter((r) => r.ShardId === id).length;
  assert.ok(await metricsApi(server), 'the server answers the CloudWatch API (ListMetrics)');
  await until('per-shard records in', async () => {
    await page.reload();
    await page.getByTestId('shard-row').first().waitFor();
    const cells = await page.locator('[data-testid=shard-row]').evaluateAll((rows) => rows.map((r) => [r.dataset.shardId, r.querySelector('[data-testid=shard-records-in]').textContent]));
    return JSON.stringify(cells) === JSON.stringify([['shardId-000000000000', String(perShard('shardId-000000000000'))], ['shardId-000000000001', String(perShard('shardId-000000000001'))]]);
  }, { timeoutMs: 15_000, intervalMs: 500 });
  assert.equal(await bar.getAttribute('data-open-shards'), '2');
  await page.getByLabel('Shard to split').selectOption('shardId-000000000000');
  // Prefilled with the midpoint of 0 … 2^127−1.
  assert.equal(await page.getByLabel('New starting hash key').inputValue(), (1n << 126n).toString());
  await page.getByTestId('split-form-submit').click();
  await until('3 open shards in the bar', async () => (await bar.getAttribute('data-open-shards')) === '3', { timeoutMs: 10_000 });
  const segs = page.getByTestId('hash-segment');
  assert.deepEqual(await segs.evaluateAll((els) => els.map((e) => [e.dataset.shardId, e.dataset.start])), [
    ['shardId-000000000002', '0'],
    ['shardId-000000000003', (1n << 126n).toString()],
    ['shardId-000000000001', MID],
  ]);
  const node = (id) => page.locator(`[data-testid=lineage-node][data-shard-id="${id}"]`);
  await until('parent closed in the lineage', async () => (await node('shardId-000000000000').getAttribute('data-state')) === 'CLOSED');
  const children = page.locator('[data-testid=lineage-node][data-parent="shardId-000000000000"]');
  assert.equal(await children.count(), 2);
  assert.deepEqual(await children.evaluateAll((els) => els.map((e) => e.dataset.state)), ['OPEN', 'OPEN']);
  // The children sit under their parent in the tree.
  assert.equal(await page.locator('li:has(> [data-shard-id="shardId-000000000000"]) > ul > li > [data-testid=lineage-node]').count(), 2);
  await until('the stream ACTIVE again', async () => (await page.getByTestId('summary-status').textContent()) === 'ACTIVE');
  await shot(page, 'shard-map');

  // Merge the two children back.
  await until('merge enabled', async () => !(await page.getByTestId('merge-form-submit').isDisabled()));
  await page.getByLabel('Adjacent shards to merge').selectOption('shardId-000000000002 shardId-000000000003');
  await page.getByTestId('merge-form-submit').click();
  await until('2 open shards in the bar', async () => (await bar.getAttribute('data-open-shards')) === '2', { timeoutMs: 10_000 });
  const merged = page.locator('[data-testid=lineage-node][data-adjacent-parent="shardId-000000000003"]');
  await until('the merged child', async () => (await merged.count()) === 1);
  assert.equal(await merged.getAttribute('data-state'), 'OPEN');
  assert.equal(await merged.getAttribute('data-parent'), 'shardId-000000000002');
  const shards = (await kinesis(server.endpoint, 'ListShards', { StreamName: 'split-me' })).Shards;
  assert.equal(shards.filter((s) => !s.SequenceNumberRange.EndingSequenceNumber).length, 2);
  assert.equal(shards.length, 5);
  await until('the stream ACTIVE again', async () => (await page.getByTestId('summary-status').textContent()) === 'ACTIVE');
  await shot(page, 'shard-map-merged');
  assert.deepEqual(await visibleErrors(page), []);
  assert.deepEqual(page.problems, []);
});

test('monitoring graphs plot the records put (GetMetricData)', TEST_TIMEOUT, async (t) => {
  const server = await startShardline(t, ['--create-delay-ms', '0']);
  assert.ok(await metricsApi(server), 'the server answers the CloudWatch API (ListMetrics)');
  await createStream(server.endpoint, 'metered', 2);
  const N = 37;
  const records = Array.from({ length: N }, (_, i) => ({ PartitionKey: `k${i}`, Data: b64(`record ${i}`) }));
  assert.equal((await kinesis(server.endpoint, 'PutRecords', { StreamName: 'metered', Records: records })).FailedRecordCount, 0);
  // IncomingBytes counts what a record weighs against the limits: its data and its partition key.
  const bytes = records.reduce((a, r) => a + Buffer.from(r.Data, 'base64').length + Buffer.byteLength(r.PartitionKey), 0);

  // Read one shard back, so the GetRecords charts have something too.
  const it = (await kinesis(server.endpoint, 'GetShardIterator', { StreamName: 'metered', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' })).ShardIterator;
  const read = (await kinesis(server.endpoint, 'GetRecords', { ShardIterator: it })).Records.length;
  assert.ok(read > 0 && read < N, `shard 0 holds part of the records (${read})`);

  const page = await openPage(t);
  await page.goto(`${server.endpoint}/console/#/streams/metered`);
  const chart = page.getByTestId('chart-IncomingRecords');
  for (const window of ['3m', '1h']) {
    await page.getByLabel('Time range').selectOption(window);
    await until(`IncomingRecords sums to ${N} (${window})`, async () => {
      const total = Number(await chart.getAttribute('data-total'));
      if (total !== N) await page.getByTestId('metrics-refresh').click();
      return total === N;
    }, { timeoutMs: 15_000, intervalMs: 500 });
    const values = JSON.parse(await chart.getAttribute('data-values'));
    assert.equal(values.reduce((a, b) => a + b, 0), N);
    assert.ok((await chart.locator('path.line').count()) >= 1, 'a line is drawn');
    assert.equal(Number(await page.getByTestId('chart-IncomingBytes').getAttribute('data-total')), bytes);
    await until(`GetRecords.Records sums to ${read} (${window})`, async () => Number(await page.getByTestId('chart-GetRecords').getAttribute('data-total')) === read, { timeoutMs: 10_000, intervalMs: 500 });
  }
  assert.equal(await page.getByTestId('metrics-error').isVisible(), false);
  await shot(page, 'stream-details');
  assert.deepEqual(await visibleErrors(page), []);
  assert.deepEqual(page.problems, []);
});

test('metrics page: what a client published with PutMetricData, graphed by namespace', TEST_TIMEOUT, async (t) => {
  const server = await startShardline(t, ['--create-delay-ms', '0']);
  // What the KPL publishes: per-stream UserRecordsPut as statistic sets (here sent as JSON 1.0).
  const put = async (body) => {
    const r = await fetch(`${server.endpoint}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'GraniteServiceVersion20100801.PutMetricData' },
      body: JSON.stringify(body),
    });
    assert.equal(r.status, 200, await r.text());
  };
  const dims = [{ Name: 'StreamName', Value: 'orders' }];
  await put({
    Namespace: 'KinesisProducerLibrary',
    MetricData: [
      { MetricName: 'UserRecordsPut', Dimensions: dims, StatisticValues: { SampleCount: 2, Sum: 30, Minimum: 10, Maximum: 20 }, Unit: 'Count' },
      { MetricName: 'UserRecordsPut', Dimensions: dims, Value: 12, Unit: 'Count' },
      { MetricName: 'BufferingTime', Dimensions: dims, Values: [100, 300], Unit: 'Milliseconds' },
    ],
  });
  await createStream(server.endpoint, 'orders', 1);
  await kinesis(server.endpoint, 'PutRecord', { StreamName: 'orders', PartitionKey: 'p', Data: b64('x') });

  const page = await openPage(t);
  await page.goto(`${server.endpoint}/console/#/metrics`);
  // A published namespace is shown first; AWS/Kinesis is there too.
  const ns = page.getByTestId('metrics-namespace');
  await ns.waitFor();
  assert.equal(await ns.inputValue(), 'KinesisProducerLibrary');
  assert.deepEqual(await ns.locator('option').allTextContents(), ['AWS/Kinesis', 'KinesisProducerLibrary']);
  const rows = page.getByTestId('metric-row');
  assert.deepEqual(await rows.evaluateAll((rs) => rs.map((r) => `${r.dataset.metric} ${r.dataset.dims}`)), [
    'BufferingTime StreamName=orders',
    'UserRecordsPut StreamName=orders',
  ]);
  await page.getByRole('button', { name: 'UserRecordsPut' }).click();
  const chart = page.getByTestId('chart-metric');
  await until('UserRecordsPut sums to 42', async () => Number(await chart.getAttribute('data-total')) === 42);
  await page.getByTestId('metrics-stat').selectOption('Maximum');
  await until('the maximum is 20', async () => JSON.parse((await chart.getAttribute('data-values')) || '[]').includes(20));
  await page.getByTestId('metrics-stat').selectOption('SampleCount');
  await until('three samples', async () => Number(await chart.getAttribute('data-total')) === 3);
  await shot(page, 'metrics');

  // The engine's own series, by namespace in the URL.
  await page.goto(`${server.endpoint}/console/#/metrics/AWS%2FKinesis`);
  await page.getByTestId('metrics-filter').fill('IncomingRecords');
  assert.deepEqual(await page.getByTestId('metric-row').evaluateAll((rs) => rs.map((r) => r.dataset.metric)), ['IncomingRecords']);
  await page.getByRole('button', { name: 'IncomingRecords' }).click();
  await until('IncomingRecords sums to 1', async () => Number(await page.getByTestId('chart-metric').getAttribute('data-total')) === 1);
  assert.deepEqual(await visibleErrors(page), []);
  assert.deepEqual(page.problems, []);
});

test('sign-in under --auth sigv4: a wrong secret shows AWS\'s error, the right key lists streams', TEST_TIMEOUT, async (t) => {
  const dir = Server.tempDir();
  const keys = join(dir, 'keys.toml');
  writeFileSync(
    keys,
    ['[[key]]', 'access_key_id = "AKIDCONSOLE"', 'secret_access_key = "console-secret-1"', 'account_id = "000000000000"', 'admin = true', ''].join('\n'),
  );
  const server = await startShardline(t, ['--auth', 'sigv4', '--credentials-file', keys, '--create-stream', 'lab:1', '--create-delay-ms', '0']);
  const page = await openPage(t);
  await page.goto(`${server.endpoint}/console/`);
  await page.getByTestId('signin-form').waitFor();
  assert.equal(await page.getByLabel('Region').inputValue(), 'us-east-1');

  await page.getByLabel('Access key ID').fill('AKIDCONSOLE');
  await page.getByLabel('Secret access key').fill('not-the-secret');
  await page.getByTestId('signin-submit').click();
  const err = page.getByTestId('signin-error');
  await err.waitFor({ state: 'visible' });
  assert.match(await err.textContent(), /^InvalidSignatureException: The request signature we calculated does not match the signature you provided\./);
  await shot(page, 'sign-in');

  await page.getByLabel('Access key ID').fill('AKIDNOBODY');
  await page.getByTestId('signin-submit').click();
  await until('UnrecognizedClientException', async () => /^UnrecognizedClientException: /.test(await err.textContent()));

  await page.getByLabel('Access key ID').fill('AKIDCONSOLE');
  await page.getByLabel('Secret access key').fill('console-secret-1');
  await page.getByTestId('signin-submit').click();
  await until('the lab stream listed', async () => (await rowOf(page, 'lab').count()) === 1);
  assert.equal(await rowOf(page, 'lab').getAttribute('data-status'), 'ACTIVE');
  assert.equal(await page.getByTestId('who').textContent(), 'Key AKIDCONSOLE');
  await shot(page, 'streams-signed-in');

  // CloudWatch calls are signed too (service monitoring): the graphs load without an error.
  await page.goto(`${server.endpoint}/console/#/streams/lab`);
  await page.getByTestId('chart-IncomingRecords').waitFor();
  assert.equal(await page.getByTestId('metrics-error').isVisible(), false);
  assert.equal(await page.getByTestId('chart-IncomingRecords').getAttribute('data-status'), 'Complete');
  await shot(page, 'stream-signed-in');

  // Signed admin calls (fault rules).
  await page.goto(`${server.endpoint}/console/#/faults`);
  await page.getByTestId('faults-table').waitFor();
  assert.equal(await page.getByTestId('faults-error').isVisible(), false);
  assert.equal(await page.getByTestId('faults-count').textContent(), '(0)');
  await shot(page, 'faults-signed-in');

  // Unsigned, the same server refuses: the page really signs.
  const unsigned = await fetch(`${server.endpoint}/`, { method: 'POST', headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'Kinesis_20131202.ListStreams' }, body: '{}' });
  assert.equal(unsigned.status, 400);

  // Signing out forgets the key.
  await page.getByTestId('sign-out').click();
  await page.getByTestId('signin-form').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.deepEqual(await visibleErrors(page), []);
  assert.deepEqual(page.problems, []);
});

test('fault rules: add one, see it listed, remove it', TEST_TIMEOUT, async (t) => {
  const server = await startShardline(t, ['--create-delay-ms', '0']);
  const page = await openPage(t);
  await page.goto(`${server.endpoint}/console/#/faults`);
  await page.getByTestId('faults-table').waitFor();
  assert.equal(await page.getByTestId('fault-row').count(), 0);

  // A refused rule shows the server's text.
  await page.getByLabel('Operation').fill('NoSuchOperation');
  await page.getByLabel('Error type').fill('ProvisionedThroughputExceededException');
  await page.getByTestId('fault-form-submit').click();
  await page.getByTestId('fault-form-error').waitFor({ state: 'visible' });
  assert.match(await page.getByTestId('fault-form-error').textContent(), /unknown operation NoSuchOperation/);

  await page.getByLabel('Operation').fill('PutRecord');
  await page.getByLabel('Stream', { exact: true }).fill('orders');
  await page.getByLabel('Error type').fill('ProvisionedThroughputExceededException');
  await page.getByLabel('Every Nth call').fill('2');
  await page.getByLabel('Latency (ms)').fill('25');
  await page.getByTestId('fault-form-submit').click();
  const row = page.getByTestId('fault-row');
  await until('the rule listed', async () => (await row.count()) === 1);
  const text = await row.textContent();
  for (const part of ['PutRecord', 'orders', 'ProvisionedThroughputExceededException', '25 ms']) assert.ok(text.includes(part), `${part} in ${text}`);
  const rules = await (await fetch(`${server.endpoint}/_shardline/faults`)).json();
  assert.equal(rules.length, 1);
  assert.equal(rules[0].operation, 'PutRecord');
  assert.equal(rules[0].every, 2);
  assert.equal(rules[0].latency_ms, 25);
  assert.equal(await row.getAttribute('data-id'), String(rules[0].id));
  // The rule works, and the page counts its firings (every 2nd matching call, the first included).
  const hit = await fetch(`${server.endpoint}/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'Kinesis_20131202.PutRecord' },
    body: JSON.stringify({ StreamName: 'orders', PartitionKey: 'k', Data: b64('x') }),
  });
  assert.equal(hit.status, 400);
  assert.equal((await hit.json()).__type, 'ProvisionedThroughputExceededException');
  await until('fired 1 shown', async () => (await row.getByTestId('fault-fired').textContent()) === '1', { timeoutMs: 8_000 });
  await shot(page, 'faults');

  await row.getByTestId('fault-remove').click();
  await until('the rule gone', async () => (await row.count()) === 0);
  assert.deepEqual(await (await fetch(`${server.endpoint}/_shardline/faults`)).json(), []);
  assert.equal(await page.getByTestId('faults-error').isVisible(), false);
  await page.getByTestId('notice-success').filter({ hasText: `Removed rule ${rules[0].id}.` }).waitFor();

  // Two more, then Remove all.
  for (const latency of ['5', '10']) {
    await page.getByLabel('Latency (ms)').fill(latency);
    await page.getByTestId('fault-form-submit').click();
    await until(`rule with ${latency} ms`, async () => (await row.filter({ hasText: `${latency} ms` }).count()) === 1);
  }
  assert.equal(await row.count(), 2);
  await page.getByTestId('faults-clear').click();
  await page.getByTestId('modal-confirm').click();
  await until('no rules', async () => (await row.count()) === 0);
  await page.getByTestId('modal').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('faults-error').isVisible(), false);
  assert.deepEqual(await (await fetch(`${server.endpoint}/_shardline/faults`)).json(), []);
  assert.deepEqual(await visibleErrors(page), []);
  assert.deepEqual(page.problems, []);
});

test('consumers: register one, see it ACTIVE, deregister it', TEST_TIMEOUT, async (t) => {
  const server = await startShardline(t, ['--create-delay-ms', '0']);
  await createStream(server.endpoint, 'fanout', 1);
  const page = await openPage(t);
  await page.goto(`${server.endpoint}/console/#/streams/fanout/consumers`);
  await page.getByTestId('consumers-table').waitFor();
  await page.getByLabel('Consumer name').fill('reader-1');
  await page.getByTestId('register-form-submit').click();
  const row = page.locator('[data-testid=consumer-row][data-consumer="reader-1"]');
  await until('reader-1 listed', async () => (await row.count()) === 1);
  await until('reader-1 ACTIVE', async () => (await row.getAttribute('data-status')) === 'ACTIVE', { timeoutMs: 15_000 });
  const arn = (await kinesis(server.endpoint, 'DescribeStreamSummary', { StreamName: 'fanout' })).StreamDescriptionSummary.StreamARN;
  const listed = (await kinesis(server.endpoint, 'ListStreamConsumers', { StreamARN: arn })).Consumers;
  assert.deepEqual(listed.map((c) => [c.ConsumerName, c.ConsumerStatus]), [['reader-1', 'ACTIVE']]);
  assert.ok((await row.textContent()).includes(listed[0].ConsumerARN));
  await shot(page, 'consumers');

  await row.getByTestId('deregister-consumer').click();
  await page.getByTestId('modal-confirm').click();
  await page.getByTestId('modal').waitFor({ state: 'detached' });
  await until('reader-1 gone', async () => (await row.count()) === 0, { timeoutMs: 15_000 });
  await until('no consumers in the API', async () => (await kinesis(server.endpoint, 'ListStreamConsumers', { StreamARN: arn })).Consumers.length === 0);
  assert.deepEqual(await visibleErrors(page), []);
  assert.deepEqual(page.problems, []);
});

test('consumers: the leases panel reads a lease table from a DynamoDB endpoint (moto)', TEST_TIMEOUT, async (t) => {
  const moto = motoServerPath();
  if (!existsSync(moto)) {
    t.skip(`no moto_server at ${moto} (scripts/test installs it into .venv)`);
    return;
  }
  const server = await startShardline(t, ['--create-delay-ms', '0']);
  await createStream(server.endpoint, 'leased', 2);
  const dynamo = await startMoto(t, moto);
  const ddb = (op, body) => dynamoCall(dynamo, op, body);
  await ddb('CreateTable', {
    TableName: 'lease-app',
    KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST',
  });
  const leases = [
    { leaseKey: { S: 'shardId-000000000000' }, leaseOwner: { S: 'worker-a' }, checkpoint: { S: '49680849499855593921820119937856389264116645422683914242' }, leaseCounter: { N: '7' }, ownerSwitchesSinceCheckpoint: { N: '0' } },
    { leaseKey: { S: 'shardId-000000000001' }, leaseOwner: { S: 'worker-b' }, checkpoint: { S: 'TRIM_HORIZON' }, leaseCounter: { N: '3' }, ownerSwitchesSinceCheckpoint: { N: '1' } },
  ];
  for (const Item of leases) await ddb('PutItem', { TableName: 'lease-app', Item });

  const page = await openPage(t);
  await page.goto(`${server.endpoint}/console/#/streams/leased/consumers`);
  // Nothing listens at this one: the panel says so instead of failing silently.
  await page.getByLabel('DynamoDB endpoint URL').fill('http://127.0.0.1:9');
  await page.getByLabel('Lease table').fill('lease-app');
  await page.getByTestId('leases-form-submit').click();
  await page.getByTestId('leases-form-error').waitFor({ state: 'visible' });
  assert.match(await page.getByTestId('leases-form-error').textContent(), /^The browser could not call http:\/\/127\.0\.0\.1:9\/ .*CORS/);

  await page.getByLabel('DynamoDB endpoint URL').fill(dynamo.endpoint);
  await page.getByTestId('leases-form-submit').click();
  const rows = page.getByTestId('lease-row');
  await until('2 leases', async () => (await rows.count()) === 2);
  const cells = await rows.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 4).map((td) => td.textContent)));
  assert.deepEqual(cells, [
    ['shardId-000000000000', 'worker-a', '49680849499855593921820119937856389264116645422683914242', '7'],
    ['shardId-000000000001', 'worker-b', 'TRIM_HORIZON', '3'],
  ]);
  assert.match(await page.getByTestId('leases-form-ok').textContent(), /^2 leases in lease-app/);
  // Remembered for the next visit.
  await page.reload();
  assert.equal(await page.getByLabel('DynamoDB endpoint URL').inputValue(), dynamo.endpoint);
  assert.equal(await page.getByLabel('Lease table').inputValue(), 'lease-app');
  await page.getByTestId('leases-form-submit').click();
  await until('2 leases again', async () => (await rows.count()) === 2);
  await shot(page, 'consumers-leases');
  assert.deepEqual(await visibleErrors(page), []);
  assert.deepEqual(page.problems, []);
});

test('configuration: retention, encryption, record size, shard-level metrics and tags', TEST_TIMEOUT, async (t) => {
  const server = await startShardline(t, ['--create-delay-ms', '0']);
  await createStream(server.endpoint, 'tuned', 1);
  const summary = async () => (await kinesis(server.endpoint, 'DescribeStreamSummary', { StreamName: 'tuned' })).StreamDescriptionSummary;
  const page = await openPage(t);
  await page.goto(`${server.endpoint}/console/#/streams/tuned/configuration`);

  await page.getByLabel('Retention period (hours)').fill('48');
  await page.getByTestId('retention-form-submit').click();
  await page.getByTestId('retention-form-ok').waitFor({ state: 'visible' });
  assert.equal((await summary()).RetentionPeriodHours, 48);
  await until('the summary shows 48 hours', async () => (await page.getByTestId('summary-retention').textContent()) === '48 hours');
  // Down again uses DecreaseStreamRetentionPeriod; out of range shows AWS's error.
  await page.getByLabel('Retention period (hours)').fill('9000');
  await page.getByTestId('retention-form-submit').click();
  await page.getByTestId('retention-form-error').waitFor({ state: 'visible' });
  assert.match(await page.getByTestId('retention-form-error').textContent(), /^(InvalidArgumentException|ValidationException): /);
  await page.getByLabel('Retention period (hours)').fill('24');
  await page.getByTestId('retention-form-submit').click();
  await until('retention back to 24', async () => (await summary()).RetentionPeriodHours === 24);

  await page.getByLabel('Maximum record size (KiB)').fill('2048');
  await page.getByTestId('max-record-form-submit').click();
  await page.getByTestId('max-record-form-ok').waitFor({ state: 'visible' });
  assert.equal((await summary()).MaxRecordSizeInKiB, 2048);

  await page.getByLabel('IncomingRecords').check();
  await page.getByLabel('IncomingBytes').check();
  await page.getByTestId('enhanced-form-submit').click();
  await page.getByTestId('enhanced-form-ok').waitFor({ state: 'visible' });
  assert.deepEqual([...(await summary()).EnhancedMonitoring[0].ShardLevelMetrics].sort(), ['IncomingBytes', 'IncomingRecords']);

  await page.getByLabel('Key', { exact: true }).fill('team');
  await page.getByLabel('Value', { exact: true }).fill('data');
  await page.getByTestId('tag-form-submit').click();
  await until('the tag listed', async () => (await page.getByTestId('tag-row').count()) === 1);
  assert.deepEqual((await kinesis(server.endpoint, 'ListTagsForStream', { StreamName: 'tuned' })).Tags, [{ Key: 'team', Value: 'data' }]);

  await page.getByTestId('encryption-form-submit').click();
  await until('encryption on', async () => (await summary()).EncryptionType === 'KMS');
  await until('the page shows it', async () => /Enabled with alias\/aws\/kinesis/.test(await page.getByTestId('encryption-state').textContent()));
  await shot(page, 'configuration');

  await page.getByTestId('tag-remove').click();
  await until('the tag gone', async () => (await page.getByTestId('tag-row').count()) === 0);
  assert.deepEqual((await kinesis(server.endpoint, 'ListTagsForStream', { StreamName: 'tuned' })).Tags, []);
  assert.deepEqual(await visibleErrors(page), []);
  assert.deepEqual(page.problems, []);
});

test('--console off: no console, the API still answers', TEST_TIMEOUT, async (t) => {
  const server = await startShardline(t, ['--console', 'off']);
  const r = await fetch(`${server.endpoint}/console/`);
  assert.equal(r.status, 404);
  assert.match(await r.text(), /console is off/);
  assert.equal((await fetch(`${server.endpoint}/console/config.json`)).status, 404);
  assert.deepEqual((await kinesis(server.endpoint, 'ListStreams', {})).StreamNames, []);
});

test('the compiled-in files and config.json', TEST_TIMEOUT, async (t) => {
  const server = await startShardline(t);
  const want = { '': 'text/html', 'app.js': 'text/javascript', 'sigv4.js': 'text/javascript', 'style.css': 'text/css' };
  for (const [file, type] of Object.entries(want)) {
    const r = await fetch(`${server.endpoint}/console/${file}`);
    assert.equal(r.status, 200, file);
    assert.ok(r.headers.get('content-type').startsWith(type), `${file}: ${r.headers.get('content-type')}`);
    assert.ok((await r.text()).length > 500, `${file} is the console, not a placeholder`);
  }
  const config = await (await fetch(`${server.endpoint}/console/config.json`)).json();
  assert.deepEqual(config, { auth: 'none', region: 'us-east-1', account: '000000000000', version: config.version });
  assert.match(config.version, /^\d+\.\d+\.\d+/);
});
