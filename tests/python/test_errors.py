"""AWS's errors for bad input, through boto3 and raw HTTP: error code, HTTP status 400 and, where AWS's
text is known, the message. Plus one PutRecords/GetRecords round trip over four shards."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, JSON_CONTENT_TYPE, TARGET_PREFIX, create_stream, make_client, raw_call, raw_request

TWO_128 = 2**128


def client_error(call, **kwargs) -> dict:
    """Runs a boto3 call that must fail; returns botocore's parsed response."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response


def assert_error(response: dict, code: str, message: str | None = None, status: int = 400) -> str:
    error = response["Error"]
    meta = response["ResponseMetadata"]
    assert (error["Code"], meta["HTTPStatusCode"]) == (code, status), response
    assert_aws_headers(meta["HTTPHeaders"])
    if message is not None:
        assert error["Message"] == message
    return error["Message"]


def assert_aws_headers(headers: dict[str, str]) -> None:
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers.get("x-amzn-requestid"), headers
    assert headers.get("date"), headers
    # An HTTP-date, which SDKs use for clock-skew correction.
    dt.datetime.strptime(headers["date"], "%a, %d %b %Y %H:%M:%S GMT")


# --- protocol-level errors (raw HTTP) ---------------------------------------------------------------


def test_malformed_json_is_a_bare_serialization_exception(endpoint):
    r = raw_call(endpoint, "ListStreams", "{bad")
    assert r.status == 400
    assert r.json() == {"__type": "SerializationException"}
    assert r.headers["content-type"].startswith(JSON_CONTENT_TYPE)
    assert_aws_headers(r.headers)


def test_empty_body_is_a_serialization_exception(endpoint):
    r = raw_call(endpoint, "ListStreams", b"")
    assert r.status == 400
    assert r.json() == {"__type": "SerializationException"}
    assert_aws_headers(r.headers)


@pytest.mark.parametrize("target", [TARGET_PREFIX + "NoSuchOperation", "DynamoDB_20120810.ListTables", None])
def test_unknown_or_missing_target_is_an_unknown_operation(endpoint, target):
    headers = {"Content-Type": JSON_CONTENT_TYPE}
    if target:
        headers["X-Amz-Target"] = target
    r = raw_request(endpoint, body=b"{}", headers=headers)
    assert r.status == 400
    assert r.json() == {"__type": "UnknownOperationException"}
    assert_aws_headers(r.headers)


def test_unknown_target_wins_over_an_empty_body(endpoint):
    r = raw_call(endpoint, "NoSuchOperation", b"")
    assert r.status == 400
    assert r.json() == {"__type": "UnknownOperationException"}


def test_get_is_forbidden(endpoint):
    r = raw_request(endpoint, method="GET", path="/")
    assert r.status == 403
    assert b"<AccessDeniedException>" in r.body
    assert b"Unable to determine service/operation name to be authorized" in r.body
    assert_aws_headers(r.headers)


def test_bad_base64_is_a_serialization_exception_with_capital_message(endpoint, kinesis):
    create_stream(kinesis, "b64", 1)
    r = raw_call(endpoint, "PutRecord", '{"StreamName":"b64","Data":"%%%","PartitionKey":"a"}')
    assert r.status == 400
    body = r.json()
    assert body["__type"] == "SerializationException"
    assert "message" not in body
    assert body["Message"].startswith("'%%%' can not be converted to a Blob")
    assert_aws_headers(r.headers)
    # Nothing was written.
    it = kinesis.get_shard_iterator(StreamName="b64", ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=it)["Records"] == []


def test_wrong_json_type_is_a_serialization_exception(endpoint):
    r = raw_call(endpoint, "DescribeStream", '{"StreamName": 5}')
    assert r.status == 400
    assert r.json() == {
        "__type": "SerializationException",
        "Message": "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String",
    }


# --- missing streams --------------------------------------------------------------------------------


def test_missing_stream_on_put_record(kinesis):
    r = client_error(kinesis.put_record, StreamName="nope", Data=b"x", PartitionKey="a")
    assert_error(r, "ResourceNotFoundException", f"Stream nope under account {ACCOUNT} not found.")


def test_missing_stream_on_put_records(kinesis):
    r = client_error(kinesis.put_records, StreamName="nope", Records=[{"Data": b"x", "PartitionKey": "a"}])
    assert_error(r, "ResourceNotFoundException", f"Stream nope under account {ACCOUNT} not found.")


def test_missing_stream_on_describe_stream(kinesis):
    r = client_error(kinesis.describe_stream, StreamName="nope")
    assert_error(r, "ResourceNotFoundException", f"Stream nope under account {ACCOUNT} not found.")


