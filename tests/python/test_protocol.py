"""What AWS answers before an operation runs, by Content-Type, body and X-Amz-Target, in AWS's order (the body
before the target, both before the signature); `x-amz-id-2` on every answer; CORS as Kinesis's endpoints do it
(preflight and cross-origin answers). Requests are sent raw, exactly as written here."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Callable

import cbor2

from conftest import JSON_CONTENT_TYPE, TARGET_PREFIX, raw_request

CBOR = "application/x-amz-cbor-1.1"
LIST_STREAMS = TARGET_PREFIX + "ListStreams"
CREATE_STREAM = TARGET_PREFIX + "CreateStream"
ACCESS_DENIED = (
    b"<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n"
    b"</AccessDeniedException>\n"
)
EXPOSED = "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date"


def post(endpoint: str, body: bytes = b"", content_type: str | None = None, target: str | None = None, **extra):
    headers = dict(extra)
    if content_type is not None:
        headers["Content-Type"] = content_type
    if target is not None:
        headers["X-Amz-Target"] = target
    return raw_request(endpoint, "POST", "/", body, headers)


def cbor_error(r) -> dict:
    assert r.headers["content-type"] == CBOR, r
    return cbor2.loads(r.body)


def test_an_empty_body_is_judged_by_its_target_in_cbor_unless_exactly_json(endpoint):
    r = post(endpoint, b"", JSON_CONTENT_TYPE, LIST_STREAMS)
    assert (r.status, r.json()) == (400, {"__type": "SerializationException"})
    r = post(endpoint, b"", JSON_CONTENT_TYPE, TARGET_PREFIX + "Nothing")
    assert (r.status, r.json()) == (400, {"__type": "UnknownOperationException"})
    for content_type in (None, "application/json", CBOR, "application/x-amz-json-1.0", "text/plain"):
        r = post(endpoint, b"", content_type, LIST_STREAMS)
        assert (r.status, cbor_error(r)) == (400, {"__type": "SerializationException"}), content_type
        r = post(endpoint, b"", content_type, "Whatever.Whatever")
        assert (r.status, cbor_error(r)) == (400, {"__type": "UnknownOperationException"}), content_type
        r = post(endpoint, b"", content_type)
        assert (r.status, cbor_error(r)) == (400, {"__type": "UnknownOperationException"}), content_type


def test_application_json_gets_the_coral_envelope_and_never_runs(endpoint, kinesis):
    body = json.dumps({"StreamName": "never", "ShardCount": 1}).encode()
    r = post(endpoint, body, "application/json", CREATE_STREAM)
    assert r.status == 404
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"Output": {"__type": "com.amazon.coral.service#UnknownOperationException"}, "Version": "1.0"}
    assert kinesis.list_streams()["StreamNames"] == []
    r = post(endpoint, b"{not json", "application/json", CREATE_STREAM)
    assert r.status == 400
    assert r.json() == {"Output": {"__type": "com.amazon.coral.service#SerializationException"}, "Version": "1.0"}


def test_a_body_of_an_unknown_type_is_refused_by_its_target_in_xml(endpoint):
    for content_type in (None, "text/plain", "application/x-amz-json-1.0"):
        r = post(endpoint, b"{}", content_type, LIST_STREAMS)
        assert (r.status, r.body) == (404, b"<UnknownOperationException/>\n"), content_type
        assert "content-type" not in r.headers
        for target in (None, "Whatever", ".ListStreams", "Kinesis_20131202."):
            r = post(endpoint, b"{}", content_type, target)
            assert (r.status, r.body) == (403, ACCESS_DENIED), (content_type, target)


def test_the_body_is_judged_before_the_target(endpoint):
    for content_type, garbage, good in (
        (JSON_CONTENT_TYPE, b"{not json", b"{}"),
        (CBOR, b"\xbf\x61", cbor2.dumps({})),
    ):
        r = post(endpoint, garbage, content_type, "Whatever.Whatever")
        assert r.status == 400, content_type
        decoded = r.json() if content_type == JSON_CONTENT_TYPE else cbor2.loads(r.body)
        assert decoded == {"__type": "SerializationException"}
        r = post(endpoint, good, content_type, "Whatever.Whatever")
        decoded = r.json() if content_type == JSON_CONTENT_TYPE else cbor2.loads(r.body)
        assert (r.status, decoded) == (400, {"__type": "UnknownOperationException"})


def test_a_body_that_is_not_an_object_is_a_bare_serialization_error(endpoint):
    for body in (b"true", b'"x"', b"1", b"null"):
        r = post(endpoint, body, JSON_CONTENT_TYPE, LIST_STREAMS)
        assert (r.status, r.json()) == (400, {"__type": "SerializationException"}), body
    for value in (True, "x", 1):
        r = post(endpoint, cbor2.dumps(value), CBOR, LIST_STREAMS)
        assert (r.status, cbor2.loads(r.body)) == (400, {"__type": "SerializationException"}), value


def test_a_map_member_that_is_not_a_map_expects_a_map(endpoint):
    body = json.dumps({"StreamName": "s", "ShardCount": 1, "Tags": "23"}).encode()
    r = post(endpoint, body, JSON_CONTENT_TYPE, CREATE_STREAM)
    assert (r.status, r.json()) == (400, {"__type": "SerializationException", "Message": "Expected map or null"})


def test_an_unsigned_malformed_body_hears_about_the_body_first(start_shardline: Callable[..., str], tmp_path: Path):
    creds = tmp_path / "credentials.toml"
    creds.write_text('[[key]]\naccess_key_id = "AKIDA"\nsecret_access_key = "s"\naccount_id = "111111111111"\n')
    endpoint = start_shardline("--auth", "sigv4", "--credentials-file", str(creds))
    r = post(endpoint, b"{not json", JSON_CONTENT_TYPE, LIST_STREAMS)
    assert (r.status, r.json()) == (400, {"__type": "SerializationException"})
    r = post(endpoint, b"{}", JSON_CONTENT_TYPE, LIST_STREAMS)
    assert (r.status, r.json()["__type"]) == (400, "MissingAuthenticationTokenException")


def assert_extended_request_id(r) -> None:
    raw = base64.b64decode(r.headers["x-amz-id-2"], validate=True)
    assert 64 <= len(raw) <= 80, r.headers["x-amz-id-2"]


def test_every_answer_carries_x_amz_id_2(endpoint):
    answers = [
        post(endpoint, b"{}", JSON_CONTENT_TYPE, LIST_STREAMS),
        post(endpoint, b"", None, LIST_STREAMS),
        post(endpoint, b"{}", "text/plain", None),
        raw_request(endpoint, "GET", "/"),
        raw_request(endpoint, "GET", "/_shardline/health"),
    ]
    ids = set()
    for r in answers:
        assert_extended_request_id(r)
        ids.add(r.headers["x-amz-id-2"])
        assert r.headers["x-amzn-requestid"]
    assert len(ids) == len(answers)


def test_a_cors_preflight_is_allowed_with_what_it_asked_for(endpoint):
    asked = "content-type,x-amz-target,content-length,host,x-amz-user-agent,Authorization,x-amz-security-token"
    r = raw_request(
        endpoint,
        "OPTIONS",
        "/",
        headers={
            "Origin": "https://console.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": asked,
        },
    )
    assert (r.status, r.body) == (200, b"")
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["access-control-allow-headers"] == asked
    assert r.headers["access-control-allow-methods"] == "POST"
    assert r.headers["access-control-expose-headers"] == EXPOSED
    assert r.headers["access-control-max-age"] == "172800"
    assert "content-type" not in r.headers and "x-amz-id-2" not in r.headers
    assert r.headers["x-amzn-requestid"] and r.headers["date"]
    # Without the request headers, nothing is echoed.
    r = raw_request(endpoint, "OPTIONS", "/", headers={"Origin": "https://a.example"})
    assert r.status == 200 and "access-control-allow-headers" not in r.headers
    assert "access-control-allow-methods" not in r.headers
    # Without Origin, OPTIONS is just another method that is not POST.
    r = raw_request(endpoint, "OPTIONS", "/")
    assert (r.status, r.body) == (403, ACCESS_DENIED)


def test_cross_origin_answers_expose_aws_headers(endpoint):
    for r in (
        post(endpoint, b"{}", JSON_CONTENT_TYPE, LIST_STREAMS, Origin="https://console.example"),
        post(endpoint, b"", None, None, Origin="https://console.example"),
    ):
        assert r.headers["access-control-allow-origin"] == "*"
        assert r.headers["access-control-expose-headers"] == EXPOSED
        assert_extended_request_id(r)
    r = post(endpoint, b"{}", JSON_CONTENT_TYPE, LIST_STREAMS)
    assert "access-control-allow-origin" not in r.headers
