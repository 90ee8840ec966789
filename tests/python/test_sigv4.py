"""Authentication: `shardline serve --auth sigv4 --credentials-file PATH`, through boto3 and through requests
signed by hand with botocore's SigV4Auth. Each key acts as its account: accounts see only their own streams,
and another account's stream is reachable by ARN only where that stream's resource policy allows the action.
Also: without `--auth` any request is accepted, and a non-loopback address needs `--auth` or
`--allow-anonymous`."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Callable
from unittest import mock

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import JSON_CONTENT_TYPE, REGION, TARGET_PREFIX, RawResponse, raw_call, raw_request, shardline_bin

KEY_A = ("AKIDA", "secretA", "111111111111")
KEY_B = ("AKIDB", "secretB", "222222222222")
CREDENTIALS_TOML = """\
[[key]]
access_key_id = "AKIDA"
secret_access_key = "secretA"
account_id = "111111111111"

[[key]]
access_key_id = "AKIDB"
secret_access_key = "secretB"
account_id = "222222222222"
"""
SIGNATURE_MISMATCH = "The request signature we calculated does not match the signature you provided"
SHARD0 = "shardId-000000000000"


def arn(account: str, stream: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{account}:stream/{stream}"


@pytest.fixture
def auth_endpoint(start_shardline: Callable[..., str], tmp_path: Path) -> str:
    """A server requiring SigV4 with keys AKIDA (account 111111111111) and AKIDB (222222222222)."""
    path = tmp_path / "credentials.toml"
    path.write_text(CREDENTIALS_TOML)
    return start_shardline("--auth", "sigv4", "--credentials-file", str(path))


def client(endpoint: str, access_key: str, secret: str):
    config = Config(
        region_name=REGION,
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=30,
    )
    return boto3.session.Session().client(
        "kinesis",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=config,
    )


def client_for(endpoint: str, key: tuple[str, str, str]):
    return client(endpoint, key[0], key[1])


def client_error(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response


def assert_error(response: dict, code: str, status: int = 400) -> str:
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (code, status), response
    return response["Error"]["Message"]


def wait_active(kinesis, name: str, timeout_s: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return summary
        assert time.monotonic() < deadline, summary
        time.sleep(0.05)


def sign(endpoint: str, operation: str, body: bytes, access_key: str, secret: str,
         at: dt.datetime | None = None, content_type: str = JSON_CONTENT_TYPE) -> dict[str, str]:
    """The headers botocore's SigV4Auth puts on `POST /` with this body (at time `at`, UTC, if given)."""
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"Content-Type": content_type, "X-Amz-Target": TARGET_PREFIX + operation},
    )
    signer = SigV4Auth(Credentials(access_key, secret), "kinesis", REGION)
    if at is None:
        signer.add_auth(request)
    else:
        # botocore reads the clock through botocore.auth.get_current_datetime (naive UTC).
        with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
            signer.add_auth(request)
    return dict(request.headers.items())


def send(endpoint: str, body: bytes, headers: dict[str, str]) -> RawResponse:
    """Sends the bytes as they are with http.client (Host is added as 127.0.0.1:<port>, as botocore signed it)."""
    return raw_request(endpoint, body=body, headers=headers)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# --- without --auth ------------------------------------------------------------------------------------


def test_without_auth_any_request_is_accepted(endpoint):
    # No Authorization at all.
    r = raw_call(endpoint, "ListStreams", b"{}")
    assert r.status == 200, r
    # A key no file lists, and a signature that cannot be right.
    headers = sign(endpoint, "ListStreams", b"{}", "AKIDNOBODY", "whatever")
    headers["Authorization"] = headers["Authorization"][:-8] + "00000000"
    r = send(endpoint, b"{}", headers)
    assert r.status == 200, r


# --- the right key -------------------------------------------------------------------------------------


