"""Fault injection: a rule makes boto3's retries visible, then expires; rules change at run
time through the admin endpoint and come from shardline.toml at start."""

from __future__ import annotations

import json
import time
import urllib.request

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from conftest import create_stream


def admin(endpoint: str, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(endpoint + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def retrying_client(endpoint: str, attempts: int = 3):
    return boto3.client(
        "kinesis", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
        config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


def test_a_rule_makes_boto3_retry_and_then_expires(endpoint):
    k = retrying_client(endpoint)
    create_stream(k, "flaky", 1)
    status, text = admin(endpoint, "POST", "/_shardline/faults", {
        "operation": "PutRecord", "stream": "flaky", "every": 2,
        "error": "ProvisionedThroughputExceededException", "duration_secs": 2,
    })
    assert status == 200, text
    rule_id = json.loads(text)["id"]

    # Every other call fails; boto3 retries the throttled one, and says so.
    out = k.put_record(StreamName="flaky", PartitionKey="k", Data=b"x")
    assert out["ResponseMetadata"]["RetryAttempts"] == 1
    rules = json.loads(admin(endpoint, "GET", "/_shardline/faults")[1])
    assert [r["id"] for r in rules] == [rule_id] and rules[0]["fired"] == 1

    # Other operations and other streams are not affected.
    assert k.describe_stream_summary(StreamName="flaky")["ResponseMetadata"]["RetryAttempts"] == 0

    # After its duration the rule is gone and calls go through at once.
    time.sleep(2.2)
    for _ in range(4):
        out = k.put_record(StreamName="flaky", PartitionKey="k", Data=b"x")
        assert out["ResponseMetadata"]["RetryAttempts"] == 0
    assert json.loads(admin(endpoint, "GET", "/_shardline/faults")[1]) == []


def test_rules_are_removed_and_errors_reach_clients_without_retries(endpoint):
    k = retrying_client(endpoint, attempts=1)
    create_stream(k, "broken", 1)
    _, text = admin(endpoint, "POST", "/_shardline/faults", {"operation": "GetShardIterator", "error": "InternalFailure"})
    rule_id = json.loads(text)["id"]
    with pytest.raises(ClientError) as e:
        k.get_shard_iterator(StreamName="broken", ShardId="shardId-000000000000", ShardIteratorType="LATEST")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert e.value.response["Error"]["Code"] in ("InternalFailureException", "InternalFailure")
    assert admin(endpoint, "DELETE", f"/_shardline/faults/{rule_id}")[0] == 200
    k.get_shard_iterator(StreamName="broken", ShardId="shardId-000000000000", ShardIteratorType="LATEST")
    assert admin(endpoint, "DELETE", f"/_shardline/faults/{rule_id}")[0] == 404


def test_latency_rules_delay_answers(endpoint):
    k = retrying_client(endpoint)
    admin(endpoint, "POST", "/_shardline/faults", {"operation": "ListStreams", "latency_ms": 300})
    start = time.monotonic()
    k.list_streams()
    assert time.monotonic() - start >= 0.3
    assert admin(endpoint, "DELETE", "/_shardline/faults")[0] == 200
    assert json.loads(admin(endpoint, "GET", "/_shardline/faults")[1]) == []


def test_bad_rules_are_refused(endpoint):
    status, text = admin(endpoint, "POST", "/_shardline/faults", {"operation": "Nope", "error": "InternalFailure"})
    assert status == 400 and "unknown operation" in text
    status, text = admin(endpoint, "POST", "/_shardline/faults", {"operation": "PutRecord"})
    assert status == 400


def test_rules_from_the_configuration_file(start_shardline, tmp_path):
    config = tmp_path / "faults.toml"
    config.write_text('[[fault]]\noperation = "ListStreams"\nerror = "LimitExceededException"\n')
    ep = start_shardline("--config", str(config))
    with pytest.raises(ClientError) as e:
        retrying_client(ep, attempts=1).list_streams()
    assert e.value.response["Error"]["Code"] == "LimitExceededException"


def test_stream_and_shard_rules_match_get_records_through_its_iterator(endpoint):
    k = retrying_client(endpoint, attempts=1)
    create_stream(k, "hit", 2)
    create_stream(k, "spared", 1)
    admin(endpoint, "POST", "/_shardline/faults",
          {"operation": "GetRecords", "stream": "hit", "shard": "shardId-000000000001",
           "error": "ProvisionedThroughputExceededException"})

    def iterator(stream: str, shard: str) -> str:
        return k.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]

    with pytest.raises(ClientError) as e:
        k.get_records(ShardIterator=iterator("hit", "shardId-000000000001"))
    assert e.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    k.get_records(ShardIterator=iterator("hit", "shardId-000000000000"))
    k.get_records(ShardIterator=iterator("spared", "shardId-000000000000"))