def test_missing_stream_on_get_shard_iterator(kinesis):
    r = client_error(kinesis.get_shard_iterator, StreamName="nope", ShardId="shardId-000000000000",
                     ShardIteratorType="TRIM_HORIZON")
    assert_error(r, "ResourceNotFoundException",
                 f"Shard shardId-000000000000 in stream nope under account {ACCOUNT} does not exist")


def test_missing_shard_on_get_shard_iterator(kinesis):
    create_stream(kinesis, "one", 1)
    r = client_error(kinesis.get_shard_iterator, StreamName="one", ShardId="shardId-000000000001",
                     ShardIteratorType="TRIM_HORIZON")
    assert_error(r, "ResourceNotFoundException",
                 f"Shard shardId-000000000001 in stream one under account {ACCOUNT} does not exist")


# --- iterators --------------------------------------------------------------------------------------


@pytest.mark.parametrize("iterator", [
    "AAAA" * 32,
    base64.b64encode(hashlib.sha512(b"not an iterator").digest() * 3).decode(),
])
def test_invalid_shard_iterator(kinesis, iterator):
    r = client_error(kinesis.get_records, ShardIterator=iterator)
    assert_error(r, "InvalidArgumentException", "Invalid ShardIterator.")


def test_at_sequence_number_without_a_sequence_number(kinesis):
    create_stream(kinesis, "seq", 1)
    for kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        r = client_error(kinesis.get_shard_iterator, StreamName="seq", ShardId="shardId-000000000000",
                         ShardIteratorType=kind)
        assert_error(
            r, "InvalidArgumentException",
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or "
            "(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
            f"Request specified {kind} and no StartingSequenceNumber.",
        )


def test_trim_horizon_with_a_sequence_number(kinesis):
    create_stream(kinesis, "seq", 1)
    seq = kinesis.put_record(StreamName="seq", Data=b"x", PartitionKey="a")["SequenceNumber"]
    r = client_error(kinesis.get_shard_iterator, StreamName="seq", ShardId="shardId-000000000000",
                     ShardIteratorType="TRIM_HORIZON", StartingSequenceNumber=seq)
    assert_error(
        r, "InvalidArgumentException",
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or "
        "(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
        "Request specified TRIM_HORIZON and also a StartingSequenceNumber.",
    )


def test_sequence_number_from_another_shard(kinesis):
    create_stream(kinesis, "two", 2)
    put = kinesis.put_record(StreamName="two", Data=b"x", PartitionKey="a", ExplicitHashKey=str(2**127))
    assert put["ShardId"] == "shardId-000000000001"
    r = client_error(kinesis.get_shard_iterator, StreamName="two", ShardId="shardId-000000000000",
                     ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=put["SequenceNumber"])
    assert_error(
        r, "InvalidArgumentException",
        "Invalid StartingSequenceNumber. It encodes shardId-000000000001, "
        "while it was used in a call to a shard with shardId-000000000000",
    )
    # The same number on its own shard is fine and reads the record.
    it = kinesis.get_shard_iterator(StreamName="two", ShardId="shardId-000000000001",
                                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=put["SequenceNumber"])["ShardIterator"]
    got = kinesis.get_records(ShardIterator=it)["Records"]
    assert [(g["SequenceNumber"], g["Data"]) for g in got] == [(put["SequenceNumber"], b"x")]


def from_hex(hex_digits: str) -> str:
    return str(int(hex_digits, 16))


