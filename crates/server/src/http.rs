//! Connections and requests: HTTP/1.1 and h2c on one listener, body limits, AWS headers.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use futures_util::FutureExt;
use http::header::{HeaderValue, DATE, ORIGIN};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use shardline_wire::{ApiError, Codec};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::response::{error, xml_error, Body, ACCESS_DENIED_XML};
use crate::{admin, cloudwatch, console, cors, protocol, Shared, SLOW_CLIENT_TIMEOUT};

/// A socket to accept on, with TLS or without, and what it serves.
pub struct Listener {
    pub tcp: TcpListener,
    pub tls: Option<TlsAcceptor>,
    pub role: Role,
}

/// What a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The Kinesis API and shardline's own endpoints.
    Api,
    /// Only `GET /metrics` (every account's series, unauthenticated) and the health check: the
    /// listener a server that authenticates, or faces the network, keeps on loopback.
    Metrics,
}

/// How long the accept loop waits after a failed accept (out of descriptors, say), doubling while
/// failures go on.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// How long a client may take to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn serve(
    listeners: Vec<Listener>,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A client that dribbles its headers is cut off rather than holding a connection forever.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(SLOW_CLIENT_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(1000)
        .keep_alive_interval(None);
    let graceful = Arc::new(GracefulShutdown::new());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut loops = Vec::new();
    // Connections held at once, across listeners: each holds a descriptor, and the storage's
    // files must find some free.
    let connections = Arc::new(tokio::sync::Semaphore::new(
        shared
            .config
            .max_connections
            .min(tokio::sync::Semaphore::MAX_PERMITS),
    ));
    for listener in listeners {
        loops.push(tokio::spawn(accept_loop(
            listener,
            connections.clone(),
            shared.clone(),
            builder.clone(),
            graceful.clone(),
            stopped.clone(),
        )));
    }
    shutdown.await;
    stop.send_replace(true);
    shared.shutdown.send_replace(true);
    for l in loops {
        let _ = l.await;
    }
    // The accept loops held the only other references; they have ended.
    let Ok(graceful) = Arc::try_unwrap(graceful) else {
        return Ok(());
    };
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {drain:?}; closing anyway");
    }
    Ok(())
}

async fn accept_loop(
    listener: Listener,
    connections: Arc<tokio::sync::Semaphore>,
    shared: Arc<Shared>,
    builder: auto::Builder<TokioExecutor>,
    graceful: Arc<GracefulShutdown>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        // An API connection waits for a place (its descriptor) before it is accepted; past the
        // budget, clients wait in the listen backlog. The metrics listener needs no place.
        let permit = match listener.role {
            Role::Api => tokio::select! {
                permit = connections.clone().acquire_owned() => match permit {
                    Ok(p) => Some(p),
                    Err(_) => return,
                },
                _ = stopped.changed() => return,
            },
            Role::Metrics => None,
        };
        let stream = tokio::select! {
            accepted = listener.tcp.accept() => match accepted {
                Ok((stream, _)) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    stream
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off and keep serving.
                    tracing::warn!(error = %e, retry_in = ?backoff, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = listener.tls.clone();
        let role = listener.role;
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(&shared, role, req).await) }
            });
            let result = match tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!("TLS handshake timed out");
                                return;
                            }
                        };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

async fn handle(shared: &Arc<Shared>, role: Role, req: Request<Incoming>) -> Response<Body> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let cross_origin = req.headers().contains_key(ORIGIN);
    let preflight = cross_origin && req.method() == Method::OPTIONS;
    // A bug must cost one request a 500, never the connection or the server.
    let mut response = match AssertUnwindSafe(route(shared, role, req))
        .catch_unwind()
        .await
    {
        Ok(r) => r,
        Err(_) => {
            tracing::error!(request_id, "request handler panicked");
            error(Codec::Json, &ApiError::internal())
        }
    };
    let headers = response.headers_mut();
    // A handler that wrote its request id into the body (the query protocol's XML) set it.
    if !headers.contains_key("x-amzn-requestid") {
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert("x-amzn-RequestId", v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now())) {
        headers.insert(DATE, v);
    }
    if !preflight {
        headers.insert("x-amz-id-2", extended_request_id());
    }
    if cross_origin && !preflight {
        cors::allow(headers);
    }
    response
}

/// `x-amz-id-2`, AWS's extended request id: base64 of 72 random bytes.
fn extended_request_id() -> HeaderValue {
    let mut bytes = [0u8; 72];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn is_console(path: &str) -> bool {
    path.strip_prefix(console::PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

async fn route(shared: &Arc<Shared>, role: Role, req: Request<Incoming>) -> Response<Body> {
    if role == Role::Metrics {
        return admin::metrics_listener(shared, &req);
    }
    if req.method() == Method::OPTIONS && req.headers().contains_key(ORIGIN) {
        return cors::preflight(req.headers());
    }
    let has_target = req.headers().contains_key("x-amz-target");
    if !has_target && req.uri().path().starts_with(admin::PREFIX) {
        return admin::handle(shared, req).await;
    }
    if !has_target && req.method() == Method::GET && req.uri().path() == "/metrics" {
        return admin::metrics(shared, req).await;
    }
    if !has_target && is_console(req.uri().path()) {
        return console::handle(shared, &req);
    }
    if req.method() != Method::POST {
        return xml_error(StatusCode::FORBIDDEN, ACCESS_DENIED_XML);
    }
    if let Some(how) = cloudwatch::route(req.uri().path(), req.headers()) {
        return cloudwatch::handle(shared, how, req).await;
    }
    protocol::post(shared, req).await
}
