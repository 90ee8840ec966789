//! Options of `shardline serve`. Each has a flag, a `SHARDLINE_<NAME>` environment variable
//! and a key in `shardline.toml`; a flag beats the variable, which beats the file, which
//! beats the default.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde::Deserialize;

#[derive(Clone, Copy, Debug, Deserialize, ValueEnum, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityArg {
    /// Acknowledge a write only after it is on disk (fsync, group commit).
    Strict,
    /// Acknowledge once written to the OS; fsync in the background.
    Relaxed,
}

#[derive(Clone, Copy, Debug, Deserialize, ValueEnum, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LimitsArg {
    /// AWS's per-shard limits: 1 MiB/s and 1,000 records/s in; 5 reads/s, 2 MiB/s out.
    Aws,
    /// No throughput limits (bulk local work, benchmarks).
    Off,
}

#[derive(Clone, Copy, Debug, Deserialize, ValueEnum, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthArg {
    /// Accept any well-formed request, as local emulators do.
    None,
    /// Require AWS Signature Version 4 with a key from the credentials file.
    Sigv4,
}

/// `--console`: serve the web console or not.
#[derive(Clone, Copy, Debug, Deserialize, ValueEnum, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleArg {
    On,
    Off,
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Configuration file [default: ./shardline.toml if present]
    #[arg(long, env = "SHARDLINE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1]
    #[arg(long, env = "SHARDLINE_HOST")]
    pub host: Option<IpAddr>,
    /// Port to listen on; 0 picks a free one [default: 4567]
    #[arg(long, env = "SHARDLINE_PORT")]
    pub port: Option<u16>,
    /// Also serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) on this port; 0 picks a free one
    #[arg(long, env = "SHARDLINE_TLS_PORT")]
    pub tls_port: Option<u16>,
    /// PEM certificate chain for HTTPS [default: a self-signed one kept in <data-dir>/tls]
    #[arg(long, env = "SHARDLINE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS
    #[arg(long, env = "SHARDLINE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Where records and metadata live [default: ./shardline-data]
    #[arg(long, env = "SHARDLINE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep everything in memory (throwaway test runs)
    #[arg(long, env = "SHARDLINE_IN_MEMORY")]
    pub in_memory: bool,
    /// When a write is acknowledged [default: strict]
    #[arg(long, env = "SHARDLINE_DURABILITY", value_enum)]
    pub durability: Option<DurabilityArg>,
    /// Account id of the streams [default: 000000000000]
    #[arg(long, env = "SHARDLINE_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// Region named in ARNs [default: us-east-1]
    #[arg(long, env = "SHARDLINE_REGION")]
    pub region: Option<String>,
    /// How long a new stream stays CREATING, in ms [default: 500]
    #[arg(long, env = "SHARDLINE_CREATE_DELAY_MS")]
    pub create_delay_ms: Option<u64>,
    /// How long a deleted stream stays DELETING, in ms [default: 500]
    #[arg(long, env = "SHARDLINE_DELETE_DELAY_MS")]
    pub delete_delay_ms: Option<u64>,
    /// Lifetime of shard iterators, in seconds [default: 300]
    #[arg(long, env = "SHARDLINE_ITERATOR_TTL_SECS")]
    pub iterator_ttl_secs: Option<u64>,
    /// Open shards allowed per account [default: 20000]
    #[arg(long, env = "SHARDLINE_SHARD_LIMIT")]
    pub shard_limit: Option<u32>,
    /// Size at which a shard's log segment is rolled, in bytes [default: 67108864]
    #[arg(long, env = "SHARDLINE_SEGMENT_BYTES")]
    pub segment_bytes: Option<u64>,
    /// Segment files kept open at most [default: half the descriptor limit, at most 65536]
    #[arg(long, env = "SHARDLINE_MAX_OPEN_FILES", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_open_files: Option<u64>,
    /// How long a SubscribeToShard session lasts, in seconds [default: 300]
    #[arg(long, env = "SHARDLINE_SUBSCRIPTION_SECS")]
    pub subscription_secs: Option<u64>,
    /// How often retention and deletions are applied, in ms [default: 1000]
    #[arg(long, env = "SHARDLINE_HOUSEKEEPING_MS")]
    pub housekeeping_ms: Option<u64>,
    /// Allow POST /_shardline/clock?advance_ms=N to move the clock forward (tests only)
    #[arg(long, env = "SHARDLINE_TEST_CLOCK")]
    pub test_clock: bool,
    /// 32-byte key (raw or 64 hex digits) that protects encrypted streams' data keys
    /// [default: <data-dir>/master.key, made on first start]
    #[arg(long, env = "SHARDLINE_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// A KMS key id or alias to accept in StartStreamEncryption, besides alias/aws/kinesis
    /// (repeatable; the variable takes a comma-separated list)
    #[arg(long = "kms-key", env = "SHARDLINE_KMS_KEYS", value_delimiter = ',')]
    pub kms_keys: Vec<String>,
    /// A stream to have at start, created unless it exists: NAME (4 shards), NAME:SHARDS or
    /// NAME:on-demand (repeatable; the variable takes a comma-separated list)
    #[arg(
        long = "create-stream",
        env = "SHARDLINE_CREATE_STREAMS",
        value_delimiter = ','
    )]
    pub create_streams: Vec<String>,
    /// Throughput limits profile [default: aws]
    #[arg(long, env = "SHARDLINE_LIMITS", value_enum)]
    pub limits: Option<LimitsArg>,
    /// Override: per-shard write bytes/s (0 = unlimited)
    #[arg(long, env = "SHARDLINE_LIMIT_WRITE_BYTES")]
    pub limit_write_bytes: Option<u64>,
    /// Override: per-shard write records/s (0 = unlimited)
    #[arg(long, env = "SHARDLINE_LIMIT_WRITE_RECORDS")]
    pub limit_write_records: Option<u64>,
    /// Override: per-shard GetRecords calls/s (0 = unlimited)
    #[arg(long, env = "SHARDLINE_LIMIT_READ_CALLS")]
    pub limit_read_calls: Option<u64>,
    /// Override: per-shard read bytes/s (0 = unlimited)
    #[arg(long, env = "SHARDLINE_LIMIT_READ_BYTES")]
    pub limit_read_bytes: Option<u64>,
    /// Override: per-shard GetShardIterator calls/s (0 = unlimited)
    #[arg(long, env = "SHARDLINE_LIMIT_ITERATOR_CALLS")]
    pub limit_iterator_calls: Option<u64>,
    /// Override: SubscribeToShard push bytes/s per consumer and shard (0 = unlimited)
    #[arg(long, env = "SHARDLINE_LIMIT_SUBSCRIBE_BYTES")]
    pub limit_subscribe_bytes: Option<u64>,
    /// Override: control-plane call rates, the CREATING cap and 1 SubscribeToShard call/s
    /// (true or false)
    #[arg(long, env = "SHARDLINE_LIMIT_CONTROL_PLANE")]
    pub limit_control_plane: Option<bool>,
    /// How long two adjacent shards of an on-demand stream stay cold before they are merged
    /// back, in seconds [default: 3600]
    #[arg(long, env = "SHARDLINE_ON_DEMAND_COOLDOWN_SECS")]
    pub on_demand_cooldown_secs: Option<u64>,
    /// Authentication [default: none]
    #[arg(long, env = "SHARDLINE_AUTH", value_enum)]
    pub auth: Option<AuthArg>,
    /// TOML file of access keys ([[key]] access_key_id, secret_access_key, account_id)
    #[arg(long, env = "SHARDLINE_CREDENTIALS_FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Allow listening on a non-loopback address without authentication
    #[arg(long, env = "SHARDLINE_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,
    /// Also serve GET /metrics (every account's, unauthenticated) on this address
    /// [default: the main port when it is loopback without --auth; else 127.0.0.1:<port+1>]
    #[arg(long, env = "SHARDLINE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Log filter, e.g. info or shardline=debug [default: info]
    #[arg(long, env = "SHARDLINE_LOG")]
    pub log: Option<String>,
    /// S3-compatible endpoint channels deliver to (http://host:port, path-style); without
    /// one, CreateChannel is refused
    #[arg(long, env = "SHARDLINE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Region to sign S3 requests for [default: --region]
    #[arg(long, env = "SHARDLINE_S3_REGION")]
    pub s3_region: Option<String>,
    /// Access key for the S3 endpoint [default: shardline]
    #[arg(long, env = "SHARDLINE_S3_ACCESS_KEY_ID", hide_env_values = true)]
    pub s3_access_key_id: Option<String>,
    /// Secret key for the S3 endpoint [default: shardline]
    #[arg(long, env = "SHARDLINE_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
    /// A channel writes an object once this many bytes are buffered [default: 67108864]
    #[arg(long, env = "SHARDLINE_CHANNEL_OBJECT_BYTES")]
    pub channel_object_bytes: Option<usize>,
    /// Caps every channel's DataFreshnessInSeconds, in milliseconds (for tests) [default: none]
    #[arg(long, env = "SHARDLINE_CHANNEL_MAX_WAIT_MS")]
    pub channel_max_wait_ms: Option<u64>,
    /// The web console at /console/ [default: on when listening on loopback, else off]
    #[arg(long, env = "SHARDLINE_CONSOLE", value_enum)]
    pub console: Option<ConsoleArg>,
    /// Minutes of metrics history kept at one-minute resolution, for the CloudWatch API and
    /// the console [default: 1440]
    #[arg(long, env = "SHARDLINE_METRICS_HISTORY_MINUTES")]
    pub metrics_history_minutes: Option<u32>,
}

