"""Thousands of shards on an ordinary descriptor limit: a durable server started with `ulimit -n 1024` (soft and
hard) creates, writes, reads and restarts over more shards than it has descriptors, with idle client connections
crowding it too, and never answers an error or holds more files than its budget.

SHARDLINE_MANY_SHARDS sets the number of shards (default 2,000, twice what the limit allowed before segment files
were opened on demand); `scripts/many-shards` runs the full 20,000.
"""

from __future__ import annotations

import os
import re
import resource
import socket
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from conftest import REGION, TEST_ARGS, shardline_bin

LIMIT = 1024
SHARDS = int(os.environ.get("SHARDLINE_MANY_SHARDS", "2000"))
PER_STREAM = 4
TWO_128 = 2**128
LISTENING = re.compile(r"^shardline listening on (http://127\.0\.0\.1:\d+)")
BUDGET = re.compile(r"descriptors: limit (\d+); up to (\d+) connections and (\d+) segment files open")


def limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


class LimitedServer:
    """`shardline serve` on a data directory, in a child whose descriptor limit is 1024 (soft and hard)."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.log = open(log, "ab")
        self.proc = subprocess.Popen(
            [str(shardline_bin()), "serve", "--port", "0", "--data-dir", str(data_dir), *TEST_ARGS],
            stdout=subprocess.PIPE,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
            preexec_fn=limit_descriptors,
            env={k: v for k, v in os.environ.items() if not k.startswith("SHARDLINE_")},
            text=True,
        )
        lines = [self.proc.stdout.readline() for _ in range(3)]
        m = LISTENING.match(lines[0])
        assert m, lines
        self.endpoint = m.group(1)
        budget = next((BUDGET.search(line) for line in lines if BUDGET.search(line)), None)
        assert budget, lines
        self.limit, self.connections, self.files = (int(g) for g in budget.groups())

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.log.close()


def client(endpoint: str):
    """A client that does not retry: every call must succeed the first time."""
    return boto3.session.Session().client(
        "kinesis",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=60),
    )


def stream_names() -> list[str]:
    return [f"s{i:05d}" for i in range(SHARDS // PER_STREAM)]


def explicit_keys() -> list[str]:
    """One hash key inside each of a 4-shard stream's shards."""
    step = TWO_128 // PER_STREAM
    return [str(i * step + 1) for i in range(PER_STREAM)]


def create_all(k, names: list[str]) -> None:
    for name in names:
        k.create_stream(StreamName=name, ShardCount=PER_STREAM)
    deadline = time.monotonic() + 120
    for name in names:
        while k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
            assert time.monotonic() < deadline
            time.sleep(0.01)


def put_all(k, names: list[str], tag: str) -> None:
    for name in names:
        out = k.put_records(
            StreamName=name,
            Records=[
                {"Data": f"{name}-{i}-{tag}".encode(), "PartitionKey": "k", "ExplicitHashKey": key}
                for i, key in enumerate(explicit_keys())
            ],
        )
        assert out["FailedRecordCount"] == 0, out
        assert sorted(r["ShardId"] for r in out["Records"]) == [f"shardId-{i:012d}" for i in range(PER_STREAM)]


def read_all(k, names: list[str], tags: list[str]) -> None:
    for name in names:
        for i in range(PER_STREAM):
            it = k.get_shard_iterator(StreamName=name, ShardId=f"shardId-{i:012d}", ShardIteratorType="TRIM_HORIZON")
            got = k.get_records(ShardIterator=it["ShardIterator"])["Records"]
            assert [r["Data"] for r in got] == [f"{name}-{i}-{t}".encode() for t in tags], (name, i)


def test_thousands_of_shards_under_a_1024_descriptor_limit(tmp_path: Path):
    names = stream_names()
    server = LimitedServer(tmp_path / "data", tmp_path / "server.log")
    try:
        assert (server.limit, server.files) == (LIMIT, LIMIT // 2)
        assert server.connections < LIMIT - server.files
        k = client(server.endpoint)
        create_all(k, names)
        assert server.open_fds() < LIMIT - server.connections + 16
        put_all(k, names, "first")
        read_all(k, names, ["first"])
        assert server.open_fds() < LIMIT - server.connections + 16
    finally:
        server.stop()
    # A restart recovers every shard, within the same budget, and goes on taking writes.
    server = LimitedServer(tmp_path / "data", tmp_path / "server.log")
    try:
        k = client(server.endpoint)
        assert server.open_fds() < LIMIT - server.connections + 16
        read_all(k, names, ["first"])
        put_all(k, names, "second")
        read_all(k, names, ["first", "second"])
        assert server.open_fds() < LIMIT - server.connections + 16
    finally:
        server.stop()


def test_idle_connections_do_not_starve_the_storage(tmp_path: Path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 2600:
        pytest.skip(f"this test opens 2,000 connections; the descriptor limit here is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    names = stream_names()
    server = LimitedServer(tmp_path / "data", tmp_path / "server.log")
    idle: list[socket.socket] = []
    try:
        k = client(server.endpoint)
        k.list_streams()  # the client's pooled connection is established before the crowd arrives
        host, port = server.endpoint.removeprefix("http://").split(":")
        for _ in range(2000):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex((host, int(port)))
            idle.append(s)
        time.sleep(0.5)
        # The server accepts as many as its budget allows and leaves the rest waiting.
        assert server.open_fds() <= LIMIT
        create_all(k, names)
        put_all(k, names, "crowded")
        read_all(k, names, ["crowded"])
        assert server.proc.poll() is None
        # Once the crowd leaves, new clients get in.
        for s in idle:
            s.close()
        idle.clear()
        assert client(server.endpoint).list_streams(Limit=1)["StreamNames"]
    finally:
        for s in idle:
            s.close()
        server.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
