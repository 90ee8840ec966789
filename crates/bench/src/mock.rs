//! An in-process HTTP server that answers every call at once with a canned body, to measure
//! the benchmark client's own ceiling: the rate it reaches when the server costs (almost)
//! nothing. It reads each request body whole, as a server must, and does nothing else.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::client::TARGET_PREFIX;

/// A running mock; stops accepting when dropped.
pub struct Mock {
    pub endpoint: String,
    accept: JoinHandle<()>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Starts a mock answering operation `op` (e.g. `PutRecords`) with `answers[op]`.
pub async fn start(answers: HashMap<String, Bytes>) -> anyhow::Result<Mock> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let answers = Arc::new(answers);
    let accept = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let answers = answers.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| answer(answers.clone(), req));
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    Ok(Mock { endpoint, accept })
}

async fn answer(
    answers: Arc<HashMap<String, Bytes>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let op = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or_default()
        .to_owned();
    // Read the body, as any server must before answering.
    let _ = req.into_body().collect().await;
    let response = match answers.get(&op) {
        Some(body) => Response::builder()
            .header("content-type", "application/x-amz-json-1.1")
            .body(Full::new(body.clone())),
        None => Response::builder()
            .status(400)
            .header("content-type", "application/x-amz-json-1.1")
            .body(Full::new(Bytes::from_static(
                br#"{"__type":"UnknownOperationException"}"#,
            ))),
    };
    Ok(response.expect("a valid response"))
}
