//! A minimal, fast Kinesis JSON 1.1 client on hyper's connection API.
//!
//! Every [`Conn`] is one connection (HTTP/1.1, or HTTP/2 when asked: prior knowledge on
//! `http://`, ALPN `h2` on `https://`), so a benchmark worker owns its connection and pays no
//! pool bookkeeping. Request bodies are [`Prepared`] once (bytes, target header, and with
//! credentials their SHA-256) and sent many times; with credentials each request is signed
//! with SigV4 by `shardline_wire::sigv4::Signer`, otherwise it is sent unsigned (what
//! shardline accepts unless it runs with `--auth sigv4`). A SigV4 signature depends only on
//! the request and its `X-Amz-Date`, which has one-second resolution, so a prepared body's
//! signed headers are kept for the second they were made in: a body sent many times a second
//! is signed once a second (signing was a tenth of the client's CPU under PutRecord load),
//! and every request still carries exactly what signing it afresh would give.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use http::{HeaderMap, Method, Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use rustls::pki_types::{CertificateDer, ServerName};
use serde::de::DeserializeOwned;
use shardline_wire::sigv4::{sha256_hex, RequestParts, Signer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The `X-Amz-Target` prefix of every Kinesis operation.
pub const TARGET_PREFIX: &str = "Kinesis_20131202.";
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
static X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
static X_AMZ_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");

/// AWS credentials to sign with.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// How to reach the endpoint.
#[derive(Clone, Debug)]
pub struct Options {
    pub endpoint: String,
    pub region: String,
    pub credentials: Option<Credentials>,
    pub http2: bool,
    /// Extra PEM certificates to trust for `https://` (e.g. shardline's self-signed one).
    pub ca_cert: Option<std::path::PathBuf>,
}

/// A cheap handle on an endpoint; [`Client::connect`] opens connections to it.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: String,
    host: String,
    port: u16,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    http2: bool,
    /// `/` for HTTP/1.1 (origin form, with a Host header); the absolute URI for HTTP/2.
    uri: Uri,
    /// Content-Type, and Host for HTTP/1.1.
    base_headers: HeaderMap,
    authority: String,
    region: String,
    credentials: Option<Credentials>,
}

/// A request body made ready to send many times.
#[derive(Clone)]
pub struct Prepared {
    target: HeaderValue,
    body: Bytes,
    /// The body's SHA-256 (hex) when requests are signed, so it is hashed only once.
    sha256: Option<HeaderValue>,
    /// The signed headers of the last second this body was sent in (shared by clones).
    signed: Arc<Mutex<Option<(u64, HeaderMap)>>>,
}

impl Prepared {
    #[cfg(test)]
    pub fn body_bytes(&self) -> &Bytes {
        &self.body
    }
}

/// A whole response.
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

/// A failed call: the service's error, or the transport's.
#[derive(Debug)]
pub enum CallError {
    /// The service answered with an error (`__type`, `message`).
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// No answer: connecting, sending or reading failed.
    Transport(String),
}

impl CallError {
    /// A short name to count errors by.
    pub fn kind(&self) -> String {
        match self {
            CallError::Api { code, .. } => code.clone(),
            CallError::Transport(_) => "transport".into(),
        }
    }

    pub fn is(&self, wanted: &str) -> bool {
        matches!(self, CallError::Api { code, .. } if code == wanted)
    }

    /// Throttling that a loop should back off from and retry.
    pub fn is_throttling(&self) -> bool {
        self.is("ProvisionedThroughputExceededException")
            || self.is("LimitExceededException")
            || self.is("ThrottlingException")
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Api {
                status,
                code,
                message,
            } => write!(f, "{code} (HTTP {status}): {message}"),
            CallError::Transport(e) => write!(f, "transport error: {e}"),
        }
    }
}

impl std::error::Error for CallError {}

