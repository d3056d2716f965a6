//! HTTP/1.1 header profiles: what a request or response head costs on the wire.
//!
//! hyper writes the heads; this module only chooses the header fields. Three profiles:
//!
//! - **minimal**: what HTTP/1.1 needs (`host`; `content-length`/`content-type` on bodies).
//!   A poll request is about 85 bytes (`GET /events?client=42&after=17 HTTP/1.1`, `host`), a
//!   `204` response 27 (`HTTP/1.1 204 No Content\r\n\r\n`; hyper adds no field to it).
//! - **browser**: what Chrome sends from a page (user agent, `accept-*`, client hints,
//!   `sec-fetch-*`, a referer and analytics cookies) and what an nginx-style server answers.
//!   Browsers send ~600–900 bytes per request and servers ~200 per response (see
//!   `docs/sources.md`, "HTTP heads"): these heads are ~720 and ~190 bytes.
//! - **padded**: every head made exactly `request_bytes` / `response_bytes` long with a
//!   `cookie` (requests) or `set-cookie` (responses) filler header, as real apps carry.
//!
//! A head's size is computed exactly as hyper serialises it (`name: value\r\n` per field,
//! lowercase names, insertion order) so the padding is exact; a simulation test checks it
//! against the metered bytes.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;

/// Which HTTP request/response heads the HTTP strategies send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderProfile {
    /// Only what HTTP/1.1 needs: `host`, and `content-length` on bodies.
    #[default]
    Minimal,
    /// What a browser page sends and an nginx-style server answers (user agent, accept-*,
    /// cookies, client hints, cache and security headers): ~700-byte requests, ~200-byte
    /// responses.
    Browser,
    /// Every request head padded to exactly `request_bytes` and every response head to exactly
    /// `response_bytes`, with a cookie header as filler.
    Padded {
        /// Bytes of every request head, request line to the blank line inclusive.
        request_bytes: u64,
        /// Bytes of every response head, status line to the blank line inclusive.
        response_bytes: u64,
    },
}

/// The smallest `request_bytes` a padded profile may ask for.
pub const MIN_REQUEST_HEAD: u64 = 256;
/// The smallest `response_bytes` a padded profile may ask for.
pub const MIN_RESPONSE_HEAD: u64 = 160;