def test_right_key_works(auth_endpoint):
    a = client_for(auth_endpoint, KEY_A)
    a.create_stream(StreamName="mine", ShardCount=1)
    summary = wait_active(a, "mine")
    assert summary["StreamARN"] == arn("111111111111", "mine")
    put = a.put_record(StreamName="mine", Data=b"signed", PartitionKey="k")
    assert put["ShardId"] == SHARD0
    it = a.get_shard_iterator(StreamName="mine", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = a.get_records(ShardIterator=it)["Records"]
    assert [(r["Data"], r["SequenceNumber"]) for r in records] == [(b"signed", put["SequenceNumber"])]
    assert a.list_streams()["StreamNames"] == ["mine"]
    assert [s["ShardId"] for s in a.list_shards(StreamName="mine")["Shards"]] == [SHARD0]
    # By ARN too.
    assert a.describe_stream(StreamARN=summary["StreamARN"])["StreamDescription"]["StreamName"] == "mine"


def test_hand_signed_request_is_accepted(auth_endpoint):
    """The control for the tampering tests below: the same helper, untampered, gets a 200."""
    body = b'{"StreamName": "hand", "ShardCount": 1}'
    r = send(auth_endpoint, body, sign(auth_endpoint, "CreateStream", body, *KEY_A[:2]))
    assert r.status == 200, r
    body = b"{}"
    r = send(auth_endpoint, body, sign(auth_endpoint, "ListStreams", body, *KEY_A[:2]))
    assert r.status == 200, r
    assert r.json()["StreamNames"] == ["hand"]


def test_signed_cbor_request_as_the_java_sdk_sends_it(auth_endpoint):
    """Java SDK v1/v2 sign AWS-CBOR bodies the same way; a tampered CBOR body is refused likewise."""
    cbor2 = pytest.importorskip("cbor2")
    cbor = "application/x-amz-cbor-1.1"
    client_for(auth_endpoint, KEY_A).create_stream(StreamName="c", ShardCount=1)
    body = b"\xbf" + b"".join(cbor2.dumps(x) for x in ("StreamName", "c", "Data", b"\x00bin\xff", "PartitionKey", "k")) \
        + b"\xff"
    r = send(auth_endpoint, body, sign(auth_endpoint, "PutRecord", body, *KEY_A[:2], content_type=cbor))
    assert r.status == 200, r
    assert r.headers["content-type"].startswith(cbor)
    assert cbor2.loads(r.body)["ShardId"] == SHARD0

    tampered = body.replace(b"\x00bin\xff", b"\x00bin\xfe")
    r = send(auth_endpoint, tampered, sign(auth_endpoint, "PutRecord", body, *KEY_A[:2], content_type=cbor))
    assert r.status == 400, r
    assert r.headers["content-type"].startswith(cbor)
    err = cbor2.loads(r.body)
    assert err["__type"] == "InvalidSignatureException" and err["message"].startswith(SIGNATURE_MISMATCH), err


# --- refusals ------------------------------------------------------------------------------------------


def test_wrong_secret_is_an_invalid_signature(auth_endpoint):
    bad = client(auth_endpoint, "AKIDA", "not-secretA")
    response = client_error(bad.list_streams)
    message = assert_error(response, "InvalidSignatureException")
    assert message.startswith(SIGNATURE_MISMATCH), message
    # B's secret with A's key id is just as wrong.
    response = client_error(client(auth_endpoint, "AKIDA", "secretB").list_streams)
    assert assert_error(response, "InvalidSignatureException").startswith(SIGNATURE_MISMATCH)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda b: b.replace(b'"tampered"', b'"tampereD"'), id="one-byte-changed"),
        pytest.param(lambda b: b + b" ", id="byte-appended"),
        pytest.param(lambda b: b[:-1] + b', "ShardCount": 2}', id="member-added"),
    ],
)
def test_tampered_body_is_an_invalid_signature(auth_endpoint, tamper):
    body = b'{"StreamName": "tampered", "ShardCount": 1}'
    headers = sign(auth_endpoint, "CreateStream", body, *KEY_A[:2])
    changed = tamper(body)
    assert changed != body
    r = send(auth_endpoint, changed, headers)
    assert r.status == 400, r
    err = r.json()
    assert err["__type"] == "InvalidSignatureException", err
    assert err["message"].startswith(SIGNATURE_MISMATCH), err
    # Nothing was created.
    assert client_for(auth_endpoint, KEY_A).list_streams()["StreamNames"] == []


def test_tampered_target_is_an_invalid_signature(auth_endpoint):
    headers = sign(auth_endpoint, "ListStreams", b"{}", *KEY_A[:2])
    headers["X-Amz-Target"] = TARGET_PREFIX + "DescribeLimits"
    r = send(auth_endpoint, b"{}", headers)
    assert r.status == 400, r
    assert r.json()["__type"] == "InvalidSignatureException"


def test_old_date_is_signature_expired(auth_endpoint):
    body = b"{}"
    headers = sign(auth_endpoint, "ListStreams", body, *KEY_A[:2], at=utcnow() - dt.timedelta(minutes=20))
    r = send(auth_endpoint, body, headers)
    assert r.status == 400, r
    err = r.json()
    assert err["__type"] == "InvalidSignatureException", err
    assert err["message"].startswith("Signature expired"), err
    assert headers["X-Amz-Date"] in err["message"], err


def test_old_date_through_boto3_is_signature_expired(auth_endpoint):
    a = client_for(auth_endpoint, KEY_A)
    past = (utcnow() - dt.timedelta(minutes=20)).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        response = client_error(a.list_streams)
    message = assert_error(response, "InvalidSignatureException")
    assert message.startswith("Signature expired"), message
    # The same client with the real clock is fine.
    assert a.list_streams()["StreamNames"] == []


