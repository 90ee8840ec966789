//! `shardline bench`: load and latency benchmarks against any Kinesis endpoint (shardline or
//! AWS, given credentials). The `shardline` binary runs [`run`] with its command line; this
//! crate is a client of the Kinesis API only (the wire crate's shapes and SigV4 signer, and the
//! producer library on the AWS SDK), never of the server.
//!
//! - `put`: write throughput with PutRecords or PutRecord (`put.rs`);
//! - `get`: read a stream back with GetRecords from every shard (`get.rs`);
//! - `e2e`: put → visible to GetRecords, and put → delivered by SubscribeToShard (`e2e.rs`);
//! - `produce`: user records a second through the producer library (`produce.rs`);
//! - `consume`: records a second and put → processed latency through the consumer library
//!   (`consume.rs`).
//!
//! The client (`client.rs`) is hyper's bare connection API with bodies prepared up front; for
//! `put` and `get` its own ceiling is measured against an in-process mock server (`mock.rs`)
//! and the summary (`report.rs`) says whether the run was client-bound. Progress goes to
//! stderr (only on a terminal), the summary to stdout.

mod client;
mod consume;
mod control;
mod e2e;
mod get;
mod mock;
mod produce;
mod put;
mod queue;
mod report;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use client::{Client, Credentials, Options};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Write throughput and latency with PutRecords (or PutRecord).
    Put(put::PutArgs),
    /// Read a stream back with GetRecords from every shard, from TRIM_HORIZON until caught up.
    Get(get::GetArgs),
    /// End-to-end latency: put → visible to GetRecords, and put → delivered by SubscribeToShard.
    E2e(e2e::E2eArgs),
    /// User records a second through the producer library (aggregation on or off), and the
    /// producing process's memory.
    Produce(produce::ProduceArgs),
    /// Records a second through the consumer library, and put → processed latency.
    Consume(consume::ConsumeArgs),
    /// A queue's receive + acknowledge throughput with several consumers.
    Queue(queue::QueueArgs),
}

/// Options every bench subcommand takes.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// The Kinesis endpoint (http:// or https://).
    #[arg(long, default_value = "http://127.0.0.1:4567")]
    pub endpoint: String,
    /// Region to sign for.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Sign requests (SigV4) with this key; unsigned without one.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub access_key_id: Option<String>,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: Option<String>,
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    pub session_token: Option<String>,
    /// The stream to use.
    #[arg(long, default_value = "bench")]
    pub stream: String,
    /// Create the stream (with --shards shards) if it does not exist, and wait until ACTIVE.
    #[arg(long)]
    pub create: bool,
    /// Shards of a stream made by --create.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: u32,
    /// Delete the stream at the end.
    #[arg(long)]
    pub delete: bool,
    /// Print the summary as JSON (and nothing else on stdout).
    #[arg(long)]
    pub json: bool,
    /// Use HTTP/2 (prior knowledge on http://, ALPN h2 on https://) instead of HTTP/1.1.
    #[arg(long)]
    pub http2: bool,
    /// Also trust the PEM certificate(s) in this file for https:// endpoints.
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
}

impl Common {
    /// An `aws-sdk-kinesis` client for the endpoint (what the producer library runs on),
    /// signing with the given key or a placeholder.
    fn sdk_client(&self) -> anyhow::Result<aws_sdk_kinesis::Client> {
        use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
        use aws_smithy_http_client::tls;
        let (id, secret) = match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret)) if !id.is_empty() => (id.clone(), secret.clone()),
            _ => ("shardline".to_string(), "shardline".to_string()),
        };
        let token = self.session_token.clone().filter(|t| !t.is_empty());
        let mut config = aws_sdk_kinesis::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(id, secret, token, None, "bench"));
        if let Some(path) = &self.ca_cert {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let trust = tls::TrustStore::empty().with_pem_certificate(pem);
            let context = tls::TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .context("the TLS settings")?;
            let http = aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .tls_context(context)
                .build_https();
            config = config.http_client(http);
        }
        Ok(aws_sdk_kinesis::Client::from_conf(config.build()))
    }

    fn client_options(&self) -> Options {
        let credentials = match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret)) if !id.is_empty() => Some(Credentials {
                access_key_id: id.clone(),
                secret_access_key: secret.clone(),
                session_token: self.session_token.clone().filter(|t| !t.is_empty()),
            }),
            _ => None,
        };
        Options {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            credentials,
            http2: self.http2,
            ca_cert: self.ca_cert.clone(),
        }
    }
}

