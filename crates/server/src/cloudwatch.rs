//! The CloudWatch metric API on the same port as Kinesis: requests are told apart as AWS's
//! endpoints tell them apart, by their shape —
//!
//! | request | protocol |
//! |---|---|
//! | `POST /service/GraniteServiceVersion20100801/operation/<Op>` | smithy rpc-v2 CBOR (botocore ≥ 1.36's choice) |
//! | `X-Amz-Target: GraniteServiceVersion20100801.<Op>` | JSON 1.0 |
//! | `POST /`, `application/x-www-form-urlencoded`, `Action=<Op>` | query (older SDKs, the KPL, the Kinesis Agent) |
//!
//! Signatures (under `--auth sigv4`) are checked for the service name `monitoring`. Errors carry
//! CloudWatch's codes: `__type` and `x-amzn-query-error` for CBOR and JSON, an XML
//! `ErrorResponse` for the query protocol. The work itself is in `shardline-cloudwatch`.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use shardline_cloudwatch::codec::{self, Protocol, SERVICE};
use shardline_cloudwatch::{api, CwError, Out};
use shardline_wire::sigv4::RequestParts;
use shardline_wire::ErrorCode;

use crate::response::{full, xml_error, Body, ACCESS_DENIED_XML};
use crate::{auth, Shared, SLOW_CLIENT_TIMEOUT};

/// The rpc-v2 path prefix of CloudWatch operations.
const RPC_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";
/// The name CloudWatch requests are signed for.
const SIGNING_NAME: &str = "monitoring";

/// How a request asks for CloudWatch, if it does.
pub enum Route {
    /// rpc-v2 CBOR or JSON 1.0, with the operation named in the path or target.
    Named(Protocol, String),
    /// A form-encoded body: the query protocol if it names an `Action`.
    Form,
}

/// Whether a request is for CloudWatch, judged from its line and headers.
pub fn route(path: &str, headers: &HeaderMap) -> Option<Route> {
    if let Some(op) = path.strip_prefix(RPC_PREFIX) {
        return Some(Route::Named(Protocol::Cbor, op.to_owned()));
    }
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return target
            .strip_prefix(SERVICE)
            .and_then(|t| t.strip_prefix('.'))
            .map(|op| Route::Named(Protocol::Json, op.to_owned()));
    }
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';').next().is_some_and(|e| {
                e.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    (form && path == "/").then_some(Route::Form)
}

/// Answers a CloudWatch request.
pub async fn handle(shared: &Arc<Shared>, how: Route, req: Request<Incoming>) -> Response<Body> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let body = match read(shared, body).await {
        Ok(b) => b,
        Err(e) => {
            let protocol = match &how {
                Route::Named(p, _) => *p,
                Route::Form => Protocol::Query,
            };
            return failure(protocol, &e, &request_id);
        }
    };
    let (protocol, operation, input) = match how {
        Route::Named(p, op) => {
            let decoded = match p {
                Protocol::Cbor => codec::decode_cbor(&body),
                _ => codec::decode_json(&body),
            };
            match decoded {
                Ok(v) => (p, op, v),
                Err(codec::Malformed(m)) => {
                    return failure(p, &CwError::serialization(m), &request_id)
                }
            }
        }
        Route::Form => {
            let (action, v) = codec::decode_query(&body);
            let Some(action) = action else {
                // A form without an Action is no CloudWatch call; Kinesis's answer to a body
                // of another content type.
                return xml_error(StatusCode::FORBIDDEN, ACCESS_DENIED_XML);
            };
            (Protocol::Query, action, v)
        }
    };
    let account = match &shared.config.credentials {
        None => shared.config.account_id.clone(),
        Some(creds) => {
            match auth::verify_for(
                creds,
                &RequestParts::new(&parts, &body),
                SystemTime::now(),
                SIGNING_NAME,
            ) {
                Ok(who) => who.account_id,
                Err(e) => return failure(protocol, &auth_error(protocol, &e), &request_id),
            }
        }
    };
    if !api::OPERATIONS.contains(&operation.as_str()) {
        return failure(
            protocol,
            &CwError::unknown_operation(&operation),
            &request_id,
        );
    }
    let Some(history) = shared.history.as_deref() else {
        return failure(
            protocol,
            &CwError {
                code: "InternalServiceError",
                type_name: "InternalServiceFault",
                status: 500,
                sender: false,
                message:
                    "the metrics history is off (another metrics recorder was installed first)"
                        .into(),
            },
            &request_id,
        );
    };
    if operation == "PutMetricData" {
        // Checked once, then kept in the history and shown on /metrics.
        let now = shardline_cloudwatch::history::now_f64();
        return match api::check_put(&account, &input, now) {
            Ok(puts) => {
                api::record(history, &puts);
                export(&puts);
                success(protocol, &operation, &Out::Struct(Vec::new()), &request_id)
            }
            Err(e) => failure(protocol, &e, &request_id),
        };
    }
    match api::call(history, &account, &operation, &input) {
        Ok(out) => success(protocol, &operation, &out, &request_id),
        Err(e) => failure(protocol, &e, &request_id),
    }
}

