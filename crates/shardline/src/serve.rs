//! `shardline serve`: assemble storage, engine and HTTP server, and run until a signal.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use shardline_engine::{Engine, EngineConfig};
use shardline_log::{DiskOptions, DiskStorage, Durability, MemoryStorage, Storage};
use shardline_server::{auth, tls, Listener, MetricsAccess, Role, ServerConfig};

use crate::settings::{AuthArg, DurabilityArg, Settings};

pub fn run(s: Settings) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&s.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(s))
}

async fn serve(s: Settings) -> anyhow::Result<()> {
    let (descriptors, max_open_files) = open_file_budget(s.max_open_files);
    // What the segment files and the server's own files (journal, spares, listeners, runtime,
    // standard streams) leave for connections.
    let reserved = if s.in_memory {
        0
    } else {
        max_open_files as u64
    } + 64;
    let max_connections =
        usize::try_from(descriptors.saturating_sub(reserved).max(16)).unwrap_or(usize::MAX);
    let storage: Arc<dyn Storage> = if s.in_memory {
        Arc::new(MemoryStorage::new())
    } else {
        let mut options = DiskOptions::new(s.data_dir.clone());
        options.durability = match s.durability {
            DurabilityArg::Strict => Durability::Strict,
            DurabilityArg::Relaxed => Durability::Relaxed,
        };
        options.segment_bytes = s.segment_bytes;
        options.max_open_files = max_open_files;
        Arc::new(
            DiskStorage::open(options)
                .with_context(|| format!("opening data directory {}", s.data_dir.display()))?,
        )
    };
    let master_key = master_key(&s)?;
    let engine = Arc::new(
        Engine::open(
            storage,
            EngineConfig {
                region: s.region.clone(),
                create_delay_ms: s.create_delay_ms,
                delete_delay_ms: s.delete_delay_ms,
                iterator_ttl_ms: s.iterator_ttl_secs.saturating_mul(1000),
                shard_limit: s.shard_limit,
                master_key,
                kms_keys: s.kms_keys.clone(),
                limits: s.limits.clone(),
                on_demand_cooldown_ms: s.on_demand_cooldown_secs.saturating_mul(1000),
                channels: s.s3.is_some(),
                ..EngineConfig::default()
            },
        )
        .context("loading stream metadata")?,
    );
    create_streams(&engine, &s)?;

    let credentials = match (&s.auth, &s.credentials_file) {
        (AuthArg::Sigv4, Some(path)) => Some(Arc::new(
            auth::Credentials::load(path)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("loading credentials from {}", path.display()))?,
        )),
        _ => None,
    };
    let plain = tokio::net::TcpListener::bind(SocketAddr::new(s.host, s.port))
        .await
        .with_context(|| format!("listening on {}:{}", s.host, s.port))?;
    let addr = plain.local_addr()?;
    let mut listeners = vec![Listener {
        tcp: plain,
        tls: None,
        role: Role::Api,
    }];
    let mut tls_addr = None;
    if let Some(port) = s.tls_port {
        let (cert, key) = match (&s.tls_cert, &s.tls_key) {
            (Some(c), Some(k)) => (
                std::fs::read(c).with_context(|| format!("reading {}", c.display()))?,
                std::fs::read(k).with_context(|| format!("reading {}", k.display()))?,
            ),
            _ => {
                let dir = (!s.in_memory).then(|| s.data_dir.join("tls"));
                tls::self_signed(dir.as_deref()).map_err(anyhow::Error::msg)?
            }
        };
        let acceptor = tls::acceptor(&cert, &key).map_err(anyhow::Error::msg)?;
        let tcp = tokio::net::TcpListener::bind(SocketAddr::new(s.host, port))
            .await
            .with_context(|| format!("listening on {}:{port}", s.host))?;
        tls_addr = Some(tcp.local_addr()?);
        listeners.push(Listener {
            tcp,
            tls: Some(acceptor),
            role: Role::Api,
        });
    }
    // Every account's metrics, unauthenticated, are for loopback only: on the main port when
    // that is loopback and open anyway, else on a listener of their own.
    let open_main = s.host.is_loopback() && credentials.is_none();
    let metrics_addr = match s.metrics_listen {
        Some(explicit) => Some(bind_metrics(explicit, true).await?),
        None if open_main => None,
        None => {
            let port = if s.port == 0 {
                0
            } else {
                addr.port().wrapping_add(1)
            };
            Some(bind_metrics(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port), false).await?)
        }
    };
    let metrics_access = if credentials.is_some() {
        MetricsAccess::Signed
    } else if open_main {
        MetricsAccess::Open
    } else {
        match &metrics_addr {
            Some((_, a)) => MetricsAccess::Elsewhere(*a),
            None => MetricsAccess::Open,
        }
    };
    let metrics_note = metrics_addr.as_ref().map(|(_, a)| *a);
    if let Some((tcp, _)) = metrics_addr {
        listeners.push(Listener {
            tcp,
            tls: None,
            role: Role::Metrics,
        });
    }
    let storage_note = if s.in_memory {
        "in memory".to_string()
    } else {
        format!(
            "data in {}, durability {:?}",
            s.data_dir.display(),
            s.durability
        )
        .to_lowercase()
    };
    // Tests read the first line to find the port; keep its shape.
    println!("shardline listening on http://{addr} ({storage_note})");
    if let Some(tls_addr) = tls_addr {
        println!("shardline listening on https://{tls_addr} (HTTP/1.1 and HTTP/2)");
    }
    println!(
        "  descriptors: limit {descriptors}; up to {max_connections} connections{}",
        if s.in_memory {
            String::new()
        } else {
            format!(" and {max_open_files} segment files open")
        }
    );
    if let Some(metrics) = metrics_note {
        println!("shardline metrics on http://{metrics}/metrics (every account's; loopback)");
    }
    if s.console {
        println!("shardline console on http://{addr}/console/");
    }
    let keys = if credentials.is_some() {
        "AWS_ACCESS_KEY_ID=<key from the credentials file> AWS_SECRET_ACCESS_KEY=<its secret>"
    } else {
        "AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x"
    };
    println!(
        "  try: {keys} aws --region {} --endpoint-url http://{addr} kinesis list-streams",
        s.region
    );

    let delivery =
        s.s3.clone()
            .map(|config| tokio::spawn(shardline_delivery::run(engine.clone(), config)));
    let housekeeping = tokio::spawn(housekeeping(
        engine.clone(),
        Duration::from_millis(s.housekeeping_ms.max(10)),
    ));
    shardline_server::serve(
        listeners,
        engine,
        ServerConfig {
            account_id: s.account_id,
            credentials,
            test_clock: s.test_clock,
            subscription_lifetime: Duration::from_secs(s.subscription_secs.max(1)),
            faults: s.faults.clone(),
            metrics_access,
            max_connections,
            console: s.console,
            metrics_history_minutes: s.metrics_history_minutes,
            console_dir: std::env::var_os("SHARDLINE_CONSOLE_DIR").map(std::path::PathBuf::from),
            region: s.region.clone(),
            ..ServerConfig::default()
        },
        shutdown_signal(),
    )
    .await?;
    housekeeping.abort();
    if let Some(d) = delivery {
        d.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Creates the streams `--create-stream` names that do not exist yet (in any state), in the
/// default account, as CreateStream would: so a restart, or a second start on the same data,
/// changes nothing.
fn create_streams(engine: &Engine, s: &Settings) -> anyhow::Result<()> {
    use shardline_wire::shapes::{
        CreateStreamInput, DescribeStreamSummaryInput, StreamModeDetails,
    };
    let caller = shardline_engine::Caller {
        account_id: s.account_id.clone(),
        operation: shardline_wire::Operation::CreateStream,
    };
    for spec in &s.create_streams {
        let exists = engine
            .describe_stream_summary(
                &caller,
                DescribeStreamSummaryInput {
                    stream_name: Some(spec.name.clone()),
                    ..DescribeStreamSummaryInput::default()
                },
            )
            .is_ok();
        if exists {
            continue;
        }
        let input = CreateStreamInput {
            stream_name: Some(spec.name.clone()),
            shard_count: spec.shards.map(i64::from),
            stream_mode_details: Some(StreamModeDetails {
                stream_mode: Some(
                    if spec.shards.is_some() {
                        "PROVISIONED"
                    } else {
                        "ON_DEMAND"
                    }
                    .into(),
                ),
            }),
            ..CreateStreamInput::default()
        };
        engine
            .create_stream(&caller, input)
            .map_err(|e| anyhow::anyhow!("{}", e.into_api_error()))
            .with_context(|| format!("creating stream {} (--create-stream)", spec.name))?;
        tracing::info!(stream = spec.name, "created at start");
    }
    Ok(())
}

/// Raises the soft descriptor limit to the hard one (as most servers do) and sizes the segment
/// file cache from it: half the limit, leaving the other half to connections, journal files and
/// listeners, at most 65,536, unless `--max-open-files` says otherwise. Returns the limit and
/// the cache's size.
fn open_file_budget(explicit: Option<u64>) -> (u64, usize) {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit; assuming 1024");
            1024
        }
    };
    let budget = explicit.unwrap_or_else(|| (limit / 2).clamp(16, 65_536));
    (limit, usize::try_from(budget).unwrap_or(usize::MAX))
}

