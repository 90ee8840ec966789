//! Starts the real `shardline` binary on an ephemeral port and builds aws-sdk-kinesis
//! clients for it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::Client;

pub struct Server {
    child: Child,
    pub endpoint: String,
    /// The HTTPS endpoint, when started with `--tls-port`.
    pub tls_endpoint: Option<String>,
    pub data_dir: Option<PathBuf>,
    args: Vec<String>,
}

impl Server {
    /// An in-memory server with no creation or deletion delays.
    pub fn memory(extra: &[&str]) -> Server {
        let mut args = vec!["--in-memory"];
        args.extend_from_slice(extra);
        Server::start(None, &args)
    }

    /// A server keeping data in `dir`.
    pub fn disk(dir: &Path, extra: &[&str]) -> Server {
        Server::start(Some(dir.to_path_buf()), extra)
    }

    fn start(data_dir: Option<PathBuf>, extra: &[&str]) -> Server {
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--port".into(),
            "0".into(),
            "--create-delay-ms".into(),
            "0".into(),
            "--delete-delay-ms".into(),
            "0".into(),
            // Most tests move data faster than AWS's per-shard limits; the limits tests
            // turn them back on with `--limits aws` (a later flag wins).
            "--limits".into(),
            "off".into(),
        ];
        if let Some(dir) = &data_dir {
            args.push("--data-dir".into());
            args.push(dir.display().to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let (child, endpoint, tls_endpoint) = spawn(&args);
        Server {
            child,
            endpoint,
            tls_endpoint,
            data_dir,
            args,
        }
    }

    /// Kills the server with SIGKILL (no chance to flush anything).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the same server again (same data, new port) after a kill.
    pub fn restart(&mut self) {
        self.kill();
        let (child, endpoint, tls_endpoint) = spawn(&self.args);
        self.child = child;
        self.endpoint = endpoint;
        self.tls_endpoint = tls_endpoint;
    }

    pub fn client(&self) -> Client {
        client(&self.endpoint, 3)
    }

    /// A client that never retries, so an Ok response is exactly one acknowledged call.
    pub fn client_no_retry(&self) -> Client {
        client(&self.endpoint, 1)
    }

    /// Moves the server clock forward (needs `--test-clock`).
    pub fn advance_clock(&self, ms: u64) {
        assert_eq!(
            advance_clock_at(&self.endpoint, ms),
            200,
            "advancing the test clock failed"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(args: &[String]) -> (Child, String, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardline"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start shardline");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let (mut endpoint, mut tls_endpoint) = (None, None);
    // The banner: "listening on http://…", maybe "listening on https://…" and "metrics on
    // http://…", then "try: …".
    for line in lines.by_ref().take(6) {
        let line = line.expect("read stdout");
        if line.trim_start().starts_with("try:") {
            break;
        }
        if !line.starts_with("shardline listening on ") {
            continue;
        }
        let url = line.split_whitespace().find(|w| w.starts_with("http"));
        match url {
            Some(u) if u.starts_with("https://") => tls_endpoint = Some(u.to_string()),
            Some(u) => endpoint = Some(u.to_string()),
            None => {}
        }
    }
    let endpoint = endpoint.expect("shardline printed no endpoint");
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    wait_healthy(&endpoint);
    (child, endpoint, tls_endpoint)
}

fn wait_healthy(endpoint: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = endpoint.trim_start_matches("http://").to_string();
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(&addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("shardline at {endpoint} did not come up");
}

/// Moves the clock of the server at `endpoint` forward (needs `--test-clock`); the status.
pub fn advance_clock_at(endpoint: &str, ms: u64) -> u16 {
    http_post(&format!("{endpoint}/_shardline/clock?advance_ms={ms}"))
}

/// Minimal blocking HTTP POST with an empty body; returns the status code (0 when the server
/// cannot be reached or does not answer).
fn http_post(url: &str) -> u16 {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (addr, path) = rest.split_once('/').expect("url path");
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return 0;
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let request = format!(
        "POST /{path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    if s.write_all(request.as_bytes()).is_err() || s.read_to_string(&mut response).is_err() {
        return 0;
    }
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

pub fn client(endpoint: &str, attempts: u32) -> Client {
    Client::from_conf(config(endpoint, attempts).build())
}

/// A client for the HTTPS endpoint that trusts the given PEM certificate.
pub fn tls_client(endpoint: &str, cert_pem: &[u8]) -> Client {
    use aws_smithy_http_client::tls;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(
            tls::TlsContext::builder()
                .with_trust_store(tls::TrustStore::empty().with_pem_certificate(cert_pem.to_vec()))
                .build()
                .expect("tls context"),
        )
        .build_https();
    Client::from_conf(config(endpoint, 1).http_client(http).build())
}

fn config(endpoint: &str, attempts: u32) -> aws_sdk_kinesis::config::Builder {
    aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .retry_config(
            aws_sdk_kinesis::config::retry::RetryConfig::standard().with_max_attempts(attempts),
        )
        .timeout_config(
            aws_sdk_kinesis::config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
}

/// The AWS error code of an SDK error.
pub fn error_code<E, R>(err: &aws_sdk_kinesis::error::SdkError<E, R>) -> String
where
    E: aws_sdk_kinesis::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .map(str::to_owned)
        .unwrap_or_else(|| "<not a service error>".into())
}

pub fn error_message<E, R>(err: &aws_sdk_kinesis::error::SdkError<E, R>) -> String
where
    E: aws_sdk_kinesis::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.message())
        .map(str::to_owned)
        .unwrap_or_default()
}

/// Creates an ON_DEMAND stream (AWS gives it four shards).
pub async fn create_on_demand_stream(client: &Client, name: &str) {
    use aws_sdk_kinesis::types::{StreamMode, StreamModeDetails};
    let mode = StreamModeDetails::builder()
        .stream_mode(StreamMode::OnDemand)
        .build()
        .expect("stream mode is set");
    client
        .create_stream()
        .stream_name(name)
        .stream_mode_details(mode)
        .send()
        .await
        .expect("create on-demand stream");
}

pub async fn create_stream(client: &Client, name: &str, shards: i32) {
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .expect("create stream");
}

/// What reading a shard returned: its records in order, and, when the shard is closed and was
/// read to its end, the `ChildShards` of the last answer (which then had no next iterator).
pub struct ShardRead {
    pub records: Vec<aws_sdk_kinesis::types::Record>,
    pub children: Option<Vec<aws_sdk_kinesis::types::ChildShard>>,
}

impl ShardRead {
    /// The records' data as UTF-8 text.
    pub fn texts(&self) -> Vec<String> {
        self.records
            .iter()
            .map(|r| String::from_utf8(r.data().as_ref().to_vec()).expect("UTF-8 data"))
            .collect()
    }
}

/// Reads a shard from TRIM_HORIZON (see [`read_from`]).
pub async fn read_shard(client: &Client, stream: &str, shard: &str) -> ShardRead {
    let it = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect("GetShardIterator")
        .shard_iterator()
        .expect("an iterator")
        .to_owned();
    read_from(client, it, None).await
}

/// Reads from `it` (at most `limit` records a call) until an answer is empty or the shard's
/// end. Checks the KCL's pairing rule on the way: an answer without a next iterator carries
/// ChildShards, and one with a next iterator carries none.
pub async fn read_from(client: &Client, mut it: String, limit: Option<i32>) -> ShardRead {
    let mut records = Vec::new();
    for _ in 0..10_000 {
        let r = client
            .get_records()
            .shard_iterator(&it)
            .set_limit(limit)
            .send()
            .await
            .expect("GetRecords");
        if let Some(l) = limit {
            assert!(r.records().len() <= l as usize, "more than Limit records");
        }
        let empty = r.records().is_empty();
        records.extend(r.records().iter().cloned());
        match r.next_shard_iterator() {
            None => {
                assert!(
                    !r.child_shards().is_empty(),
                    "a closed shard's end names its children"
                );
                return ShardRead {
                    records,
                    children: Some(r.child_shards().to_vec()),
                };
            }
            Some(next) => {
                assert!(
                    r.child_shards().is_empty(),
                    "ChildShards only at the end of a shard"
                );
                if empty {
                    return ShardRead {
                        records,
                        children: None,
                    };
                }
                it = next.to_owned();
            }
        }
    }
    panic!("the shard did not end within 10,000 calls");
}
