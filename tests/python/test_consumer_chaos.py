"""The consumer library under chaos: workers (`shardline consume` processes) sharing an 8-shard stream through a
lease table on a DynamoDB-compatible server (moto), while 500,000 records are produced and a worker is killed, one
is added, a shard is split and two are merged.

Checked: every record processed at least once; within each worker's run on a shard, records in sequence order;
children only after their parents finished; every duplicate traced to a hand-over of its shard (the killed worker's
records after its last checkpoint, or a lease moved to another worker). The counts are printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

import boto3
import pytest

from conftest import REPO_ROOT, shardline_bin
from support import wait_active

TOTAL = int(os.environ.get("SHARDLINE_CHAOS_RECORDS", "500000"))
PHASES = 4
FAILOVER_MS = 2000


@pytest.fixture
def dynamodb(moto_server):
    """moto's server (the DynamoDB-compatible server the lease table lives in)."""
    return moto_server


class Worker:
    def __init__(self, name: str, endpoint: str, ddb: str, tmp: Path) -> None:
        self.name = name
        self.out_path = tmp / f"{name}.jsonl"
        self.err_path = tmp / f"{name}.err"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SHARDLINE_", "AWS_"))}
        env.update(AWS_ACCESS_KEY_ID="chaos", AWS_SECRET_ACCESS_KEY="chaos", RUST_LOG="warn")
        self.proc = subprocess.Popen(
            [
                str(shardline_bin()), "consume", "--stream", "chaos", "--app", "chaos",
                "--endpoint", endpoint, "--lease-table", "chaos", "--dynamodb-endpoint", ddb,
                "--from", "trim-horizon", "--format", "json", "--worker-id", name,
                "--idle-ms", "200", "--failover-ms", str(FAILOVER_MS), "--parent-poll-ms", "500",
                "--shard-sync-ms", "1000",
            ],
            stdout=open(self.out_path, "wb"),
            stderr=open(self.err_path, "wb"),
            env=env,
            cwd=tmp,
        )

    def lines(self) -> list[dict]:
        out = []
        with open(self.out_path, "rb") as f:
            for raw in f:
                if raw.endswith(b"\n"):
                    out.append(json.loads(raw))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def produce(endpoint: str, start: int, count: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHARDLINE_", "AWS_"))}
    env.update(AWS_ACCESS_KEY_ID="chaos", AWS_SECRET_ACCESS_KEY="chaos")
    lines = "".join(f'{{"k":"key-{i % 1000}","n":{i}}}\n' for i in range(start, start + count)).encode()
    done = subprocess.run(
        [str(shardline_bin()), "produce", "--stream", "chaos", "--endpoint", endpoint, "--aggregate",
         "--partition-key", "field:k", "--linger-ms", "20", "--rate-limit", "100000", "--quiet"],
        input=lines, capture_output=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def leases(ddb: str) -> dict[str, dict]:
    client = boto3.client("dynamodb", endpoint_url=ddb, region_name="us-east-1",
                          aws_access_key_id="chaos", aws_secret_access_key="chaos")
    items = client.scan(TableName="chaos", ConsistentRead=True)["Items"]
    return {i["leaseKey"]["S"]: i for i in items}


def seq_key(line: dict) -> tuple[int, str, int]:
    return (len(line["sequence"]), line["sequence"], line["sub"] or 0)


def test_workers_killed_added_and_resharded_lose_nothing(kinesis, endpoint, dynamodb, tmp_path):
    kinesis.create_stream(StreamName="chaos", ShardCount=8)
    wait_active(kinesis, "chaos")
    workers = {n: Worker(n, endpoint, dynamodb, tmp_path) for n in ("w1", "w2", "w3")}
    per_phase = TOTAL // PHASES
    try:
        produce(endpoint, 0, per_phase)
        time.sleep(2)  # the three share the shards and get going

        def in_background(start: int, count: int) -> threading.Thread:
            t = threading.Thread(target=produce, args=(endpoint, start, count))
            t.start()
            return t

        # While records flow, a worker dies without a word; its checkpoints at that moment bound its
        # duplicates.
        flow = in_background(per_phase, per_phase)
        time.sleep(1.0)
        workers["w1"].proc.kill()
        workers["w1"].proc.wait()
        w1_checkpoints = {
            k: (len(v["checkpoint"]["S"]), v["checkpoint"]["S"], int(v["checkpointSubSequenceNumber"]["N"]))
            for k, v in leases(dynamodb).items()
            if v.get("leaseOwner", {}).get("S") == "w1" and v["checkpoint"]["S"].isdigit()
        }
        flow.join()

        # A worker joins, and a shard splits, while records flow.
        flow = in_background(2 * per_phase, per_phase)
        workers["w4"] = Worker("w4", endpoint, dynamodb, tmp_path)
        time.sleep(0.5)
        kinesis.split_shard(StreamName="chaos", ShardToSplit="shardId-000000000000",
                            NewStartingHashKey=str(2**128 // 16))
        wait_active(kinesis, "chaos")
        flow.join()

        # Two adjacent shards merge while records flow.
        flow = in_background(3 * per_phase, TOTAL - 3 * per_phase)
        time.sleep(0.5)
        kinesis.merge_shards(StreamName="chaos", ShardToMerge="shardId-000000000001",
                             AdjacentShardToMerge="shardId-000000000002")
        wait_active(kinesis, "chaos")
        flow.join()

        # Wait (bounded) until every record was processed by someone.
        deadline = time.monotonic() + 240
        while True:
            seen = set()
            for w in workers.values():
                seen.update(json.loads(l["data"])["n"] for l in w.lines())
            if len(seen) >= TOTAL or time.monotonic() > deadline:
                break
            time.sleep(2)
    finally:
        for w in workers.values():
            w.stop()

    lines = {name: w.lines() for name, w in workers.items()}
    errors = {name: w.err_path.read_text()[-1500:] for name, w in workers.items()}

    # At least once.
    copies: dict[int, list[tuple[str, dict]]] = defaultdict(list)
    for name, ls in lines.items():
        for l in ls:
            copies[json.loads(l["data"])["n"]].append((name, l))
    missing = [n for n in range(TOTAL) if n not in copies]
    assert not missing, f"{len(missing)} records never processed, e.g. {missing[:5]}; stderr: {errors}"
    assert len(copies) == TOTAL

    # In order within each worker's run on a shard.
    for name, ls in lines.items():
        last: dict[str, tuple] = {}
        for l in ls:
            k = seq_key(l)
            prev = last.get(l["shard"])
            assert prev is None or prev < k, f"{name} on {l['shard']}: {prev} then {k}"
            last[l["shard"]] = k

    # Children after parents: a child's first record after the last record of each parent, and every parent
    # finished (SHARD_END) with its children recorded.
    table = leases(dynamodb)
    first: dict[str, float] = {}
    last_at: dict[str, float] = {}
    for ls in lines.values():
        for l in ls:
            first[l["shard"]] = min(first.get(l["shard"], l["at"]), l["at"])
            last_at[l["shard"]] = max(last_at.get(l["shard"], 0.0), l["at"])
    lineage = {"shardId-000000000008": ["shardId-000000000000"], "shardId-000000000009": ["shardId-000000000000"],
               "shardId-000000000010": ["shardId-000000000001", "shardId-000000000002"]}
    for child, parents in lineage.items():
        assert sorted(table[child]["parentShardId"]["SS"]) == parents
        for p in parents:
            assert table[p]["checkpoint"]["S"] == "SHARD_END", table[p]
            assert child in table[p]["childShardIds"]["SS"]
            if child in first:
                assert first[child] >= last_at[p], f"{child} processed at {first[child]} before {p}'s last at {last_at[p]}"

    # Duplicates: only ever a different worker processing a record again after its shard changed hands, at most
    # the batches a worker had not checkpointed (it checkpoints after each batch of at most 10,000 records).
    handovers = 0
    for shard in {l["shard"] for ls in lines.values() for l in ls}:
        prints = sorted((l["at"], name) for name, ls in lines.items() for l in ls if l["shard"] == shard)
        handovers += sum(1 for (_, a), (_, b) in zip(prints, prints[1:]) if a != b)
    duplicates = by_kill = 0
    for n, cs in copies.items():
        if len(cs) == 1:
            continue
        workers_of = [name for name, _ in cs]
        assert len(set(workers_of)) == len(workers_of), f"record {n} processed twice by one worker: {cs}"
        duplicates += len(cs) - 1
        for name, l in cs:
            if name == "w1" and l["shard"] in w1_checkpoints and seq_key(l) > w1_checkpoints[l["shard"]]:
                by_kill += 1
    assert duplicates <= handovers * 2 * 10_000, f"{duplicates} duplicates over {handovers} hand-overs"
    w1_after_checkpoint = sum(
        1 for l in lines["w1"] if l["shard"] in w1_checkpoints and seq_key(l) > w1_checkpoints[l["shard"]]
    )
    print(
        f"\nchaos: {TOTAL} records processed {sum(len(ls) for ls in lines.values())} times in all; "
        f"{duplicates} duplicates over {handovers} lease hand-overs; the killed worker had printed "
        f"{w1_after_checkpoint} records past its last checkpoints, {by_kill} of them processed again; "
        f"per worker {({k: len(v) for k, v in lines.items()})}"
    )
