"""Fixtures for the Python side of the test suite: the real shardline binary, boto3, the AWS CLI.

Every test talks to a fresh `shardline serve --in-memory` on a free port, started from the binary named by
SHARDLINE_BIN (default: target/debug/shardline under the repository root). Every wait here is bounded.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, NamedTuple
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "000000000000"
REGION = "us-east-1"
TARGET_PREFIX = "Kinesis_20131202."
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
CLI_TIMEOUT_S = 60.0
# No creation delays, and no per-shard throughput limits: tests move data faster than AWS allows
# (the limits have their own tests, which pass --limits aws; a later flag wins).
TEST_ARGS = ("--create-delay-ms", "0", "--delete-delay-ms", "0", "--limits", "off")
BASE_ARGS = ("--in-memory", *TEST_ARGS)
LISTENING = re.compile(r"^shardline listening on (http://127\.0\.0\.1:(\d+))\b")


def shardline_bin() -> Path:
    path = Path(os.environ.get("SHARDLINE_BIN", "target/debug/shardline"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


class Server:
    """One running `shardline serve`, with its output kept in files for failure messages."""

    def __init__(self, extra_args: tuple[str, ...], workdir: Path, base_args: tuple[str, ...] = BASE_ARGS) -> None:
        binary = shardline_bin()
        if not binary.is_file():
            pytest.fail(f"shardline binary not found at {binary}: run `cargo build --bin shardline`")
        self.stdout_path = workdir / "stdout.log"
        self.stderr_path = workdir / "stderr.log"
        self._stdout = open(self.stdout_path, "wb")
        self._stderr = open(self.stderr_path, "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDLINE_")}
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--port", "0", *base_args, *extra_args],
            cwd=workdir,  # keeps any ./shardline.toml or ./shardline-data of the developer out
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
        )
        try:
            self.endpoint = self._wait_for_endpoint()
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise

    def output(self) -> str:
        out = self.stdout_path.read_text(errors="replace")
        err = self.stderr_path.read_text(errors="replace")
        return f"--- stdout ---\n{out[-4000:]}\n--- stderr ---\n{err[-4000:]}"

    def _wait_for_endpoint(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            text = self.stdout_path.read_text(errors="replace")
            if "\n" in text:
                first = text.split("\n", 1)[0]
                m = LISTENING.match(first)
                if not m:
                    pytest.fail(f"unexpected first stdout line {first!r}\n{self.output()}")
                return m.group(1)
            if self.proc.poll() is not None:
                pytest.fail(f"shardline exited with {self.proc.returncode} before listening\n{self.output()}")
            time.sleep(0.01)
        pytest.fail(f"shardline printed no endpoint within {START_TIMEOUT_S}s\n{self.output()}")

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_shardline/health", timeout=2) as r:
                    if r.status == 200:
                        return
                    last = f"status {r.status}"
            except (OSError, urllib.error.URLError) as e:
                last = repr(e)
            if self.proc.poll() is not None:
                pytest.fail(f"shardline exited with {self.proc.returncode}\n{self.output()}")
            time.sleep(0.02)
        pytest.fail(f"/_shardline/health not ok within {START_TIMEOUT_S}s ({last})\n{self.output()}")

    def kill(self) -> None:
        """`kill -9`: no chance to flush or clean up."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        self._stdout.close()
        self._stderr.close()


