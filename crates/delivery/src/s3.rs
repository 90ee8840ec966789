//! PutObject on an S3-compatible endpoint: path-style URLs (`<endpoint>/<bucket>/<key>`), signed
//! with SigV4 (service `s3`, `x-amz-content-sha256` the body's hash), one HTTP/1.1 connection
//! per object. Plain `http://` endpoints (a local S3-compatible server, or a proxy).

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use shardline_wire::sigv4::{sha256_hex, uri_encode, RequestParts, Signer};
use tokio::net::TcpStream;

/// Where objects go and who writes them.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// `http://host:port`
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Why a PutObject failed.
#[derive(Debug)]
pub enum PutError {
    /// Not reachable, timed out, or a 5xx/throttling answer: try again later.
    Transient(String),
    /// The destination refuses (no such bucket, access denied, wrong owner): the channel fails.
    Permanent(String),
}

const TIMEOUT: Duration = Duration::from_secs(60);

/// Writes one object.
pub async fn put_object(
    config: &S3Config,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    extra: &[(&str, String)],
) -> Result<(), PutError> {
    let (host, port) = authority(&config.endpoint)
        .ok_or_else(|| PutError::Permanent(format!("unusable S3 endpoint {}", config.endpoint)))?;
    let path = format!("/{bucket}/{}", uri_encode(key, true));
    let body = Bytes::from(body);
    let mut request = Request::builder()
        .method(Method::PUT)
        .uri(&path)
        .header(http::header::HOST, format!("{host}:{port}"))
        .header("x-amz-content-sha256", sha256_hex(&body))
        .header(http::header::CONTENT_LENGTH, body.len())
        .body(Full::new(body.clone()))
        .map_err(|e| PutError::Permanent(e.to_string()))?;
    for (name, value) in extra {
        if let Ok(v) = HeaderValue::from_str(value) {
            if let Ok(n) = http::HeaderName::from_bytes(name.as_bytes()) {
                request.headers_mut().insert(n, v);
            }
        }
    }
    let signer = Signer {
        service: "s3",
        ..Signer::new(
            &config.access_key_id,
            &config.secret_access_key,
            &config.region,
        )
    };
    let signed = {
        let (parts, _) = Request::builder()
            .method(Method::PUT)
            .uri(&path)
            .body(())
            .map_err(|e| PutError::Permanent(e.to_string()))?
            .into_parts();
        let mut parts = parts;
        parts.headers = request.headers().clone();
        signer.sign(&RequestParts::new(&parts, &body), SystemTime::now())
    };
    *request.headers_mut() = signed;

    let send = async {
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| PutError::Transient(format!("connecting to {}: {e}", config.endpoint)))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| PutError::Transient(e.to_string()))?;
        tokio::spawn(conn);
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| PutError::Transient(e.to_string()))?;
        let status = response.status();
        let text = response
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status.as_u16() == 429 || text.contains("SlowDown") {
            Err(PutError::Transient(format!("{status}: {text}")))
        } else {
            Err(PutError::Permanent(format!(
                "PutObject s3://{bucket}/{key}: {status} {}",
                code_of(&text).unwrap_or(text)
            )))
        }
    };
    tokio::time::timeout(TIMEOUT, send)
        .await
        .unwrap_or_else(|_| Err(PutError::Transient("PutObject timed out".into())))
}

/// `<Code>…</Code>` of an S3 error document.
fn code_of(xml: &str) -> Option<String> {
    let start = xml.find("<Code>")? + "<Code>".len();
    let end = xml[start..].find("</Code>")? + start;
    Some(xml[start..end].to_string())
}

/// `http://host:port` → (host, port).
fn authority(endpoint: &str) -> Option<(String, u16)> {
    let rest = endpoint.strip_prefix("http://")?.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((rest.to_string(), 80)),
    }
}

/// The bucket name of `arn:aws:s3:::<bucket>`.
pub fn bucket_of(arn: &str) -> Option<&str> {
    arn.split_once(":s3:::")
        .map(|(_, b)| b)
        .filter(|b| !b.is_empty())
}
