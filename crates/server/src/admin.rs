//! shardline's own endpoints, beside the Kinesis API:
//! - `GET /_shardline/health` → `ok`
//! - `POST /_shardline/clock?advance_ms=N` → moves the engine clock forward (only with
//!   `--test-clock`), so tests can see retention and iterator expiry without waiting.

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::http::{text, Body};
use crate::Shared;

pub const PREFIX: &str = "/_shardline/";

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
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}