def test_sequence_numbers_of_every_layout_are_read_as_aws_reads_them(kinesis_raw):
    kinesis = kinesis_raw
    create_stream(kinesis, "seqs", 1)
    shard0 = "shardId-000000000000"

    def iterator_error(seq: str) -> dict:
        return client_error(kinesis.get_shard_iterator, StreamName="seqs", ShardId=shard0,
                            ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=seq)

    # A small number is AWS's oldest layout: it names shard 5 ...
    assert_error(iterator_error("5"), "InvalidArgumentException",
                 "Invalid StartingSequenceNumber. It encodes shardId-000000000005, while it was used in a call to a "
                 "shard with shardId-000000000000")
    # ... and one naming this very shard makes AWS fail inside.
    assert_error(iterator_error("0"), "InternalFailureException", status=500)
    # A shard index with its top bit set is printed signed, as AWS prints it.
    negative = from_hex("2" + "0" * 37 + "800000002")
    assert_error(iterator_error(negative), "InvalidArgumentException",
                 "Invalid StartingSequenceNumber. It encodes shardId--02147483648, while it was used in a call to a "
                 "shard with shardId-000000000000")
    # Out of the layout's range, or a version 2 with its position's top bit set: invalid.
    for bad in ("3" + "0" * 45 + "2", "2" + "0" * 10 + "8" + "0" * 34 + "2"):
        assert_error(iterator_error(from_hex(bad)), "InvalidArgumentException",
                     f"StartingSequenceNumber {from_hex(bad)} used in GetShardIterator on shard {shard0} in stream "
                     f"seqs under account {ACCOUNT} is invalid.")
    # SequenceNumberForOrdering: versions 1 and 2 are accepted whatever shard they name; others are not.
    for good in ("2" + "0" * 45 + "1", "2" + "0" * 45 + "2", "2" + "0" * 37 + "800000002"):
        kinesis.put_record(StreamName="seqs", Data=b"x", PartitionKey="k", SequenceNumberForOrdering=from_hex(good))
    for bad in ("2" + "0" * 46, "2" + "0" * 45 + "3", "1" + "0" * 45 + "2"):
        assert_error(
            client_error(kinesis.put_record, StreamName="seqs", Data=b"x", PartitionKey="k",
                         SequenceNumberForOrdering=from_hex(bad)),
            "InvalidArgumentException",
            f"ExclusiveMinimumSequenceNumber {from_hex(bad)} used in PutRecord on stream seqs under account "
            f"{ACCOUNT} is invalid.",
        )


def test_at_timestamp_in_the_future(kinesis):
    create_stream(kinesis, "ts", 1)
    future = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(hours=1)
    before_ms = int(time.time() * 1000)
    r = client_error(kinesis.get_shard_iterator, StreamName="ts", ShardId="shardId-000000000000",
                     ShardIteratorType="AT_TIMESTAMP", Timestamp=future)
    after_ms = int(time.time() * 1000)
    message = assert_error(r, "InvalidArgumentException")
    m = re.fullmatch(
        r"The timestampInMillis parameter cannot be greater than the currentTimestampInMillis\. "
        r"timestampInMillis: (\d+), currentTimestampInMillis: (\d+)",
        message,
    )
    assert m, message
    assert int(m.group(1)) == int(future.timestamp() * 1000)
    assert before_ms - 1000 <= int(m.group(2)) <= after_ms + 1000


