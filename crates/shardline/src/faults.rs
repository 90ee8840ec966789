//! `shardline faults …`: list, add, remove and clear fault-injection rules on a running
//! server, through its admin endpoint (`/_shardline/faults`).
//!
//! Requests are signed (SigV4, service `kinesis`) when credentials are found: the flags, else
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`(/`AWS_SESSION_TOKEN`), else the profile
//! (`--profile`, `AWS_PROFILE`, or `default`) of `~/.aws/credentials` or `~/.aws/config`. A
//! server started with `--auth sigv4` accepts them only from a key marked `admin = true`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use crate::credentials::{CredentialArgs, Key};
use shardline_server::faults::FaultSpec;
use shardline_wire::sigv4::{RequestParts, Signer};

#[derive(Args, Debug)]
pub struct FaultsArgs {
    /// The server to change
    #[arg(
        long,
        env = "SHARDLINE_ENDPOINT",
        default_value = "http://127.0.0.1:4567",
        global = true
    )]
    endpoint: String,
    #[command(flatten)]
    credentials: CredentialArgs,
    #[command(subcommand)]
    command: FaultsCommand,
}

#[derive(Subcommand, Debug)]
enum FaultsCommand {
    /// Show the rules in force
    List,
    /// Add a rule; prints its id
    Add {
        /// Operation to affect, e.g. PutRecord (any if omitted)
        #[arg(long)]
        operation: Option<String>,
        /// Stream to affect (any if omitted)
        #[arg(long)]
        stream: Option<String>,
        /// Shard to affect (any if omitted)
        #[arg(long)]
        shard: Option<String>,
        /// Fire with this probability (0..1)
        #[arg(long)]
        probability: Option<f64>,
        /// Fire on every Nth matching call, starting with the first
        #[arg(long)]
        every: Option<u64>,
        /// AWS error type to answer with, e.g. ProvisionedThroughputExceededException
        #[arg(long)]
        error: Option<String>,
        /// Delay to add, in milliseconds
        #[arg(long)]
        latency_ms: Option<u64>,
        /// Remove the rule after this many seconds
        #[arg(long)]
        duration_secs: Option<u64>,
    },
    /// Remove one rule
    Remove { id: u64 },
    /// Remove every rule
    Clear,
}

pub fn run(args: FaultsArgs) -> anyhow::Result<()> {
    let (method, path, body) = match args.command {
        FaultsCommand::List => ("GET", "/_shardline/faults".to_string(), String::new()),
        FaultsCommand::Add {
            operation,
            stream,
            shard,
            probability,
            every,
            error,
            latency_ms,
            duration_secs,
        } => {
            let spec = FaultSpec {
                operation,
                stream,
                shard,
                probability,
                every,
                error,
                latency_ms,
                duration_secs,
            };
            if let Err(e) = spec.validate() {
                bail!("{e}");
            }
            (
                "POST",
                "/_shardline/faults".to_string(),
                serde_json::to_string(&spec)?,
            )
        }
        FaultsCommand::Remove { id } => {
            ("DELETE", format!("/_shardline/faults/{id}"), String::new())
        }
        FaultsCommand::Clear => ("DELETE", "/_shardline/faults".to_string(), String::new()),
    };
    let key = args.credentials.resolve()?;
    let (status, text) = request(
        &args.endpoint,
        method,
        &path,
        &body,
        key.as_ref(),
        &args.credentials.region,
    )?;
    print!("{text}");
    if !(200..300).contains(&status) {
        bail!("the server answered {status}");
    }
    Ok(())
}

/// One plain HTTP/1.1 request (the admin endpoint is on the server's plain port), signed
/// with `key` when there is one.
fn request(
    endpoint: &str,
    method: &str,
    path: &str,
    body: &str,
    key: Option<&Key>,
    region: &str,
) -> anyhow::Result<(u16, String)> {
    let addr = endpoint
        .strip_prefix("http://")
        .context("the endpoint must be http://host:port")?
        .trim_end_matches('/');
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::HOST,
        addr.parse().context("the endpoint's host:port")?,
    );
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if let Some(key) = key {
        let printable = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
        if !printable(&key.access_key_id)
            || !printable(&key.secret_access_key)
            || !key.session_token.as_deref().is_none_or(printable)
            || !printable(region)
        {
            bail!("the access key, secret, session token and region must be printable ASCII");
        }
        let mut signer = Signer::new(&key.access_key_id, &key.secret_access_key, region);
        signer.session_token = key.session_token.as_deref();
        headers = signer.sign(
            &RequestParts {
                method,
                path,
                query: None,
                headers: &headers,
                authority: None,
                body: body.as_bytes(),
            },
            SystemTime::now(),
        );
    }
    let mut s = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in &headers {
        head.push_str(name.as_str());
        head.push_str(": ");
        head.push_str(value.to_str().unwrap_or_default());
        head.push_str("\r\n");
    }
    write!(
        s,
        "{head}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let text = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((status, text))
}
