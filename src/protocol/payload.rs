//! The event payload as it crosses the wire.
//!
//! Every event's payload is exactly `payload_bytes` long, so that everything else on the wire
//! is protocol overhead and byte counts match the framing arithmetic. It is a small JSON object
//! a real app might send, carrying the event id and its creation time (simulated milliseconds)
//! so the client can measure latency from the bytes it parsed, padded with `.`:
//!
//! ```
//! use realtime_lab::protocol::payload;
//! let p = payload::encode(42, 1_250, 48);
//! assert_eq!(p.len(), 48);
//! assert_eq!(&p[..], b"{\"id\":42,\"t\":1250,\"pad\":\"...................\"}".as_slice());
//! assert_eq!(payload::decode(&p), Some((42, 1_250)));
//! ```
//!
//! It never contains a newline, so it fits in one SSE `data:` line or one line of a batch.

use bytes::Bytes;

/// The shortest payload that always fits: ids up to 10^12 and times up to 10^10 ms.
pub const MIN_LEN: usize = 21 + 12 + 10;

/// Encode event `id`, created at `created_ms`, as exactly `len` bytes (at least [`MIN_LEN`]).
pub fn encode(id: u64, created_ms: u64, len: usize) -> Bytes {
    let head = format!("{{\"id\":{id},\"t\":{created_ms},\"pad\":\"");
    let pad = len.saturating_sub(head.len() + 2);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(head.as_bytes());
    out.resize(head.len() + pad, b'.');
    out.extend_from_slice(b"\"}");
    debug_assert_eq!(out.len(), len, "payload_bytes below the minimum");
    Bytes::from(out)
}

/// Decode `(id, created_ms)` from a payload; `None` if the bytes are not a payload.
pub fn decode(p: &[u8]) -> Option<(u64, u64)> {
    let s = std::str::from_utf8(p).ok()?;
    let rest = s.strip_prefix("{\"id\":")?;
    let (id, rest) = rest.split_once(",\"t\":")?;
    let (t, rest) = rest.split_once(",\"pad\":\"")?;
    if !rest.ends_with("\"}") {
        return None;
    }
    Some((id.parse().ok()?, t.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_from_the_minimum_round_trips() {
        for len in MIN_LEN..300 {
            let p = encode(999_999_999_999, 9_999_999_999, len);
            assert_eq!(p.len(), len);
            assert_eq!(decode(&p), Some((999_999_999_999, 9_999_999_999)));
            assert!(!p.contains(&b'\n'));
        }
    }

    #[test]
    fn garbage_is_not_a_payload() {
        assert_eq!(decode(b"hello"), None);
        assert_eq!(decode(b"{\"id\":1,\"t\":2,\"pad\":\"..."), None);
        assert_eq!(decode(b"{\"id\":x,\"t\":2,\"pad\":\"\"}"), None);
    }
}
