"""Stream and account settings: stream mode, enhanced monitoring, DescribeLimits, account settings and warm
throughput, maximum record size.

Servers run with conftest's TEST_ARGS (`--create-delay-ms 0 --delete-delay-ms 0 --limits off`), so new streams
and consumers are ACTIVE at once and throughput limits stay out of the way; tests that need otherwise pass
their own flags (a later flag wins). Every wait is bounded.
"""

from __future__ import annotations

from conftest import create_stream, make_client
from support import ALL_METRICS, SHARD, MiB, assert_error, assert_full_cover, client_error, open_shards, put, read_shard, stream_arn, strip_meta, summary, wait_active, wait_until


# --- stream mode ------------------------------------------------------------------------------------


def test_update_stream_mode_both_ways(kinesis):
    create_stream(kinesis, "mode", 2)
    arn = stream_arn("mode")
    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    s = wait_active(kinesis, "mode")
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert kinesis.describe_stream(StreamName="mode")["StreamDescription"]["StreamModeDetails"] == {
        "StreamMode": "ON_DEMAND"
    }
    listed = kinesis.list_streams()["StreamSummaries"]
    assert [x["StreamModeDetails"] for x in listed if x["StreamName"] == "mode"] == [{"StreamMode": "ON_DEMAND"}]
    assert kinesis.describe_limits()["OnDemandStreamCount"] == 1

    # Resharding by hand is for provisioned streams only.
    assert_error(
        client_error(kinesis.split_shard, StreamName="mode", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**126)),
        "ValidationException",
    )
    assert_error(
        client_error(kinesis.merge_shards, StreamName="mode", ShardToMerge=SHARD(0), AdjacentShardToMerge=SHARD(1)),
        "ValidationException",
    )
    assert_error(
        client_error(kinesis.update_shard_count, StreamName="mode", TargetShardCount=3, ScalingType="UNIFORM_SCALING"),
        "ValidationException",
    )
    assert len(open_shards(kinesis, "mode")) == 2
    # Writes go on in either mode.
    put(kinesis, "mode", b"on demand")

    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
    assert wait_active(kinesis, "mode")["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert kinesis.describe_limits()["OnDemandStreamCount"] == 0
    kinesis.split_shard(StreamName="mode", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**126))
    wait_active(kinesis, "mode")
    assert len(open_shards(kinesis, "mode")) == 3


def test_update_stream_mode_errors(kinesis):
    create_stream(kinesis, "mode-errors", 1)
    arn = stream_arn("mode-errors")
    allowed = {"InvalidArgumentException", "ResourceInUseException", "ValidationException"}
    same = client_error(kinesis.update_stream_mode, StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
    assert same["Error"]["Code"] in allowed, same
    assert_error(
        client_error(
            kinesis.update_stream_mode, StreamARN=stream_arn("nope"), StreamModeDetails={"StreamMode": "ON_DEMAND"}
        ),
        "ResourceNotFoundException",
    )


def test_on_demand_stream_created_directly(kinesis):
    kinesis.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    s = wait_active(kinesis, "od")
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert s["OpenShardCount"] >= 1
    assert_full_cover(open_shards(kinesis, "od"))
    assert_error(
        client_error(kinesis.split_shard, StreamName="od", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**125)),
        "ValidationException",
    )


