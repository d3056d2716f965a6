//! Server-Sent Events: a small, spec-exact encoder and parser for `text/event-stream`
//! (WHATWG HTML §9.2, "Server-sent events").
//!
//! Written by hand because it teaches: the whole format is a few rules.
//!
//! ```text
//! retry: 3000            ← reconnection time, digits only
//!                        ← a blank line dispatches (here: nothing, no data)
//! id: 41                 ← last event ID, remembered for Last-Event-ID on reconnect
//! event: price           ← event type (default "message")
//! data: {"bid": 1.2,     ← one data line per payload line; joined with "\n"
//! data:  "ask": 1.3}
//!                        ← blank line: dispatch the event
//! :                      ← a comment: keep-alive, ignored
//! ```
//!
//! ```
//! use realtime_lab::protocol::sse::{encode_event, Parser};
//!
//! let bytes = encode_event(Some("41"), Some("price"), "line one\nline two");
//! assert_eq!(bytes, "id: 41\nevent: price\ndata: line one\ndata: line two\n\n");
//! let mut parser = Parser::new();
//! let events = parser.feed(bytes.as_bytes());
//! assert_eq!(events[0].event_type, "price");
//! assert_eq!(events[0].data, "line one\nline two");
//! assert_eq!(parser.last_event_id(), "41");
//! ```

/// Bytes of the framing around one event with a single-line payload of `payload_len` bytes:
/// `id: <id>\n`, `event: <type>\n` unless the type is `message`, `data: <payload>\n`, `\n`.
pub fn event_len(id: &str, event_type: &str, payload_len: usize) -> usize {
    let event_line = if event_type == "message" {
        0
    } else {
        "event: \n".len() + event_type.len()
    };
    "id: \n".len() + id.len() + event_line + "data: \n\n".len() + payload_len
}

/// Encode one event. `data` may span lines (`\n`, `\r\n` or `\r`): each becomes a `data:` line.
pub fn encode_event(id: Option<&str>, event_type: Option<&str>, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(id) = id {
        debug_assert!(!id.contains(['\n', '\r', '\0']));
        out.push_str("id: ");
        out.push_str(id);
        out.push('\n');
    }
    if let Some(t) = event_type.filter(|t| *t != "message") {
        out.push_str("event: ");
        out.push_str(t);
        out.push('\n');
    }
    for line in split_lines(data) {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// Split on every line end the format knows: `\r\n`, `\r` or `\n`.
fn split_lines(data: &str) -> Vec<&str> {
    let bytes = data.as_bytes();
    let mut lines = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        if bytes[i] == b'\r' || bytes[i] == b'\n' {
            lines.push(&data[start..i]);
            if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            start = i + 1;
        }
        i += 1;
    }
    lines.push(&data[start..]);
    lines
}

/// The `retry:` record that sets the client's reconnection time.
pub fn encode_retry(ms: u64) -> String {
    format!("retry: {ms}\n\n")
}

/// A comment line (`:` plus text) and a blank line: a keep-alive the client ignores.
pub fn encode_comment(text: &str) -> String {
    format!(":{text}\n\n")
}

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, or `message`.
    pub event_type: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last event ID at dispatch time.
    pub last_event_id: String,
}

/// An incremental `text/event-stream` parser: feed it bytes as they arrive, in any pieces.
#[derive(Debug, Default, Clone)]
pub struct Parser {
    line: Vec<u8>,
    after_cr: bool,
    started: bool,
    data: String,
    event_type: String,
    id_buffer: String,
    last_event_id: String,
    retry: Option<u64>,
}

impl Parser {
    /// A parser at the start of a stream.
    pub fn new() -> Parser {
        Parser::default()
    }

    /// The last event ID string (sent as `Last-Event-ID` when reconnecting).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time set by the last valid `retry:` field, in ms.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// Start a new stream (after a reconnect): partial lines and buffers are dropped, the last
    /// event ID and reconnection time are kept, as an `EventSource` does.
    pub fn reset_stream(&mut self) {
        self.line.clear();
        self.after_cr = false;
        self.started = false;
        self.data.clear();
        self.event_type.clear();
        // The spec gives each stream a fresh, empty ID buffer; Chromium seeds it with the last
        // event ID instead, so a blank line before the first `id:` does not forget it. We do too.
        self.id_buffer = self.last_event_id.clone();
    }