/// Shows metrics put with PutMetricData on `/metrics` too: a gauge of each datum's latest
/// value (its average for a set of values), labelled with its namespace, account and
/// dimensions.
fn export(puts: &[api::Put]) {
    for p in puts {
        let (count, sum) = p
            .stats
            .iter()
            .fold((0.0, 0.0), |(c, s), st| (c + st.count, s + st.sum));
        if count <= 0.0 {
            continue;
        }
        let mut labels = vec![
            metrics::Label::new("Namespace", p.key.namespace.clone()),
            metrics::Label::new("AccountId", p.key.account.clone()),
        ];
        labels.extend(
            p.key
                .dimensions
                .iter()
                .map(|(n, v)| metrics::Label::new(n.clone(), v.clone())),
        );
        metrics::gauge!(p.key.name.clone(), labels).set(sum / count);
    }
}

async fn read(shared: &Shared, body: Incoming) -> Result<Bytes, CwError> {
    let collected = tokio::time::timeout(
        SLOW_CLIENT_TIMEOUT,
        Limited::new(body, shared.config.max_body_bytes).collect(),
    )
    .await
    .map_err(|_| CwError::serialization("Request body not received in time"))?;
    collected
        .map(http_body_util::Collected::to_bytes)
        .map_err(|e| CwError::serialization(format!("Request body not read: {e}")))
}

/// An authentication failure in CloudWatch's words: the query protocol names the errors as
/// IAM-style query services do.
fn auth_error(protocol: Protocol, e: &shardline_wire::ApiError) -> CwError {
    let type_name = e.code.type_name();
    let code = if protocol == Protocol::Query {
        match e.code {
            ErrorCode::UnrecognizedClient => "InvalidClientTokenId",
            ErrorCode::InvalidSignature => "SignatureDoesNotMatch",
            ErrorCode::MissingAuthenticationToken => "MissingAuthenticationToken",
            ErrorCode::IncompleteSignature => "IncompleteSignature",
            _ => type_name,
        }
    } else {
        type_name
    };
    CwError {
        code,
        type_name,
        status: if protocol == Protocol::Query {
            403
        } else {
            400
        },
        sender: true,
        message: e.message.clone().unwrap_or_default(),
    }
}

fn success(protocol: Protocol, operation: &str, out: &Out, request_id: &str) -> Response<Body> {
    let body = match protocol {
        Protocol::Cbor => codec::encode_cbor(out),
        Protocol::Json => codec::encode_json(out),
        Protocol::Query => codec::encode_xml(operation, out, request_id),
    };
    respond(protocol, StatusCode::OK, body, request_id)
}

fn failure(protocol: Protocol, e: &CwError, request_id: &str) -> Response<Body> {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = match protocol {
        Protocol::Query => codec::encode_xml_error(e.code, &e.message, e.sender, request_id),
        Protocol::Json | Protocol::Cbor => {
            let out = Out::Struct(vec![
                (
                    "__type",
                    Out::Str(format!("com.amazonaws.cloudwatch#{}", e.type_name)),
                ),
                ("message", Out::Str(e.message.clone())),
            ]);
            if protocol == Protocol::Cbor {
                codec::encode_cbor(&out)
            } else {
                codec::encode_json(&out)
            }
        }
    };
    let mut r = respond(protocol, status, body, request_id);
    if protocol != Protocol::Query {
        let fault = if e.sender { "Sender" } else { "Receiver" };
        if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", e.code)) {
            r.headers_mut().insert("x-amzn-query-error", v);
        }
        if let Ok(v) = HeaderValue::from_str(e.type_name) {
            r.headers_mut().insert("x-amzn-ErrorType", v);
        }
    }
    r
}

fn respond(
    protocol: Protocol,
    status: StatusCode,
    body: Vec<u8>,
    request_id: &str,
) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(protocol.content_type()),
    );
    if protocol == Protocol::Cbor {
        h.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    }
    r
}
