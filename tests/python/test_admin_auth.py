"""shardline's own routes behind the same door as the API: with `--auth sigv4`, the fault rules and the test
clock need a request signed by a key marked `admin = true`; `/metrics` on the main port needs a signature and
shows an account only its own streams (an administrator all of them), while every account's metrics are served
unauthenticated on a loopback listener of their own; the health check stays open. `shardline faults` signs its
requests. Without authentication on loopback, nothing changes."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import REGION, raw_request, shardline_bin
from test_sigv4 import client

KEY_A = ("AKIDA", "secretA", "111111111111")
KEY_B = ("AKIDB", "secretB", "222222222222")
ADMIN = ("AKIDADMIN", "secretAdmin", "111111111111")
CREDENTIALS_TOML = """\
[[key]]
access_key_id = "AKIDA"
secret_access_key = "secretA"
account_id = "111111111111"

[[key]]
access_key_id = "AKIDB"
secret_access_key = "secretB"
account_id = "222222222222"

[[key]]
access_key_id = "AKIDADMIN"
secret_access_key = "secretAdmin"
account_id = "111111111111"
admin = true
"""
METRICS_LINE = re.compile(r"^shardline metrics on (http://127\.0\.0\.1:(\d+))/metrics\b", re.M)
# Every admin route, as (method, path, body).
ADMIN_ROUTES = [
    ("GET", "/_shardline/faults", b""),
    ("POST", "/_shardline/faults", b'{"error":"InternalFailureException","probability":1}'),
    ("DELETE", "/_shardline/faults/1", b""),
    ("DELETE", "/_shardline/faults", b""),
    ("POST", "/_shardline/clock?advance_ms=1", b""),
]


def signed(endpoint: str, method: str, path: str, body: bytes, key: tuple[str, str, str]):
    """One request to `path`, signed by `key` as a Kinesis client signs."""
    request = AWSRequest(method=method, url=endpoint + path, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key[0], key[1]), "kinesis", REGION).add_auth(request)
    return raw_request(endpoint, method, path, body, dict(request.headers.items()))


def error_type(r) -> str:
    return r.json()["__type"]


@pytest.fixture
def admin_server(start_shardline: Callable[..., str], tmp_path: Path):
    """A server requiring SigV4 (keys A and B, and an admin key of A's account); returns (endpoint, metrics URL)."""
    path = tmp_path / "credentials.toml"
    path.write_text(CREDENTIALS_TOML)
    endpoint = start_shardline("--auth", "sigv4", "--credentials-file", str(path), "--test-clock")
    stdout = (tmp_path / "server0" / "stdout.log").read_text()
    m = METRICS_LINE.search(stdout)
    assert m, stdout
    return endpoint, m.group(1)


def test_every_admin_route_needs_an_admin_signature(admin_server):
    endpoint, _ = admin_server
    for method, path, body in ADMIN_ROUTES:
        r = raw_request(endpoint, method, path, body, {"Content-Type": "application/json"})
        assert (r.status, error_type(r)) == (400, "MissingAuthenticationTokenException"), (method, path, r)
        r = signed(endpoint, method, path, body, KEY_A)
        assert (r.status, error_type(r)) == (400, "AccessDeniedException"), (method, path, r)
        assert "not authorized to perform: shardline:" in r.json()["message"]
        # A wrong secret for the admin key is a bad signature, not a way in.
        r = signed(endpoint, method, path, body, (ADMIN[0], "wrong", ADMIN[2]))
        assert (r.status, error_type(r)) == (400, "InvalidSignatureException"), (method, path, r)
    # Nothing was changed by the refused requests: no rule is in force.
    r = signed(endpoint, "GET", "/_shardline/faults", b"", ADMIN)
    assert r.status == 200 and r.body.strip() in (b"[]", b""), r
    # The admin key may do each of them.
    statuses = [signed(endpoint, m, p, b, ADMIN).status for m, p, b in ADMIN_ROUTES]
    assert statuses == [200, 200, 200, 200, 200], statuses


def test_an_unsigned_fault_rule_cannot_break_the_api(admin_server):
    endpoint, _ = admin_server
    r = raw_request(endpoint, "POST", "/_shardline/faults", ADMIN_ROUTES[1][2], {"Content-Type": "application/json"})
    assert r.status == 400
    # The API still answers normally for a signed client.
    assert client(endpoint, KEY_A[0], KEY_A[1]).list_streams()["StreamNames"] == []


def test_health_answers_anyone(admin_server):
    endpoint, metrics = admin_server
    for url in (endpoint, metrics):
        r = raw_request(url, "GET", "/_shardline/health")
        assert (r.status, r.body) == (200, b"ok\n")


def put_and_scrape_names(url: str, signer=None) -> set[str]:
    r = signer("GET", "/metrics") if signer else raw_request(url, "GET", "/metrics")
    assert r.status == 200, r
    text = r.body.decode()
    return set(re.findall(r'StreamName="([^"]+)"', text)), text


def test_metrics_on_the_main_port_show_an_account_only_its_own(admin_server):
    endpoint, metrics = admin_server
    for key, stream in ((KEY_A, "stream-of-a"), (KEY_B, "stream-of-b")):
        k = client(endpoint, key[0], key[1])
        k.create_stream(StreamName=stream, ShardCount=1)
        k.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
        k.put_record(StreamName=stream, Data=b"x", PartitionKey="p")

    r = raw_request(endpoint, "GET", "/metrics")
    assert (r.status, error_type(r)) == (400, "MissingAuthenticationTokenException")

    def as_key(key):
        return lambda method, path: signed(endpoint, method, path, b"", key)

    names, text = put_and_scrape_names(endpoint, as_key(KEY_A))
    assert names == {"stream-of-a"}, text
    assert 'AccountId="222222222222"' not in text and "process_" not in text
    names, _ = put_and_scrape_names(endpoint, as_key(KEY_B))
    assert names == {"stream-of-b"}
    names, text = put_and_scrape_names(endpoint, as_key(ADMIN))
    assert names == {"stream-of-a", "stream-of-b"} and "process_resident_memory_bytes" in text
    # The loopback metrics listener serves everything, unsigned, and nothing else.
    names, _ = put_and_scrape_names(metrics)
    assert names == {"stream-of-a", "stream-of-b"}
    assert raw_request(metrics, "POST", "/", b"{}", {"X-Amz-Target": "Kinesis_20131202.ListStreams"}).status == 404
    assert raw_request(metrics, "GET", "/_shardline/faults").status == 404


def free_port_pair() -> int:
    """A port P with P+1 free too (both checked by binding them)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    pytest.skip("no two adjacent free ports")


def start_raw(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(shardline_bin()), "serve", "--in-memory", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("SHARDLINE_")},
    )


def test_metrics_listener_binds_the_next_port_on_loopback_when_auth_is_on(tmp_path: Path):
    (tmp_path / "credentials.toml").write_text(CREDENTIALS_TOML)
    port = free_port_pair()
    proc = start_raw(tmp_path, "--port", str(port), "--auth", "sigv4", "--credentials-file", "credentials.toml")
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        assert lines[0].startswith(f"shardline listening on http://127.0.0.1:{port} "), lines
        assert any(line.startswith(f"shardline metrics on http://127.0.0.1:{port + 1}/metrics") for line in lines), lines
        r = raw_request(f"http://127.0.0.1:{port + 1}", "GET", "/metrics")
        assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_metrics_listen_flag_adds_a_listener_without_auth_too(start_shardline, tmp_path: Path):
    port = free_port_pair()
    endpoint = start_shardline("--metrics-listen", f"127.0.0.1:{port}")
    stdout = (tmp_path / "server0" / "stdout.log").read_text()
    assert f"shardline metrics on http://127.0.0.1:{port}/metrics" in stdout
    # Loopback without auth: the main port still serves them, unsigned, as before.
    assert raw_request(endpoint, "GET", "/metrics").status == 200
    assert raw_request(f"http://127.0.0.1:{port}", "GET", "/metrics").status == 200


def test_loopback_without_auth_is_unchanged(start_shardline, tmp_path: Path):
    endpoint = start_shardline("--test-clock")
    stdout = (tmp_path / "server0" / "stdout.log").read_text()
    assert "shardline metrics on" not in stdout
    assert raw_request(endpoint, "GET", "/metrics").status == 200
    for method, path, body in ADMIN_ROUTES:
        r = raw_request(endpoint, method, path, body, {"Content-Type": "application/json"})
        assert r.status in (200, 404), (method, path, r)  # 404: rule 1 already removed
        assert r.status == 200 or path == "/_shardline/faults/1"


@pytest.mark.parametrize(
    "args, message",
    [
        (("--host", "0.0.0.0", "--allow-anonymous", "--test-clock"), "--test-clock"),
        (("--metrics-listen", "0.0.0.0:0"), "--metrics-listen"),
    ],
)
def test_settings_that_would_open_state_to_the_network_are_refused(tmp_path: Path, args, message):
    proc = start_raw(tmp_path, "--port", "0", *args)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode != 0, out
    assert message in err, err


def run_faults(endpoint: str, key: tuple[str, str, str] | None, *args: str, home: Path | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SHARDLINE_"))}
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_CONFIG_FILE"] = os.devnull
    if key:
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = key[0], key[1]
    if home:
        env["HOME"] = str(home)
        del env["AWS_SHARED_CREDENTIALS_FILE"]
        del env["AWS_CONFIG_FILE"]
    return subprocess.run(
        [str(shardline_bin()), "faults", "--endpoint", endpoint, *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def test_shardline_faults_signs_with_the_admin_key(admin_server, tmp_path: Path):
    endpoint, _ = admin_server
    add = ("add", "--operation", "ListStreams", "--error", "LimitExceededException", "--probability", "1")
    refused = run_faults(endpoint, None, *add)
    assert refused.returncode != 0 and "MissingAuthenticationToken" in refused.stdout + refused.stderr
    refused = run_faults(endpoint, KEY_B, *add)
    assert refused.returncode != 0 and "AccessDenied" in refused.stdout + refused.stderr

    added = run_faults(endpoint, ADMIN, *add)
    assert added.returncode == 0, added.stderr
    assert re.search(r'"id":\s*\d+', added.stdout)
    listed = run_faults(endpoint, ADMIN, "list")
    assert listed.returncode == 0 and "ListStreams" in listed.stdout
    with pytest.raises(Exception, match="LimitExceeded"):
        client(endpoint, KEY_A[0], KEY_A[1]).list_streams()

    # The key can also come from a profile of ~/.aws/credentials.
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text(
        f"[default]\naws_access_key_id = {ADMIN[0]}\naws_secret_access_key = {ADMIN[1]}\n"
    )
    cleared = run_faults(endpoint, None, "clear", home=tmp_path)
    assert cleared.returncode == 0, cleared.stderr
    assert client(endpoint, KEY_A[0], KEY_A[1]).list_streams()["StreamNames"] == []
