"""Channels (CreateChannel … DeleteChannel) through boto3, delivering to a real S3-compatible server (moto in
server mode, started here on 127.0.0.1): objects read back with boto3's S3 client, decompressed, every record
checked; the control plane and its errors; at-least-once across kill -9 of shardline.

shardline runs with `--channel-object-bytes` small and `--channel-max-wait-ms` so objects are written in seconds
(AWS's DataFreshnessInSeconds is 300 at least).
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections import Counter

import boto3
import pytest
import zstandard

from conftest import ACCOUNT, REGION, make_client
from support import assert_error, client_error, stream_arn, summary, wait_active

ON_DEMAND = {"StreamMode": "ON_DEMAND"}
ROLE = f"arn:aws:iam::{ACCOUNT}:role/delivery"


@pytest.fixture
def s3(moto_server):
    """moto's server as the S3-compatible endpoint: (endpoint, boto3 S3 client)."""
    client = boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name=REGION,
        aws_access_key_id="shardline",
        aws_secret_access_key="shardline",
    )
    return moto_server, client


def delivery_args(s3_endpoint: str) -> tuple[str, ...]:
    return ("--s3-endpoint", s3_endpoint, "--channel-object-bytes", str(256 * 1024), "--channel-max-wait-ms", "1000")