const BROWSER_REQUEST: &[(&str, &str)] = &[
    ("connection", "keep-alive"),
    ("sec-ch-ua-platform", "\"Linux\""),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
    ("sec-ch-ua", "\"Google Chrome\";v=\"131\", \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\""),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-fetch-site", "same-origin"),
    ("sec-fetch-mode", "cors"),
    ("sec-fetch-dest", "empty"),
    ("referer", "https://server/app/dashboard"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("accept-language", "en-GB,en-US;q=0.9,en;q=0.8"),
    ("cookie", "session=9f8e7d6c5b4a39281706f5e4d3c2b1a0; _ga=GA1.1.1234567890.1700000000; _ga_XYZ123=GS1.1.1700000000.1.1.1700000100.0.0.0"),
];

const BROWSER_RESPONSE: &[(&str, &str)] = &[
    ("server", "nginx/1.26.2"),
    ("connection", "keep-alive"),
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
];

/// Bytes of one header field line: `name: value\r\n`.
fn field_len(name: &HeaderName, value: &HeaderValue) -> usize {
    name.as_str().len() + 2 + value.len() + 2
}

/// Bytes of a head: its first line (with CRLF), every field, and the blank line.
pub fn head_len(first_line_len: usize, headers: &HeaderMap) -> usize {
    first_line_len + headers.iter().map(|(n, v)| field_len(n, v)).sum::<usize>() + 2
}

fn insert(map: &mut HeaderMap, name: &str, value: &str) {
    map.append(
        HeaderName::from_bytes(name.as_bytes()).expect("valid header name"),
        HeaderValue::from_str(value).expect("valid header value"),
    );
}

/// Append `name: xxx…` so the head becomes exactly `target` bytes (if it is not already
/// larger; validation keeps targets above every head realtime-lab sends).
fn pad_to(map: &mut HeaderMap, first_line_len: usize, name: &str, target: u64) {
    let now = head_len(first_line_len, map);
    let overhead = name.len() + 4;
    if let Some(room) = (target as usize).checked_sub(now + overhead) {
        if room >= 1 {
            let value = if room >= 3 {
                format!("p={}", "x".repeat(room - 2))
            } else {
                "x".repeat(room)
            };
            insert(map, name, &value);
        }
    }
}

/// Request header fields for `method target` under `profile`.
///
/// `extra` holds the fields the protocol itself needs (`accept`, `upgrade`, `last-event-id`, …);
/// `body` is the body's content type and length, if any.
pub fn request(
    profile: &HeaderProfile,
    method: &str,
    target: &str,
    extra: &[(&str, &str)],
    body: Option<(&str, usize)>,
) -> HeaderMap {
    let mut map = HeaderMap::new();
    insert(&mut map, "host", "server");
    for (n, v) in extra {
        insert(&mut map, n, v);
    }
    if let Some((content_type, len)) = body {
        insert(&mut map, "content-type", content_type);
        insert(&mut map, "content-length", &len.to_string());
    }
    let first_line = method.len() + 1 + target.len() + " HTTP/1.1\r\n".len();
    match profile {
        HeaderProfile::Minimal => {}
        HeaderProfile::Browser => {
            // the protocol's own fields win (a WebSocket upgrade's `connection: Upgrade`)
            for (n, v) in BROWSER_REQUEST {
                if !map.contains_key(*n) {
                    insert(&mut map, n, v);
                }
            }
        }
        HeaderProfile::Padded { request_bytes, .. } => {
            pad_to(&mut map, first_line, "cookie", *request_bytes)
        }
    }
    map
}

/// Response header fields for `status` under `profile`; `body` as in [`request`].
pub fn response(
    profile: &HeaderProfile,
    status: StatusCode,
    extra: &[(&str, &str)],
    body: Option<(&str, usize)>,
) -> HeaderMap {
    let mut map = HeaderMap::new();
    if let HeaderProfile::Browser = profile {
        for (n, v) in BROWSER_RESPONSE {
            if !extra.iter().any(|(e, _)| e == n) {
                insert(&mut map, n, v);
            }
        }
    }
    for (n, v) in extra {
        insert(&mut map, n, v);
    }
    if let Some((content_type, len)) = body {
        insert(&mut map, "content-type", content_type);
        insert(&mut map, "content-length", &len.to_string());
    }
    if let HeaderProfile::Padded { response_bytes, .. } = profile {
        pad_to(
            &mut map,
            status_line_len(status),
            "set-cookie",
            *response_bytes,
        );
    }
    map
}

/// Bytes of hyper's status line `HTTP/1.1 200 OK\r\n`.
pub fn status_line_len(status: StatusCode) -> usize {
    "HTTP/1.1 200 ".len() + status.canonical_reason().unwrap_or("").len() + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_heads_are_exactly_the_requested_size() {
        let p = HeaderProfile::Padded {
            request_bytes: 700,
            response_bytes: 171,
        };
        for target in [
            "/events?client=0&after=0",
            "/events?client=123456&after=99999999",
        ] {
            let map = request(&p, "GET", target, &[], None);
            let first = "GET ".len() + target.len() + " HTTP/1.1\r\n".len();
            assert_eq!(head_len(first, &map), 700);
        }
        for status in [StatusCode::OK, StatusCode::NO_CONTENT] {
            let map = response(&p, status, &[], Some(("application/x-ndjson", 1234)));
            assert_eq!(head_len(status_line_len(status), &map), 171);
        }
    }

    #[test]
    fn browser_heads_are_the_sizes_a_browser_sends() {
        let map = request(
            &HeaderProfile::Browser,
            "GET",
            "/events?client=1&after=0",
            &[("accept", "application/x-ndjson")],
            None,
        );
        let len = head_len("GET /events?client=1&after=0 HTTP/1.1\r\n".len(), &map);
        assert!(
            (600..=900).contains(&len),
            "browser request head {len} bytes"
        );
        let map = response(&HeaderProfile::Browser, StatusCode::NO_CONTENT, &[], None);
        let len = head_len(status_line_len(StatusCode::NO_CONTENT), &map);
        assert!(
            (150..=250).contains(&len),
            "browser response head {len} bytes"
        );
    }
}
