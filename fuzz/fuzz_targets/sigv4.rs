//! SigV4 verification on any `Authorization` header, date, query string (presigned form), path
//! and body: an AWS error or a verified caller, never a panic.
#![no_main]

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use shardline_server::auth::{verify, AccessKey, Credentials};
use shardline_wire::sigv4::RequestParts;

fuzz_target!(|input: &[u8]| {
    // Fields separated by 0xff bytes: authorization, x-amz-date, query, path, body.
    let mut parts = input.split(|b| *b == 0xff);
    let authorization = parts.next().unwrap_or_default();
    let date = parts.next().unwrap_or_default();
    let query = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let Ok(creds) = Credentials::from_entries([AccessKey::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "111111111111",
    )]) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:4567"));
    if let Ok(v) = HeaderValue::from_bytes(authorization) {
        headers.insert("authorization", v);
    }
    if let Ok(v) = HeaderValue::from_bytes(date) {
        headers.insert("x-amz-date", v);
    }
    let query = std::str::from_utf8(query).ok();
    let path = std::str::from_utf8(path).unwrap_or("/");
    let request = RequestParts {
        method: "POST",
        path,
        query,
        headers: &headers,
        authority: None,
        body,
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_153_600); // 2024-01-02
    let _ = verify(&creds, &request, now);
});