/// The same options as read from `shardline.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    host: Option<IpAddr>,
    port: Option<u16>,
    tls_port: Option<u16>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    in_memory: Option<bool>,
    durability: Option<DurabilityArg>,
    account_id: Option<String>,
    region: Option<String>,
    create_delay_ms: Option<u64>,
    delete_delay_ms: Option<u64>,
    iterator_ttl_secs: Option<u64>,
    shard_limit: Option<u32>,
    segment_bytes: Option<u64>,
    max_open_files: Option<u64>,
    subscription_secs: Option<u64>,
    housekeeping_ms: Option<u64>,
    test_clock: Option<bool>,
    limits: Option<LimitsArg>,
    on_demand_cooldown_secs: Option<u64>,
    limit_write_bytes: Option<u64>,
    limit_write_records: Option<u64>,
    limit_read_calls: Option<u64>,
    limit_read_bytes: Option<u64>,
    limit_iterator_calls: Option<u64>,
    limit_subscribe_bytes: Option<u64>,
    limit_control_plane: Option<bool>,
    auth: Option<AuthArg>,
    credentials_file: Option<PathBuf>,
    master_key_file: Option<PathBuf>,
    kms_keys: Option<Vec<String>>,
    create_streams: Option<Vec<String>>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    s3_access_key_id: Option<String>,
    s3_secret_access_key: Option<String>,
    channel_object_bytes: Option<usize>,
    channel_max_wait_ms: Option<u64>,
    console: Option<ConsoleArg>,
    metrics_history_minutes: Option<u32>,
    allow_anonymous: Option<bool>,
    metrics_listen: Option<SocketAddr>,
    log: Option<String>,
    /// Fault-injection rules in force at start (`[[fault]]` tables).
    #[serde(default)]
    fault: Vec<shardline_server::faults::FaultSpec>,
}

