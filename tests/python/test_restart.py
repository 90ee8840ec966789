"""Every setting survives a restart (graceful or kill -9) on the same data directory.

Servers run with conftest's TEST_ARGS (`--create-delay-ms 0 --delete-delay-ms 0 --limits off`), so new streams
and consumers are ACTIVE at once and throughput limits stay out of the way; tests that need otherwise pass
their own flags (a later flag wins). Every wait is bounded.
"""

from __future__ import annotations

import json

import pytest

from conftest import create_stream, make_client
from support import SHARD, MiB, all_shards, assert_error, client_error, put, read_shard, stream_arn, strip_meta, summary, wait_active


# --- persistence across restarts ----------------------------------------------------------------------


def _snapshot(kinesis) -> dict:
    """Everything the settings tests change, as the API shows it."""
    out: dict = {}
    for name in ("persist", "persist-od"):
        out[f"{name}/summary"] = strip_meta(kinesis.describe_stream_summary(StreamName=name))
        out[f"{name}/shards"] = all_shards(kinesis, name)
        out[f"{name}/tags"] = strip_meta(kinesis.list_tags_for_stream(StreamName=name))
    out["policy"] = strip_meta(kinesis.get_resource_policy(ResourceARN=stream_arn("persist")))
    consumers = kinesis.list_stream_consumers(StreamARN=stream_arn("persist"))["Consumers"]
    out["consumers"] = consumers
    out["consumer-tags"] = [
        kinesis.list_tags_for_resource(ResourceARN=c["ConsumerARN"])["Tags"] for c in consumers
    ]
    out["account"] = strip_meta(kinesis.describe_account_settings())
    out["limits"] = strip_meta(kinesis.describe_limits())
    out["records"] = {
        s["ShardId"]: [
            (r["SequenceNumber"], r["Data"], r.get("EncryptionType"))
            for r in read_shard(kinesis, "persist", s["ShardId"])
        ]
        for s in all_shards(kinesis, "persist")
    }
    return out


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_settings_survive_a_restart(restartable_shardline, how):
    kinesis = make_client(restartable_shardline.start())
    create_stream(kinesis, "persist", 2)
    arn = stream_arn("persist")
    put(kinesis, "persist", b"before everything", ExplicitHashKey="1")
    kinesis.add_tags_to_stream(StreamName="persist", Tags={"team": "data", "env": "prod"})
    kinesis.tag_resource(ResourceARN=arn, Tags={"via": "tag-resource"})
    kinesis.remove_tags_from_stream(StreamName="persist", TagKeys=["env"])
    kinesis.increase_stream_retention_period(StreamName="persist", RetentionPeriodHours=72)
    wait_active(kinesis, "persist")
    kinesis.enable_enhanced_monitoring(StreamName="persist", ShardLevelMetrics=["IncomingBytes", "OutgoingRecords"])
    wait_active(kinesis, "persist")
    kinesis.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=2048)
    wait_active(kinesis, "persist")
    kinesis.put_resource_policy(
        ResourceARN=arn,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kinesis:*", "Resource": arn}
                ],
            }
        ),
    )
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="fan", Tags={"born": "yes"})["Consumer"]
    kinesis.tag_resource(ResourceARN=consumer["ConsumerARN"], Tags={"later": "too"})
    kinesis.split_shard(StreamName="persist", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**126))
    wait_active(kinesis, "persist")
    kinesis.start_stream_encryption(StreamName="persist", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    wait_active(kinesis, "persist")
    put(kinesis, "persist", b"sealed after the split", ExplicitHashKey="1")
    put(kinesis, "persist", b"a big one " * (150 * 1024), ExplicitHashKey=str(2**127))  # 1.5 MiB

    create_stream(kinesis, "persist-od", 2)
    kinesis.update_stream_mode(StreamARN=stream_arn("persist-od"), StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_active(kinesis, "persist-od")
    kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    kinesis.update_stream_warm_throughput(StreamName="persist-od", WarmThroughputMiBps=30)
    wait_active(kinesis, "persist-od")

    before = _snapshot(kinesis)
    s = before["persist/summary"]["StreamDescriptionSummary"]
    assert (s["RetentionPeriodHours"], s["MaxRecordSizeInKiB"], s["EncryptionType"], s["ConsumerCount"]) == (
        72,
        2048,
        "KMS",
        1,
    )
    od = before["persist-od/summary"]["StreamDescriptionSummary"]
    assert od["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    # Warm throughput is not checked here: no API reads it back (test_describe_stream_summary_reports_warm_throughput).

    if how == "kill -9":
        restartable_shardline.kill()
    else:
        restartable_shardline.stop()
    kinesis = make_client(restartable_shardline.start())
    after = _snapshot(kinesis)
    for key in before:
        assert after[key] == before[key], f"{key} changed across the restart ({how})"

    # And the restarted server goes on from there.
    kinesis.stop_stream_encryption(StreamName="persist", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    wait_active(kinesis, "persist")
    assert "EncryptionType" not in put(kinesis, "persist", b"after restart", ExplicitHashKey="1")
    kinesis.decrease_stream_retention_period(StreamName="persist", RetentionPeriodHours=48)
    assert_error(
        client_error(kinesis.register_stream_consumer, StreamARN=arn, ConsumerName="fan"),
        "ResourceInUseException",
    )
    kinesis.update_stream_mode(StreamARN=stream_arn("persist-od"), StreamModeDetails={"StreamMode": "PROVISIONED"})
    assert wait_active(kinesis, "persist-od")["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