def test_future_date_is_signature_not_yet_current(auth_endpoint):
    body = b"{}"
    headers = sign(auth_endpoint, "ListStreams", body, *KEY_A[:2], at=utcnow() + dt.timedelta(minutes=20))
    r = send(auth_endpoint, body, headers)
    assert r.status == 400, r
    err = r.json()
    assert err["__type"] == "InvalidSignatureException", err
    assert err["message"].startswith("Signature not yet current"), err


def test_unknown_access_key_is_an_unrecognized_client(auth_endpoint):
    response = client_error(client(auth_endpoint, "AKIDNOBODY", "secretA").list_streams)
    message = assert_error(response, "UnrecognizedClientException")
    assert message == "The security token included in the request is invalid."


def test_no_authorization_is_a_missing_authentication_token(auth_endpoint):
    r = raw_call(auth_endpoint, "ListStreams", b"{}")
    assert r.status == 400, r
    assert r.headers["content-type"].startswith(JSON_CONTENT_TYPE)
    assert r.json() == {"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"}
    # Even for a stream that exists, and for a write.
    client_for(auth_endpoint, KEY_A).create_stream(StreamName="s", ShardCount=1)
    r = raw_call(auth_endpoint, "PutRecord", b'{"StreamName": "s", "Data": "eA==", "PartitionKey": "k"}')
    assert r.status == 400
    assert r.json()["__type"] == "MissingAuthenticationTokenException"


def test_no_authorization_in_cbor_is_answered_in_cbor(auth_endpoint):
    cbor2 = pytest.importorskip("cbor2")
    r = raw_call(auth_endpoint, "ListStreams", b"\xbf\xff", content_type="application/x-amz-cbor-1.1")
    assert r.status == 400, r
    assert r.headers["content-type"].startswith("application/x-amz-cbor-1.1")
    assert cbor2.loads(r.body) == {"__type": "MissingAuthenticationTokenException",
                                   "message": "Missing Authentication Token"}


