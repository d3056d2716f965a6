//! One client's exchange, connection by connection: what the simulator keeps of a traced
//! client (every write on every connection it has — polls, streams, upstream messages, server
//! callbacks — with when it was sent and when the other end read it), how those writes are
//! named (`GET /poll?after=41`, `204 No Content`, `ping`, `close 1000`, `id: 42`), the
//! transcript `realtime-lab trace` prints and the rows of the sequence diagram
//! (`sequence.csv`, `sequence-<strategy>.svg/.png`).
//!
//! The traced client is `[simulation] trace_client` (default 0; `run --trace-client K`).
//! Arrival times come from the reader: a write has arrived when the other end's reads have
//! passed its last byte (TCP is a byte stream, so a read may cover several writes or part of
//! one), a close (`FIN`) when the other end reads end-of-stream.

mod describe;
mod record;
pub mod sequence;
mod types;

use std::fmt::Write as _;

pub use describe::describe;
pub(crate) use record::Tracer;
pub use types::{Label, Message, Side, Step, Trace, TracedEvent, What, KEEP_BYTES, KEEP_MESSAGES};

impl Trace {
    /// Every message and event, named, in time order (messages before events at the same ms,
    /// otherwise in the order they were recorded).
    pub fn steps(&self) -> Vec<Step> {
        let labels = describe(&self.messages);
        let mut steps: Vec<Step> = self
            .messages
            .iter()
            .zip(labels)
            .map(|(m, label)| Step {
                at_ms: m.sent_ms,
                arrived_ms: m.arrived_ms,
                from: if m.up { Side::Client } else { Side::Server },
                conn: m.conn,
                len: m.len,
                label,
            })
            .collect();
        steps.extend(self.events.iter().map(|e| Step {
            at_ms: e.created_ms,
            arrived_ms: None,
            from: Side::Event,
            conn: 0,
            len: 0,
            label: Label::new(
                "event",
                format!("event {} created ({})", e.id, e.event_type),
            ),
        }));
        if let Some(t) = self.closing_ms {
            steps.push(Step {
                at_ms: t,
                arrived_ms: None,
                from: Side::Event,
                conn: 0,
                len: 0,
                label: Label::new(
                    CLOSING,
                    "the run is over: the server closes its connections",
                ),
            });
        }
        // stable: recording order within a millisecond; an event is created before the
        // server can send it in the same ms
        steps.sort_by_key(|s| (s.at_ms, s.from != Side::Event));
        steps
    }

    /// The exchange as a timestamped transcript, up to `until_ms` (sent before it).
    pub fn transcript(&self, until_ms: u64) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>10}  {:>4}  {:<16}  {:>6}  {:>10}  what",
            "sent", "conn", "direction", "bytes", "arrived"
        );
        for s in self.steps().iter().filter(|s| s.at_ms < until_ms) {
            let dir = match s.from {
                Side::Client => "client → server",
                Side::Server => "server → client",
                Side::Event => "at the server",
            };
            let conn = if s.conn == 0 {
                "".to_string()
            } else {
                format!("#{}", s.conn)
            };
            let bytes = if s.len == 0 {
                "".to_string()
            } else {
                s.len.to_string()
            };
            let arrived = match (s.from, s.arrived_ms) {
                (Side::Event, _) => "".to_string(),
                (_, Some(a)) => seconds(a),
                (_, None) => "not read".to_string(),
            };
            let _ = writeln!(
                out,
                "{:>10}  {conn:>4}  {dir:<16}  {bytes:>6}  {arrived:>10}  {}",
                seconds(s.at_ms),
                s.label.text
            );
        }
        if self.truncated {
            let _ = writeln!(
                out,
                "(only the first {KEEP_MESSAGES} messages were kept; later ones are left out)"
            );
        }
        out
    }
}

/// The kind of the step that marks the end of the run.
pub const CLOSING: &str = "closing";

/// `1.234 s`.
pub fn seconds(ms: u64) -> String {
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(conn: u32, up: bool, sent: u64, arrived: u64, bytes: &[u8]) -> Message {
        Message {
            conn,
            up,
            what: What::Data,
            sent_ms: sent,
            arrived_ms: Some(arrived),
            len: bytes.len() as u64,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn bytes_read_as_text_with_websocket_headers_in_hex() {
        let text = |up, bytes: &[u8]| msg(1, up, 0, 0, bytes).text();
        assert_eq!(text(true, b"GET / HTTP/1.1\r\n"), "GET / HTTP/1.1\\r\\n\n");
        assert_eq!(text(false, &[0x81, 0x02, b'h', b'i']), "\\x81\\x02hi");
        assert_eq!(
            text(true, &[0x8a, 0x80, 1, 2, 3, 4]),
            "\\x8a\\x80\\x01\\x02\\x03\\x04"
        );
    }

    #[test]
    fn transcript_orders_events_before_the_messages_that_carry_them() {
        let t = Trace {
            client: 0,
            messages: vec![
                msg(
                    1,
                    true,
                    10,
                    40,
                    b"GET /poll?after=0 HTTP/1.1\r\nhost: server\r\n\r\n",
                ),
                msg(1, false, 1_500, 1_530, b"HTTP/1.1 204 No Content\r\n\r\n"),
            ],
            events: vec![TracedEvent {
                id: 7,
                event_type: "price".into(),
                created_ms: 1_500,
            }],
            truncated: false,
            closing_ms: None,
        };
        let text = t.transcript(u64::MAX);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[1].contains("GET /poll?after=0") && lines[1].contains("0.040 s"));
        assert!(lines[2].contains("event 7 created (price)"), "{text}");
        assert!(lines[3].contains("204 No Content") && lines[3].contains("1.530 s"));
        // until: sent strictly before
        assert_eq!(t.transcript(1_500).lines().count(), 2);
    }
}
