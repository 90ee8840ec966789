//! The HTTP front end: accepts HTTP/1.1 and HTTP/2 (prior knowledge) on one port, routes
//! `X-Amz-Target` calls to the engine, and answers in AWS's response and error format.
//!
//! `http.rs` owns the connection and request plumbing, `dispatch.rs` maps each operation to
//! an engine call, `admin.rs` serves shardline's own endpoints under `/_shardline/`.

mod admin;
pub mod auth;
mod cloudwatch;
mod console;
mod cors;
mod dispatch;
pub mod faults;
mod http;
mod protocol;
mod response;
mod subscribe;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use shardline_engine::Engine;

/// Settings of the HTTP front end.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The account requests act as when authentication is off.
    pub account_id: String,
    /// With SigV4 authentication on: the keys allowed in, each with its account.
    pub credentials: Option<Arc<auth::Credentials>>,
    /// Allows `POST /_shardline/clock` to move the engine clock forward, for tests.
    pub test_clock: bool,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// How long a SubscribeToShard session lasts (AWS: 5 minutes).
    pub subscription_lifetime: Duration,
    /// Longest quiet time on a subscription before an empty event is sent.
    pub subscription_heartbeat: Duration,
    /// Fault-injection rules in force at start.
    pub faults: Vec<faults::FaultSpec>,
    /// Who may read `GET /metrics` on the API listeners.
    pub metrics_access: MetricsAccess,
    /// API connections held at once (each holds a descriptor); more wait to be accepted.
    pub max_connections: usize,
    /// The region the server says it is in (the console signs for it).
    pub region: String,
    /// Minutes of one-minute metrics buckets kept for the CloudWatch API.
    pub metrics_history_minutes: u32,
    /// Serves the web console at `/console/`.
    pub console: bool,
    /// Serves the console's files from this directory instead of the built-in ones (for work
    /// on the console: a change shows on reload).
    pub console_dir: Option<std::path::PathBuf>,
}

/// Who may read `GET /metrics` on an API listener (a [`Role::Metrics`] listener always serves
/// every account's metrics to anyone who reaches it, which is why it binds loopback).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Anyone, every account's series: a loopback server without authentication.
    Open,
    /// Signed requests only: an account's key reads that account's series, an administrator
    /// key all of them (the server authenticates).
    Signed,
    /// Not on this listener; they are served at this address instead (a server on the network
    /// without authentication).
    Elsewhere(std::net::SocketAddr),
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            account_id: "000000000000".into(),
            credentials: None,
            test_clock: false,
            max_body_bytes: 24 * 1024 * 1024,
            subscription_lifetime: Duration::from_secs(300),
            subscription_heartbeat: Duration::from_secs(1),
            faults: Vec::new(),
            metrics_access: MetricsAccess::Open,
            max_connections: 10_000,
            region: "us-east-1".into(),
            metrics_history_minutes: 1440,
            console: true,
            console_dir: None,
        }
    }
}

/// How long a client may take to send its request headers, or its whole body.
pub(crate) const SLOW_CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct Shared {
    pub engine: Arc<Engine>,
    pub config: ServerConfig,
    /// Flips to true when the server starts shutting down.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    pub faults: faults::Faults,
    /// Renders `/metrics`; absent if another recorder was installed first.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// The metrics history the CloudWatch API reads; absent as `metrics`.
    pub history: Option<Arc<shardline_cloudwatch::History>>,
}

pub use http::{Listener, Role};

/// Serves on every listener until `shutdown` resolves, then lets requests in flight finish
/// (for a few seconds).
///
/// # Errors
/// Only if serving fails as a whole.
pub async fn serve(
    listeners: Vec<Listener>,
    engine: Arc<Engine>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let faults = faults::Faults::default();
    for spec in &config.faults {
        faults
            .add(spec.clone())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    }
    admin::record_process_metrics(); // fixes the start time now
    let (metrics, history) = install_recorders(config.metrics_history_minutes);
    if let Some(handle) = metrics.clone() {
        // Histogram samples pile up in the recorder until upkeep folds them into summaries;
        // without it, memory would grow with every request between scrapes.
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(5));
            loop {
                every.tick().await;
                handle.run_upkeep();
            }
        });
    }
    let shared = Arc::new(Shared {
        engine,
        config,
        shutdown: tokio::sync::watch::Sender::new(false),
        faults,
        metrics,
        history,
    });
    http::serve(listeners, shared, shutdown, Duration::from_secs(5)).await
}

/// The recorders every server of this process shares: Prometheus for `/metrics` and the
/// history for the CloudWatch API, both fed by one fan-out. The first server installs them;
/// later ones (tests run several) use the same.
fn install_recorders(
    history_minutes: u32,
) -> (
    Option<metrics_exporter_prometheus::PrometheusHandle>,
    Option<Arc<shardline_cloudwatch::History>>,
) {
    type Installed = Option<(
        metrics_exporter_prometheus::PrometheusHandle,
        Arc<shardline_cloudwatch::History>,
    )>;
    static INSTALLED: std::sync::OnceLock<Installed> = std::sync::OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = prometheus.handle();
        let history = Arc::new(shardline_cloudwatch::History::new(history_minutes));
        let fanout = metrics_util::layers::FanoutBuilder::default()
            .add_recorder(prometheus)
            .add_recorder(shardline_cloudwatch::HistoryRecorder::new(history.clone()))
            .build();
        match metrics::set_global_recorder(fanout) {
            Ok(()) => Some((handle, history)),
            Err(e) => {
                tracing::warn!(error = %e, "metrics are off");
                None
            }
        }
    });
    match installed {
        Some((h, hist)) => (Some(h.clone()), Some(hist.clone())),
        None => (None, None),
    }
}