/// Runs a bench subcommand to completion.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match args.command {
            BenchCommand::Put(a) => put::run(a).await,
            BenchCommand::Get(a) => get::run(a).await,
            BenchCommand::E2e(a) => e2e::run(a).await,
            BenchCommand::Produce(a) => produce::run(a).await,
            BenchCommand::Consume(a) => consume::run(a).await,
            BenchCommand::Queue(a) => queue::run(a).await,
        }
    })
}

/// The stream a run works on.
struct Target {
    client: Client,
    stream_arn: String,
    open_shards: u64,
}

async fn setup(common: &Common) -> anyhow::Result<Target> {
    let client = Client::new(&common.client_options())?;
    let (summary, created) =
        control::ensure_stream(&client, &common.stream, common.create, common.shards).await?;
    if created && !common.json {
        eprintln!(
            "created stream {} with {} shards",
            common.stream, common.shards
        );
    }
    Ok(Target {
        client,
        stream_arn: summary.stream_arn,
        open_shards: summary.open_shard_count,
    })
}

async fn finish(common: &Common, target: &Target) -> anyhow::Result<()> {
    if common.delete {
        control::delete_stream(&target.client, &common.stream).await?;
    }
    Ok(())
}

/// A progress bar on stderr, refreshed from a closure giving (position, message); hidden
/// when stderr is not a terminal.
struct Progress {
    bar: ProgressBar,
    ticker: JoinHandle<()>,
}

impl Progress {
    fn start(
        len: u64,
        json: bool,
        tick: impl Fn(Duration) -> (u64, String) + Send + 'static,
    ) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if json {
            // Machines read stdout; stderr stays quiet too unless it is a person's terminal.
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {msg}")
                .expect("a valid template"),
        );
        let b = bar.clone();
        let start = tokio::time::Instant::now();
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(200));
            loop {
                every.tick().await;
                let (pos, msg) = tick(start.elapsed());
                b.set_position(pos.min(len));
                b.set_message(msg);
            }
        });
        Progress { bar, ticker }
    }

    fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

/// Parses `10s`, `500ms`, `2m`, `1.5s`, `1h`, or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 10s, 500ms, 2m)"))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => n,
        "ms" => n / 1e3,
        "us" | "µs" => n / 1e6,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?} (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

fn fmt_duration(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("3 parsecs").is_err());
    }

    #[test]
    fn the_command_line_parses() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(subcommand)]
            command: BenchCommand,
        }
        let cli = Cli::try_parse_from([
            "bench",
            "put",
            "--api",
            "putrecord",
            "--records",
            "10",
            "--rate",
            "5",
        ])
        .unwrap();
        let BenchCommand::Put(p) = cli.command else {
            panic!("not put")
        };
        assert_eq!(p.api, put::Api::PutRecord);
        assert_eq!(p.records, Some(10));
        assert!(
            Cli::try_parse_from(["bench", "put", "--records", "10", "--duration", "1s"]).is_err()
        );
        assert!(Cli::try_parse_from(["bench", "put", "--batch", "501"]).is_err());
        assert!(Cli::try_parse_from(["bench", "e2e", "--paths", "subscribe"]).is_ok());
        assert!(Cli::try_parse_from(["bench", "get", "--limit", "10001"]).is_err());
    }
}