def test_at_timestamp_without_a_timestamp(kinesis):
    create_stream(kinesis, "ts", 1)
    r = client_error(kinesis.get_shard_iterator, StreamName="ts", ShardId="shardId-000000000000",
                     ShardIteratorType="AT_TIMESTAMP")
    assert_error(r, "InvalidArgumentException",
                 "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                 "Current request has no timestamp parameter.")


# --- record limits ----------------------------------------------------------------------------------


def test_put_records_with_501_records(kinesis_raw):
    create_stream(kinesis_raw, "big", 1)
    records = [{"Data": b"x", "PartitionKey": str(i)} for i in range(501)]
    r = client_error(kinesis_raw.put_records, StreamName="big", Records=records)
    message = assert_error(r, "ValidationException")
    assert message.startswith("1 validation error detected: Value '"), message
    assert message.endswith(
        "' at 'records' failed to satisfy constraint: Member must have length less than or equal to 500"), message


def test_put_records_with_no_records(kinesis_raw):
    create_stream(kinesis_raw, "big", 1)
    r = client_error(kinesis_raw.put_records, StreamName="big", Records=[])
    message = assert_error(r, "ValidationException")
    assert message.endswith(
        "' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1"), message


def test_oversize_record(kinesis):
    create_stream(kinesis, "big", 1)
    r = client_error(kinesis.put_record, StreamName="big", Data=b"\0" * (1024 * 1024 + 1), PartitionKey="a")
    assert_error(
        r, "ValidationException",
        "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' "
        "failed to satisfy constraint: Member must have length less than or equal to 1048576",
    )


def test_oversize_record_in_put_records(kinesis):
    create_stream(kinesis, "big", 1)
    records = [{"Data": b"ok", "PartitionKey": "a"}, {"Data": b"\0" * (1024 * 1024 + 1), "PartitionKey": "a"}]
    r = client_error(kinesis.put_records, StreamName="big", Records=records)
    message = assert_error(r, "ValidationException")
    assert "java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]" in message
    assert "at 'records.2.member.data'" in message
    assert "Member must have length less than or equal to 1048576" in message


def test_record_of_exactly_one_mib_with_its_key_is_accepted(kinesis):
    create_stream(kinesis, "big", 1)
    data = bytes(range(256)) * (1024 * 4 - 1) + b"y" * 255  # 1 MiB minus the 1-byte key
    assert len(data) + 1 == 1024 * 1024
    put = kinesis.put_record(StreamName="big", Data=data, PartitionKey="k")
    it = kinesis.get_shard_iterator(StreamName="big", ShardId="shardId-000000000000",
                                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=put["SequenceNumber"])["ShardIterator"]
    got = kinesis.get_records(ShardIterator=it, Limit=1)["Records"]
    assert len(got) == 1 and got[0]["Data"] == data


def test_partition_key_of_257_characters(kinesis):
    create_stream(kinesis, "pk", 1)
    key = "k" * 257
    r = client_error(kinesis.put_record, StreamName="pk", Data=b"x", PartitionKey=key)
    assert_error(
        r, "ValidationException",
        f"1 validation error detected: Value '{key}' at 'partitionKey' failed to satisfy constraint: "
        "Member must have length less than or equal to 256",
    )
    # 256 is the limit, not past it.
    assert kinesis.put_record(StreamName="pk", Data=b"x", PartitionKey="k" * 256)["ShardId"]


def test_explicit_hash_key_of_two_to_the_128(kinesis):
    create_stream(kinesis, "ehk", 2)
    r = client_error(kinesis.put_record, StreamName="ehk", Data=b"x", PartitionKey="a",
                     ExplicitHashKey=str(TWO_128))
    assert_error(
        r, "InvalidArgumentException",
        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
        "Specified value was 340282366920938463463374607431768211456",
    )
    put = kinesis.put_record(StreamName="ehk", Data=b"x", PartitionKey="a", ExplicitHashKey=str(TWO_128 - 1))
    assert put["ShardId"] == "shardId-000000000001"


# --- control plane ----------------------------------------------------------------------------------


def test_create_existing_stream(kinesis):
    create_stream(kinesis, "x", 1)
    r = client_error(kinesis.create_stream, StreamName="x", ShardCount=1)
    assert_error(r, "ResourceInUseException", f"Stream x under account {ACCOUNT} already exists.")


def test_list_shards_with_next_token_and_stream_name(kinesis):
    create_stream(kinesis, "ls", 2)
    page = kinesis.list_shards(StreamName="ls", MaxResults=1)
    assert [s["ShardId"] for s in page["Shards"]] == ["shardId-000000000000"]
    token = page["NextToken"]
    r = client_error(kinesis.list_shards, StreamName="ls", NextToken=token)
    assert_error(r, "InvalidArgumentException", "NextToken and StreamName cannot be provided together.")
    # The token alone goes on where the first page stopped.
    rest = kinesis.list_shards(NextToken=token)
    assert [s["ShardId"] for s in rest["Shards"]] == ["shardId-000000000001"]


def test_list_shards_with_neither_next_token_nor_stream_name(kinesis):
    r = client_error(kinesis.list_shards)
    assert_error(r, "InvalidArgumentException", "Either NextToken or StreamName should be provided.")


# --- ValidationException formats ---------------------------------------------------------------------


def test_empty_stream_name_gives_two_validation_errors(kinesis_raw):
    r = client_error(kinesis_raw.describe_stream, StreamName="")
    assert_error(
        r, "ValidationException",
        "2 validation errors detected: "
        "Value '' at 'streamName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
        "Value '' at 'streamName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
    )


def test_stream_name_pattern_and_length(kinesis_raw):
    r = client_error(kinesis_raw.create_stream, StreamName="bad name!", ShardCount=1)
    assert_error(
        r, "ValidationException",
        "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    )
    long_name = "s" * 129
    r = client_error(kinesis_raw.create_stream, StreamName=long_name, ShardCount=1)
    assert_error(
        r, "ValidationException",
        f"1 validation error detected: Value '{long_name}' at 'streamName' failed to satisfy constraint: "
        "Member must have length less than or equal to 128",
    )


def test_shard_count_below_one(kinesis_raw):
    r = client_error(kinesis_raw.create_stream, StreamName="zero", ShardCount=0)
    assert_error(
        r, "ValidationException",
        "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    )


def test_missing_partition_key_in_put_records(kinesis_raw):
    create_stream(kinesis_raw, "nulls", 1)
    r = client_error(kinesis_raw.put_records, StreamName="nulls",
                     Records=[{"Data": b"a", "PartitionKey": "a"}, {"Data": b"b"}])
    assert_error(
        r, "ValidationException",
        "1 validation error detected: Value null at 'records.2.member.partitionKey' failed to satisfy "
        "constraint: Member must not be null",
    )


def test_unknown_shard_iterator_type(kinesis_raw):
    create_stream(kinesis_raw, "enum", 1)
    r = client_error(kinesis_raw.get_shard_iterator, StreamName="enum", ShardId="shardId-000000000000",
                     ShardIteratorType="SOMEWHERE")
    message = assert_error(r, "ValidationException")
    assert message.startswith(
        "1 validation error detected: Value 'SOMEWHERE' at 'shardIteratorType' failed to satisfy constraint: "
        "Member must satisfy enum value set: ["), message
    for kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"):
        assert kind in message


# --- headers on success -----------------------------------------------------------------------------


def test_success_responses_carry_request_id_and_date(endpoint, kinesis):
    out = kinesis.list_streams()
    assert_aws_headers(out["ResponseMetadata"]["HTTPHeaders"])
    assert out["ResponseMetadata"]["RequestId"]
    r = raw_call(endpoint, "ListStreams", "{}")
    assert r.status == 200
    assert r.headers["content-type"].startswith(JSON_CONTENT_TYPE)
    assert_aws_headers(r.headers)
    # Each response has its own request id.
    assert kinesis.list_streams()["ResponseMetadata"]["RequestId"] != out["ResponseMetadata"]["RequestId"]


# --- happy path: 500 records over four shards --------------------------------------------------------


def test_put_records_500_over_four_shards_and_read_back(kinesis):
    create_stream(kinesis, "four", 4)
    records = [
        {"Data": f"record {i} ".encode() + bytes([i % 256]) * (i % 50), "PartitionKey": f"pk-{i}"}
        for i in range(500)
    ]
    out = kinesis.put_records(StreamName="four", Records=records)
    assert out["FailedRecordCount"] == 0
    assert len(out["Records"]) == 500
    assert_aws_headers(out["ResponseMetadata"]["HTTPHeaders"])

    shards = kinesis.list_shards(StreamName="four")["Shards"]
    assert len(shards) == 4
    ranges = {s["ShardId"]: (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
              for s in shards}

    expected: dict[str, list[tuple[str, bytes, str]]] = {s["ShardId"]: [] for s in shards}
    for rec, res in zip(records, out["Records"]):
        assert "ErrorCode" not in res
        hash_key = int.from_bytes(hashlib.md5(rec["PartitionKey"].encode()).digest(), "big")
        lo, hi = ranges[res["ShardId"]]
        assert lo <= hash_key <= hi, f"{rec['PartitionKey']} routed outside {res['ShardId']}"
        expected[res["ShardId"]].append((rec["PartitionKey"], rec["Data"], res["SequenceNumber"]))
    assert all(expected.values()), "500 keys left a shard empty"

    for shard_id, want in expected.items():
        it = kinesis.get_shard_iterator(StreamName="four", ShardId=shard_id,
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = []
        for _ in range(50):
            page = kinesis.get_records(ShardIterator=it, Limit=64)
            got.extend(page["Records"])
            it = page["NextShardIterator"]
            if len(got) >= len(want) and not page["Records"]:
                break
        else:
            raise AssertionError(f"{shard_id}: read {len(got)} of {len(want)} records in 50 calls")
        assert [(g["PartitionKey"], g["Data"], g["SequenceNumber"]) for g in got] == want, shard_id
        seqs = [int(g["SequenceNumber"]) for g in got]
        assert seqs == sorted(set(seqs)), f"{shard_id}: sequence numbers not strictly increasing"
        assert page["MillisBehindLatest"] == 0


# --- iterator expiry, with the test clock --------------------------------------------------------------


def test_expired_iterator(start_shardline):
    endpoint = start_shardline("--test-clock")
    kinesis = make_client(endpoint)
    create_stream(kinesis, "old", 1)
    kinesis.put_record(StreamName="old", Data=b"x", PartitionKey="a")
    it = kinesis.get_shard_iterator(StreamName="old", ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    r = raw_request(endpoint, path="/_shardline/clock?advance_ms=300001")
    assert r.status == 200, r
    r = client_error(kinesis.get_records, ShardIterator=it)
    message = assert_error(r, "ExpiredIteratorException")
    java_date = r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d UTC \d{4}"
    assert re.fullmatch(
        rf"Iterator expired\. The iterator was created at time {java_date} while right now it is {java_date} "
        r"which is further in the future than the tolerated delay of 300000 milliseconds\.",
        message,
    ), message
    # A fresh iterator still reads the record.
    it = kinesis.get_shard_iterator(StreamName="old", ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [g["Data"] for g in kinesis.get_records(ShardIterator=it)["Records"]] == [b"x"]


def test_clock_endpoint_is_off_without_test_clock(endpoint):
    r = raw_request(endpoint, path="/_shardline/clock?advance_ms=1")
    assert r.status == 403
