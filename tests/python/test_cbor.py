"""AWS-CBOR 1.1 (`application/x-amz-cbor-1.1`), the way the Java SDKs v1/v2 (and so the KCL) talk to Kinesis:
`POST /` routed by `X-Amz-Target`, one CBOR map with the JSON member names as text keys, blobs as byte
strings, timestamps as tag 1 + an integer count of epoch *milliseconds* (the Java SDKs send and expect them so).

Requests are built with cbor2 and, where the Java SDK's Jackson generator differs from cbor2, by hand:
Jackson opens maps and arrays with indefinite length (0xBF ... 0xFF, 0x9F ... 0xFF). Responses are decoded
with tag 1 kept as a `CBORTag` (cbor2 would otherwise read it as epoch *seconds* and fail on millis).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
from typing import Any, NamedTuple

import cbor2
import pytest
from cbor2 import CBORTag

from conftest import JSON_CONTENT_TYPE, RawResponse, raw_call

CBOR_CONTENT_TYPE = "application/x-amz-cbor-1.1"
MAX_HASH_KEY = 2**128 - 1
SHARD0 = "shardId-000000000000"


# --- encoding ------------------------------------------------------------------------------------------


class Millis(int):
    """A timestamp member in a protocol-neutral request: epoch milliseconds.

    CBOR writes it as tag 1 + integer (the Java SDK's `SdkCborGenerator.writeValue(Instant)`); JSON as epoch
    seconds with a decimal fraction (the Java SDK v2's JSON form).
    """


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def jackson(value: Any) -> bytes:
    """CBOR as Jackson's CBORGenerator writes it inside the Java SDK: indefinite-length maps and arrays
    (written by hand, 0xBF/0x9F ... 0xFF), definite strings, smallest-width integers, timestamps as
    0xC1 + integer millis, blobs as byte strings."""
    if isinstance(value, dict):
        return b"\xbf" + b"".join(jackson(k) + jackson(v) for k, v in value.items()) + b"\xff"
    if isinstance(value, list):
        return b"\x9f" + b"".join(jackson(v) for v in value) + b"\xff"
    if isinstance(value, Millis):
        return cbor2.dumps(CBORTag(1, int(value)))
    return cbor2.dumps(value)


def definite(value: Any) -> bytes:
    """The same request with definite-length containers (cbor2's own encoding)."""

    def conv(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, Millis):
            return CBORTag(1, int(v))
        return v

    return cbor2.dumps(conv(value))


def to_json(value: Any) -> bytes:
    """The same request in JSON 1.1: blobs base64, timestamps epoch seconds with an exact millisecond fraction
    (as the Java SDK v2 writes them, e.g. 1459799926.480)."""
    def conv(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, (bytes, bytearray)):
            return base64.b64encode(v).decode()
        if isinstance(v, Millis):
            # repr() of a float is the shortest text that reads back to it: 1459799926480 -> 1459799926.48.
            return int(v) / 1000
        return v

    return json.dumps(conv(value)).encode()


# --- decoding ------------------------------------------------------------------------------------------


def loads(body: bytes) -> Any:
    """CBOR → Python, keeping tag 1 as CBORTag(1, n) (AWS-CBOR puts milliseconds there, not RFC seconds)."""
    return cbor2.loads(body, semantic_decoders={1: lambda value, _immutable: CBORTag(1, value)})


def millis_of(value: Any) -> int:
    """A CBOR response timestamp: tag 1 + integer, or a plain integer (kinesis-mock's form); never a float."""
    if isinstance(value, CBORTag):
        assert value.tag == 1, value
        value = value.value
    assert isinstance(value, int) and not isinstance(value, bool), f"timestamp {value!r} is not an integer"
    return value


def assert_recent_millis(value: Any, slack_ms: int = 10_000) -> int:
    """An integer of epoch milliseconds within `slack_ms` of now (a seconds count would be ~1000x too small)."""
    ms = millis_of(value)
    assert abs(ms - now_ms()) <= slack_ms, f"timestamp {ms} is not epoch milliseconds near {now_ms()}"
    return ms


class CborResponse(NamedTuple):
    status: int
    headers: dict[str, str]
    body: Any  # decoded CBOR, None for an empty body
    raw: bytes


def cbor_call(endpoint: str, operation: str, body: Any, encode=jackson) -> CborResponse:
    """POST / with `application/x-amz-cbor-1.1`; `body` is a request (encoded with `encode`) or raw bytes."""
    data = body if isinstance(body, (bytes, bytearray)) else encode(body)
    r: RawResponse = raw_call(endpoint, operation, bytes(data), content_type=CBOR_CONTENT_TYPE)
    assert r.headers.get("content-type", "").startswith(CBOR_CONTENT_TYPE), (operation, r.headers, r.body[:200])
    return CborResponse(r.status, r.headers, loads(r.body) if r.body else None, r.body)


def cbor_ok(endpoint: str, operation: str, body: Any, encode=jackson) -> Any:
    r = cbor_call(endpoint, operation, body, encode)
    assert r.status == 200, (operation, r.status, r.body)
    return r.body


def json_ok(endpoint: str, operation: str, body: Any) -> Any:
    r = raw_call(endpoint, operation, to_json(body))
    assert r.status == 200, (operation, r.status, r.body[:500])
    assert r.headers["content-type"].startswith(JSON_CONTENT_TYPE)
    return r.json() if r.body else None


def create_stream_cbor(endpoint: str, name: str, shards: int) -> None:
    """CreateStream (definite-length map, as cbor2 writes it) and wait, bounded, for ACTIVE."""
    r = cbor_call(endpoint, "CreateStream", {"StreamName": name, "ShardCount": shards}, encode=definite)
    assert r.status == 200, r
    assert r.body in (None, {}), r  # no output shape: an empty body (or an empty map)
    deadline = time.monotonic() + 10
    while True:
        summary = cbor_ok(endpoint, "DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return
        assert time.monotonic() < deadline, summary
        time.sleep(0.02)


def shard_iterator(endpoint: str, request: dict) -> str:
    return cbor_ok(endpoint, "GetShardIterator", request)["ShardIterator"]


def read_all_cbor(endpoint: str, iterator: str, limit: int | None = None, max_calls: int = 20) -> list[dict]:
    """GetRecords in CBOR until a call returns nothing (bounded)."""
    records: list[dict] = []
    for _ in range(max_calls):
        req: dict = {"ShardIterator": iterator}
        if limit:
            req["Limit"] = limit
        page = cbor_ok(endpoint, "GetRecords", req)
        records.extend(page["Records"])
        iterator = page.get("NextShardIterator")
        if not page["Records"] or not iterator:
            return records
    raise AssertionError(f"still reading after {max_calls} GetRecords calls")


# --- control plane -------------------------------------------------------------------------------------


def test_create_and_describe_stream_in_cbor(endpoint):
    before = now_ms()
    create_stream_cbor(endpoint, "cbor-stream", 2)
    r = cbor_call(endpoint, "DescribeStreamSummary", {"StreamName": "cbor-stream"})
    assert r.status == 200
    assert r.raw[0] >> 5 == 5, "a CBOR map"
    summary = r.body["StreamDescriptionSummary"]
    assert summary["StreamName"] == "cbor-stream"
    assert summary["OpenShardCount"] == 2
    assert summary["StreamARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/cbor-stream"
    created = assert_recent_millis(summary["StreamCreationTimestamp"])
    assert before - 1000 <= created <= now_ms() + 1000
    # Integers are CBOR integers, not text or floats.
    assert isinstance(summary["RetentionPeriodHours"], int)
    assert r.headers.get("x-amzn-requestid")

    names = cbor_ok(endpoint, "ListStreams", {})["StreamNames"]
    assert names == ["cbor-stream"]
    # The empty map written indefinitely (0xBF 0xFF), as Jackson writes `{}`.
    assert cbor_ok(endpoint, "ListStreams", b"\xbf\xff")["StreamNames"] == ["cbor-stream"]


# --- data plane ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("encode", [jackson, definite], ids=["indefinite-map", "definite-map"])
def test_put_record_with_a_byte_string_blob(endpoint, encode):
    create_stream_cbor(endpoint, "s", 1)
    data = bytes(range(256)) + b"\x00\xff"
    wire = encode({"StreamName": "s", "Data": data, "PartitionKey": "pk-1"})
    if encode is jackson:
        assert wire[0] == 0xBF and wire[-1] == 0xFF
    # The blob is a CBOR byte string (major type 2), not base64 text.
    assert b"\x59\x01\x02" + data in wire
    out = cbor_ok(endpoint, "PutRecord", wire)
    assert out["ShardId"] == SHARD0
    assert isinstance(out["SequenceNumber"], str) and out["SequenceNumber"].isdigit()

    records = read_all_cbor(endpoint, shard_iterator(
        endpoint, {"StreamName": "s", "ShardId": SHARD0, "ShardIteratorType": "TRIM_HORIZON"}))
    assert [(r["Data"], r["PartitionKey"], r["SequenceNumber"]) for r in records] == [
        (data, "pk-1", out["SequenceNumber"])
    ]
    assert type(records[0]["Data"]) is bytes


def test_put_records_with_an_indefinite_array_and_read_back(endpoint):
    create_stream_cbor(endpoint, "multi", 2)
    entries = [
        {"Data": b"\x00\x01\x02", "PartitionKey": "alpha"},
        {"Data": b"", "PartitionKey": "empty-data"},
        {"Data": "héllo wörld".encode(), "PartitionKey": "unicode-ключ"},
        {"Data": bytes(5000), "PartitionKey": "big", "ExplicitHashKey": str(MAX_HASH_KEY)},
        {"Data": b"zero", "PartitionKey": "zero", "ExplicitHashKey": "0"},
        {"Data": b"\xff" * 30, "PartitionKey": "omega"},
    ]
    wire = jackson({"StreamName": "multi", "Records": entries})
    assert b"Records\x9f\xbf" in wire, "an indefinite array of indefinite maps"
    t0 = now_ms()
    out = cbor_ok(endpoint, "PutRecords", wire)
    assert out["FailedRecordCount"] == 0
    assert len(out["Records"]) == len(entries)

    # Routing: MD5 of the partition key, unless an ExplicitHashKey is given.
    shards = cbor_ok(endpoint, "ListShards", {"StreamName": "multi"})["Shards"]
    ranges = {s["ShardId"]: (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
              for s in shards}
    expected: dict[str, list[tuple[bytes, str, str]]] = {sid: [] for sid in ranges}
    for entry, res in zip(entries, out["Records"]):
        assert "ErrorCode" not in res, res
        key = int(entry["ExplicitHashKey"]) if "ExplicitHashKey" in entry else int.from_bytes(
            hashlib.md5(entry["PartitionKey"].encode()).digest(), "big")
        lo, hi = ranges[res["ShardId"]]
        assert lo <= key <= hi, (entry["PartitionKey"], res)
        expected[res["ShardId"]].append((entry["Data"], entry["PartitionKey"], res["SequenceNumber"]))

    for shard_id, want in expected.items():
        it = shard_iterator(endpoint, {"StreamName": "multi", "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"})
        got = read_all_cbor(endpoint, it)
        assert [(g["Data"], g["PartitionKey"], g["SequenceNumber"]) for g in got] == want, shard_id
        for g in got:
            assert type(g["Data"]) is bytes
            arrival = assert_recent_millis(g["ApproximateArrivalTimestamp"])
            assert t0 - 1000 <= arrival <= now_ms() + 1000


def test_get_records_response_is_cbor_with_millisecond_timestamps(endpoint):
    create_stream_cbor(endpoint, "gr", 1)
    cbor_ok(endpoint, "PutRecord", {"StreamName": "gr", "Data": b"\x80\x81 not utf-8 \xfe", "PartitionKey": "k"})
    it = shard_iterator(endpoint, {"StreamName": "gr", "ShardId": SHARD0, "ShardIteratorType": "TRIM_HORIZON"})
    r = cbor_call(endpoint, "GetRecords", {"ShardIterator": it, "Limit": 10})
    assert r.status == 200
    assert r.headers["content-type"].startswith(CBOR_CONTENT_TYPE)
    assert r.raw[0] >> 5 == 5, "the body is a CBOR map (definite 0xA_ or indefinite 0xBF)"
    (record,) = r.body["Records"]
    assert type(record["Data"]) is bytes and record["Data"] == b"\x80\x81 not utf-8 \xfe"
    ts = record["ApproximateArrivalTimestamp"]
    assert not isinstance(ts, float), f"ApproximateArrivalTimestamp {ts!r} is a float"
    assert_recent_millis(ts, slack_ms=5_000)
    assert isinstance(r.body["MillisBehindLatest"], int)
    assert isinstance(r.body["NextShardIterator"], str)


@pytest.mark.parametrize("form", ["tag1-int", "untagged-int", "tag1-float64"])
def test_get_shard_iterator_at_timestamp_in_milliseconds(endpoint, form):
    """AT_TIMESTAMP with tag-1 millis: a timestamp one millisecond after record A's arrival skips A only.
    (Read as seconds, the value would lie ~50,000 years in the future and be refused.)"""
    create_stream_cbor(endpoint, "ts", 1)
    cbor_ok(endpoint, "PutRecord", {"StreamName": "ts", "Data": b"A", "PartitionKey": "k"})
    time.sleep(0.02)
    cbor_ok(endpoint, "PutRecord", {"StreamName": "ts", "Data": b"B", "PartitionKey": "k"})
    it = shard_iterator(endpoint, {"StreamName": "ts", "ShardId": SHARD0, "ShardIteratorType": "TRIM_HORIZON"})
    a, b = read_all_cbor(endpoint, it)
    a_ms, b_ms = millis_of(a["ApproximateArrivalTimestamp"]), millis_of(b["ApproximateArrivalTimestamp"])
    assert b_ms > a_ms, (a_ms, b_ms)

    def at(ms: int) -> list[bytes]:
        ts: Any = {"tag1-int": Millis(ms), "untagged-int": ms, "tag1-float64": CBORTag(1, float(ms))}[form]
        req = {"StreamName": "ts", "ShardId": SHARD0, "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": ts}
        return [r["Data"] for r in read_all_cbor(endpoint, shard_iterator(endpoint, req))]

    assert at(a_ms - 60_000) == [b"A", b"B"]
    assert at(a_ms) == [b"A", b"B"]
    assert at(a_ms + 1) == [b"B"]
    assert at(b_ms) == [b"B"]
    assert at(b_ms + 1) == []


def test_get_shard_iterator_at_timestamp_in_the_future_names_millis(endpoint):
    create_stream_cbor(endpoint, "future", 1)
    future = now_ms() + 3_600_000
    r = cbor_call(endpoint, "GetShardIterator", {"StreamName": "future", "ShardId": SHARD0,
                                                 "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": Millis(future)})
    assert r.status == 400, r
    assert r.body["__type"] == "InvalidArgumentException"
    assert f"timestampInMillis: {future}," in r.body["message"], r.body


def test_list_shards_with_a_timestamp_shard_filter(endpoint):
    create_stream_cbor(endpoint, "split", 1)
    time.sleep(0.05)
    before_split = now_ms()
    time.sleep(0.05)
    r = cbor_call(endpoint, "SplitShard", {"StreamName": "split", "ShardToSplit": SHARD0,
                                           "NewStartingHashKey": str(2**127)})
    assert r.status == 200, r
    deadline = time.monotonic() + 10
    while cbor_ok(endpoint, "DescribeStreamSummary", {"StreamName": "split"})[
            "StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.05)
    after_split = now_ms()

    def ids(filter_type: str, ms: int) -> list[str]:
        out = cbor_ok(endpoint, "ListShards", {"StreamName": "split",
                                               "ShardFilter": {"Type": filter_type, "Timestamp": Millis(ms)}})
        return [s["ShardId"] for s in out["Shards"]]

    children = ["shardId-000000000001", "shardId-000000000002"]
    assert ids("AT_TIMESTAMP", before_split) == [SHARD0]
    assert ids("AT_TIMESTAMP", after_split) == children
    assert ids("FROM_TIMESTAMP", before_split) == [SHARD0, *children]
    assert ids("FROM_TIMESTAMP", after_split) == children
    # Definite-length encoding, same answer.
    out = cbor_ok(endpoint, "ListShards", {"StreamName": "split", "ShardFilter": {
        "Type": "AT_TIMESTAMP", "Timestamp": Millis(before_split)}}, encode=definite)
    assert [s["ShardId"] for s in out["Shards"]] == [SHARD0]
    # The same filter in JSON (epoch seconds) agrees.
    out = json_ok(endpoint, "ListShards", {"StreamName": "split", "ShardFilter": {
        "Type": "AT_TIMESTAMP", "Timestamp": Millis(before_split)}})
    assert [s["ShardId"] for s in out["Shards"]] == [SHARD0]


def test_chunked_strings_and_float_widths(endpoint):
    """CBOR also allows indefinite-length (chunked) text and byte strings and every float width; Jackson does
    not write them, but a decoder must not trip on them."""
    create_stream_cbor(endpoint, "chunks", 1)

    def text(s: str) -> bytes:
        return cbor2.dumps(s)

    wire = (b"\xbf" + b"\x7f" + text("Stream") + text("") + text("Name") + b"\xff" + b"\x7f" + text("chu") + text("nks")
            + b"\xff" + text("Data") + b"\x5f" + cbor2.dumps(b"\x00\x01") + cbor2.dumps(b"\x02") + b"\xff"
            + text("PartitionKey") + text("k") + b"\xff")
    out = cbor_ok(endpoint, "PutRecord", wire)
    assert out["ShardId"] == SHARD0
    it = shard_iterator(endpoint, {"StreamName": "chunks", "ShardId": SHARD0, "ShardIteratorType": "TRIM_HORIZON"})
    (record,) = read_all_cbor(endpoint, it)
    assert record["Data"] == b"\x00\x01\x02"
    # Limit as a float is a type error (an Integer member), in AWS's words; 1.0 as float16 here.
    r = cbor_call(endpoint, "GetRecords", b"\xbf" + text("ShardIterator") + text(it) + text("Limit") + b"\xf9\x3c\x00"
                  + b"\xff")
    assert r.status == 400 and r.body["__type"] == "SerializationException", r


# --- errors --------------------------------------------------------------------------------------------


def test_error_is_a_cbor_map_with_type_and_message(endpoint):
    r = cbor_call(endpoint, "DescribeStream", {"StreamName": "missing"})
    assert r.status == 400
    assert r.headers["content-type"].startswith(CBOR_CONTENT_TYPE)
    assert r.raw[0] >> 5 == 5, "a CBOR map"
    assert r.body == {
        "__type": "ResourceNotFoundException",
        "message": "Stream missing under account 000000000000 not found.",
    }
    assert r.headers.get("x-amzn-requestid")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"\xbf\x6aStreamName", id="truncated-indefinite-map"),
        pytest.param(b"\xa1\x6aStreamName", id="map-missing-value"),
        pytest.param(b"\xff", id="lone-break"),
        pytest.param(b"\x1c", id="reserved-additional-info"),
        pytest.param(b"\xa0\x00", id="trailing-bytes"),
        pytest.param(b"\x5a\xff\xff\xff\xff", id="byte-string-longer-than-body"),
        pytest.param(b'{"StreamName": "s"}', id="json-body"),
        pytest.param(b"", id="empty"),
    ],
)
def test_malformed_cbor_is_a_serialization_exception_in_cbor(endpoint, body):
    r = cbor_call(endpoint, "DescribeStream", body)
    assert r.status == 400, r
    assert r.headers["content-type"].startswith(CBOR_CONTENT_TYPE)
    assert isinstance(r.body, dict) and r.body["__type"] == "SerializationException", r.body


def test_wrong_member_type_is_a_serialization_exception(endpoint):
    create_stream_cbor(endpoint, "typed", 1)
    # Data as a text string (the JSON habit of base64 text) where a byte string is required.
    r = cbor_call(endpoint, "PutRecord", {"StreamName": "typed", "Data": "aGVsbG8=", "PartitionKey": "k"})
    assert r.status == 400, r
    assert r.body["__type"] == "SerializationException", r.body
    # A map where the StreamName text is expected.
    r = cbor_call(endpoint, "DescribeStream", {"StreamName": {"nested": 1}})
    assert r.status == 400, r
    assert r.body["__type"] == "SerializationException", r.body


# --- JSON and CBOR agree -------------------------------------------------------------------------------

ITERATIONS = 50
PROP_SHARDS = 3
KEY_ALPHABET = "abcXYZ019-_. é日本🦀/"


def random_entry(rng: random.Random) -> dict:
    length = rng.choice([0, 1, 7, 64, rng.randrange(0, 2000)])
    entry: dict = {
        "Data": rng.randbytes(length),
        "PartitionKey": "".join(rng.choice(KEY_ALPHABET) for _ in range(rng.randint(1, 40))),
    }
    if rng.random() < 0.25:
        entry["ExplicitHashKey"] = str(rng.choice([0, MAX_HASH_KEY, rng.randrange(MAX_HASH_KEY + 1)]))
    return entry


def normalize_json_records(out: dict) -> list[tuple]:
    return [(base64.b64decode(r["Data"]), r["PartitionKey"], r["SequenceNumber"],
             round(r["ApproximateArrivalTimestamp"] * 1000), r.get("EncryptionType")) for r in out["Records"]]


def normalize_cbor_records(out: dict) -> list[tuple]:
    return [(r["Data"], r["PartitionKey"], r["SequenceNumber"],
             millis_of(r["ApproximateArrivalTimestamp"]), r.get("EncryptionType")) for r in out["Records"]]


def test_json_and_cbor_requests_give_equivalent_results(endpoint):
    """~50 random PutRecords batches, each sent in JSON to one stream and in CBOR to a twin stream: same shard
    for every entry. Then one random GetShardIterator request, sent in JSON and in CBOR: the records read
    (each through GetRecords in its own protocol) are the same, byte for byte and millisecond for millisecond."""
    rng = random.Random(20131202)
    json_ok(endpoint, "CreateStream", {"StreamName": "twin-json", "ShardCount": PROP_SHARDS})
    create_stream_cbor(endpoint, "twin-cbor", PROP_SHARDS)
    assert (json_ok(endpoint, "ListShards", {"StreamName": "twin-json"})["Shards"]
            == cbor_ok(endpoint, "ListShards", {"StreamName": "twin-cbor"})["Shards"])

    for i in range(ITERATIONS):
        entries = [random_entry(rng) for _ in range(rng.randint(1, 12))]
        put_json = json_ok(endpoint, "PutRecords", {"StreamName": "twin-json", "Records": entries})
        put_cbor = cbor_ok(endpoint, "PutRecords", {"StreamName": "twin-cbor", "Records": entries},
                           encode=rng.choice([jackson, definite]))
        ctx = f"iteration {i}: {entries!r:.400}"
        assert put_json["FailedRecordCount"] == put_cbor["FailedRecordCount"] == 0, ctx
        assert [r["ShardId"] for r in put_json["Records"]] == [r["ShardId"] for r in put_cbor["Records"]], ctx
        for r in put_json["Records"] + put_cbor["Records"]:
            assert "ErrorCode" not in r, (ctx, r)

        k = rng.randrange(len(entries))
        shard_id = put_cbor["Records"][k]["ShardId"]
        seq_cbor = put_cbor["Records"][k]["SequenceNumber"]
        seq_json = put_json["Records"][k]["SequenceNumber"]
        kind = rng.choice(["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "AT_TIMESTAMP"])
        request: dict = {"StreamName": "twin-cbor", "ShardId": shard_id, "ShardIteratorType": kind}
        if kind.endswith("SEQUENCE_NUMBER"):
            request["StartingSequenceNumber"] = seq_cbor
        if kind == "AT_TIMESTAMP":
            request["Timestamp"] = Millis(now_ms() - rng.randrange(0, 200))
        ctx += f"; {request}"

        it_json = json_ok(endpoint, "GetShardIterator", request)["ShardIterator"]
        it_cbor = cbor_ok(endpoint, "GetShardIterator", request)["ShardIterator"]
        got_json = json_ok(endpoint, "GetRecords", {"ShardIterator": it_json})
        got_cbor = cbor_ok(endpoint, "GetRecords", {"ShardIterator": it_cbor})
        assert normalize_json_records(got_json) == normalize_cbor_records(got_cbor), ctx
        assert got_json["MillisBehindLatest"] == got_cbor["MillisBehindLatest"], ctx
        # An iterator is an opaque string: one issued in CBOR reads the same through JSON.
        assert normalize_json_records(json_ok(endpoint, "GetRecords", {"ShardIterator": it_cbor})) == \
            normalize_cbor_records(got_cbor), ctx

        if kind.endswith("SEQUENCE_NUMBER"):
            # What the batch itself says should come back, from either twin.
            start = k if kind == "AT_SEQUENCE_NUMBER" else k + 1
            want = [(e["Data"], e["PartitionKey"]) for e, r in zip(entries[start:], put_cbor["Records"][start:])
                    if r["ShardId"] == shard_id]
            assert [(d, pk) for d, pk, *_ in normalize_cbor_records(got_cbor)] == want, ctx
            twin = dict(request, StreamName="twin-json", StartingSequenceNumber=seq_json)
            twin_it = json_ok(endpoint, "GetShardIterator", twin)["ShardIterator"]
            twin_got = json_ok(endpoint, "GetRecords", {"ShardIterator": twin_it})
            assert [(d, pk) for d, pk, *_ in normalize_json_records(twin_got)] == want, ctx


def test_a_list_where_a_structure_belongs_is_refused_in_both_protocols(endpoint):
    create_stream_cbor(endpoint, "lists", 1)
    r = cbor_call(endpoint, "PutRecords", {"StreamName": "lists", "Records": [[b"x", None, "pk"]]})
    assert r.status == 400 and r.body == {"__type": "SerializationException",
                                          "Message": "Start of list found where not expected"}, r
    r = raw_call(endpoint, "PutRecords", b'{"StreamName": "lists", "Records": [["eA==", null, "pk"]]}')
    assert (r.status, r.json()) == (400, {"__type": "SerializationException",
                                          "Message": "Start of list found where not expected"}), r
    r = raw_call(endpoint, "DescribeStreamSummary", b'["lists", null]')
    assert r.status == 400 and r.json()["__type"] == "SerializationException", r