def test_on_demand_stream_count_limit_is_enforced(kinesis):
    limit = kinesis.describe_limits()["OnDemandStreamCountLimit"]
    assert limit == 50
    for i in range(limit):
        kinesis.create_stream(StreamName=f"od-{i:02d}", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert_error(
        client_error(kinesis.create_stream, StreamName=f"od-{limit}", StreamModeDetails={"StreamMode": "ON_DEMAND"}),
        "LimitExceededException",
    )


# --- enhanced monitoring ----------------------------------------------------------------------------


def test_enable_and_disable_enhanced_monitoring(kinesis):
    create_stream(kinesis, "mon", 1)
    out = kinesis.enable_enhanced_monitoring(StreamName="mon", ShardLevelMetrics=["OutgoingBytes", "IncomingBytes"])
    assert strip_meta(out) == {
        "StreamName": "mon",
        "StreamARN": stream_arn("mon"),
        "CurrentShardLevelMetrics": [],
        "DesiredShardLevelMetrics": ["IncomingBytes", "OutgoingBytes"],
    }
    wait_active(kinesis, "mon")
    # Enabling again is idempotent; ALL expands to every metric.
    out = kinesis.enable_enhanced_monitoring(StreamName="mon", ShardLevelMetrics=["IncomingBytes"])
    assert out["CurrentShardLevelMetrics"] == out["DesiredShardLevelMetrics"] == ["IncomingBytes", "OutgoingBytes"]
    wait_active(kinesis, "mon")
    out = kinesis.enable_enhanced_monitoring(StreamARN=stream_arn("mon"), ShardLevelMetrics=["ALL"])
    assert out["CurrentShardLevelMetrics"] == ["IncomingBytes", "OutgoingBytes"]
    assert sorted(out["DesiredShardLevelMetrics"]) == sorted(ALL_METRICS)
    wait_active(kinesis, "mon")
    assert sorted(summary(kinesis, "mon")["EnhancedMonitoring"][0]["ShardLevelMetrics"]) == sorted(ALL_METRICS)
    described = kinesis.describe_stream(StreamName="mon")["StreamDescription"]["EnhancedMonitoring"]
    assert sorted(described[0]["ShardLevelMetrics"]) == sorted(ALL_METRICS)

    out = kinesis.disable_enhanced_monitoring(
        StreamName="mon", ShardLevelMetrics=["IncomingBytes", "IteratorAgeMilliseconds"]
    )
    assert sorted(out["CurrentShardLevelMetrics"]) == sorted(ALL_METRICS)
    assert sorted(out["DesiredShardLevelMetrics"]) == sorted(
        set(ALL_METRICS) - {"IncomingBytes", "IteratorAgeMilliseconds"}
    )
    wait_active(kinesis, "mon")
    out = kinesis.disable_enhanced_monitoring(StreamName="mon", ShardLevelMetrics=["ALL"])
    assert out["DesiredShardLevelMetrics"] == []
    wait_active(kinesis, "mon")
    assert summary(kinesis, "mon")["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]


def test_enhanced_monitoring_errors(kinesis_raw):
    create_stream(kinesis_raw, "mon-bad", 1)
    assert_error(
        client_error(kinesis_raw.enable_enhanced_monitoring, StreamName="mon-bad", ShardLevelMetrics=["NotAMetric"]),
        "ValidationException",
    )
    assert_error(
        client_error(kinesis_raw.enable_enhanced_monitoring, StreamName="nope", ShardLevelMetrics=["ALL"]),
        "ResourceNotFoundException",
    )
    assert summary(kinesis_raw, "mon-bad")["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]


# --- DescribeLimits ---------------------------------------------------------------------------------


def test_describe_limits_counts_open_shards(start_shardline):
    kinesis = make_client(start_shardline("--shard-limit", "12"))
    assert strip_meta(kinesis.describe_limits()) == {
        "ShardLimit": 12,
        "OpenShardCount": 0,
        "OnDemandStreamCount": 0,
        "OnDemandStreamCountLimit": 50,
    }
    create_stream(kinesis, "a", 3)
    create_stream(kinesis, "b", 2)
    assert kinesis.describe_limits()["OpenShardCount"] == 5
    kinesis.split_shard(StreamName="a", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**120))
    wait_active(kinesis, "a")
    assert kinesis.describe_limits()["OpenShardCount"] == 6
    kinesis.merge_shards(StreamName="b", ShardToMerge=SHARD(0), AdjacentShardToMerge=SHARD(1))
    wait_active(kinesis, "b")
    assert kinesis.describe_limits()["OpenShardCount"] == 5
    kinesis.create_stream(StreamName="c", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    c_shards = wait_active(kinesis, "c")["OpenShardCount"]
    limits = kinesis.describe_limits()
    assert (limits["OpenShardCount"], limits["OnDemandStreamCount"]) == (5 + c_shards, 1)
    total = sum(summary(kinesis, n)["OpenShardCount"] for n in ("a", "b", "c"))
    assert limits["OpenShardCount"] == total

    # Going past the shard limit is refused.
    room = 12 - total
    assert_error(
        client_error(kinesis.create_stream, StreamName="too-big", ShardCount=room + 1),
        "LimitExceededException",
    )
    kinesis.delete_stream(StreamName="b")
    wait_until(lambda: kinesis.describe_limits()["OpenShardCount"] == total - 1, "deleted stream's shards released")


# --- account settings and warm throughput -------------------------------------------------------------


def test_account_settings_and_warm_throughput(kinesis):
    assert kinesis.describe_account_settings()["MinimumThroughputBillingCommitment"] == {"Status": "DISABLED"}
    kinesis.create_stream(StreamName="warm", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    create_stream(kinesis, "provisioned", 1)
    wait_active(kinesis, "warm")
    no_commitment = client_error(kinesis.update_stream_warm_throughput, StreamName="warm", WarmThroughputMiBps=10)
    assert no_commitment["Error"]["Code"] in {"ValidationException", "InvalidArgumentException"}, no_commitment

    out = kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    commitment = out["MinimumThroughputBillingCommitment"]
    assert commitment["Status"] == "ENABLED"
    assert (commitment["EarliestAllowedEndAt"] - commitment["StartedAt"]).days == 365
    assert kinesis.describe_account_settings()["MinimumThroughputBillingCommitment"] == commitment

    out = kinesis.update_stream_warm_throughput(StreamName="warm", WarmThroughputMiBps=25)
    assert out["StreamName"] == "warm" and out["StreamARN"] == stream_arn("warm")
    assert out["WarmThroughput"]["TargetMiBps"] == 25
    wait_active(kinesis, "warm")
    provisioned = client_error(kinesis.update_stream_warm_throughput, StreamName="provisioned", WarmThroughputMiBps=10)
    assert provisioned["Error"]["Code"] in {"ValidationException", "InvalidArgumentException"}, provisioned

    # Disabling runs until the earliest allowed end.
    out = kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "DISABLED"})
    ending = out["MinimumThroughputBillingCommitment"]
    assert ending["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
    assert ending["EndedAt"] == commitment["EarliestAllowedEndAt"]


def test_describe_stream_summary_reports_warm_throughput(kinesis):
    kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    kinesis.create_stream(StreamName="warm", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_active(kinesis, "warm")
    kinesis.update_stream_warm_throughput(StreamName="warm", WarmThroughputMiBps=25)
    assert wait_active(kinesis, "warm")["WarmThroughput"]["TargetMiBps"] == 25


# --- UpdateMaxRecordSize ----------------------------------------------------------------------------


def test_update_max_record_size(kinesis):
    """Record sizes only: per-shard throughput limits are off (see the next test for a large record under them)."""
    create_stream(kinesis, "big", 1)
    arn = stream_arn("big")
    assert summary(kinesis, "big")["MaxRecordSizeInKiB"] == 1024
    record = b"r" * (3 * MiB // 2)  # 1.5 MiB
    too_big = client_error(kinesis.put_record, StreamName="big", Data=record, PartitionKey="pk")
    assert too_big["Error"]["Code"] in {"ValidationException", "InvalidArgumentException"}, too_big

    kinesis.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=2048)
    assert wait_active(kinesis, "big")["MaxRecordSizeInKiB"] == 2048
    ok = kinesis.put_record(StreamName="big", Data=record, PartitionKey="pk")
    batch = kinesis.put_records(StreamName="big", Records=[{"Data": record, "PartitionKey": "pk2"}])
    assert batch["FailedRecordCount"] == 0
    # Data plus partition key up to exactly 2 MiB.
    exact = kinesis.put_record(StreamName="big", Data=b"e" * (2 * MiB - 2), PartitionKey="pk")

    # Over 2 MiB: data alone, or data plus partition key.
    assert_error(
        client_error(kinesis.put_record, StreamName="big", Data=b"x" * (2 * MiB + 1), PartitionKey="pk"),
        "ValidationException",
    )
    assert_error(
        client_error(kinesis.put_record, StreamName="big", Data=b"x" * (2 * MiB), PartitionKey="pk"),
        "InvalidArgumentException",
        f"Record size {2 * MiB + 2} exceeds the maximum record size of {2 * MiB} bytes, including the partition key.",
    )
    over = client_error(
        kinesis.put_records, StreamName="big", Records=[{"Data": b"x" * (2 * MiB + 1), "PartitionKey": "pk"}]
    )
    assert over["Error"]["Code"] in {"ValidationException", "InvalidArgumentException"}, over

    records = read_shard(kinesis, "big", SHARD(0))
    assert [r["SequenceNumber"] for r in records] == [
        ok["SequenceNumber"],
        batch["Records"][0]["SequenceNumber"],
        exact["SequenceNumber"],
    ]
    assert records[0]["Data"] == record and len(records[2]["Data"]) == 2 * MiB - 2


def test_a_large_record_is_accepted_under_default_throughput_limits(start_shardline):
    kinesis = make_client(start_shardline("--limits", "aws"))
    create_stream(kinesis, "big-default", 1)
    kinesis.update_max_record_size(StreamARN=stream_arn("big-default"), MaxRecordSizeInKiB=2048)
    wait_active(kinesis, "big-default")
    record = b"r" * (3 * MiB // 2)
    out = kinesis.put_record(StreamName="big-default", Data=record, PartitionKey="pk")
    assert out["ShardId"] == SHARD(0)


def test_update_max_record_size_out_of_range(kinesis_raw):
    create_stream(kinesis_raw, "size-bad", 1)
    for kib in (1023, 10241, 0):
        assert_error(
            client_error(kinesis_raw.update_max_record_size, StreamARN=stream_arn("size-bad"), MaxRecordSizeInKiB=kib),
            "ValidationException",
        )
    assert_error(
        client_error(kinesis_raw.update_max_record_size, StreamARN=stream_arn("nope"), MaxRecordSizeInKiB=2048),
        "ResourceNotFoundException",
    )
    assert summary(kinesis_raw, "size-bad")["MaxRecordSizeInKiB"] == 1024
    kinesis_raw.update_max_record_size(StreamARN=stream_arn("size-bad"), MaxRecordSizeInKiB=10240)
    assert wait_active(kinesis_raw, "size-bad")["MaxRecordSizeInKiB"] == 10240


# --- streams created at start -------------------------------------------------------------------------


def test_streams_named_at_start_are_created_once(restartable_shardline, tmp_path):
    config = tmp_path / "shardline.toml"
    config.write_text('create_streams = ["from-file:3"]\n')
    flags = ("--create-stream", "plain", "--create-stream", "two:2", "--create-stream", "auto:on-demand",
             "--config", str(config))
    k = make_client(restartable_shardline.start(*flags))
    # The file's list gives way to the flags' (a flag beats the file).
    names = sorted(k.list_streams()["StreamNames"])
    assert names == ["auto", "plain", "two"]
    shape = {}
    for name in names:
        s = wait_active(k, name)
        shape[name] = (s["StreamModeDetails"]["StreamMode"], s["OpenShardCount"])
    assert shape == {"auto": ("ON_DEMAND", 4), "plain": ("PROVISIONED", 4), "two": ("PROVISIONED", 2)}
    k.put_record(StreamName="two", Data=b"kept", PartitionKey="k")
    k.split_shard(StreamName="two", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**126))
    wait_active(k, "two")
    restartable_shardline.stop()
    # Again with the same flags: nothing is recreated or reset.
    k = make_client(restartable_shardline.start(*flags))
    assert wait_active(k, "two")["OpenShardCount"] == 3
    assert [r["Data"] for r in read_shard(k, "two", SHARD(1))] == [b"kept"]
    restartable_shardline.stop()
    # Without flags, the file's list applies.
    k = make_client(restartable_shardline.start("--config", str(config)))
    assert "from-file" in k.list_streams()["StreamNames"]


def test_a_bad_stream_spec_stops_the_start(tmp_path):
    import subprocess

    from conftest import shardline_bin

    for spec in ("bad name", "x:0", "x:many", ""):
        out = subprocess.run([str(shardline_bin()), "serve", "--in-memory", "--port", "0", "--create-stream", spec],
                             capture_output=True, text=True, timeout=20, cwd=tmp_path)
        assert out.returncode != 0 and "--create-stream" in out.stderr, (spec, out.stderr)


def test_a_stream_being_created_or_deleted_shows_no_shards(start_shardline):
    k = make_client(start_shardline("--create-delay-ms", "1500", "--delete-delay-ms", "1500"))
    k.create_stream(StreamName="slow", ShardCount=3)
    d = k.describe_stream(StreamName="slow")["StreamDescription"]
    assert (d["StreamStatus"], d["Shards"], d["HasMoreShards"]) == ("CREATING", [], False)
    d = wait_until(
        lambda: (x := k.describe_stream(StreamName="slow")["StreamDescription"])["StreamStatus"] == "ACTIVE" and x,
        "slow becomes ACTIVE",
    )
    assert len(d["Shards"]) == 3
    k.delete_stream(StreamName="slow")
    d = k.describe_stream(StreamName="slow")["StreamDescription"]
    assert (d["StreamStatus"], d["Shards"]) == ("DELETING", [])