    /// Feed bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false, // second half of CRLF
                b'\r' | b'\n' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    self.process_line(&line, &mut events);
                }
                _ => {
                    self.after_cr = false;
                    self.line.push(b);
                }
            }
        }
        events
    }

    fn process_line(&mut self, raw: &[u8], events: &mut Vec<SseEvent>) {
        let mut line = String::from_utf8_lossy(raw).into_owned();
        if !self.started {
            self.started = true;
            if let Some(rest) = line.strip_prefix('\u{FEFF}') {
                line = rest.to_string();
            }
        }
        if line.is_empty() {
            return self.dispatch(events);
        }
        if line.starts_with(':') {
            return; // comment
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "event" => self.event_type = value.to_string(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => self.id_buffer = value.to_string(),
            "retry" if !value.is_empty() && value.bytes().all(|c| c.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {} // unknown fields are ignored
        }
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        self.last_event_id = self.id_buffer.clone();
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        if self.data.ends_with('\n') {
            self.data.pop();
        }
        let event_type = match std::mem::take(&mut self.event_type) {
            t if t.is_empty() => "message".to_string(),
            t => t,
        };
        events.push(SseEvent {
            event_type,
            data: std::mem::take(&mut self.data),
            last_event_id: self.last_event_id.clone(),
        });
    }
}

/// Whether a `Content-Type` value is an event stream: its MIME type essence (type/subtype,
/// without parameters, case-insensitive) is `text/event-stream`, as WHATWG HTML §9.2.3 asks
/// of an `EventSource`. `text/event-stream; charset=utf-8` is one; `text/event-streams` is
/// not.
pub fn is_event_stream(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("text/event-stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_with_parameters_are_event_streams() {
        for yes in [
            "text/event-stream",
            "text/event-stream; charset=utf-8",
            "Text/Event-Stream;charset=UTF-8",
            " text/event-stream ",
        ] {
            assert!(is_event_stream(yes), "{yes}");
        }
        for no in ["text/plain", "text/event-streams", "", "text/event"] {
            assert!(!is_event_stream(no), "{no}");
        }
    }
    use tokio::io::AsyncReadExt;

    fn parse(s: &str) -> Vec<SseEvent> {
        Parser::new().feed(s.as_bytes())
    }

    fn ev(t: &str, d: &str, id: &str) -> SseEvent {
        SseEvent {
            event_type: t.into(),
            data: d.into(),
            last_event_id: id.into(),
        }
    }

    /// The spec's first example: a stock ticker, multi-line data joined with "\n".
    #[test]
    fn spec_example_multi_line_data() {
        let e = parse("data: YHOO\ndata: +2\ndata: 10\n\n");
        assert_eq!(e, vec![ev("message", "YHOO\n+2\n10", "")]);
    }

    /// The spec's second example: comments, ids, and an id-less event keeping the last id.
    #[test]
    fn spec_example_ids_and_comments() {
        let e = parse(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n");
        assert_eq!(
            e,
            vec![
                ev("message", "first event", "1"),
                ev("message", "second event", ""),
                ev("message", " third event", ""),
            ]
        );
    }

    /// The spec's third example: `data` with no value, and a final event with no blank line
    /// is never dispatched.
    #[test]
    fn spec_example_empty_data_and_unterminated_event() {
        let e = parse("data\n\ndata\ndata\n\ndata:");
        assert_eq!(e, vec![ev("message", "", ""), ev("message", "\n", "")]);
    }

    /// The spec's fourth example: one space after the colon is stripped, no more.
    #[test]
    fn spec_example_one_leading_space_is_stripped() {
        let e = parse("data:test\n\ndata: test\n\n");
        assert_eq!(
            e,
            vec![ev("message", "test", ""), ev("message", "test", "")]
        );
    }

    #[test]
    fn crlf_lf_and_cr_all_end_lines() {
        let e = parse("event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n");
        assert_eq!(
            e,
            vec![ev("a", "1", ""), ev("b", "2", ""), ev("message", "3", "")]
        );
    }

    #[test]
    fn a_crlf_split_across_reads_is_one_line_break() {
        let mut p = Parser::new();
        assert!(p.feed(b"data: x\r").is_empty());
        assert!(
            p.feed(b"\n").is_empty(),
            "CR LF must not count as two line ends"
        );
        assert_eq!(p.feed(b"\r\n"), vec![ev("message", "x", "")]);
    }

    #[test]
    fn retry_takes_digits_only() {
        let mut p = Parser::new();
        p.feed(b"retry: 2500\n\n");
        assert_eq!(p.retry(), Some(2500));
        p.feed(b"retry: 12a\n\nretry: -5\n\nretry:\n\nretry: 1.5\n\n");
        assert_eq!(p.retry(), Some(2500), "invalid retry values are ignored");
    }

    #[test]
    fn an_id_containing_nul_is_ignored() {
        let mut p = Parser::new();
        let e = p.feed(b"id: 7\ndata: a\n\nid: 8\0x\ndata: b\n\n");
        assert_eq!(e[1].last_event_id, "7");
        assert_eq!(p.last_event_id(), "7");
    }

    #[test]
    fn unknown_fields_and_a_leading_bom_are_ignored() {
        let e = parse("\u{FEFF}data: a\nfoo: bar\n\n");
        assert_eq!(e, vec![ev("message", "a", "")]);
    }

    #[test]
    fn an_event_without_data_sets_the_id_but_is_not_dispatched() {
        let mut p = Parser::new();
        assert!(p.feed(b"id: 9\nevent: x\n\n").is_empty());
        assert_eq!(p.last_event_id(), "9");
        assert_eq!(p.feed(b"data: y\n\n"), vec![ev("message", "y", "9")]);
    }

    #[test]
    fn reconnect_keeps_the_last_id_but_drops_a_partial_event() {
        let mut p = Parser::new();
        p.feed(b"id: 3\ndata: a\n\ndata: half");
        p.reset_stream();
        assert_eq!(p.feed(b"\n\n"), vec![]);
        assert_eq!(p.last_event_id(), "3");
    }

    #[test]
    fn the_encoder_writes_what_the_parser_reads() {
        let s = encode_event(Some("12"), Some("news"), "a\r\nb\rc\nd");
        assert_eq!(
            s,
            "id: 12\nevent: news\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
        );
        assert_eq!(parse(&s), vec![ev("news", "a\nb\nc\nd", "12")]);
        assert_eq!(encode_event(None, Some("message"), "p"), "data: p\n\n");
        assert_eq!(encode_retry(3000), "retry: 3000\n\n");
        assert_eq!(encode_comment(""), ":\n\n");
    }

    #[test]
    fn event_len_matches_the_encoder() {
        for (t, p) in [("message", 100), ("price", 1), ("a-longer-type", 4096)] {
            let payload = "x".repeat(p);
            assert_eq!(
                encode_event(Some("123"), Some(t), &payload).len(),
                event_len("123", t, p)
            );
        }
        // docs/sources.md: an event `data: P\n\n` costs P + 8 bytes
        assert_eq!(encode_event(None, None, &"x".repeat(100)).len(), 108);
    }

    /// Byte-by-byte delivery through tokio-test's mock IO: the parser must not care how the
    /// stream is cut.
    #[tokio::test]
    async fn byte_by_byte_reads_give_the_same_events() {
        let stream =
            "retry: 10\n\nid: 1\nevent: a\r\ndata: x\r\n\r\n:\n\nid: 2\rdata: y\rdata: z\r\r";
        let mut builder = tokio_test::io::Builder::new();
        for b in stream.as_bytes() {
            builder.read(std::slice::from_ref(b));
        }
        let mut mock = builder.build();
        let mut p = Parser::new();
        let mut events = Vec::new();
        let mut buf = [0u8; 16];
        loop {
            let n = mock.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            events.extend(p.feed(&buf[..n]));
        }
        assert_eq!(events, vec![ev("a", "x", "1"), ev("message", "y\nz", "2")]);
        assert_eq!(p.retry(), Some(10));
        assert_eq!(events, parse(stream));
    }
}
