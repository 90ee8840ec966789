"""Helpers the operation tests share: error assertions, waits, shard listings and reads (every wait bounded)."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION

TWO_128 = 2**128
MAX_HASH = TWO_128 - 1
SHARD = "shardId-{:012d}".format
ALL_METRICS = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
]
MiB = 1024 * 1024


def client_error(call, **kwargs) -> dict:
    """Runs a boto3 call that must fail; returns botocore's parsed error response."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response


def code_of(call) -> str | None:
    """The error code a call fails with, or None if it succeeds."""
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def assert_error(response: dict, code: str, message: str | None = None) -> str:
    error = response["Error"]
    assert (error["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (code, 400), response
    if message is not None:
        assert error["Message"] == message
    return error["Message"]


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def summary(client, name: str) -> dict:
    return client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]


def wait_active(client, name: str, timeout_s: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        s = summary(client, name)
        if s["StreamStatus"] == "ACTIVE":
            return s
        assert time.monotonic() < deadline, f"{name} still {s['StreamStatus']} after {timeout_s}s"
        time.sleep(0.05)


def wait_until(predicate, what: str, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout_s}s: {what}"
        time.sleep(0.05)


def all_shards(client, name: str) -> list[dict]:
    shards, kwargs = [], {"StreamName": name}
    for _ in range(100):
        page = client.list_shards(**kwargs)
        shards.extend(page["Shards"])
        if not page.get("NextToken"):
            return shards
        kwargs = {"NextToken": page["NextToken"]}
    raise AssertionError("ListShards did not finish in 100 pages")


def open_shards(client, name: str) -> list[dict]:
    shards = [s for s in all_shards(client, name) if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    return sorted(shards, key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))


def hash_range(shard: dict) -> tuple[int, int]:
    r = shard["HashKeyRange"]
    return int(r["StartingHashKey"]), int(r["EndingHashKey"])


def assert_full_cover(shards: list[dict]) -> None:
    """Open shards cover 0..2^128-1 with no gap or overlap."""
    ranges = sorted(hash_range(s) for s in shards)
    assert ranges[0][0] == 0 and ranges[-1][1] == MAX_HASH, ranges
    for (_, end), (start, _) in zip(ranges, ranges[1:]):
        assert end + 1 == start, ranges


def read_shard(client, name: str, shard_id: str, max_calls: int = 20) -> list[dict]:
    """Every record of a shard from TRIM_HORIZON, until the tip (or the end of a closed shard)."""
    it = client.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records = []
    for _ in range(max_calls):
        page = client.get_records(ShardIterator=it, Limit=10000)
        records.extend(page["Records"])
        it = page.get("NextShardIterator")
        if it is None or (not page["Records"] and page.get("MillisBehindLatest", 0) == 0):
            return records
    return records


def put(client, name: str, data: bytes, key: str = "pk", **kwargs) -> dict:
    return client.put_record(StreamName=name, Data=data, PartitionKey=key, **kwargs)


def strip_meta(response: dict) -> dict:
    response = dict(response)
    response.pop("ResponseMetadata", None)
    return response
