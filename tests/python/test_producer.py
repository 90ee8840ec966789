"""`shardline produce` (the producer library) checked against AWS's reference aggregator, aws-kinesis-agg.

Lines go through `shardline produce --aggregate` into the real server; boto3 reads the Kinesis records
back; aws_kinesis_agg's deaggregator takes them apart (every line once, in order, with its partition key),
and its aggregator, fed the same user records, gives byte for byte the same aggregated record.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess

import aws_kinesis_agg.aggregator as kpl_agg
from aws_kinesis_agg.deaggregator import deaggregate_records

from conftest import CLI_TIMEOUT_S, shardline_bin
from support import wait_active

MAGIC = b"\xf3\x89\x9a\xc2"


def produce(endpoint: str, stream: str, lines: list[str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDLINE_")}
    return subprocess.run(
        [str(shardline_bin()), "produce", "--stream", stream, "--endpoint", endpoint, *args],
        input="".join(line + "\n" for line in lines).encode(),
        capture_output=True,
        env=env,
        timeout=CLI_TIMEOUT_S,
    )


def read_all(kinesis, stream: str, shard: str = "shardId-000000000000") -> list[dict]:
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records: list[dict] = []
    for _ in range(1000):
        out = kinesis.get_records(ShardIterator=it, Limit=10000)
        records.extend(out["Records"])
        if not out["Records"]:
            return records
        it = out["NextShardIterator"]
    raise AssertionError("the shard did not end within 1,000 reads")


def lambda_event_record(r: dict) -> dict:
    """A Kinesis record in the shape a Lambda event gives it, which aws_kinesis_agg's deaggregator reads."""
    return {
        "kinesis": {
            "partitionKey": r["PartitionKey"],
            "data": base64.b64encode(r["Data"]).decode(),
            "sequenceNumber": r["SequenceNumber"],
            "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
            "kinesisSchemaVersion": "1.0",
        }
    }


def hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")


def test_aggregates_are_what_the_reference_aggregator_makes(kinesis, endpoint):
    kinesis.create_stream(StreamName="agg", ShardCount=1)
    wait_active(kinesis, "agg")
    lines = [json.dumps({"user": f"u{i % 13}", "n": i, "pad": "x" * (i % 50)}) for i in range(3000)]
    done = produce(endpoint, "agg", lines, "--aggregate", "--partition-key", "field:user", "--ordering")
    assert done.returncode == 0, done.stderr.decode()
    assert b"3000 placed, 0 failed" in done.stderr, done.stderr.decode()

    kinesis_records = read_all(kinesis, "agg")
    assert 1 <= len(kinesis_records) < 100, "3,000 small lines travel in a few aggregates"

    # aws_kinesis_agg's deaggregator, on records in the shape a Lambda event gives them.
    users = deaggregate_records([lambda_event_record(r) for r in kinesis_records])
    assert [base64.b64decode(u["kinesis"]["data"]).decode() for u in users] == lines
    assert [u["kinesis"]["partitionKey"] for u in users] == [json.loads(l)["user"] for l in lines]

    for r in kinesis_records:
        data = r["Data"]
        if not data.startswith(MAGIC):
            continue
        # The KPL's choice of keys: "a", routed by the first user record's hash key.
        assert r["PartitionKey"] == "a"
        inner = deaggregate_records([lambda_event_record(r)])
        assert len(inner) > 1
        # The reference aggregator, given the same user records, writes the same bytes.
        reference = kpl_agg.AggRecord()
        for u in inner:
            assert reference.add_user_record(u["kinesis"]["partitionKey"], base64.b64decode(u["kinesis"]["data"]))
        _, _, expected = reference.get_contents()
        assert data == expected
        # Sub-sequence numbers number the user records of an aggregate from 0.
        assert [u["kinesis"]["subSequenceNumber"] for u in inner] == list(range(len(inner)))


def test_explicit_hash_keys_and_a_lone_record(kinesis, endpoint):
    kinesis.create_stream(StreamName="lone", ShardCount=2)
    wait_active(kinesis, "lone")
    # One line: sent as itself, not aggregated, with its own partition key.
    done = produce(endpoint, "lone", ['{"k":"only"}'], "--aggregate", "--partition-key", "field:k")
    assert done.returncode == 0, done.stderr.decode()
    shard = "shardId-000000000000" if hash_key("only") < 2**127 else "shardId-000000000001"
    (record,) = read_all(kinesis, "lone", shard)
    assert record["Data"] == b'{"k":"only"}' and record["PartitionKey"] == "only"