@pytest.fixture(scope="session", autouse=True)
def isolated_aws_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Keeps a developer's ~/.aws (profiles, endpoints, retry modes) and AWS_* variables out of the tests."""
    d = tmp_path_factory.mktemp("aws-config")
    (d / "config").write_text("")
    (d / "credentials").write_text("")
    mp = pytest.MonkeyPatch()
    for key in list(os.environ):
        if key.startswith("AWS_"):
            mp.delenv(key)
    env = {
        "AWS_CONFIG_FILE": str(d / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(d / "credentials"),
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_PAGER": "",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for key, value in env.items():
        mp.setenv(key, value)
    yield env
    mp.undo()


@pytest.fixture
def start_shardline(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Starts a server with extra `serve` flags (e.g. "--test-clock"); returns its endpoint URL.

    Servers are stopped at teardown. Can be called more than once in a test.
    """
    servers: list[Server] = []

    def start(*extra_args: str) -> str:
        workdir = tmp_path / f"server{len(servers)}"
        workdir.mkdir()
        server = Server(tuple(extra_args), workdir)
        servers.append(server)
        return server.endpoint

    yield start
    for server in servers:
        server.stop()


class RestartableShardline:
    """One data directory that servers are started on one after another (never two at once)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.data_dir = tmp_path / "data"
        self.servers: list[Server] = []

    @property
    def running(self) -> Server | None:
        last = self.servers[-1] if self.servers else None
        return last if last is not None and last.proc.poll() is None else None

    def start(self, *extra_args: str) -> str:
        """Starts `shardline serve --data-dir <data_dir>` with TEST_ARGS; returns its endpoint URL."""
        assert self.running is None, "a server is still running on this data directory"
        workdir = self.tmp_path / f"restart{len(self.servers)}"
        workdir.mkdir()
        server = Server(tuple(extra_args), workdir, ("--data-dir", str(self.data_dir), *TEST_ARGS))
        self.servers.append(server)
        return server.endpoint

    def kill(self) -> None:
        """`kill -9` the running server."""
        assert self.running is not None, "no server running"
        self.running.kill()

    def stop(self) -> None:
        """SIGTERM the running server and wait for it to exit."""
        assert self.running is not None, "no server running"
        self.running.stop()

    def output(self) -> str:
        return "\n".join(s.output() for s in self.servers)


@pytest.fixture
def restartable_shardline(tmp_path: Path) -> Iterator[RestartableShardline]:
    """Servers on one persistent data directory: `start(*flags)`, `kill()` (kill -9), `start()` again."""
    servers = RestartableShardline(tmp_path)
    yield servers
    for server in servers.servers:
        server.stop()


@pytest.fixture
def endpoint(start_shardline: Callable[..., str]) -> str:
    """The URL of a fresh in-memory server with no create/delete delays."""
    return start_shardline()


def make_client(endpoint: str, *, validate: bool = True):
    config = Config(
        region_name=REGION,
        retries={"mode": "standard", "total_max_attempts": 2},
        connect_timeout=5,
        read_timeout=30,
        parameter_validation=validate,
    )
    return boto3.session.Session().client(
        "kinesis",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=config,
    )


@pytest.fixture
def kinesis(endpoint: str):
    """A boto3 Kinesis client for the `endpoint` server."""
    return make_client(endpoint)


@pytest.fixture
def kinesis_raw(endpoint: str):
    """Like `kinesis`, without boto3's client-side parameter validation, to reach the server's own checks."""
    return make_client(endpoint, validate=False)


class CliError(Exception):
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        super().__init__(f"aws exited with {returncode}: {stderr.strip()[-2000:]}")
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def aws_cli_path() -> Path:
    return Path(sys.executable).parent / "aws"


def run_aws(endpoint: str, *args: str, timeout: float = CLI_TIMEOUT_S):
    """Runs `aws <args> --endpoint-url <endpoint> --output json`; returns the parsed JSON (None if no output).

    Raises CliError when the CLI exits non-zero.
    """
    cli = aws_cli_path()
    if not cli.is_file():
        pytest.fail(f"AWS CLI not found at {cli}: install tests/python/requirements.txt into this virtualenv")
    # The autouse fixture has already put the isolated AWS_* settings into os.environ.
    proc = subprocess.run(
        [sys.executable, str(cli), *args, "--endpoint-url", endpoint, "--output", "json"],
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise CliError(proc.returncode, proc.stdout, proc.stderr)
    return json.loads(proc.stdout) if proc.stdout.strip() else None


@pytest.fixture
def aws(endpoint: str) -> Callable[..., object]:
    """`aws("kinesis", "list-streams")` against the `endpoint` server, returning parsed JSON."""

    def call(*args: str, timeout: float = CLI_TIMEOUT_S):
        return run_aws(endpoint, *args, timeout=timeout)

    return call


class RawResponse(NamedTuple):
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self):
        return json.loads(self.body)


def raw_request(
    endpoint: str,
    method: str = "POST",
    path: str = "/",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> RawResponse:
    """One HTTP/1.1 request with exactly the given headers (plus Host and Content-Length)."""
    url = urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return RawResponse(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def raw_call(endpoint: str, operation: str, body: bytes | str, content_type: str = JSON_CONTENT_TYPE) -> RawResponse:
    """A POST / with `X-Amz-Target: Kinesis_20131202.<operation>` and the given body, unsigned."""
    if isinstance(body, str):
        body = body.encode()
    return raw_request(
        endpoint,
        body=body,
        headers={"X-Amz-Target": TARGET_PREFIX + operation, "Content-Type": content_type},
    )


def create_stream(client, name: str, shards: int, timeout_s: float = 10.0) -> None:
    """CreateStream and wait (bounded) until it is ACTIVE."""
    client.create_stream(StreamName=name, ShardCount=shards)
    deadline = time.monotonic() + timeout_s
    while True:
        status = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
        if status == "ACTIVE":
            return
        assert time.monotonic() < deadline, f"stream {name} still {status} after {timeout_s}s"
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def moto_server(tmp_path: Path) -> Iterator[str]:
    """moto in server mode on 127.0.0.1 (DynamoDB- and S3-compatible; from this virtualenv); its endpoint URL."""
    port = free_port()
    log_path = tmp_path / "moto.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
