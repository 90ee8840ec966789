//! Smoke test of `shardline bench`: each subcommand runs briefly against a real server and
//! reports a sane summary. (Benchmarks proper are run by hand, not in the test suite.) The
//! server runs with `--limits off`: AWS's per-shard limits would throttle the load.

use std::process::Command;

use crate::common::Server;
use serde_json::Value;

/// Runs `shardline bench <args> --json` and returns its summary.
fn bench(endpoint: &str, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_shardline"))
        .arg("bench")
        .args(args)
        .args(["--endpoint", endpoint, "--stream", "smoke", "--json"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .expect("run shardline bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "shardline bench {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn num(v: &Value, path: &str) -> f64 {
    let mut cur = v;
    for key in path.split('.') {
        cur = &cur[key];
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number in {v:#}"))
}

fn assert_sane_latency(v: &Value, path: &str) {
    let p50 = num(v, &format!("{path}.p50"));
    let p99 = num(v, &format!("{path}.p99"));
    let p999 = v[path]["p99.9"].as_f64().expect("p99.9");
    assert!(p50 > 0.0, "{path}.p50 = {p50}");
    assert!(p50 <= p99 && p99 <= p999, "{path}: {:#}", v[path]);
}

#[test]
fn bench_put_get_and_e2e_report_sane_summaries() {
    let server = Server::memory(&["--limits", "off"]);
    let ep = server.endpoint.as_str();

    let put = bench(
        ep,
        &[
            "put",
            "--create",
            "--shards",
            "2",
            "--duration",
            "1s",
            "--concurrency",
            "2",
            "--measure-client",
            "300ms",
        ],
    );
    assert_eq!(put["command"], "put");
    assert_eq!(put["settings"]["shards"], 2);
    assert!(num(&put, "records") > 0.0, "{put:#}");
    assert!(num(&put, "records_per_sec") > 0.0);
    assert!(num(&put, "mib_per_sec") > 0.0);
    assert!(num(&put, "requests_per_sec") > 0.0);
    assert_eq!(num(&put, "errors"), 0.0, "{put:#}");
    assert_eq!(num(&put, "failed_records"), 0.0, "{put:#}");
    assert_sane_latency(&put, "latency_ms");
    assert!(num(&put, "client_ceiling.requests_per_sec") > 0.0);
    assert!(put["verdict"].as_str().unwrap().contains("bound"));
    // Every record of a 500-record batch.
    assert_eq!(num(&put, "records") % 500.0, 0.0);

    let get = bench(
        ep,
        &["get", "--duration", "20s", "--measure-client", "300ms"],
    );
    assert_eq!(get["command"], "get");
    assert_eq!(
        num(&get, "records"),
        num(&put, "records"),
        "reads back what was written: {get:#}"
    );
    assert_eq!(num(&get, "bytes"), num(&put, "bytes"));
    assert!(num(&get, "records_per_sec") > 0.0);
    assert!(num(&get, "mib_per_sec") > 0.0);
    assert_eq!(num(&get, "errors"), 0.0, "{get:#}");
    assert_eq!(num(&get, "shards_caught_up"), 2.0);
    assert_sane_latency(&get, "latency_ms");

    let e2e = bench(ep, &["e2e", "--duration", "2s", "--rate", "50"]);
    assert_eq!(e2e["command"], "e2e");
    let sent = num(&e2e, "sent");
    assert!(sent >= 50.0, "{e2e:#}");
    assert_eq!(num(&e2e, "put_errors"), 0.0, "{e2e:#}");
    assert_sane_latency(&e2e, "put_latency_ms");
    for path in ["poll", "subscribe"] {
        assert_eq!(num(&e2e, &format!("{path}.received")), sent, "{e2e:#}");
        assert_eq!(num(&e2e, &format!("{path}.missing")), 0.0);
        assert_eq!(num(&e2e, &format!("{path}.errors")), 0.0, "{e2e:#}");
        let p50 = num(&e2e, &format!("{path}.latency_ms.p50"));
        let p99 = num(&e2e, &format!("{path}.latency_ms.p99"));
        assert!(p50 > 0.0 && p50 <= p99, "{path}: {e2e:#}");
    }
}

#[test]
fn bench_put_by_record_count_with_put_record_writes_exactly_that_many() {
    let server = Server::memory(&["--limits", "off"]);
    let put = bench(
        &server.endpoint,
        &[
            "put",
            "--create",
            "--shards",
            "1",
            "--api",
            "putrecord",
            "--records",
            "37",
            "--rate",
            "1000",
            "--measure-client",
            "0",
            "--delete",
        ],
    );
    assert_eq!(num(&put, "records"), 37.0, "{put:#}");
    assert_eq!(num(&put, "requests"), 37.0);
    assert_eq!(num(&put, "errors"), 0.0);
    assert!(put["client_ceiling"].is_null());
}

#[test]
fn bench_without_a_stream_says_to_create_it() {
    let server = Server::memory(&["--limits", "off"]);
    let out = Command::new(env!("CARGO_BIN_EXE_shardline"))
        .args(["bench", "get", "--endpoint", &server.endpoint])
        .args(["--stream", "absent"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--create"), "{err}");
}

#[test]
fn bench_put_says_when_throughput_limits_throttled_it() {
    let server = Server::memory(&["--limits", "aws"]); // 1,000 records/s per shard
    let put = bench(
        &server.endpoint,
        &[
            "put",
            "--create",
            "--shards",
            "1",
            "--duration",
            "1s",
            "--concurrency",
            "2",
            "--measure-client",
            "0",
        ],
    );
    assert!(num(&put, "failed_records") > 0.0, "{put:#}");
    assert!(
        put["failed_record_codes"]["ProvisionedThroughputExceededException"]
            .as_u64()
            .is_some(),
        "{put:#}"
    );
    assert!(put["verdict"].as_str().unwrap().starts_with("throttled"));
}

#[test]
fn bench_signs_with_sigv4_when_given_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials.toml");
    std::fs::write(
        &creds,
        "[[key]]\naccess_key_id = \"AKIDBENCH\"\nsecret_access_key = \"s3cret\"\naccount_id = \"111122223333\"\n",
    )
    .unwrap();
    let server = Server::memory(&[
        "--auth",
        "sigv4",
        "--credentials-file",
        creds.to_str().unwrap(),
    ]);
    let keys = [
        "--access-key-id",
        "AKIDBENCH",
        "--secret-access-key",
        "s3cret",
    ];
    let mut put_args = vec!["put", "--create", "--shards", "1", "--records", "1000"];
    put_args.extend(["--measure-client", "200ms"]);
    put_args.extend(keys);
    let put = bench(&server.endpoint, &put_args);
    assert_eq!(num(&put, "records"), 1000.0, "{put:#}");
    assert_eq!(put["settings"]["signed"], true);
    // PutRecord over ten bodies: each is sent many times a second, so most requests carry the
    // signed headers kept from the body's previous send; the server checks every signature.
    let mut single_args = vec![
        "put",
        "--api",
        "putrecord",
        "--keys",
        "10",
        "--records",
        "3000",
    ];
    single_args.extend(["--concurrency", "4", "--measure-client", "0"]);
    single_args.extend(keys);
    let single = bench(&server.endpoint, &single_args);
    assert_eq!(num(&single, "records"), 3000.0, "{single:#}");
    assert_eq!(num(&single, "errors"), 0.0, "{single:#}");
    let mut e2e_args = vec!["e2e", "--duration", "500ms", "--rate", "40", "--http2"];
    e2e_args.extend(keys);
    let e2e = bench(&server.endpoint, &e2e_args);
    let sent = num(&e2e, "sent");
    assert!(sent > 0.0, "{e2e:#}");
    assert_eq!(num(&e2e, "poll.received"), sent, "{e2e:#}");
    assert_eq!(num(&e2e, "subscribe.received"), sent, "{e2e:#}");
}