def test_refusals_leave_no_trace(auth_endpoint):
    """A refused CreateStream/PutRecord changes nothing the right key can see."""
    a = client_for(auth_endpoint, KEY_A)
    a.create_stream(StreamName="quiet", ShardCount=1)
    wait_active(a, "quiet")
    for bad in (client(auth_endpoint, "AKIDA", "wrong"), client(auth_endpoint, "AKIDNOBODY", "x")):
        with pytest.raises(ClientError):
            bad.create_stream(StreamName="intruder", ShardCount=1)
        with pytest.raises(ClientError):
            bad.put_record(StreamName="quiet", Data=b"x", PartitionKey="k")
    assert a.list_streams()["StreamNames"] == ["quiet"]
    it = a.get_shard_iterator(StreamName="quiet", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert a.get_records(ShardIterator=it)["Records"] == []


# --- accounts ------------------------------------------------------------------------------------------


def test_accounts_do_not_see_each_others_streams(auth_endpoint):
    a = client_for(auth_endpoint, KEY_A)
    b = client_for(auth_endpoint, KEY_B)
    a.create_stream(StreamName="a-stream", ShardCount=1)
    a_summary = wait_active(a, "a-stream")
    assert a_summary["StreamARN"] == arn("111111111111", "a-stream")

    assert b.list_streams()["StreamNames"] == []
    message = assert_error(client_error(b.describe_stream, StreamName="a-stream"), "ResourceNotFoundException")
    assert "222222222222" in message, message
    assert_error(client_error(b.describe_stream, StreamARN=arn("111111111111", "a-stream")), "AccessDeniedException")
    assert_error(client_error(b.put_record, StreamName="a-stream", Data=b"x", PartitionKey="k"),
                 "ResourceNotFoundException")

    # B may use the same name for its own stream; its ARN carries B's account.
    b.create_stream(StreamName="a-stream", ShardCount=2)
    b_summary = wait_active(b, "a-stream")
    assert b_summary["StreamARN"] == arn("222222222222", "a-stream")
    assert b_summary["OpenShardCount"] == 2
    assert [s["StreamARN"] for s in b.list_streams()["StreamSummaries"]] == [arn("222222222222", "a-stream")]
    assert b.describe_stream(StreamName="a-stream")["StreamDescription"]["StreamARN"] == arn("222222222222", "a-stream")
    # A's stream is untouched.
    assert a.describe_stream_summary(StreamName="a-stream")["StreamDescriptionSummary"]["OpenShardCount"] == 1
    assert a.list_streams()["StreamNames"] == ["a-stream"]

    # Records stay in their own account's stream.
    a.put_record(StreamName="a-stream", Data=b"from A", PartitionKey="k")
    b.put_record(StreamName="a-stream", Data=b"from B", PartitionKey="k",
                 ExplicitHashKey="0")
    it = a.get_shard_iterator(StreamName="a-stream", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in a.get_records(ShardIterator=it)["Records"]] == [b"from A"]
    # An iterator of A's stream is no pass for B.
    assert_error(client_error(b.get_records, ShardIterator=it), "AccessDeniedException")


def test_resource_policy_grants_one_action_to_another_account(auth_endpoint):
    a = client_for(auth_endpoint, KEY_A)
    b = client_for(auth_endpoint, KEY_B)
    a.create_stream(StreamName="shared", ShardCount=1)
    stream_arn = wait_active(a, "shared")["StreamARN"]
    assert stream_arn == arn("111111111111", "shared")

    # Before the policy: nothing.
    assert_error(client_error(b.describe_stream_summary, StreamARN=stream_arn), "AccessDeniedException")

    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "summary-for-b",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
            "Action": "kinesis:DescribeStreamSummary",
            "Resource": stream_arn,
        }],
    }
    a.put_resource_policy(ResourceARN=stream_arn, Policy=json.dumps(policy))
    assert json.loads(a.get_resource_policy(ResourceARN=stream_arn)["Policy"]) == policy

    summary = b.describe_stream_summary(StreamARN=stream_arn)["StreamDescriptionSummary"]
    assert (summary["StreamName"], summary["StreamARN"]) == ("shared", stream_arn)
    assert summary["OpenShardCount"] == 1

    assert_error(client_error(b.put_record, StreamARN=stream_arn, Data=b"x", PartitionKey="k"), "AccessDeniedException")
    assert_error(client_error(b.list_shards, StreamARN=stream_arn), "AccessDeniedException")
    assert_error(client_error(b.describe_stream, StreamARN=stream_arn), "AccessDeniedException")
    assert_error(client_error(b.get_shard_iterator, StreamARN=stream_arn, ShardId=SHARD0,
                              ShardIteratorType="TRIM_HORIZON"), "AccessDeniedException")
    assert_error(client_error(b.put_resource_policy, ResourceARN=stream_arn, Policy=json.dumps(policy)),
                 "AccessDeniedException")
    # By name B still finds nothing, and A's stream stays out of B's list.
    assert_error(client_error(b.describe_stream_summary, StreamName="shared"), "ResourceNotFoundException")
    assert b.list_streams()["StreamNames"] == []

    # The refused put left nothing behind.
    it = a.get_shard_iterator(StreamName="shared", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert a.get_records(ShardIterator=it)["Records"] == []

    # Once A deletes the policy, B is out again.
    a.delete_resource_policy(ResourceARN=stream_arn)
    assert_error(client_error(b.describe_stream_summary, StreamARN=stream_arn), "AccessDeniedException")


# --- startup -------------------------------------------------------------------------------------------


def run_serve_expecting_exit(tmp_path: Path, *args: str, timeout_s: float = 5.0) -> subprocess.CompletedProcess:
    """Runs `shardline serve ARGS`, which must exit on its own within `timeout_s` (killed and failed otherwise)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDLINE_")}
    env["RUST_BACKTRACE"] = "0"
    proc = subprocess.Popen([str(shardline_bin()), "serve", *args], cwd=tmp_path, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=5)
        pytest.fail(f"`serve {' '.join(args)}` still running after {timeout_s}s\nstdout: {out}\nstderr: {err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_non_loopback_without_auth_is_refused(tmp_path):
    done = run_serve_expecting_exit(tmp_path, "--host", "0.0.0.0", "--port", "0", "--in-memory")
    assert done.returncode != 0, done
    assert "--allow-anonymous" in done.stderr + done.stdout, done
    assert "listening on" not in done.stdout, done


def test_sigv4_without_credentials_file_is_refused(tmp_path):
    done = run_serve_expecting_exit(tmp_path, "--port", "0", "--in-memory", "--auth", "sigv4")
    assert done.returncode != 0, done
    assert "--credentials-file" in done.stderr, done


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="missing-file"),
        pytest.param("[[key]]\naccess_key_id = \"AKIDA\"\nsecret_access_key = \"s\"\n", id="no-account"),
        pytest.param("[[key]]\naccess_key_id = \"AKIDA\"\nsecret_access_key = \"s\"\naccount_id = \"12\"\n",
                     id="short-account"),
        pytest.param("", id="no-keys"),
    ],
)
def test_bad_credentials_file_is_refused(tmp_path, content):
    path = tmp_path / "creds.toml"
    if content is not None:
        path.write_text(content)
    done = run_serve_expecting_exit(tmp_path, "--port", "0", "--in-memory", "--auth", "sigv4",
                                    "--credentials-file", str(path))
    assert done.returncode != 0, done
    assert str(path) in done.stderr, done