/// Binds the metrics listener. A default address that is taken gives way to a free port;
/// an address asked for is kept or the start fails.
async fn bind_metrics(
    addr: SocketAddr,
    explicit: bool,
) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    let tcp = match tokio::net::TcpListener::bind(addr).await {
        Ok(tcp) => tcp,
        Err(e) if !explicit => {
            tracing::warn!(error = %e, "metrics cannot use {addr}; taking a free port");
            tokio::net::TcpListener::bind(SocketAddr::new(addr.ip(), 0))
                .await
                .with_context(|| format!("listening for metrics on {}", addr.ip()))?
        }
        Err(e) => return Err(e).with_context(|| format!("listening for metrics on {addr}")),
    };
    let bound = tcp.local_addr()?;
    Ok((tcp, bound))
}

/// The master key for encrypted streams: from `--master-key-file`, else `<data-dir>/master.key`
/// (made on first start, readable by the owner only), else random for an in-memory run.
fn master_key(s: &Settings) -> anyhow::Result<[u8; 32]> {
    let path = match (&s.master_key_file, s.in_memory) {
        (Some(p), _) => p.clone(),
        (None, true) => {
            let mut key = [0u8; 32];
            getrandom(&mut key)?;
            return Ok(key);
        }
        (None, false) => {
            let p = s.data_dir.join("master.key");
            if !p.exists() {
                let mut key = [0u8; 32];
                getrandom(&mut key)?;
                std::fs::create_dir_all(&s.data_dir)?;
                let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
                write_private(&p, hex.as_bytes())
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            p
        }
    };
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if bytes.len() == 32 {
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        return Ok(key);
    }
    if text.len() == 64 {
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .with_context(|| format!("{} is not 64 hex digits", path.display()))?;
        }
        return Ok(key);
    }
    anyhow::bail!("{} must hold 32 bytes or 64 hex digits", path.display())
}

fn getrandom(buf: &mut [u8]) -> anyhow::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)?;
    Ok(())
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

async fn housekeeping(engine: Arc<Engine>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let engine = engine.clone();
        match tokio::task::spawn_blocking(move || engine.tick()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "housekeeping failed; will retry"),
            Err(e) => tracing::error!(error = %e, "housekeeping panicked"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down");
}
