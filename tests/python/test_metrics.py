"""/metrics: CloudWatch-named metrics whose values match what the test wrote and read, per
stream and, for metrics enabled with EnableEnhancedMonitoring, per shard."""

from __future__ import annotations

import re
import urllib.request
from collections import Counter

from conftest import ACCOUNT, create_stream

LINE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)$')


def scrape(endpoint: str) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(endpoint + "/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        assert m, f"not Prometheus text: {line!r}"
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def value(samples, name: str, **labels) -> float | None:
    """The sample of `name` with exactly these labels (a stream's series also carry the default account's id)."""
    if "StreamName" in labels:
        labels.setdefault("AccountId", ACCOUNT)
    for n, l, v in samples:
        if n == name and l == labels:
            return v
    return None


def test_metrics_match_what_was_written_and_read(kinesis, endpoint):
    create_stream(kinesis, "m", 2)
    kinesis.enable_enhanced_monitoring(StreamName="m", ShardLevelMetrics=["IncomingRecords", "OutgoingRecords"])
    records = [{"Data": b"x" * (i % 7 + 1), "PartitionKey": f"pk{i}"} for i in range(40)]
    out = kinesis.put_records(StreamName="m", Records=records)
    assert out["FailedRecordCount"] == 0
    per_shard = Counter(r["ShardId"] for r in out["Records"])
    single = kinesis.put_record(StreamName="m", Data=b"hello", PartitionKey="solo")
    per_shard[single["ShardId"]] += 1
    written_bytes = sum(len(r["Data"]) + len(r["PartitionKey"]) for r in records) + len(b"hello") + len("solo")

    read = 0
    for shard in ("shardId-000000000000", "shardId-000000000001"):
        it = kinesis.get_shard_iterator(StreamName="m", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = kinesis.get_records(ShardIterator=it)
        assert len(got["Records"]) == per_shard[shard]
        read += len(got["Records"])

    s = scrape(endpoint)
    assert value(s, "IncomingRecords", StreamName="m") == 41
    assert value(s, "IncomingBytes", StreamName="m") == written_bytes
    assert value(s, "PutRecords_TotalRecords", StreamName="m") == 40
    assert value(s, "PutRecords_SuccessfulRecords", StreamName="m") == 40
    assert value(s, "PutRecord_Success", StreamName="m") == 1
    assert value(s, "GetRecords_Records", StreamName="m") == read == 41
    assert value(s, "GetRecords_Success", StreamName="m") == 2
    # Shard-level series exist only for what was enabled, and agree with the puts and reads.
    for shard, n in per_shard.items():
        assert value(s, "IncomingRecords", StreamName="m", ShardId=shard) == n
        assert value(s, "OutgoingRecords", StreamName="m", ShardId=shard) == n
        assert value(s, "IncomingBytes", StreamName="m", ShardId=shard) is None
    assert any(n == "PutRecords_Latency" for n, _, _ in s)
    assert value(s, "process_resident_memory_bytes") > 0


def test_throttled_writes_are_counted(start_shardline):
    import boto3
    import botocore.config
    ep = start_shardline("--limits", "aws", "--limit-write-records", "10")
    k = boto3.client("kinesis", endpoint_url=ep, region_name="us-east-1", aws_access_key_id="x",
                     aws_secret_access_key="x", config=botocore.config.Config(retries={"total_max_attempts": 1}))
    create_stream(k, "t", 1)
    out = k.put_records(StreamName="t", Records=[{"Data": b"x", "PartitionKey": str(i)} for i in range(30)])
    assert out["FailedRecordCount"] > 0
    s = scrape(ep)
    assert value(s, "WriteProvisionedThroughputExceeded", StreamName="t") == out["FailedRecordCount"]
    assert value(s, "PutRecords_ThrottledRecords", StreamName="t") == out["FailedRecordCount"]
    assert value(s, "IncomingRecords", StreamName="t") == 30 - out["FailedRecordCount"]
