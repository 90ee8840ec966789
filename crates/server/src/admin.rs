//! shardline's own endpoints, beside the Kinesis API:
//! - `GET /metrics` → Prometheus text: CloudWatch's Kinesis metric names (`.` becomes `_`:
//!   `PutRecords.Latency` is `PutRecords_Latency`) labelled `StreamName` and `AccountId` (and
//!   `ShardId` for shard-level metrics enabled with EnableEnhancedMonitoring), plus `process_*`
//!   metrics. Who may read them is [`MetricsAccess`].
//! - `GET /_shardline/health` → `ok`, to anyone (it reveals nothing).
//! - `POST /_shardline/clock?advance_ms=N` → moves the engine clock forward (only with
//!   `--test-clock`), so tests can see retention and iterator expiry without waiting.
//! - `GET /_shardline/faults` → the fault-injection rules in force (JSON);
//!   `POST /_shardline/faults` with a rule (JSON) → its id; `DELETE /_shardline/faults/<id>`
//!   removes one, `DELETE /_shardline/faults` all.
//!
//! When the server authenticates (`--auth sigv4`), every route here but the health check
//! needs a request signed (SigV4, service `kinesis`) with a configured key, and all but
//! `/metrics` a key marked `admin = true`: what changes or reveals the server's state is
//! behind the same door as the API.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use shardline_wire::{ApiError, Codec, ErrorCode};

use crate::auth::{self, Verified};
use crate::faults::FaultSpec;
use crate::response::{error, text, Body};
use crate::{MetricsAccess, Shared, SLOW_CLIENT_TIMEOUT};

pub const PREFIX: &str = "/_shardline/";
const HEALTH: &str = "/_shardline/health";
/// Largest body an admin request may carry (a fault rule is a few hundred bytes).
const MAX_ADMIN_BODY: usize = 64 * 1024;

/// `GET /metrics` on an API listener.
pub async fn metrics(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    match &shared.config.metrics_access {
        MetricsAccess::Open => render(shared, None),
        MetricsAccess::Elsewhere(addr) => text(
            StatusCode::NOT_FOUND,
            format!("metrics are served on http://{addr}/metrics\n"),
        ),
        MetricsAccess::Signed => match authenticate(shared, req).await {
            Ok((_, _, Some(who))) if who.admin => render(shared, None),
            Ok((_, _, Some(who))) => render(shared, Some(&who.account_id)),
            // Only a misconfigured server asks for signatures it cannot check.
            Ok((_, _, None)) => text(
                StatusCode::FORBIDDEN,
                "metrics need a signed request\n".into(),
            ),
            Err(refused) => refused,
        },
    }
}

/// Everything a [`crate::Role::Metrics`] listener answers.
pub fn metrics_listener(shared: &Shared, req: &Request<Incoming>) -> Response<Body> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => render(shared, None),
        (&Method::GET, HEALTH) => text(StatusCode::OK, "ok\n".into()),
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

/// The Prometheus text: every series, or only those of one account's streams.
fn render(shared: &Shared, account: Option<&str>) -> Response<Body> {
    let Some(handle) = &shared.metrics else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "metrics are off\n".into());
    };
    record_process_metrics();
    let all = handle.render();
    let body = match account {
        None => all,
        Some(account) => only_account(&all, account),
    };
    let mut r = text(StatusCode::OK, body);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// The samples of `text` labelled `AccountId="<account>"`, each with the `# HELP`/`# TYPE`
