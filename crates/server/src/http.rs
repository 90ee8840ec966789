//! Connections and requests: HTTP/1.1 and h2c on one listener, body limits, AWS headers.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, DATE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use shardline_wire::{json, ApiError, ErrorCode, Operation};
use tokio::net::TcpListener;

use crate::{admin, dispatch, Shared};

pub type Body = Full<Bytes>;

pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .max_concurrent_streams(1000)
        .keep_alive_interval(None);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Running out of file descriptors and similar: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let service = service_fn(move |req| {
                    let shared = shared.clone();
                    async move { Ok::<_, Infallible>(handle(&shared, req).await) }
                });
                let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {drain:?}; closing anyway");
    }
    Ok(())
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let request_id = uuid::Uuid::new_v4().to_string();
    // A bug must cost one request a 500, never the connection or the server.
    let mut response = match AssertUnwindSafe(route(shared, req)).catch_unwind().await {
        Ok(r) => r,
        Err(_) => {
            tracing::error!(request_id, "request handler panicked");
            error(&ApiError::internal())
        }
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-RequestId", v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now())) {
        headers.insert(DATE, v);
    }
    response
}

async fn route(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if target.is_none() && req.uri().path().starts_with(admin::PREFIX) {
        return admin::handle(shared, req).await;
    }
    if req.method() != Method::POST {
        return xml_error(
            StatusCode::FORBIDDEN,
            "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n",
        );
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    let is_json = matches!(
        content_type.as_deref(),
        Some(json::CONTENT_TYPE) | Some("application/json")
    );
    if !is_json {
        return xml_error(StatusCode::NOT_FOUND, "<UnknownOperationException/>\n");
    }
    let Some(op) = target.as_deref().and_then(Operation::from_target) else {
        return error(&ApiError::bare(ErrorCode::UnknownOperation));
    };
    let body = match Limited::new(req.into_body(), shared.config.max_body_bytes)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                let mut r = error(&ApiError::new(
                    ErrorCode::Serialization,
                    format!(
                        "Request body exceeds {} bytes",
                        shared.config.max_body_bytes
                    ),
                ));
                *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                return r;
            }
            tracing::debug!(error = %e, "reading request body failed");
            return error(&ApiError::bare(ErrorCode::Serialization));
        }
    };
    match dispatch::call(shared, op, &body).await {
        Ok(Some(out)) => json_response(StatusCode::OK, out),
        // Operations without an output shape answer 200 with an empty body, as AWS does.
        Ok(None) => json_response(StatusCode::OK, Vec::new()),
        Err(e) => error(&e),
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(json::CONTENT_TYPE));
    r
}

pub fn error(err: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = json_response(status, json::encode_error(err));
    r.headers_mut().insert(
        "x-amzn-ErrorType",
        HeaderValue::from_static(err.code.type_name()),
    );
    r
}

fn xml_error(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    r
}

pub fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
