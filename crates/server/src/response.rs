//! Response bodies and the answers every route builds: AWS errors in the request's codec,
//! bare XML errors for requests no codec fits, and plain text for shardline's own endpoints.

use std::convert::Infallible;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use shardline_wire::{ApiError, Codec};

/// Response bodies: whole (most calls) or streamed (SubscribeToShard).
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A 200-style answer of `codec`'s content type.
pub fn body_response(codec: Codec, status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(codec.content_type()));
    r
}

/// An AWS error in `codec`, with its HTTP status and `x-amzn-ErrorType`.
pub fn error(codec: Codec, err: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = body_response(codec, status, codec.encode_error(err));
    r.headers_mut().insert(
        "x-amzn-ErrorType",
        HeaderValue::from_static(err.code.type_name()),
    );
    r
}

/// What AWS answers a request that names no operation it could authorize (not a `POST`, or a
/// body of no known type without a `service.operation` target).
pub const ACCESS_DENIED_XML: &str = "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n";

/// An error AWS answers in XML, before any codec applies.
pub fn xml_error(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(full(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    r
}

/// Plain text, for shardline's own endpoints.
pub fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