/// A stream `--create-stream` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSpec {
    pub name: String,
    /// `None`: on demand.
    pub shards: Option<u32>,
}

impl StreamSpec {
    /// `NAME`, `NAME:SHARDS` or `NAME:on-demand`.
    fn parse(text: &str) -> anyhow::Result<StreamSpec> {
        let (name, kind) = text.split_once(':').unwrap_or((text, "4"));
        let valid_name = (1..=128).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !valid_name {
            bail!("--create-stream {text:?}: a stream name is 1 to 128 of a-z A-Z 0-9 _ . -");
        }
        let shards = match kind {
            "on-demand" | "ON_DEMAND" => None,
            n => Some(n.parse::<u32>().ok().filter(|n| *n >= 1).with_context(|| {
                format!("--create-stream {text:?}: after ':' comes a shard count or on-demand")
            })?),
        };
        Ok(StreamSpec {
            name: name.to_string(),
            shards,
        })
    }
}

/// Effective settings of one `serve` run.
#[derive(Debug)]
pub struct Settings {
    pub host: IpAddr,
    pub port: u16,
    pub tls_port: Option<u16>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub in_memory: bool,
    pub durability: DurabilityArg,
    pub account_id: String,
    pub region: String,
    pub create_delay_ms: u64,
    pub delete_delay_ms: u64,
    pub iterator_ttl_secs: u64,
    pub shard_limit: u32,
    pub segment_bytes: u64,
    /// `None`: sized from the descriptor limit at start.
    pub max_open_files: Option<u64>,
    pub subscription_secs: u64,
    pub housekeeping_ms: u64,
    pub test_clock: bool,
    pub limits: shardline_engine::Limits,
    pub on_demand_cooldown_secs: u64,
    pub auth: AuthArg,
    pub credentials_file: Option<PathBuf>,
    pub master_key_file: Option<PathBuf>,
    pub kms_keys: Vec<String>,
    pub create_streams: Vec<StreamSpec>,
    pub faults: Vec<shardline_server::faults::FaultSpec>,
    pub metrics_listen: Option<SocketAddr>,
    pub log: String,
    /// Channel delivery: where to, with which keys, and when objects are written.
    pub s3: Option<shardline_delivery::DeliveryConfig>,
    pub console: bool,
    pub metrics_history_minutes: u32,
}

