"""Queues (CreateQueue … RestoreDeadLetterQueueRecords) through boto3 against the real binary: the control
plane, receive/acknowledge/visibility, long polling, dead letters and restores, durability across kill -9,
and many consumers on one queue.

AWS's documented rules checked here: queues only on on-demand streams; one stream per queue; a queue shares
the stream's registered-consumer limit (20) with enhanced fan-out consumers and is counted in QueueCount,
not ConsumerCount; defaults of 30 s visibility and dead-lettering after 6 receives; Limit 1..10, default 10;
WaitTimeSeconds 1..20; a received record is invisible for its visibility timeout, then visible again; after
MaxReceiveCount receives it is a dead letter that only the dead-letter operations see; a restore resets its
receive count; an acknowledged record is not delivered again; a stream with queues cannot be deleted.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest

from conftest import make_client
from support import assert_error, client_error, stream_arn, summary, wait_active

ON_DEMAND = {"StreamMode": "ON_DEMAND"}


def on_demand(kinesis, name: str) -> str:
    kinesis.create_stream(StreamName=name, StreamModeDetails=ON_DEMAND)
    return wait_active(kinesis, name)["StreamARN"]


def create_queue(kinesis, name: str, stream: str, **kwargs) -> str:
    config = {"StreamARN": stream_arn(stream), "StartingPosition": {"Type": kwargs.pop("start", "TRIM_HORIZON")}}
    q = kinesis.create_queue(QueueName=name, StreamConfigurationList=[config], **kwargs)["QueueDescription"]
    arn = q["QueueARN"]
    deadline = time.monotonic() + 10
    while kinesis.describe_queue(QueueARN=arn)["QueueDescription"]["QueueStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, "queue never became ACTIVE"
        time.sleep(0.05)
    return arn


def put_batch(kinesis, stream: str, datas: list[bytes]) -> None:
    for i in range(0, len(datas), 500):
        out = kinesis.put_records(
            StreamName=stream, Records=[{"Data": d, "PartitionKey": d.decode()} for d in datas[i : i + 500]]
        )
        assert out["FailedRecordCount"] == 0


def receive(kinesis, arn: str, dead: bool = False, **kwargs) -> list[dict]:
    call = kinesis.receive_dead_letter_queue_records if dead else kinesis.receive_queue_records
    kwargs.setdefault("WaitTimeSeconds", 1)
    return call(QueueARN=arn, **kwargs)["QueueRecords"]


def ack(kinesis, arn: str, records: list[dict], dead: bool = False) -> dict:
    call = kinesis.acknowledge_dead_letter_queue_records if dead else kinesis.acknowledge_queue_records
    return call(QueueARN=arn, Entries=[{"ReceiptHandle": r["ReceiptHandle"]} for r in records])


def test_control_plane(kinesis):
    on_demand(kinesis, "s")
    kinesis.create_stream(StreamName="prov", ShardCount=1)
    wait_active(kinesis, "prov")
    q = kinesis.create_queue(
        QueueName="orders", StreamConfigurationList=[{"StreamARN": stream_arn("s")}], Tags={"team": "a"}
    )["QueueDescription"]
    assert q["QueueName"] == "orders"
    assert q["QueueARN"].startswith("arn:aws:kinesis:us-east-1:000000000000:queue/")
    assert "orders" not in q["QueueARN"], "the ARN's id is generated, not the name"
    assert q["QueueAttributes"] == {
        "VisibilityTimeoutSeconds": 30,
        "DeadLetterConfiguration": {"TargetType": "BUILT_IN", "MaxReceiveCount": 6},
    }
    config = q["StreamConfigurationList"]
    assert [c["StreamARN"] for c in config] == [stream_arn("s")]
    assert config[0]["StartingPosition"]["Type"] == "LATEST"
    arn = q["QueueARN"]
    d = kinesis.describe_queue(QueueARN=arn)["QueueDescription"]
    assert d["QueueStatus"] == "ACTIVE"
    assert "Timestamp" in d["StreamConfigurationList"][0]["StartingPosition"], "ACTIVE: the effective start"

    s = summary(kinesis, "s")
    assert (s["QueueCount"], s["ConsumerCount"]) == (1, 0)

    # Tags on queues, through the resource tagging operations.
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    kinesis.tag_resource(ResourceARN=arn, Tags={"env": "test"})
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "test"}]

    assert_error(
        client_error(kinesis.create_queue, QueueName="orders", StreamConfigurationList=[{"StreamARN": stream_arn("s")}]),
        "ResourceInUseException",
    )
    assert_error(
        client_error(kinesis.create_queue, QueueName="p", StreamConfigurationList=[{"StreamARN": stream_arn("prov")}]),
        "ValidationException",
    )
    assert_error(
        client_error(
            kinesis.create_queue,
            QueueName="two",
            StreamConfigurationList=[{"StreamARN": stream_arn("s")}, {"StreamARN": stream_arn("s")}],
        ),
        "InvalidArgumentException",
    )
    assert_error(
        client_error(
            kinesis.create_queue,
            QueueName="ts",
            StreamConfigurationList=[{"StreamARN": stream_arn("s"), "StartingPosition": {"Type": "AT_TIMESTAMP"}}],
        ),
        "ValidationException",
    )
    assert_error(
        client_error(
            kinesis.create_queue,
            QueueName="ts",
            StreamConfigurationList=[
                {"StreamARN": stream_arn("s"), "StartingPosition": {"Type": "LATEST", "Timestamp": 1700000000}}
            ],
        ),
        "ValidationException",
    )
    assert_error(
        client_error(
            kinesis.create_queue,
            QueueName="dl",
            StreamConfigurationList=[{"StreamARN": stream_arn("s")}],
            QueueAttributes={"DeadLetterConfiguration": {"TargetType": "BUILT_IN"}},
        ),
        "ValidationException",
    )
    assert_error(client_error(kinesis.create_queue, QueueName="x", StreamConfigurationList=[{"StreamARN": stream_arn("nope")}]),
                 "ResourceNotFoundException")
    missing = arn[:-3] + "zzz"
    assert_error(client_error(kinesis.describe_queue, QueueARN=missing), "ResourceNotFoundException")

    # UpdateQueue changes what it names, nothing else.
    u = kinesis.update_queue(QueueARN=arn, QueueAttributes={"VisibilityTimeoutSeconds": 5})["QueueDescription"]
    assert u["QueueAttributes"]["VisibilityTimeoutSeconds"] == 5
    assert u["QueueAttributes"]["DeadLetterConfiguration"]["MaxReceiveCount"] == 6
    kinesis.update_queue(QueueARN=arn, QueueAttributes={"DeadLetterConfiguration": {"TargetType": "NONE"}})
    d = kinesis.describe_queue(QueueARN=arn)["QueueDescription"]["QueueAttributes"]
    assert d == {"VisibilityTimeoutSeconds": 5, "DeadLetterConfiguration": {"TargetType": "NONE"}}

    # Listing, filtered by stream, and paged.
    for i in range(3):
        create_queue(kinesis, f"more-{i}", "s")
    listed = kinesis.list_queues()["QueueSummaries"]
    assert sorted(q["QueueName"] for q in listed) == ["more-0", "more-1", "more-2", "orders"]
    assert all(q["Streams"][0]["StreamARN"] == stream_arn("s") for q in listed)
    assert kinesis.list_queues(StreamFilter=[{"StreamARN": stream_arn("prov")}])["QueueSummaries"] == []
    pages = list(kinesis.get_paginator("list_queues").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(p["QueueSummaries"]) for p in pages] == [3, 1]

    # A queue counts as a registered consumer: 4 queues + 16 consumers fill the stream's 20.
    for i in range(16):
        kinesis.register_stream_consumer(StreamARN=stream_arn("s"), ConsumerName=f"c{i}")
    assert_error(
        client_error(kinesis.register_stream_consumer, StreamARN=stream_arn("s"), ConsumerName="c16"),
        "LimitExceededException",
    )
    assert_error(
        client_error(kinesis.create_queue, QueueName="over", StreamConfigurationList=[{"StreamARN": stream_arn("s")}]),
        "LimitExceededException",
    )

    # A stream with queues can be neither deleted nor made provisioned.
    assert_error(client_error(kinesis.delete_stream, StreamName="s", EnforceConsumerDeletion=True), "ResourceInUseException")
    assert_error(
        client_error(kinesis.update_stream_mode, StreamARN=stream_arn("s"), StreamModeDetails={"StreamMode": "PROVISIONED"}),
        "ResourceInUseException",
    )
    for q in kinesis.list_queues()["QueueSummaries"]:
        kinesis.delete_queue(QueueARN=q["QueueARN"])
    deadline = time.monotonic() + 10
    while kinesis.list_queues()["QueueSummaries"]:
        assert time.monotonic() < deadline, "deleted queues never went away"
        time.sleep(0.1)
    assert_error(client_error(kinesis.describe_queue, QueueARN=arn), "ResourceNotFoundException")
    kinesis.delete_stream(StreamName="s", EnforceConsumerDeletion=True)


def test_receive_acknowledge_visibility_and_long_polling(kinesis):
    on_demand(kinesis, "s")
    arn = create_queue(kinesis, "q", "s", QueueAttributes={"VisibilityTimeoutSeconds": 2})
    assert receive(kinesis, arn) == [], "nothing yet: an empty list after the wait"

    put_batch(kinesis, "s", [b"r%02d" % i for i in range(25)])
    got = receive(kinesis, arn)
    assert len(got) == 10, "Limit defaults to 10"
    r = got[0]
    assert set(r) >= {"ReceiptHandle", "RecordId", "PartitionKey", "Data", "ApproximateArrivalTimestamp",
                      "FirstReceiveTimestamp", "ReceiveCount"}
    assert r["ReceiveCount"] == 1 and r["RecordId"].isdigit()
    more = receive(kinesis, arn, Limit=20 // 2)
    rest = receive(kinesis, arn)
    received_at = time.monotonic()
    assert len(more) == 10 and len(rest) == 5
    first_pass = got + more + rest
    assert sorted(x["Data"] for x in first_pass) == [b"r%02d" % i for i in range(25)]
    assert receive(kinesis, arn) == [], "all in flight"

    ok = ack(kinesis, arn, got)
    assert (len(ok["Successful"]), ok["Failed"]) == (10, [])
    again = ack(kinesis, arn, got[:1])
    assert again["Successful"] == [] and again["Failed"][0]["ErrorCode"] == "ResourceNotFoundException"
    bad = kinesis.acknowledge_queue_records(QueueARN=arn, Entries=[{"ReceiptHandle": "not-a-handle"}])
    assert bad["Failed"][0]["ErrorCode"] == "InvalidArgumentException"

    # Visibility 0: visible again at once; the old handle is stale after the redelivery.
    kinesis.update_queue_records_visibility(
        QueueARN=arn, Entries=[{"ReceiptHandle": more[0]["ReceiptHandle"], "VisibilityTimeoutSeconds": 0}]
    )
    back = receive(kinesis, arn)
    assert [x["Data"] for x in back] == [more[0]["Data"]]
    assert back[0]["ReceiveCount"] == 2 and back[0]["RecordId"] == more[0]["RecordId"]
    assert back[0]["ReceiptHandle"] != more[0]["ReceiptHandle"]
    stale = ack(kinesis, arn, more[:1])
    assert stale["Failed"][0]["ErrorCode"] == "InvalidArgumentException"

    # After the 2 s visibility timeout the unacknowledged rest comes back.
    ack(kinesis, arn, back)
    start = time.monotonic()
    redelivered = []
    while len(redelivered) < 14 and time.monotonic() - start < 10:
        redelivered += receive(kinesis, arn, WaitTimeSeconds=3)
    assert time.monotonic() - received_at >= 1.9, "redelivered before the visibility timeout ran out"
    assert sorted(x["Data"] for x in redelivered) == sorted(x["Data"] for x in more[1:] + rest)
    assert all(x["ReceiveCount"] == 2 for x in redelivered)
    assert len(ack(kinesis, arn, redelivered[:10])["Successful"]) == 10
    assert len(ack(kinesis, arn, redelivered[10:])["Successful"]) == 4

    # A long poll returns as soon as a record arrives.
    def late_put():
        time.sleep(1.0)
        kinesis.put_record(StreamName="s", Data=b"late", PartitionKey="k")

    t = threading.Thread(target=late_put)
    t.start()
    start = time.monotonic()
    got = receive(kinesis, arn, WaitTimeSeconds=15)
    took = time.monotonic() - start
    t.join()
    assert [x["Data"] for x in got] == [b"late"]
    assert 0.9 <= took < 5, f"long poll took {took:.1f} s"
    ack(kinesis, arn, got)


def test_dead_letters_and_restore(kinesis):
    on_demand(kinesis, "s")
    arn = create_queue(
        kinesis,
        "q",
        "s",
        QueueAttributes={"VisibilityTimeoutSeconds": 0, "DeadLetterConfiguration": {"TargetType": "BUILT_IN", "MaxReceiveCount": 3}},
    )
    kinesis.put_record(StreamName="s", Data=b"poison", PartitionKey="p")
    counts = []
    for _ in range(3):
        got = receive(kinesis, arn)
        counts += [x["ReceiveCount"] for x in got]
    assert counts == [1, 2, 3]
    assert receive(kinesis, arn) == [], "received MaxReceiveCount times: a dead letter now"
    dead = receive(kinesis, arn, dead=True, VisibilityTimeoutSeconds=30)
    assert [x["Data"] for x in dead] == [b"poison"]
    assert dead[0]["ReceiveCount"] == 3
    assert receive(kinesis, arn, dead=True) == [], "invisible for its visibility timeout"
    restored = kinesis.restore_dead_letter_queue_records(QueueARN=arn, Entries=[{"ReceiptHandle": dead[0]["ReceiptHandle"]}])
    assert (len(restored["Successful"]), restored["Failed"]) == (1, [])
    back = receive(kinesis, arn)
    assert [(x["Data"], x["ReceiveCount"]) for x in back] == [(b"poison", 1)]


def test_restore_then_acknowledge_dead_letters(kinesis):
    on_demand(kinesis, "s")
    arn = create_queue(
        kinesis,
        "q",
        "s",
        QueueAttributes={"VisibilityTimeoutSeconds": 0, "DeadLetterConfiguration": {"TargetType": "BUILT_IN", "MaxReceiveCount": 1}},
    )
    put_batch(kinesis, "s", [b"a", b"b"])
    assert len(receive(kinesis, arn)) == 2
    assert receive(kinesis, arn) == []
    dead = receive(kinesis, arn, dead=True, VisibilityTimeoutSeconds=60)
    assert sorted(x["Data"] for x in dead) == [b"a", b"b"]
    a = next(x for x in dead if x["Data"] == b"a")
    b = next(x for x in dead if x["Data"] == b"b")
    # Acknowledging a dead letter with the normal operation is refused; its own works.
    wrong = ack(kinesis, arn, [b], dead=False)
    assert wrong["Failed"][0]["ErrorCode"] == "InvalidArgumentException"
    assert len(ack(kinesis, arn, [b], dead=True)["Successful"]) == 1
    # Restore: a normal record again, receive count reset.
    out = kinesis.restore_dead_letter_queue_records(QueueARN=arn, Entries=[{"ReceiptHandle": a["ReceiptHandle"]}])
    assert len(out["Successful"]) == 1
    back = receive(kinesis, arn, VisibilityTimeoutSeconds=60)
    assert [(x["Data"], x["ReceiveCount"]) for x in back] == [(b"a", 1)]
    assert len(ack(kinesis, arn, back)["Successful"]) == 1
    assert receive(kinesis, arn) == [] and receive(kinesis, arn, dead=True) == []
    # Dead-letter visibility: 0 makes it visible to the dead-letter receive again.
    kinesis.put_record(StreamName="s", Data=b"c", PartitionKey="c")
    receive(kinesis, arn)
    dead = receive(kinesis, arn, dead=True, VisibilityTimeoutSeconds=60)
    kinesis.update_dead_letter_queue_records_visibility(
        QueueARN=arn, Entries=[{"ReceiptHandle": dead[0]["ReceiptHandle"], "VisibilityTimeoutSeconds": 0}]
    )
    again = receive(kinesis, arn, dead=True)
    assert [x["Data"] for x in again] == [b"c"]


def test_queue_state_survives_kill_9(restartable_shardline):
    kinesis = make_client(restartable_shardline.start())
    on_demand(kinesis, "s")
    arn = create_queue(kinesis, "q", "s", QueueAttributes={"VisibilityTimeoutSeconds": 3})
    put_batch(kinesis, "s", [b"k%03d" % i for i in range(100)])
    received = []
    while len(received) < 60:
        received += receive(kinesis, arn)
    acked, held = received[:40], received[40:]
    for i in range(0, len(acked), 10):
        assert len(ack(kinesis, arn, acked[i : i + 10])["Successful"]) == 10

    restartable_shardline.kill()
    kinesis = make_client(restartable_shardline.start())
    # Handles issued before the crash still work.
    assert len(ack(kinesis, arn, held[:10])["Successful"]) == 10
    held = held[10:]
    seen = Counter()
    deadline = time.monotonic() + 20
    while sum(seen.values()) < 50 and time.monotonic() < deadline:
        got = receive(kinesis, arn, WaitTimeSeconds=2)
        seen.update(x["Data"] for x in got)
        for i in range(0, len(got), 10):
            ack(kinesis, arn, got[i : i + 10])
    # Never again: the acknowledged. Again: the 10 records held in flight without acknowledgement
    # (after their visibility timeout), and the 40 never received.
    acked_data = {x["Data"] for x in acked + received[40:50]}
    assert not acked_data & set(seen), "an acknowledged record was delivered again"
    assert set(seen) == {b"k%03d" % i for i in range(100)} - acked_data
    assert all(n == 1 for n in seen.values())


def test_many_consumers_every_record_acknowledged_once(restartable_shardline):
    """4 consumers on one queue over a 4-shard stream, some records poison (never acknowledged), the server
    killed with kill -9 mid-run: in the end every good record is acknowledged exactly once, redeliveries come
    only after visibility timeouts, poison records are dead letters that restore and acknowledge."""
    total = int(os.environ.get("SHARDLINE_QUEUE_RECORDS", "20000"))
    visibility = 3
    endpoint = restartable_shardline.start()
    kinesis = make_client(endpoint)
    on_demand(kinesis, "s")
    arn = create_queue(
        kinesis,
        "work",
        "s",
        QueueAttributes={
            "VisibilityTimeoutSeconds": visibility,
            "DeadLetterConfiguration": {"TargetType": "BUILT_IN", "MaxReceiveCount": 2},
        },
    )
    poison = {b"%07d" % i for i in range(0, total, 997)}
    put_batch(kinesis, "s", [b"%07d" % i for i in range(total)])

    lock = threading.Lock()
    acked: Counter = Counter()
    deliveries: Counter = Counter()
    early: list = []
    # Acknowledgements sent when the server was killed: applied or not, nobody knows.
    uncertain: set = set()
    last_seen: dict = {}
    state = {"endpoint": endpoint, "stop": False}

    def consumer():
        client = make_client(state["endpoint"])
        while not state["stop"]:
            try:
                got = client.receive_queue_records(QueueARN=arn, WaitTimeSeconds=1)["QueueRecords"]
                now = time.monotonic()
                keep = []
                with lock:
                    for r in got:
                        rid = r["RecordId"]
                        if rid in last_seen and now - last_seen[rid] < visibility - 0.5:
                            early.append(rid)
                        last_seen[rid] = now
                        deliveries[r["Data"]] += 1
                        if r["Data"] not in poison:
                            keep.append(r)
                if keep:
                    try:
                        out = client.acknowledge_queue_records(
                            QueueARN=arn, Entries=[{"ReceiptHandle": r["ReceiptHandle"]} for r in keep]
                        )
                    except Exception:
                        with lock:
                            uncertain.update(r["Data"] for r in keep)
                        raise
                    done = {e["ReceiptHandle"] for e in out["Successful"]}
                    with lock:
                        for r in keep:
                            if r["ReceiptHandle"] in done:
                                acked[r["Data"]] += 1
            except Exception:  # the server is being restarted: try again with the new endpoint
                time.sleep(0.2)
                client = make_client(state["endpoint"])

    threads = [threading.Thread(target=consumer) for _ in range(4)]
    for t in threads:
        t.start()
    good = total - len(poison)
    deadline = time.monotonic() + 240
    killed = False
    try:
        while time.monotonic() < deadline:
            with lock:
                done = len(set(acked) | uncertain)
            if not killed and done >= good // 2:
                restartable_shardline.kill()
                state["endpoint"] = restartable_shardline.start()
                killed = True
            if done >= good:
                break
            time.sleep(0.2)
    finally:
        state["stop"] = True
        for t in threads:
            t.join(timeout=30)
    assert killed
    settled = set(acked) | uncertain
    missing = sorted({b"%07d" % i for i in range(total)} - poison - settled)
    assert not missing, f"{len(missing)} good records never acknowledged: " + ", ".join(
        f"{m.decode()} delivered {deliveries[m]}x" for m in missing[:20]
    )
    assert len(uncertain) <= 4 * 10, "only the acknowledgements in flight at the kill are in doubt"
    assert all(n == 1 for n in acked.values()), "a record acknowledged twice"
    assert not (set(acked) & poison)
    assert not early, f"{len(early)} deliveries before the visibility timeout ran out"
    redeliveries = sum(deliveries.values()) - len(deliveries)
    print(f"records={total} good={good} poison={len(poison)} deliveries={sum(deliveries.values())} "
          f"redeliveries={redeliveries} acks-in-doubt-at-the-kill={len(uncertain - set(acked))}")

    # Every poison record: received twice (MaxReceiveCount 2), then a dead letter; restore, acknowledge.
    kinesis = make_client(state["endpoint"])
    dead = []
    deadline = time.monotonic() + 30
    while len(dead) < len(poison) and time.monotonic() < deadline:
        dead += receive(kinesis, arn, dead=True, VisibilityTimeoutSeconds=120)
        receive(kinesis, arn, WaitTimeSeconds=1)  # turns expired poison into dead letters
    assert {x["Data"] for x in dead} == poison
    for i in range(0, len(dead), 10):
        out = kinesis.restore_dead_letter_queue_records(
            QueueARN=arn, Entries=[{"ReceiptHandle": x["ReceiptHandle"]} for x in dead[i : i + 10]]
        )
        assert len(out["Successful"]) == len(dead[i : i + 10])
    restored = []
    while len(restored) < len(poison) and time.monotonic() < deadline + 30:
        got = receive(kinesis, arn, VisibilityTimeoutSeconds=60)
        restored += got
        if got:
            assert len(ack(kinesis, arn, got)["Successful"]) == len(got)
    assert {x["Data"] for x in restored} == poison
    assert all(x["ReceiveCount"] == 1 for x in restored)
