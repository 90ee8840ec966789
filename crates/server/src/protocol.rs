//! `POST /` before an operation runs: what AWS answers a request by its `Content-Type`, its
//! body and its `X-Amz-Target`, in AWS's order (the body is judged before the target, and both
//! before the signature), then authentication, fault rules and the call.
//!
//! | request | answer |
//! |---|---|
//! | empty body, `Content-Type` exactly `application/x-amz-json-1.1` | 400 JSON `UnknownOperationException` (`SerializationException` for a valid target) |
//! | empty body, any other or no `Content-Type` | the same, 400, in CBOR |
//! | body, `application/json` | the deprecated envelope `{"Output":{"__type":"com.amazon.coral.service#…"},"Version":"1.0"}`: 404 `UnknownOperationException`, or 400 `SerializationException` for a body that does not parse; never runs |
//! | body, no or another `Content-Type`, target not `service.operation` | 403 XML `AccessDeniedException` |
//! | body, no or another `Content-Type`, otherwise | 404 XML `<UnknownOperationException/>` |
//! | JSON 1.1 / CBOR 1.1 body that is not an object | 400 `SerializationException`, whatever the target and signature |
//! | a well-formed body, unknown target | 400 `UnknownOperationException` |

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use shardline_engine::Caller;
use shardline_wire::sigv4::RequestParts;
use shardline_wire::{ApiError, Codec, ErrorCode, Operation};

use crate::dispatch::Reply;
use crate::response::{body_response, error, full, xml_error, Body, ACCESS_DENIED_XML};
use crate::{auth, dispatch, faults, subscribe, Shared, SLOW_CLIENT_TIMEOUT};

/// What the `Content-Type` makes of a request.
enum Kind {
    /// One of the two formats Kinesis speaks.
    Codec(Codec),
    /// `application/json`: answered with the old envelope, never run.
    PlainJson,
    /// Anything else, or nothing.
    Other,
}

fn kind(content_type: Option<&str>) -> Kind {
    let Some(value) = content_type else {
        return Kind::Other;
    };
    if let Some(codec) = Codec::for_content_type(value) {
        return Kind::Codec(codec);
    }
    let essence = value.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Kind::PlainJson
    } else {
        Kind::Other
    }
}

/// Answers a `POST` to the API.
pub async fn post(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let target = req
        .headers()
        .get("x-amz-target")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let op = target.as_deref().and_then(Operation::from_target);
    let kind = kind(content_type.as_deref());
    let answer_codec = match kind {
        Kind::Codec(c) => c,
        _ => Codec::Cbor,
    };
    let (parts, body) = req.into_parts();
    let body = match read_body(shared, answer_codec, body).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    if body.is_empty() {
        // Whatever the content type, an empty body is judged by its target alone, and the
        // answer is JSON only for exactly the JSON 1.1 type.
        let exact_json = content_type.as_deref() == Some(shardline_wire::json::CONTENT_TYPE);
        let codec = if exact_json { Codec::Json } else { Codec::Cbor };
        let code = if op.is_some() {
            ErrorCode::Serialization
        } else {
            ErrorCode::UnknownOperation
        };
        return error(codec, &ApiError::bare(code));
    }
    let codec = match kind {
        Kind::Codec(codec) => codec,
        Kind::PlainJson => {
            let parses = serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok();
            return coral_envelope(if parses {
                ErrorCode::UnknownOperation
            } else {
                ErrorCode::Serialization
            });
        }
        Kind::Other => {
            let names_an_operation = target.as_deref().is_some_and(|t| {
                t.split_once('.')
                    .is_some_and(|(svc, op)| !svc.is_empty() && !op.is_empty())
            });
            return if names_an_operation {
                xml_error(StatusCode::NOT_FOUND, "<UnknownOperationException/>\n")
            } else {
                xml_error(StatusCode::FORBIDDEN, ACCESS_DENIED_XML)
            };
        }
    };
    let Some(op) = op else {
        let code = if codec.is_object(&body) {
            ErrorCode::UnknownOperation
        } else {
            ErrorCode::Serialization
        };
        return error(codec, &ApiError::bare(code));
    };
    let caller = match &shared.config.credentials {
        None => Caller {
            account_id: shared.config.account_id.clone(),
            operation: op,
        },
        Some(credentials) => {
            match auth::verify(
                credentials,
                &RequestParts::new(&parts, &body),
                SystemTime::now(),
            ) {
                Ok(verified) => Caller {
                    account_id: verified.account_id,
                    operation: op,
                },
                // AWS judges the body before the signature: only a well-formed one hears
                // about authentication.
                Err(_) if !codec.is_object(&body) => {
                    return error(codec, &ApiError::bare(ErrorCode::Serialization))
                }
                Err(e) => return error(codec, &e),
            }
        }
    };
    if !shared.faults.is_empty() {
        let mut target: faults::Target = codec.decode(&body).unwrap_or_default();
        if let Some((stream, shard)) = target
            .shard_iterator
            .as_deref()
            .and_then(|it| shared.engine.iterator_target(it))
        {
            target.stream_name = Some(stream);
            target.shard_id = Some(shard);
        }
        let effect = shared
            .faults
            .effect(op, target.stream(), target.shard_id.as_deref());
        if !effect.delay.is_zero() {
            tokio::time::sleep(effect.delay).await;
        }
        if let Some(e) = effect.error {
            return error(codec, &e);
        }
    }
    match dispatch::call(shared, &caller, codec, &body).await {
        Ok(Reply::Body(out)) => body_response(codec, StatusCode::OK, out),
        // Operations without an output shape answer 200 with an empty body, as AWS does.
        Ok(Reply::Empty) => body_response(codec, StatusCode::OK, Vec::new()),
        Ok(Reply::Subscription(sub)) => subscribe::respond(shared, sub),
        Err(e) => error(codec, &e),
    }
}

/// Reads the body, bounded in size and time.
///
/// # Errors
/// The answer when the body is too large (413), too slow (408) or unreadable.
async fn read_body(shared: &Shared, codec: Codec, body: Incoming) -> Result<Bytes, Response<Body>> {
    let collected = tokio::time::timeout(
        SLOW_CLIENT_TIMEOUT,
        Limited::new(body, shared.config.max_body_bytes).collect(),
    )
    .await;
    let Ok(collected) = collected else {
        tracing::debug!("request body not received within {SLOW_CLIENT_TIMEOUT:?}");
        let mut r = error(
            codec,
            &ApiError::new(
                ErrorCode::Serialization,
                "Request body not received in time",
            ),
        );
        *r.status_mut() = StatusCode::REQUEST_TIMEOUT;
        return Err(r);
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                let mut r = error(
                    codec,
                    &ApiError::new(
                        ErrorCode::Serialization,
                        format!(
                            "Request body exceeds {} bytes",
                            shared.config.max_body_bytes
                        ),
                    ),
                );
                *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                return Err(r);
            }
            tracing::debug!(error = %e, "reading request body failed");
            Err(error(codec, &ApiError::bare(ErrorCode::Serialization)))
        }
    }
}

/// The answer AWS gives `application/json` requests: the coral service's old envelope.
fn coral_envelope(code: ErrorCode) -> Response<Body> {
    let (status, name) = match code {
        ErrorCode::UnknownOperation => (StatusCode::NOT_FOUND, "UnknownOperationException"),
        _ => (StatusCode::BAD_REQUEST, "SerializationException"),
    };
    let body = format!(
        "{{\"Output\":{{\"__type\":\"com.amazon.coral.service#{name}\"}},\"Version\":\"1.0\"}}"
    );
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