impl Reply {
    /// The error this reply carries, if its status is not 2xx.
    pub fn error(&self) -> Option<CallError> {
        if (200..300).contains(&self.status) {
            return None;
        }
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            #[serde(rename = "__type", default)]
            kind: String,
            #[serde(default, alias = "Message")]
            message: String,
        }
        let parsed: Option<ErrorBody> = serde_json::from_slice(&self.body).ok();
        let (code, message) = match parsed {
            Some(e) if !e.kind.is_empty() => {
                // `com.amazonaws.kinesis.v20131202#ResourceNotFoundException` → the last part.
                let code = e.kind.rsplit('#').next().unwrap_or_default().to_owned();
                (code, e.message)
            }
            _ => (
                format!("HTTP{}", self.status),
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(200)
                    .collect(),
            ),
        };
        Some(CallError::Api {
            status: self.status,
            code,
            message,
        })
    }

    /// Decodes a successful reply, or returns its error.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, CallError> {
        if let Some(e) = self.error() {
            return Err(e);
        }
        // Some calls (DeleteStream, ...) answer with an empty body.
        let body: &[u8] = if self.body.is_empty() {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body)
            .map_err(|e| CallError::Transport(format!("undecodable response: {e}")))
    }
}

impl Client {
    /// # Errors
    /// A malformed endpoint, or unreadable CA certificates.
    pub fn new(opts: &Options) -> anyhow::Result<Client> {
        let uri: Uri = opts
            .endpoint
            .parse()
            .with_context(|| format!("endpoint {:?} is not a URL", opts.endpoint))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => bail!(
                "endpoint {:?} must start with http:// or https://",
                opts.endpoint
            ),
        };
        let host = uri
            .host()
            .ok_or_else(|| anyhow!("endpoint {:?} names no host", opts.endpoint))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_else(|| host.clone());
        let tls = if https {
            let connector = tls_connector(opts.http2, opts.ca_cert.as_deref())?;
            let name = ServerName::try_from(host.clone())
                .with_context(|| format!("{host:?} is not a TLS server name"))?;
            Some((connector, name))
        } else {
            None
        };
        let mut base_headers = HeaderMap::new();
        base_headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
        let request_uri = if opts.http2 {
            let scheme = if https { "https" } else { "http" };
            format!("{scheme}://{authority}/").parse()?
        } else {
            base_headers.insert(HOST, HeaderValue::from_str(&authority)?);
            Uri::from_static("/")
        };
        Ok(Client {
            inner: Arc::new(Inner {
                endpoint: opts.endpoint.clone(),
                host,
                port,
                tls,
                http2: opts.http2,
                uri: request_uri,
                base_headers,
                authority,
                region: opts.region.clone(),
                credentials: opts.credentials.clone(),
            }),
        })
    }

    pub fn is_tls(&self) -> bool {
        self.inner.tls.is_some()
    }

    pub fn signs(&self) -> bool {
        self.inner.credentials.is_some()
    }

    /// Prepares a body for `operation` (e.g. `PutRecords`).
    pub fn prepare(&self, operation: &str, body: impl Into<Bytes>) -> Prepared {
        let body = body.into();
        let sha256 = self.inner.credentials.as_ref().map(|_| {
            HeaderValue::from_str(&sha256_hex(&body)).expect("hex is a valid header value")
        });
        Prepared {
            target: HeaderValue::from_str(&format!("{TARGET_PREFIX}{operation}"))
                .expect("an operation name is a valid header value"),
            body,
            sha256,
            signed: Arc::default(),
        }
    }

    /// Opens a connection.
    ///
    /// # Errors
    /// Connecting, the TLS handshake or the HTTP handshake failed.
    pub async fn connect(&self) -> Result<Conn, CallError> {
        let sender = self.handshake().await?;
        Ok(Conn {
            client: self.clone(),
            sender: Some(sender),
        })
    }

    /// A connection that opens on first use.
    pub fn lazy(&self) -> Conn {
        Conn {
            client: self.clone(),
            sender: None,
        }
    }

    /// One call on a fresh connection, decoding the answer (control-plane calls).
    ///
    /// # Errors
    /// The service's error or the transport's.
    pub async fn call<T: DeserializeOwned>(
        &self,
        operation: &str,
        input: &serde_json::Value,
    ) -> Result<T, CallError> {
        let body = serde_json::to_vec(input).expect("a JSON value serialises");
        let prepared = self.prepare(operation, body);
        let mut conn = self.lazy();
        conn.call(&prepared).await?.json()
    }

    async fn handshake(&self) -> Result<Sender, CallError> {
        let inner = &self.inner;
        let tcp = TcpStream::connect((inner.host.as_str(), inner.port))
            .await
            .map_err(|e| CallError::Transport(format!("connecting to {}: {e}", inner.endpoint)))?;
        let _ = tcp.set_nodelay(true);
        match &inner.tls {
            None => handshake_io(tcp, inner.http2).await,
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| CallError::Transport(format!("TLS handshake: {e}")))?;
                handshake_io(stream, inner.http2).await
            }
        }
    }

    /// The request for `prepared`, signed when there are credentials.
    fn request(&self, prepared: &Prepared) -> Request<Full<Bytes>> {
        let headers = match &self.inner.credentials {
            Some(creds) => {
                let second = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let mut cached = prepared.signed.lock();
                match &*cached {
                    Some((at, headers)) if *at == second => headers.clone(),
                    _ => {
                        let headers = self.sign(prepared, creds, second);
                        *cached = Some((second, headers.clone()));
                        headers
                    }
                }
            }
            None => self.unsigned_headers(prepared),
        };
        let mut req = Request::new(Full::new(prepared.body.clone()));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self.inner.uri.clone();
        *req.headers_mut() = headers;
        req
    }

    fn unsigned_headers(&self, prepared: &Prepared) -> HeaderMap {
        let mut headers = self.inner.base_headers.clone();
        headers.insert(X_AMZ_TARGET.clone(), prepared.target.clone());
        headers
    }

    /// The headers of `prepared` signed at `second` (seconds since the epoch).
    fn sign(&self, prepared: &Prepared, creds: &Credentials, second: u64) -> HeaderMap {
        let inner = &self.inner;
        let mut headers = self.unsigned_headers(prepared);
        if let Some(sha) = &prepared.sha256 {
            headers.insert(X_AMZ_CONTENT_SHA256.clone(), sha.clone());
        }
        let signer = Signer {
            session_token: creds.session_token.as_deref(),
            ..Signer::new(
                &creds.access_key_id,
                &creds.secret_access_key,
                &inner.region,
            )
        };
        let parts = RequestParts {
            method: "POST",
            path: "/",
            query: None,
            headers: &headers,
            authority: Some(&inner.authority),
            body: &prepared.body,
        };
        signer.sign(&parts, UNIX_EPOCH + Duration::from_secs(second))
    }
}

enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }
}

async fn handshake_io<I>(io: I, h2: bool) -> Result<Sender, CallError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    let failed = |e: hyper::Error| CallError::Transport(format!("HTTP handshake: {e}"));
    if h2 {
        let (sender, conn) = http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(failed)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Sender::H2(sender))
    } else {
        let (sender, conn) = http1::handshake(io).await.map_err(failed)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Sender::H1(sender))
    }
}

/// One connection, reopened on the next call after it broke.
pub struct Conn {
    client: Client,
    sender: Option<Sender>,
}

impl Conn {
    /// Sends a request and returns the response with its body still streaming.
    ///
    /// # Errors
    /// Only transport errors; any HTTP status is a response.
    pub async fn send(&mut self, prepared: &Prepared) -> Result<Response<Incoming>, CallError> {
        if self.sender.as_ref().is_none_or(Sender::is_closed) {
            self.sender = None;
            self.sender = Some(self.client.handshake().await?);
        }
        let req = self.client.request(prepared);
        let sender = self.sender.as_mut().expect("connected above");
        let result = match sender {
            Sender::H1(s) => match s.ready().await {
                Ok(()) => s.send_request(req).await,
                Err(e) => Err(e),
            },
            Sender::H2(s) => match s.ready().await {
                Ok(()) => s.send_request(req).await,
                Err(e) => Err(e),
            },
        };
        result.map_err(|e| {
            self.sender = None;
            CallError::Transport(e.to_string())
        })
    }

    /// Sends a request and reads the whole response.
    ///
    /// # Errors
    /// Only transport errors; any HTTP status is a [`Reply`].
    pub async fn call(&mut self, prepared: &Prepared) -> Result<Reply, CallError> {
        let response = self.send(prepared).await?;
        let status = response.status().as_u16();
        match response.into_body().collect().await {
            Ok(body) => Ok(Reply {
                status,
                body: body.to_bytes(),
            }),
            Err(e) => {
                self.sender = None;
                Err(CallError::Transport(format!("reading the response: {e}")))
            }
        }
    }
}

fn tls_connector(h2: bool, ca_cert: Option<&Path>) -> anyhow::Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_cert {
        use rustls::pki_types::pem::PemObject;
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.with_context(|| format!("parsing {}", path.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("trusting {}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = if h2 {
        vec![b"h2".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(TlsConnector::from(Arc::new(config)))
}
