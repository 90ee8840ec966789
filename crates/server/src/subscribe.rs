//! A SubscribeToShard session on the wire: an `initial-response` first, then an event
//! whenever records become durable (woken by the log, no polling timer), an empty event as a
//! heartbeat when idle, and the end after the session's lifetime (AWS: 5 minutes), at the end
//! of a closed shard, or with an exception event when another subscription takes over.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use shardline_engine::{Step, Subscription};
use shardline_wire::shapes::SubscribeToShardEvent;
use shardline_wire::{eventstream, ApiError, Operation};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::response::Body;
use crate::Shared;

/// Events buffered ahead of a slow client before the session waits for it.
const BUFFERED_EVENTS: usize = 4;

pub fn respond(shared: &Arc<Shared>, sub: Subscription) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Bytes>(BUFFERED_EVENTS);
    tokio::spawn(session(shared.clone(), sub, tx));
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(Frame::data(bytes)), rx))
    });
    let mut response = Response::new(StreamBody::new(frames).boxed_unsync());
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(eventstream::CONTENT_TYPE),
    );
    response
}

fn event_frame(event: &SubscribeToShardEvent) -> Bytes {
    let json = serde_json::to_vec(event).unwrap_or_default();
    Bytes::from(eventstream::event("SubscribeToShardEvent", &json))
}

fn exception_frame(err: &ApiError) -> Bytes {
    Bytes::from(eventstream::exception(
        err.code.type_name(),
        err.message.as_deref().unwrap_or_default(),
    ))
}

async fn session(shared: Arc<Shared>, mut sub: Subscription, tx: mpsc::Sender<Bytes>) {
    let engine = &shared.engine;
    let heartbeat = shared.config.subscription_heartbeat;
    let deadline = Instant::now() + shared.config.subscription_lifetime;
    // Sessions end with the server instead of holding its shutdown up.
    let mut shutdown = shared.shutdown.subscribe();
    if *shutdown.borrow() {
        return;
    }
    if tx
        .send(Bytes::from(eventstream::event("initial-response", b"{}")))
        .await
        .is_err()
    {
        return;
    }
    // The first event goes out at once, records or not, so clients see the session is live.
    let mut last_sent: Option<Instant> = None;
    loop {
        let ended = sub.ended.borrow_and_update().clone();
        if let Some(err) = ended {
            let _ = tx.send(exception_frame(&err)).await;
            return;
        }
        let frame = match engine.subscription_step(&mut sub) {
            Ok(Step::End(event)) => {
                let _ = tx.send(event_frame(&event)).await;
                return;
            }
            Ok(Step::Event(event)) => {
                let idle_for = last_sent.map(|t| t.elapsed());
                let due = idle_for.is_none_or(|d| d >= heartbeat);
                (!event.records.is_empty() || due).then(|| event_frame(&event))
            }
            Err(e) => {
                let _ = tx
                    .send(exception_frame(
                        &e.into_api_error_for(Operation::SubscribeToShard),
                    ))
                    .await;
                return;
            }
        };
        if let Some(frame) = frame {
            let bytes = frame.len() as u64;
            if tx.send(frame).await.is_err() {
                return; // the client went away
            }
            last_sent = Some(Instant::now());
            // Push throughput per consumer and shard (AWS: 2 MiB/s): wait out what was sent.
            if let Some(rate) = engine.subscription_push_rate() {
                let pause = std::time::Duration::from_secs_f64(bytes as f64 / rate as f64);
                if pause > std::time::Duration::from_millis(1) {
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        }
        if sub.backlog {
            // Records are waiting (the event was full): the next event goes out now.
            if Instant::now() >= deadline || *shutdown.borrow() {
                return;
            }
            continue;
        }
        let next_heartbeat = last_sent.map_or(Instant::now(), |t| t + heartbeat);
        tokio::select! {
            changed = sub.visible.changed() => {
                if changed.is_err() {
                    // The shard's partition is gone; the next step reports why.
                    tokio::time::sleep(heartbeat).await;
                }
            }
            _ = sub.ended.changed() => {}
            () = sub.woken.notified() => {}
            _ = shutdown.changed() => return,
            () = tokio::time::sleep_until(next_heartbeat.min(deadline)) => {}
            () = tx.closed() => return,
        }
        if Instant::now() >= deadline {
            return;
        }
    }
}