impl Settings {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Settings> {
        let file = load_file(args.config.as_deref())?;
        let region = args.region.clone().or_else(|| file.region.clone());
        let s = Settings {
            host: args
                .host
                .or(file.host)
                .unwrap_or(IpAddr::from([127, 0, 0, 1])),
            port: args.port.or(file.port).unwrap_or(4567),
            tls_port: args.tls_port.or(file.tls_port),
            tls_cert: args.tls_cert.or(file.tls_cert),
            tls_key: args.tls_key.or(file.tls_key),
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("shardline-data")),
            in_memory: args.in_memory || file.in_memory.unwrap_or(false),
            durability: args
                .durability
                .or(file.durability)
                .unwrap_or(DurabilityArg::Strict),
            account_id: args
                .account_id
                .or(file.account_id)
                .unwrap_or_else(|| "000000000000".into()),
            region: args
                .region
                .or(file.region)
                .unwrap_or_else(|| "us-east-1".into()),
            create_delay_ms: args.create_delay_ms.or(file.create_delay_ms).unwrap_or(500),
            delete_delay_ms: args.delete_delay_ms.or(file.delete_delay_ms).unwrap_or(500),
            iterator_ttl_secs: args
                .iterator_ttl_secs
                .or(file.iterator_ttl_secs)
                .unwrap_or(300),
            shard_limit: args.shard_limit.or(file.shard_limit).unwrap_or(20_000),
            segment_bytes: args
                .segment_bytes
                .or(file.segment_bytes)
                .unwrap_or(64 * 1024 * 1024),
            max_open_files: args.max_open_files.or(file.max_open_files),
            subscription_secs: args
                .subscription_secs
                .or(file.subscription_secs)
                .unwrap_or(300),
            housekeeping_ms: args
                .housekeeping_ms
                .or(file.housekeeping_ms)
                .unwrap_or(1000),
            test_clock: args.test_clock || file.test_clock.unwrap_or(false),
            limits: {
                let mut l = match args.limits.or(file.limits).unwrap_or(LimitsArg::Aws) {
                    LimitsArg::Aws => shardline_engine::Limits::aws(),
                    LimitsArg::Off => shardline_engine::Limits::off(),
                };
                let set = |slot: &mut Option<u64>, v: Option<u64>| {
                    if let Some(v) = v {
                        *slot = (v > 0).then_some(v);
                    }
                };
                set(
                    &mut l.write_bytes_per_sec,
                    args.limit_write_bytes.or(file.limit_write_bytes),
                );
                set(
                    &mut l.write_records_per_sec,
                    args.limit_write_records.or(file.limit_write_records),
                );
                set(
                    &mut l.read_calls_per_sec,
                    args.limit_read_calls.or(file.limit_read_calls),
                );
                set(
                    &mut l.read_bytes_per_sec,
                    args.limit_read_bytes.or(file.limit_read_bytes),
                );
                set(
                    &mut l.iterator_calls_per_sec,
                    args.limit_iterator_calls.or(file.limit_iterator_calls),
                );
                set(
                    &mut l.subscribe_bytes_per_sec,
                    args.limit_subscribe_bytes.or(file.limit_subscribe_bytes),
                );
                if let Some(on) = args.limit_control_plane.or(file.limit_control_plane) {
                    l.control_plane = on;
                }
                l
            },
            on_demand_cooldown_secs: args
                .on_demand_cooldown_secs
                .or(file.on_demand_cooldown_secs)
                .unwrap_or(3600),
            auth: args.auth.or(file.auth).unwrap_or(AuthArg::None),
            credentials_file: args.credentials_file.or(file.credentials_file),
            master_key_file: args.master_key_file.or(file.master_key_file),
            kms_keys: if args.kms_keys.is_empty() {
                file.kms_keys.unwrap_or_default()
            } else {
                args.kms_keys
            },
            create_streams: {
                let given = if args.create_streams.is_empty() {
                    file.create_streams.unwrap_or_default()
                } else {
                    args.create_streams
                };
                given
                    .iter()
                    .map(|g| StreamSpec::parse(g))
                    .collect::<anyhow::Result<Vec<_>>>()?
            },
            faults: file.fault,
            metrics_listen: args.metrics_listen.or(file.metrics_listen),
            log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
            console: false, // set below, once the host is known
            metrics_history_minutes: args
                .metrics_history_minutes
                .or(file.metrics_history_minutes)
                .unwrap_or(1440)
                .clamp(1, 20_160),
            s3: match args.s3_endpoint.or(file.s3_endpoint) {
                None => None,
                Some(endpoint) => {
                    if !endpoint.starts_with("http://") {
                        bail!("--s3-endpoint must be an http:// URL, not {endpoint}");
                    }
                    Some(shardline_delivery::DeliveryConfig {
                        s3: shardline_delivery::S3Config {
                            endpoint,
                            region: args
                                .s3_region
                                .or(file.s3_region)
                                .or(region)
                                .unwrap_or_else(|| "us-east-1".into()),
                            access_key_id: args
                                .s3_access_key_id
                                .or(file.s3_access_key_id)
                                .unwrap_or_else(|| "shardline".into()),
                            secret_access_key: args
                                .s3_secret_access_key
                                .or(file.s3_secret_access_key)
                                .unwrap_or_else(|| "shardline".into()),
                        },
                        object_bytes: args
                            .channel_object_bytes
                            .or(file.channel_object_bytes)
                            .unwrap_or(64 << 20)
                            .max(1),
                        poll: Duration::from_millis(200),
                        max_wait: args
                            .channel_max_wait_ms
                            .or(file.channel_max_wait_ms)
                            .map(Duration::from_millis),
                    })
                }
            },
        };
        let mut s = s;
        s.console = match args.console.or(file.console) {
            Some(c) => c == ConsoleArg::On,
            None => s.host.is_loopback(),
        };
        for (i, f) in s.faults.iter().enumerate() {
            if let Err(e) = f.validate() {
                bail!("fault rule {} in the configuration file: {e}", i + 1);
            }
        }
        let allow_anonymous = args.allow_anonymous || file.allow_anonymous.unwrap_or(false);
        if s.auth == AuthArg::None && s.credentials_file.is_some() {
            bail!("--credentials-file is used only with --auth sigv4; add --auth sigv4 to check signatures");
        }
        if s.auth == AuthArg::Sigv4 && s.credentials_file.is_none() {
            bail!("--auth sigv4 needs --credentials-file with the keys to accept");
        }
        if !s.host.is_loopback() && s.auth == AuthArg::None && !allow_anonymous {
            bail!(
                "refusing to listen on {} without authentication; pass --allow-anonymous to accept \
                 unauthenticated requests from the network",
                s.host
            );
        }
        if s.test_clock && !s.host.is_loopback() {
            bail!(
                "--test-clock lets any caller move the server's clock; it is allowed only on a \
                 loopback --host, not {}",
                s.host
            );
        }
        if let Some(addr) = s.metrics_listen {
            if !addr.ip().is_loopback() && !allow_anonymous {
                bail!(
                    "--metrics-listen {addr} would show every account's metrics to the network \
                     without authentication; use a loopback address or pass --allow-anonymous"
                );
            }
        }
        if s.tls_cert.is_some() != s.tls_key.is_some() {
            bail!("--tls-cert and --tls-key go together");
        }
        if s.account_id.len() != 12 || !s.account_id.bytes().all(|b| b.is_ascii_digit()) {
            bail!("account id must be 12 digits, got {:?}", s.account_id);
        }
        Ok(s)
    }
}

