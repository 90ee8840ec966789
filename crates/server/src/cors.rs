//! Cross-origin requests, answered as Kinesis's endpoints answer them, so a browser (the
//! console, or any page using the JavaScript SDK) can call the API:
//!
//! - an `OPTIONS` preflight carrying `Origin` gets 200 with `Access-Control-Allow-Origin: *`,
//!   the requested method and headers echoed as allowed, the exposed headers and a two-day
//!   `Access-Control-Max-Age`, and no body (nor `Content-Type`, nor `x-amz-id-2`);
//! - any other request carrying `Origin` gets `Access-Control-Allow-Origin: *` and the exposed
//!   headers on its answer.
//!
//! No credentials or origin checks: authentication, when on, is SigV4 on each request.

use http::header::{
    HeaderMap, HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH,
};
use http::{Response, StatusCode};

use crate::response::{full, Body};

/// The response headers a page may read, in AWS's words and order.
const EXPOSE: &str =
    "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date";
/// How long a browser may cache a preflight's answer (AWS: two days).
const MAX_AGE: &str = "172800";

/// The answer to a preflight (`OPTIONS` with `Origin`).
pub fn preflight(request: &HeaderMap) -> Response<Body> {
    let mut r = Response::new(full(Vec::new()));
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if let Some(wanted) = request.get(ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(ACCESS_CONTROL_ALLOW_HEADERS, wanted.clone());
    }
    if let Some(wanted) = request.get(ACCESS_CONTROL_REQUEST_METHOD) {
        h.insert(ACCESS_CONTROL_ALLOW_METHODS, wanted.clone());
    }
    h.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE),
    );
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
    h.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

/// Adds what a cross-origin page needs to read an answer.
pub fn allow(response: &mut HeaderMap) {
    response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE),
    );
}
