"""A full disk: the data directory lives on a small tmpfs this test mounts (skipped where the machine does not allow
mounting). Writes fail with an error SDKs retry, reads and read-only control-plane calls go on, writes resume once
space is freed with no restart, and a restart afterwards recovers every acknowledged record."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import create_stream, make_client

MiB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(path: Path, leave_bytes: int) -> Path:
    """Fills the filesystem of `path` but for about `leave_bytes`, with one file."""
    st = os.statvfs(path)
    free = st.f_bavail * st.f_frsize
    filler = path / "filler"
    with open(filler, "wb") as f:
        chunk = b"\0" * MiB
        for _ in range(max(0, (free - leave_bytes) // MiB)):
            f.write(chunk)
    return filler


def put_until_refused(k, stream: str, acked: list[bytes], limit: int = 400) -> dict:
    """PutRecord 256 KiB records until one is refused; returns the refusal."""
    for i in range(limit):
        data = f"{len(acked):06d}".encode() + os.urandom(256 * 1024)
        try:
            k.put_record(StreamName=stream, Data=data, PartitionKey="k")
        except ClientError as e:
            return e.response
        acked.append(data)
    raise AssertionError(f"{limit} writes went through on a full disk")


def read_all(k, stream: str) -> list[bytes]:
    it = k.get_shard_iterator(StreamName=stream, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")
    it = it["ShardIterator"]
    out = []
    for _ in range(1000):
        page = k.get_records(ShardIterator=it, Limit=20)
        out.extend(r["Data"] for r in page["Records"])
        if not page["Records"]:
            return out
        it = page["NextShardIterator"]
    raise AssertionError("the shard never ended")


def test_a_full_disk_fails_writes_cleanly_and_they_resume(small_disk: Path, restartable_shardline):
    restartable_shardline.data_dir = small_disk / "data"
    endpoint = restartable_shardline.start()
    k = make_client(endpoint)
    create_stream(k, "full", 1)
    acked: list[bytes] = []
    for _ in range(4):
        k.put_record(StreamName="full", Data=b"%06d" % len(acked), PartitionKey="k")
        acked.append(b"%06d" % len(acked))
    filler = fill(small_disk, 4 * MiB)

    refused = put_until_refused(k, "full", acked)
    # An error SDKs retry: a 5xx (InternalFailure) or a throttling one.
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 500 or refused["Error"]["Code"].endswith(
        "ThroughputExceededException"
    ), refused
    assert len(acked) > 4, "some writes went through before the disk was full"
    # Reads and read-only control-plane calls go on. (A refused write may still turn up later:
    # an error promises nothing either way, as with AWS; acknowledged ones are all there, in order.)
    assert [g for g in read_all(k, "full") if g in set(acked)] == acked
    assert k.describe_stream_summary(StreamName="full")["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
    assert k.list_shards(StreamName="full")["Shards"]
    # Space comes back: writes resume on the same server.
    filler.unlink()
    for _ in range(3):
        data = b"after %06d" % len(acked)
        k.put_record(StreamName="full", Data=data, PartitionKey="k")
        acked.append(data)
    got = read_all(k, "full")
    assert [g for g in got if g in set(acked)] == acked, "an acknowledged record is missing or out of order"
    # A restart recovers everything acknowledged.
    restartable_shardline.stop()
    k = make_client(restartable_shardline.start())
    got = read_all(k, "full")
    assert [g for g in got if g in set(acked)] == acked
