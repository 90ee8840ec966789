//! The web console: static files the server hands out under `/console/`. The console is a
//! client like any SDK: it calls the Kinesis API (JSON 1.1), the CloudWatch API (JSON 1.0) and
//! the admin endpoints from the browser, signing them itself under `--auth sigv4`. Nothing here
//! runs on the server and building it needs no Node: the files are compiled in as they are.

/// One file of the console.
#[derive(Clone, Copy, Debug)]
pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// Every file, by its path under `/console/`.
const ASSETS: &[(&str, Asset)] = &[
    (
        "index.html",
        Asset {
            content_type: "text/html; charset=utf-8",
            body: include_bytes!("../assets/index.html"),
        },
    ),
    (
        "app.js",
        Asset {
            content_type: "text/javascript; charset=utf-8",
            body: include_bytes!("../assets/app.js"),
        },
    ),
    (
        "sigv4.js",
        Asset {
            content_type: "text/javascript; charset=utf-8",
            body: include_bytes!("../assets/sigv4.js"),
        },
    ),
    (
        "style.css",
        Asset {
            content_type: "text/css; charset=utf-8",
            body: include_bytes!("../assets/style.css"),
        },
    ),
];

/// The file at `path` (relative to `/console/`; empty for the page itself).
#[must_use]
pub fn asset(path: &str) -> Option<Asset> {
    let path = if path.is_empty() { "index.html" } else { path };
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, a)| *a)
}

/// The content type a file name calls for (for files served from a directory while the
/// console is being worked on).
#[must_use]
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::asset;

    #[test]
    fn the_page_and_its_files_are_there() {
        let page = asset("").map(|a| a.body);
        assert_eq!(page.map(|b| b.starts_with(b"<!doctype html>")), Some(true));
        for f in ["app.js", "sigv4.js", "style.css"] {
            assert!(asset(f).is_some_and(|a| !a.body.is_empty()), "{f}");
        }
        assert!(asset("../Cargo.toml").is_none());
    }
}