def create_channel(kinesis, name: str, stream: str, bucket: str, fmt: str = "JSON", compression: str = "GZIP", **extra) -> str:
    out = kinesis.create_channel(
        ChannelName=name,
        ServiceExecutionRoleARN=ROLE,
        StreamConfigurationList=[{"StreamARN": stream_arn(stream), "RecordConfiguration": {"RecordFormatType": fmt}}],
        S3DestinationConfiguration={
            "StorageConfiguration": {
                "BucketARN": f"arn:aws:s3:::{bucket}",
                "ExpectedBucketOwner": ACCOUNT,
                "CompressionType": compression,
                **extra,
            }
        },
    )
    arn = out["ChannelDescription"]["ChannelARN"]
    deadline = time.monotonic() + 10
    while kinesis.describe_channel(ChannelARN=arn)["ChannelDescription"]["ChannelStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return arn


def objects(s3_client, bucket: str, prefix: str = "") -> dict[str, bytes]:
    out = {}
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = s3_client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
    return out


def lines(key: str, body: bytes) -> list[bytes]:
    if key.endswith(".gz"):
        body = gzip.decompress(body)
    elif key.endswith(".zst"):
        body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
    return [line for line in body.split(b"\n") if line]


def put_all(kinesis, stream: str, datas: list[bytes]) -> None:
    for i in range(0, len(datas), 500):
        out = kinesis.put_records(StreamName=stream, Records=[{"Data": d, "PartitionKey": str(i + j)} for j, d in enumerate(datas[i : i + 500])])
        assert out["FailedRecordCount"] == 0


def test_control_plane(start_shardline, s3):
    s3_endpoint, s3_client = s3
    kinesis = make_client(start_shardline(*delivery_args(s3_endpoint)))
    kinesis.create_stream(StreamName="s", StreamModeDetails=ON_DEMAND)
    wait_active(kinesis, "s")
    kinesis.create_stream(StreamName="p", ShardCount=1)
    wait_active(kinesis, "p")
    s3_client.create_bucket(Bucket="dest")

    arn = create_channel(kinesis, "c1", "s", "dest")
    assert arn.startswith(f"arn:aws:kinesis:{REGION}:{ACCOUNT}:channel/")
    d = kinesis.describe_channel(ChannelARN=arn)["ChannelDescription"]
    cid = d["ChannelId"]
    assert arn.endswith(cid) and len(cid) == 36
    dest = d["S3DestinationConfiguration"]
    assert dest["DataFreshnessInSeconds"] == 300
    assert dest["DeadLetterQueueS3Configuration"] == {
        "BucketARN": "arn:aws:s3:::dest",
        "ExpectedBucketOwner": ACCOUNT,
        "ErrorOutputPrefix": f"kinesis-channel/errors/c1/{cid}/",
    }
    assert d["LoggingConfiguration"] == {"CloudWatchLogs": {"Enabled": False}}
    assert d["StreamConfigurationList"][0]["StreamARN"] == stream_arn("s")
    assert summary(kinesis, "s")["ChannelCount"] == 1

    base = dict(
        ServiceExecutionRoleARN=ROLE,
        S3DestinationConfiguration={
            "StorageConfiguration": {"BucketARN": "arn:aws:s3:::dest", "ExpectedBucketOwner": ACCOUNT, "CompressionType": "NONE"}
        },
    )
    json_on = lambda stream: [{"StreamARN": stream_arn(stream), "RecordConfiguration": {"RecordFormatType": "JSON"}}]  # noqa: E731
    assert_error(client_error(kinesis.create_channel, ChannelName="c1", StreamConfigurationList=json_on("p"), **base), "ResourceInUseException")
    assert_error(client_error(kinesis.create_channel, ChannelName="c2", StreamConfigurationList=json_on("p"), **base), "ValidationException")
    assert_error(client_error(kinesis.create_channel, ChannelName="c2", StreamConfigurationList=json_on("s"), **base), "LimitExceededException")
    assert_error(
        client_error(
            kinesis.create_channel,
            ChannelName="c3",
            ServiceExecutionRoleARN=ROLE,
            StreamConfigurationList=json_on("s"),
            S3TablesDestinationConfiguration={
                "DeadLetterQueueS3Configuration": {"BucketARN": "arn:aws:s3:::dest", "ExpectedBucketOwner": ACCOUNT},
                "S3TablesConfigurationList": [
                    {
                        "TableBucketARN": f"arn:aws:s3tables:{REGION}:{ACCOUNT}:bucket/tb",
                        "Namespace": "ns",
                        "TableName": "t",
                        "CompressionType": "ZSTD",
                    }
                ],
            },
        ),
        "InvalidArgumentException",
    )
    assert_error(
        client_error(
            kinesis.update_channel, ChannelARN=arn, S3DestinationConfiguration={"DataFreshnessInSeconds": 100}
        ),
        "InvalidArgumentException",
    )
    # A stream with a channel cannot be deleted.
    assert_error(client_error(kinesis.delete_stream, StreamName="s"), "ResourceInUseException")

    u = kinesis.update_channel(ChannelARN=arn, S3DestinationConfiguration={"DataFreshnessInSeconds": 600})
    assert u["ChannelDescription"]["S3DestinationConfiguration"]["DataFreshnessInSeconds"] == 600
    listed = kinesis.list_channels()["ChannelSummaries"]
    assert [(c["ChannelName"], c["ChannelDestinationType"]) for c in listed] == [("c1", "S3")]
    assert kinesis.list_channels(StreamFilter=[{"StreamARN": stream_arn("p")}])["ChannelSummaries"] == []
    kinesis.tag_resource(ResourceARN=arn, Tags={"team": "data"})
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "data"}]

    kinesis.delete_channel(ChannelARN=arn)
    deadline = time.monotonic() + 10
    while kinesis.list_channels()["ChannelSummaries"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert_error(client_error(kinesis.describe_channel, ChannelARN=arn), "ResourceNotFoundException")
    kinesis.delete_stream(StreamName="s")


def test_json_gzip_delivery_every_record_once_and_bad_ones_to_the_dead_letter_prefix(start_shardline, s3):
    s3_endpoint, s3_client = s3
    kinesis = make_client(start_shardline(*delivery_args(s3_endpoint)))
    kinesis.create_stream(StreamName="events", StreamModeDetails=ON_DEMAND)
    wait_active(kinesis, "events")
    s3_client.create_bucket(Bucket="lake")
    before = b'{"before": true}'
    kinesis.put_record(StreamName="events", Data=before, PartitionKey="b")
    arn = create_channel(kinesis, "events-to-lake", "events", "lake")
    cid = arn.rsplit("/", 1)[1]
    total = int(os.environ.get("SHARDLINE_CHANNEL_RECORDS", "100000"))
    good = [json.dumps({"n": i, "pad": "x" * 40}).encode() for i in range(total)]
    bad = [b"not json %d" % i for i in range(5)]
    put_all(kinesis, "events", good[: total // 2] + bad + good[total // 2 :])

    deadline = time.monotonic() + 180
    while True:
        got = objects(s3_client, "lake", "kinesis-channel/events-to-lake/")
        seen = Counter(line for key, body in got.items() for line in lines(key, body))
        if sum(seen.values()) >= total or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert sum(seen.values()) == total and len(seen) == total, f"{sum(seen.values())} lines, {len(seen)} distinct"
    assert set(seen) == set(good), "every record delivered, exactly once in a clean run"
    assert before not in seen, "records from before the channel was ACTIVE are not delivered"
    key = next(iter(got))
    assert key.startswith(f"kinesis-channel/events-to-lake/{cid}/"), key
    assert key.endswith(".json.gz"), key
    assert len(got) > 1, "objects are cut at --channel-object-bytes"

    errors = objects(s3_client, "lake", f"kinesis-channel/errors/events-to-lake/{cid}/")
    failed = [json.loads(line) for key, body in errors.items() for line in lines(key, body)]
    assert sorted(f["errorCode"] for f in failed) == ["InvalidJson"] * 5
    import base64

    assert sorted(base64.b64decode(f["rawData"]) for f in failed) == sorted(bad)


def test_missing_bucket_fails_the_channel(start_shardline, s3):
    s3_endpoint, _ = s3
    kinesis = make_client(start_shardline(*delivery_args(s3_endpoint)))
    kinesis.create_stream(StreamName="s", StreamModeDetails=ON_DEMAND)
    wait_active(kinesis, "s")
    arn = create_channel(kinesis, "nowhere", "s", "no-such-bucket", fmt="STRING", compression="NONE")
    kinesis.put_record(StreamName="s", Data=b"hello", PartitionKey="k")
    deadline = time.monotonic() + 20
    while True:
        d = kinesis.describe_channel(ChannelARN=arn)["ChannelDescription"]
        if d["ChannelStatus"] == "FAILED" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert d["ChannelStatus"] == "FAILED"
    assert "NoSuchBucket" in d["ChannelStatusReason"]


def test_delivery_is_at_least_once_across_kill_9(restartable_shardline, s3):
    s3_endpoint, s3_client = s3
    s3_client.create_bucket(Bucket="archive")
    kinesis = make_client(restartable_shardline.start(*delivery_args(s3_endpoint)))
    kinesis.create_stream(StreamName="s", StreamModeDetails=ON_DEMAND)
    wait_active(kinesis, "s")
    arn = create_channel(kinesis, "arch", "s", "archive", fmt="STRING", compression="ZSTD")
    first = [b"line %06d" % i for i in range(30_000)]
    put_all(kinesis, "s", first)
    # Kill once some objects are written, surely before all.
    deadline = time.monotonic() + 60
    while not objects(s3_client, "archive") and time.monotonic() < deadline:
        time.sleep(0.1)
    restartable_shardline.kill()
    kinesis = make_client(restartable_shardline.start(*delivery_args(s3_endpoint)))
    second = [b"line %06d" % i for i in range(30_000, 40_000)]
    put_all(kinesis, "s", second)
    wanted = set(first + second)
    deadline = time.monotonic() + 120
    while True:
        got = objects(s3_client, "archive")
        seen = Counter(line for key, body in got.items() for line in lines(key, body))
        if wanted <= set(seen) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert wanted <= set(seen), f"{len(wanted - set(seen))} records never delivered"
    assert set(seen) <= wanted
    assert all(k.endswith(".txt.zst") for k in got)
    print(f"records={len(wanted)} lines={sum(seen.values())} redelivered={sum(seen.values()) - len(seen)}")
    assert kinesis.describe_channel(ChannelARN=arn)["ChannelDescription"]["ChannelStatus"] == "ACTIVE"
