"""Enhanced fan-out consumers: registration, description, listing, deregistration, the per-stream limit.

Servers run with conftest's TEST_ARGS (`--create-delay-ms 0 --delete-delay-ms 0 --limits off`), so new streams
and consumers are ACTIVE at once and throughput limits stay out of the way; tests that need otherwise pass
their own flags (a later flag wins). Every wait is bounded.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import EventStreamError

from conftest import create_stream
from support import code_of, SHARD, assert_error, client_error, put, stream_arn, summary, wait_until


# --- consumers --------------------------------------------------------------------------------------


def test_unknown_consumer_is_resource_not_found(kinesis):
    create_stream(kinesis, "consumers", 1)
    arn = stream_arn("consumers")
    kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="real")
    cases = [
        {"ConsumerARN": arn + "/consumer/ghost:1700000000"},
        {"StreamARN": arn, "ConsumerName": "ghost"},
        {"StreamARN": stream_arn("no-stream"), "ConsumerName": "real"},
        {"ConsumerARN": stream_arn("no-stream") + "/consumer/real:1700000000"},
    ]
    for kwargs in cases:
        assert_error(client_error(kinesis.describe_stream_consumer, **kwargs), "ResourceNotFoundException")
        assert_error(client_error(kinesis.deregister_stream_consumer, **kwargs), "ResourceNotFoundException")
    # The real consumer, by a wrong creation time in its ARN.
    real = kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="real")["ConsumerDescription"]
    wrong_time = real["ConsumerARN"].rsplit(":", 1)[0] + ":1"
    assert_error(client_error(kinesis.describe_stream_consumer, ConsumerARN=wrong_time), "ResourceNotFoundException")
    assert [c["ConsumerName"] for c in kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]] == ["real"]


def test_deregistered_consumer_disappears(kinesis):
    create_stream(kinesis, "dereg", 1)
    arn = stream_arn("dereg")
    carn = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]["ConsumerARN"]
    assert summary(kinesis, "dereg")["ConsumerCount"] == 1
    kinesis.deregister_stream_consumer(StreamARN=arn, ConsumerName="c")
    wait_until(
        lambda: code_of(lambda: kinesis.describe_stream_consumer(ConsumerARN=carn)) == "ResourceNotFoundException",
        "consumer gone",
    )
    assert kinesis.list_stream_consumers(StreamARN=arn)["Consumers"] == []
    assert summary(kinesis, "dereg")["ConsumerCount"] == 0
    assert_error(client_error(kinesis.deregister_stream_consumer, ConsumerARN=carn), "ResourceNotFoundException")


def test_register_stream_consumer_limit_is_20_per_stream(kinesis):
    """With `--create-delay-ms 0` (conftest) consumers are ACTIVE at once, so only the limit of 20 applies."""
    create_stream(kinesis, "many-consumers", 1)
    create_stream(kinesis, "other", 1)
    arn = stream_arn("many-consumers")
    for i in range(20):
        c = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName=f"c{i:02d}")["Consumer"]
        assert c["ConsumerStatus"] in ("CREATING", "ACTIVE"), c
    assert_error(
        client_error(kinesis.register_stream_consumer, StreamARN=arn, ConsumerName="c20"),
        "LimitExceededException",
    )
    names = []
    kwargs = {"StreamARN": arn, "MaxResults": 7}
    for _ in range(10):
        page = kinesis.list_stream_consumers(**kwargs)
        names.extend(c["ConsumerName"] for c in page["Consumers"])
        if not page.get("NextToken"):
            break
        kwargs = {"StreamARN": arn, "NextToken": page["NextToken"]}
    assert sorted(names) == [f"c{i:02d}" for i in range(20)]
    assert summary(kinesis, "many-consumers")["ConsumerCount"] == 20
    # The limit is per stream.
    kinesis.register_stream_consumer(StreamARN=stream_arn("other"), ConsumerName="c20")
    # Deregistering one makes room again.
    kinesis.deregister_stream_consumer(StreamARN=arn, ConsumerName="c00")
    wait_until(
        lambda: code_of(lambda: kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c20")) is None,
        "a 20th consumer after one was deregistered",
    )
    assert_error(
        client_error(kinesis.register_stream_consumer, StreamARN=arn, ConsumerName="c21"),
        "LimitExceededException",
    )


def test_delete_stream_with_consumers_needs_enforce_consumer_deletion(kinesis):
    create_stream(kinesis, "with-consumers", 1)
    carn = kinesis.register_stream_consumer(StreamARN=stream_arn("with-consumers"), ConsumerName="c")["Consumer"][
        "ConsumerARN"
    ]
    assert_error(client_error(kinesis.delete_stream, StreamName="with-consumers"), "ResourceInUseException")
    kinesis.delete_stream(StreamName="with-consumers", EnforceConsumerDeletion=True)
    wait_until(
        lambda: code_of(lambda: summary(kinesis, "with-consumers")) == "ResourceNotFoundException",
        "stream deleted",
    )
    assert_error(client_error(kinesis.describe_stream_consumer, ConsumerARN=carn), "ResourceNotFoundException")


def test_deregistering_a_consumer_leaves_same_named_consumers_of_other_streams_alone(kinesis):
    for name in ("one", "two"):
        create_stream(kinesis, name, 1)
    one = kinesis.register_stream_consumer(StreamARN=stream_arn("one"), ConsumerName="fan")["Consumer"]
    two = kinesis.register_stream_consumer(StreamARN=stream_arn("two"), ConsumerName="fan")["Consumer"]
    for c in (one, two):
        wait_until(
            lambda c=c: kinesis.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])["ConsumerDescription"][
                "ConsumerStatus"
            ]
            == "ACTIVE",
            "consumer active",
        )
    resp = kinesis.subscribe_to_shard(
        ConsumerARN=two["ConsumerARN"], ShardId=SHARD(0), StartingPosition={"Type": "LATEST"}
    )
    stream = resp["EventStream"]
    try:
        events = iter(stream)
        assert "SubscribeToShardEvent" in next(events)
        kinesis.deregister_stream_consumer(ConsumerARN=one["ConsumerARN"])
        put(kinesis, "two", b"still subscribed")
        # Heartbeats come every second; within a few events the record must arrive, with no error.
        got = []
        for _ in range(5):
            event = next(events)["SubscribeToShardEvent"]
            got.extend(r["Data"] for r in event["Records"])
            if got:
                break
        assert got == [b"still subscribed"]
    except EventStreamError as e:
        pytest.fail(f"the subscription of stream two's consumer ended: {e}")
    finally:
        stream.close()
