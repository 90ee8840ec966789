//! shardline's own endpoints, beside the Kinesis API:
//! - `GET /metrics` → Prometheus text: CloudWatch's Kinesis metric names (`.` becomes `_`:
//!   `PutRecords.Latency` is `PutRecords_Latency`) labelled `StreamName` (and `ShardId` for
//!   shard-level metrics enabled with EnableEnhancedMonitoring), plus `process_*` metrics.
//! - `GET /_shardline/health` → `ok`
//! - `POST /_shardline/clock?advance_ms=N` → moves the engine clock forward (only with
//!   `--test-clock`), so tests can see retention and iterator expiry without waiting.
//! - `GET /_shardline/faults` → the fault-injection rules in force (JSON);
//!   `POST /_shardline/faults` with a rule (JSON) → its id; `DELETE /_shardline/faults/<id>`
//!   removes one, `DELETE /_shardline/faults` all.

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use http_body_util::{BodyExt, Limited};

use crate::faults::FaultSpec;
use crate::http::{text, Body};
use crate::Shared;

pub const PREFIX: &str = "/_shardline/";

/// `GET /metrics`.
pub fn metrics(shared: &Shared) -> Response<Body> {
    let Some(handle) = &shared.metrics else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "metrics are off\n".into());
    };
    record_process_metrics();
    let mut r = text(StatusCode::OK, handle.render());
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// Process metrics under Prometheus's conventional names, read from /proc when there is one.
pub(crate) fn record_process_metrics() {
    static STARTED: std::sync::OnceLock<std::time::SystemTime> = std::sync::OnceLock::new();
    let started = *STARTED.get_or_init(std::time::SystemTime::now);
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
        if let Some(pages) = statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<f64>().ok())
        {
            metrics::gauge!("process_resident_memory_bytes").set(pages * 4096.0);
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!("process_open_fds").set(fds.count() as f64);
    }
    if let Ok(since) = started.duration_since(std::time::UNIX_EPOCH) {
        metrics::gauge!("process_start_time_seconds").set(since.as_secs_f64());
    }
}

pub async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/_shardline/health") => text(StatusCode::OK, "ok\n".into()),
        (&Method::POST, "/_shardline/clock") => {
            if !shared.config.test_clock {
                return text(
                    StatusCode::FORBIDDEN,
                    "the test clock is off; start shardline with --test-clock\n".into(),
                );
            }
            let advance = req.uri().query().and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("advance_ms="))
                    .and_then(|v| v.parse::<u64>().ok())
            });
            match advance {
                Some(ms) => {
                    shared.engine.clock().advance(ms);
                    // Let housekeeping see the new time at once rather than at its next tick.
                    if let Err(e) = shared.engine.tick() {
                        tracing::warn!(error = %e, "housekeeping after a clock move failed");
                    }
                    text(
                        StatusCode::OK,
                        format!("{}\n", shared.engine.clock().now_ms()),
                    )
                }
                None => text(StatusCode::BAD_REQUEST, "expected ?advance_ms=N\n".into()),
            }
        }
        (&Method::GET, "/_shardline/faults") => text(StatusCode::OK, shared.faults.list_json()),
        (&Method::DELETE, "/_shardline/faults") => {
            shared.faults.clear();
            text(StatusCode::OK, "cleared\n".into())
        }
        (&Method::DELETE, path) if path.starts_with("/_shardline/faults/") => {
            let id = path
                .trim_start_matches("/_shardline/faults/")
                .parse::<u64>();
            match id {
                Ok(id) if shared.faults.remove(id) => text(StatusCode::OK, "removed\n".into()),
                _ => text(StatusCode::NOT_FOUND, "no such rule\n".into()),
            }
        }
        (&Method::POST, "/_shardline/faults") => {
            let body = match Limited::new(req.into_body(), 64 * 1024).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return text(StatusCode::BAD_REQUEST, "unreadable body\n".into()),
            };
            let spec: FaultSpec = match serde_json::from_slice(&body) {
                Ok(s) => s,
                Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
            };
            match shared.faults.add(spec) {
                Ok(id) => text(StatusCode::OK, format!("{{\"id\":{id}}}\n")),
                Err(e) => text(StatusCode::BAD_REQUEST, format!("{e}\n")),
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}