/// lines of its metric. Process metrics (no account) are left out: they describe the server,
/// which is the administrators'. Label values cannot hide the pattern: account ids are digits
/// and stream names have no quotes.
fn only_account(text: &str, account: &str) -> String {
    let label = format!("AccountId=\"{account}\"");
    let mut out = String::new();
    let mut comments: Vec<&str> = Vec::new();
    let mut after_sample = false;
    for line in text.lines() {
        if line.starts_with('#') {
            if after_sample {
                comments.clear();
                after_sample = false;
            }
            comments.push(line);
            continue;
        }
        after_sample = true;
        let labels = line
            .split_once('{')
            .and_then(|(_, rest)| rest.split_once('}'))
            .map_or("", |(labels, _)| labels);
        if labels.split(',').any(|l| l == label) {
            for c in comments.drain(..) {
                out.push_str(c);
                out.push('\n');
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    out
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

/// Reads a request's body (bounded) and, when the server authenticates, verifies its
/// signature: `Some(signer)`, or `None` when the server does not authenticate.
///
/// # Errors
/// The answer to send instead: AWS's authentication errors (MissingAuthenticationToken,
/// InvalidSignature, …) in JSON, or a body too large or too slow.
async fn authenticate(
    shared: &Shared,
    req: Request<Incoming>,
) -> Result<(http::request::Parts, Bytes, Option<Verified>), Response<Body>> {
    let (parts, body) = req.into_parts();
    let collected = tokio::time::timeout(
        SLOW_CLIENT_TIMEOUT,
        Limited::new(body, MAX_ADMIN_BODY).collect(),
    )
    .await;
    let body = match collected {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => {
            return Err(text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body must be at most {MAX_ADMIN_BODY} bytes\n"),
            ))
        }
        Err(_) => {
            return Err(text(
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time\n".into(),
            ))
        }
    };
    let Some(credentials) = &shared.config.credentials else {
        return Ok((parts, body, None));
    };
    match auth::verify(
        credentials,
        &shardline_wire::sigv4::RequestParts::new(&parts, &body),
        std::time::SystemTime::now(),
    ) {
        Ok(who) => Ok((parts, body, Some(who))),
        Err(e) => Err(error(Codec::Json, &e)),
    }
}

/// `AccessDeniedException` for a key that is not an administrator.
fn not_admin(who: &Verified, action: &str) -> Response<Body> {
    error(
        Codec::Json,
        &ApiError::new(
            ErrorCode::AccessDenied,
            format!(
                "User: {} of account {} is not authorized to perform: shardline:{action} \
                 (only keys marked admin in the credentials file may)",
                who.access_key_id, who.account_id
            ),
        ),
    )
}

/// The action a route performs, as named in AccessDenied messages; `None` for a route that
/// does not exist.
fn action(method: &Method, path: &str) -> Option<&'static str> {
    match (method, path) {
        (&Method::POST, "/_shardline/clock") => Some("AdvanceClock"),
        (&Method::GET, "/_shardline/faults") => Some("ListFaults"),
        (&Method::POST, "/_shardline/faults") => Some("AddFault"),
        (&Method::DELETE, "/_shardline/faults") => Some("RemoveFaults"),
        (&Method::DELETE, p) if p.starts_with("/_shardline/faults/") => Some("RemoveFaults"),
        _ => None,
    }
}

/// Everything under [`PREFIX`] on an API listener.
pub async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    if req.method() == Method::GET && req.uri().path() == HEALTH {
        return text(StatusCode::OK, "ok\n".into());
    }
    let (parts, body, who) = match authenticate(shared, req).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let Some(action) = action(&parts.method, parts.uri.path()) else {
        return text(StatusCode::NOT_FOUND, "not found\n".into());
    };
    if let Some(who) = &who {
        if !who.admin {
            return not_admin(who, action);
        }
    }
    match (&parts.method, parts.uri.path()) {
        (&Method::POST, "/_shardline/clock") => advance_clock(shared, parts.uri.query()),
        (&Method::GET, "/_shardline/faults") => text(StatusCode::OK, shared.faults.list_json()),
        (&Method::DELETE, "/_shardline/faults") => {
            shared.faults.clear();
            text(StatusCode::OK, "cleared\n".into())
        }
        (&Method::POST, "/_shardline/faults") => {
            let spec: FaultSpec = match serde_json::from_slice(&body) {
                Ok(s) => s,
                Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
            };
            match shared.faults.add(spec) {
                Ok(id) => text(StatusCode::OK, format!("{{\"id\":{id}}}\n")),
                Err(e) => text(StatusCode::BAD_REQUEST, format!("{e}\n")),
            }
        }
        (_, path) => {
            let id = path
                .trim_start_matches("/_shardline/faults/")
                .parse::<u64>();
            match id {
                Ok(id) if shared.faults.remove(id) => text(StatusCode::OK, "removed\n".into()),
                _ => text(StatusCode::NOT_FOUND, "no such rule\n".into()),
            }
        }
    }
}

/// `POST /_shardline/clock?advance_ms=N`.
fn advance_clock(shared: &Shared, query: Option<&str>) -> Response<Body> {
    if !shared.config.test_clock {
        return text(
            StatusCode::FORBIDDEN,
            "the test clock is off; start shardline with --test-clock\n".into(),
        );
    }
    let advance = query.and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("advance_ms="))
            .and_then(|v| v.parse::<u64>().ok())
    });
    let Some(ms) = advance else {
        return text(StatusCode::BAD_REQUEST, "expected ?advance_ms=N\n".into());
    };
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

#[cfg(test)]
mod tests {
    use super::only_account;

    #[test]
    fn an_account_sees_only_its_series_and_their_headers() {
        let all = "\
# TYPE IncomingRecords counter
IncomingRecords{StreamName=\"a\",AccountId=\"111111111111\"} 3
IncomingRecords{StreamName=\"b\",AccountId=\"222222222222\"} 4
# TYPE PutRecords_Latency summary
PutRecords_Latency{StreamName=\"b\",AccountId=\"222222222222\",quantile=\"0.5\"} 1
PutRecords_Latency_sum{StreamName=\"b\",AccountId=\"222222222222\"} 1
# TYPE process_open_fds gauge
process_open_fds 12
# TYPE OutgoingRecords counter
OutgoingRecords{StreamName=\"a\",AccountId=\"111111111111\",ShardId=\"shardId-000000000000\"} 2
";
        assert_eq!(
            only_account(all, "111111111111"),
            "\
# TYPE IncomingRecords counter
IncomingRecords{StreamName=\"a\",AccountId=\"111111111111\"} 3
# TYPE OutgoingRecords counter
OutgoingRecords{StreamName=\"a\",AccountId=\"111111111111\",ShardId=\"shardId-000000000000\"} 2
"
        );
        assert!(only_account(all, "333333333333").is_empty());
        // A prefix of another account's id matches nothing.
        assert!(only_account(all, "11111111111").is_empty());
    }
}