fn load_file(explicit: Option<&std::path::Path>) -> anyhow::Result<FileSettings> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let default = PathBuf::from("shardline.toml");
            if !default.exists() {
                return Ok(FileSettings::default());
            }
            default
        }
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn resolve(args: &[&str]) -> Settings {
        let cli = Cli::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .expect("arguments parse");
        Settings::resolve(cli.serve).expect("settings resolve")
    }

    /// One test for every layer, so no other test of this binary sees the variables it sets.
    #[test]
    fn a_flag_beats_the_variable_which_beats_the_file_which_beats_the_default() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("shardline.toml");
        std::fs::write(
            &file,
            "region = \"eu-west-1\"\nshard_limit = 7\nlimits = \"off\"\ncreate_delay_ms = 3\n",
        )
        .expect("write config");
        let config = file.to_str().expect("UTF-8 path");
        std::env::remove_var("SHARDLINE_REGION");
        std::env::remove_var("SHARDLINE_SHARD_LIMIT");

        // Default only.
        let s = resolve(&[]);
        assert_eq!((s.region.as_str(), s.shard_limit), ("us-east-1", 20_000));
        // The file over the default, for every kind of value.
        let s = resolve(&["--config", config]);
        assert_eq!((s.region.as_str(), s.shard_limit), ("eu-west-1", 7));
        assert_eq!((s.create_delay_ms, s.limits.write_bytes_per_sec), (3, None));
        // The variable over the file.
        std::env::set_var("SHARDLINE_REGION", "ap-south-1");
        std::env::set_var("SHARDLINE_SHARD_LIMIT", "9");
        let s = resolve(&["--config", config]);
        assert_eq!((s.region.as_str(), s.shard_limit), ("ap-south-1", 9));
        // The flag over the variable.
        let s = resolve(&["--config", config, "--region", "sa-east-1"]);
        assert_eq!((s.region.as_str(), s.shard_limit), ("sa-east-1", 9));
        std::env::remove_var("SHARDLINE_REGION");
        std::env::remove_var("SHARDLINE_SHARD_LIMIT");
        // A flag over the file without a variable in between.
        let s = resolve(&["--config", config, "--shard-limit", "11"]);
        assert_eq!(s.shard_limit, 11);
    }
}
