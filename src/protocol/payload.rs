//! The event payload as it crosses the wire.
//!
//! Every event's payload is exactly `payload_bytes` long, so that everything else on the wire
//! is protocol overhead and byte counts match the framing arithmetic. It is a small JSON object
//! a real app might send, carrying the event id, its type and its creation time (simulated
//! milliseconds), so the client can measure latency from the bytes it parsed, padded with `.`:
//!
//! ```
//! use realtime_lab::protocol::payload;
//! let p = payload::encode(42, "message", 1_250, 64);
//! assert_eq!(p.len(), 64);
//! assert_eq!(&p[..], b"{\"id\":42,\"type\":\"message\",\"t\":1250,\"pad\":\"....................\"}".as_slice());
//! assert_eq!(payload::decode(&p), Some((42, "message", 1_250)));
//! ```
//!
//! It never contains a newline, so it fits in one SSE `data:` line or one line of a batch.
//! Upstream (client → server) messages use the same format with type `upstream`.

use bytes::Bytes;

/// Bytes of a payload with an empty type and empty padding, for ids up to 10^12 and times up
/// to 10^10 ms: `{"id":…,"type":"","t":…,"pad":""}`.
const BASE_LEN: usize = 31 + 12 + 10;

/// The shortest payload that always fits an event of type `event_type`.
pub fn min_len(event_type: &str) -> usize {
    BASE_LEN + event_type.len()
}

/// Encode event `id` of type `event_type`, created at `created_ms`, as exactly `len` bytes
/// (at least [`min_len`]).
pub fn encode(id: u64, event_type: &str, created_ms: u64, len: usize) -> Bytes {
    use std::io::Write as _;
    // one allocation: the head is written straight into the payload's buffer
    let mut out = Vec::with_capacity(len.max(min_len(event_type)));
    let _ = write!(
        out,
        "{{\"id\":{id},\"type\":\"{event_type}\",\"t\":{created_ms},\"pad\":\""
    );
    let head = out.len();
    out.resize(head + len.saturating_sub(head + 2), b'.');
    out.extend_from_slice(b"\"}");
    debug_assert_eq!(out.len(), len, "payload_bytes below the minimum");
    Bytes::from(out)
}

/// Decode `(id, type, created_ms)` from a payload; `None` if the bytes are not a payload.
pub fn decode(p: &[u8]) -> Option<(u64, &str, u64)> {
    let s = std::str::from_utf8(p).ok()?;
    let rest = s.strip_prefix("{\"id\":")?;
    let (id, rest) = split_once(rest, ",\"type\":\"")?;
    let (event_type, rest) = split_once(rest, "\",\"t\":")?;
    let (t, rest) = split_once(rest, ",\"pad\":\"")?;
    if !rest.ends_with("\"}") {
        return None;
    }
    Some((id.parse().ok()?, event_type, t.parse().ok()?))
}

/// `str::split_once` at the first `needle`, by a plain scan: every client parses every event
/// it receives, and for these short strings setting up `str`'s substring searcher cost more
/// than the search (the same answer; `needle` is ASCII, so both halves are `str`s).
fn split_once<'a>(s: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let (hay, pin) = (s.as_bytes(), needle.as_bytes());
    let (&first, rest) = pin.split_first()?;
    let mut from = 0;
    loop {
        // the next place the needle's first byte occurs, then the rest of it
        let at = from + hay.get(from..)?.iter().position(|&b| b == first)?;
        if hay[at + 1..].starts_with(rest) {
            return Some((&s[..at], &s[at + pin.len()..]));
        }
        from = at + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_from_the_minimum_round_trips() {
        for t in ["message", "a-much-longer-event-type"] {
            for len in min_len(t)..300 {
                let p = encode(999_999_999_999, t, 9_999_999_999, len);
                assert_eq!(p.len(), len);
                assert_eq!(decode(&p), Some((999_999_999_999, t, 9_999_999_999)));
                assert!(!p.contains(&b'\n'));
            }
        }
    }

    #[test]
    fn the_plain_scan_splits_where_str_split_once_does() {
        let needle = ",\"t\":";
        for s in [
            "",
            ",\"t",
            ",\"t\":",
            "a,\"t\":b,\"t\":c",
            "é,\"t\":ü",
            ",\",\"t\":\"t\":",
            "abc",
        ] {
            assert_eq!(split_once(s, needle), s.split_once(needle), "{s:?}");
        }
    }

    #[test]
    fn garbage_is_not_a_payload() {
        assert_eq!(decode(b"hello"), None);
        assert_eq!(
            decode(b"{\"id\":1,\"type\":\"m\",\"t\":2,\"pad\":\"..."),
            None
        );
        assert_eq!(
            decode(b"{\"id\":x,\"type\":\"m\",\"t\":2,\"pad\":\"\"}"),
            None
        );
    }
}
