//! `GET /console/…`: the web console's files (crate `shardline-console`) and the one thing the
//! page cannot find out by itself, whether it must sign its requests. Everything else the
//! console does goes through the same APIs as any SDK.

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use http::{Method, Request, Response, StatusCode};

use crate::response::{full, Body};
use crate::Shared;

pub const PREFIX: &str = "/console";

/// Answers a request whose path starts with [`PREFIX`].
pub fn handle<B>(shared: &Shared, req: &Request<B>) -> Response<Body> {
    let path = req.uri().path();
    if !shared.config.console {
        return plain(
            StatusCode::NOT_FOUND,
            "the console is off (--console off)\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "the console serves GET only\n",
        );
    }
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    let Some(file) = rest.strip_prefix('/') else {
        if rest.is_empty() {
            // Relative links in the page resolve against `/console/`.
            let mut r = Response::new(full(Vec::new()));
            *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
            r.headers_mut()
                .insert(LOCATION, HeaderValue::from_static("/console/"));
            return r;
        }
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    if file == "config.json" {
        let auth = if shared.config.credentials.is_some() {
            "sigv4"
        } else {
            "none"
        };
        let body = serde_json::json!({
            "auth": auth,
            "region": shared.config.region,
            "account": shared.config.account_id,
            "version": env!("CARGO_PKG_VERSION"),
        })
        .to_string();
        return with_type(body.into_bytes(), "application/json", false);
    }
    if let Some(dir) = &shared.config.console_dir {
        return from_dir(dir, file);
    }
    match shardline_console::asset(file) {
        Some(a) => with_type(a.body.to_vec(), a.content_type, true),
        None => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// A file of a console being worked on (`SHARDLINE_CONSOLE_DIR`): plain names only.
fn from_dir(dir: &std::path::Path, file: &str) -> Response<Body> {
    let file = if file.is_empty() { "index.html" } else { file };
    let plain_name = file
        .split('/')
        .all(|part| !part.is_empty() && part != ".." && part != "." && !part.contains('\\'));
    if !plain_name {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    }
    match std::fs::read(dir.join(file)) {
        Ok(body) => with_type(body, shardline_console::content_type(file), false),
        Err(_) => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn with_type(body: Vec<u8>, content_type: &'static str, cache: bool) -> Response<Body> {
    let mut r = Response::new(full(body));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The files change with the binary; a short cache keeps reloads after an upgrade right.
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static(if cache { "max-age=60" } else { "no-store" }),
    );
    r
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = with_type(text.as_bytes().to_vec(), "text/plain; charset=utf-8", false);
    *r.status_mut() = status;
    r
}
