//! Naming what crossed the wire: each write of a traced connection read as HTTP/1.1 (request
//! and status lines, the headers the lessons are about), WebSocket frames (RFC 6455 §5.2) or
//! an SSE stream in HTTP chunks (WHATWG HTML §9.2), following each connection from HTTP to
//! what its `101` or `text/event-stream` response switched it to.

use super::{Label, Message, What};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Http,
    WebSocket,
    Sse { chunked: bool },
}

/// Name every message, following each connection's protocol.
pub fn describe(messages: &[Message]) -> Vec<Label> {
    // per connection: (mode up, mode down), and whether the server opened it (a callback:
    // then the server sends the requests)
    let mut modes: Vec<(Mode, Mode)> = Vec::new();
    let mut server_opened: Vec<bool> = Vec::new();
    messages
        .iter()
        .map(|m| {
            let i = m.conn as usize;
            if modes.len() <= i {
                modes.resize(i + 1, (Mode::Http, Mode::Http));
                server_opened.resize(i + 1, false);
            }
            match m.what {
                What::Connect => {
                    server_opened[i] = !m.up;
                    return Label::new("connect", format!("TCP handshake, connection #{}", m.conn));
                }
                What::Close => {
                    let who = if m.up { "client" } else { "server" };
                    return Label::new(
                        "close",
                        format!("FIN: the {who} closes connection #{}", m.conn),
                    );
                }
                What::Data => {}
            }
            let bytes = &m.bytes[..];
            let (up_mode, down_mode) = modes[i];
            let mode = if m.up { up_mode } else { down_mode };
            match mode {
                Mode::WebSocket => frames(bytes, m.len),
                Mode::Sse { chunked } => {
                    let label = sse(bytes, chunked);
                    if label.kind == "sse end" {
                        // the response is over: the connection carries HTTP again
                        modes[i].1 = Mode::Http;
                    }
                    label
                }
                Mode::Http if m.up != server_opened[i] => request(bytes, m.len, m.up),
                Mode::Http => {
                    let (label, switch) = response(bytes, m.len);
                    match switch {
                        Some(Mode::WebSocket) => modes[i] = (Mode::WebSocket, Mode::WebSocket),
                        Some(sse_mode) => modes[i].1 = sse_mode,
                        None => {}
                    }
                    label
                }
            }
        })
        .collect()
}

fn head_and_body(bytes: &[u8]) -> (&str, &[u8]) {
    match bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(p) => (
            std::str::from_utf8(&bytes[..p]).unwrap_or(""),
            &bytes[p + 4..],
        ),
        None => (std::str::from_utf8(bytes).unwrap_or(""), &[]),
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Event ids in a body (payloads are `{"id":N,…}`).
fn event_ids(body: &[u8]) -> Vec<u64> {
    let needle = b"{\"id\":";
    let mut ids = Vec::new();
    let mut i = 0;
    while i + needle.len() <= body.len() {
        if &body[i..i + needle.len()] == needle {
            let digits: String = body[i + needle.len()..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .map(|&b| b as char)
                .collect();
            if let Ok(id) = digits.parse() {
                ids.push(id);
            }
            i += needle.len();
        } else {
            i += 1;
        }
    }
    ids
}

fn ids_text(ids: &[u64]) -> String {
    match ids {
        [] => String::new(),
        [one] => format!("event {one}"),
        [a, b] => format!("events {a}, {b}"),
        [first, .., last] => format!("{} events ({first}–{last})", ids.len()),
    }
}

/// A request; `from_client` names carried payloads messages (upstream), not events.
fn request(bytes: &[u8], len: u64, from_client: bool) -> Label {
    let (head, body) = head_and_body(bytes);
    let first = head.lines().next().unwrap_or("");
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Label::new("body", format!("request body, {len} B"));
    };
    if !version.starts_with("HTTP/") {
        return Label::new("body", format!("request body, {len} B"));
    }
    let mut text = format!("{method} {target}");
    if header(head, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        text.push_str(" · Upgrade: websocket");
    }
    let mut kind = method.to_string();
    if let Some(id) = header(head, "last-event-id") {
        text.push_str(&format!(" · Last-Event-ID: {id}"));
        kind.push_str(" Last-Event-ID");
    } else if header(head, "accept").is_some_and(|v| v.contains("text/event-stream")) {
        text.push_str(" · Accept: text/event-stream");
    }
    if !body.is_empty() {
        let ids = event_ids(body);
        if ids.is_empty() {
            text.push_str(&format!(" · body {} B", body.len()));
        } else {
            let carried = ids_text(&ids);
            let carried = if from_client {
                carried.replace("event", "message")
            } else {
                carried
            };
            text.push_str(&format!(" · {carried}"));
        }
    }
    Label::new(kind, text)
}

fn response(bytes: &[u8], len: u64) -> (Label, Option<Mode>) {
    let (head, body) = head_and_body(bytes);
    let first = head.lines().next().unwrap_or("");
    let Some(status) = first.strip_prefix("HTTP/1.1 ") else {
        let ids = event_ids(bytes);
        let text = if ids.is_empty() {
            format!("response body, {len} B")
        } else {
            format!("response body · {}", ids_text(&ids))
        };
        return (Label::new("body", text), None);
    };
    let code = status.split(' ').next().unwrap_or("").to_string();
    let mut text = status.to_string();
    let mut switch = None;
    if code == "101" {
        if header(head, "sec-websocket-accept").is_some() {
            text.push_str(" · Sec-WebSocket-Accept");
        }
        switch = Some(Mode::WebSocket);
    } else if header(head, "content-type").is_some_and(|v| v.starts_with("text/event-stream")) {
        text.push_str(" · text/event-stream");
        let chunked =
            header(head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        switch = Some(Mode::Sse { chunked });
        if !body.is_empty() {
            let rest = sse(body, chunked);
            text.push_str(&format!(" + {}", rest.text));
        }
    } else {
        let ids = event_ids(body);
        if !ids.is_empty() {
            text.push_str(&format!(" · {}", ids_text(&ids)));
        }
    }
    (Label::new(code, text), switch)
}

/// WebSocket frames in one write.
fn frames(bytes: &[u8], len: u64) -> Label {
    let mut names = Vec::new();
    let mut kind = None;
    let mut rest = bytes;
    while rest.len() >= 2 {
        let (b0, b1) = (rest[0], rest[1]);
        let opcode = b0 & 0x0f;
        let masked = b1 & 0x80 != 0;
        let (n, mut at) = match b1 & 0x7f {
            126 if rest.len() >= 4 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
            127 if rest.len() >= 10 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            n if n < 126 => (n as usize, 2),
            _ => break,
        };
        let mask = if masked && rest.len() >= at + 4 {
            let m = [rest[at], rest[at + 1], rest[at + 2], rest[at + 3]];
            at += 4;
            Some(m)
        } else {
            None
        };
        let end = (at + n).min(rest.len());
        let payload: Vec<u8> = rest[at..end]
            .iter()
            .enumerate()
            .map(|(i, b)| mask.map_or(*b, |m| b ^ m[i % 4]))
            .collect();
        let masked_note = if masked { ", masked" } else { "" };
        let (k, name) = match opcode {
            0x1 | 0x2 => {
                let what = if opcode == 1 { "text" } else { "binary" };
                let ids = event_ids(&payload);
                let carried = if ids.is_empty() {
                    String::new()
                } else if masked {
                    format!(" · {}", ids_text(&ids).replace("event", "message"))
                } else {
                    format!(" · {}", ids_text(&ids))
                };
                (
                    format!("ws {what}{}", if masked { " masked" } else { "" }),
                    format!("{what} frame {n} B{masked_note}{carried}"),
                )
            }
            0x0 => (
                "ws continuation".into(),
                format!("continuation frame {n} B"),
            ),
            0x8 => {
                let code =
                    (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                (
                    format!("ws close{}", if masked { " masked" } else { "" }),
                    match code {
                        Some(c) => format!("close {c}{masked_note}"),
                        None => format!("close{masked_note}"),
                    },
                )
            }
            0x9 => (
                format!("ws ping{}", if masked { " masked" } else { "" }),
                format!("ping{masked_note}"),
            ),
            0xa => (
                format!("ws pong{}", if masked { " masked" } else { "" }),
                format!("pong{masked_note}"),
            ),
            other => ("ws other".into(), format!("frame opcode {other:#x}")),
        };
        kind.get_or_insert(k);
        names.push(name);
        if end < at + n {
            names.push("(frame continues)".into());
            break;
        }
        rest = &rest[end..];
    }
    match kind {
        Some(k) => Label::new(k, names.join(" + ")),
        None => Label::new("ws other", format!("{len} B")),
    }
}

/// SSE records in one write (in HTTP chunks when `chunked`).
fn sse(bytes: &[u8], chunked: bool) -> Label {
    let mut text = Vec::new();
    let mut end_of_stream = false;
    if chunked {
        let mut rest = bytes;
        while let Some(p) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = std::str::from_utf8(&rest[..p])
                .ok()
                .and_then(|h| usize::from_str_radix(h.trim(), 16).ok());
            let Some(size) = size else { break };
            if size == 0 {
                end_of_stream = true;
                break;
            }
            let start = p + 2;
            let end = (start + size).min(rest.len());
            text.extend_from_slice(&rest[start..end]);
            rest = rest.get(end + 2..).unwrap_or(&[]);
        }
    } else {
        text.extend_from_slice(bytes);
    }
    let text = String::from_utf8_lossy(&text);
    let mut names = Vec::new();
    let mut kind = None;
    for record in text.split("\n\n").filter(|r| !r.is_empty()) {
        let mut fields = Vec::new();
        let mut data = 0;
        let mut comment = false;
        for line in record.lines() {
            if let Some(v) = line.strip_prefix("data:") {
                data += v.trim_start_matches(' ').len();
            } else if let Some(c) = line.strip_prefix(':') {
                comment = true;
                let _ = c;
            } else if let Some((field, value)) = line.split_once(':') {
                fields.push(format!("{field}: {}", value.trim_start_matches(' ')));
            }
        }
        if data > 0 {
            fields.push(format!("data {data} B"));
        }
        if fields.is_empty() && comment {
            kind.get_or_insert("sse comment");
            names.push("comment (keep-alive)".to_string());
        } else if !fields.is_empty() {
            kind.get_or_insert(if data > 0 { "sse event" } else { "sse field" });
            names.push(fields.join(" · "));
        }
    }
    if end_of_stream {
        kind.get_or_insert("sse end");
        names.push("end of stream (last chunk)".into());
    }
    let shown = if names.len() > 3 {
        format!(
            "{} SSE records: {} … {}",
            names.len(),
            names[0],
            names[names.len() - 1]
        )
    } else {
        names.join(" + ")
    };
    Label::new(kind.unwrap_or("sse other"), shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(conn: u32, up: bool, bytes: &[u8]) -> Message {
        Message {
            conn,
            up,
            what: What::Data,
            sent_ms: 0,
            arrived_ms: None,
            len: bytes.len() as u64,
            bytes: bytes.to_vec(),
        }
    }

    fn texts(ms: &[Message]) -> Vec<String> {
        describe(ms).into_iter().map(|l| l.text).collect()
    }

    /// A WebSocket connection from its upgrade to its close, with frames built by hand from
    /// RFC 6455 §5.2 (and the masked "Hello" of §5.7).
    #[test]
    fn websocket_connection_from_upgrade_to_close() {
        let ms = vec![
            data(1, true, b"GET /ws HTTP/1.1\r\nHost: server\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
            data(1, false, b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
            data(1, false, &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']),
            data(1, true, &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
            data(1, false, &[0x89, 0x00]),
            data(1, true, &[0x8a, 0x80, 1, 2, 3, 4]),
            // close 1000 = 0x03e8, unmasked from the server
            data(1, false, &[0x88, 0x02, 0x03, 0xe8]),
            // close 1000 masked with 01 02 03 04: 0x03^0x01, 0xe8^0x02
            data(1, true, &[0x88, 0x82, 1, 2, 3, 4, 0x02, 0xea]),
        ];
        assert_eq!(
            texts(&ms),
            vec![
                "GET /ws · Upgrade: websocket",
                "101 Switching Protocols · Sec-WebSocket-Accept",
                "text frame 5 B",
                "text frame 5 B, masked",
                "ping",
                "pong, masked",
                "close 1000",
                "close 1000, masked",
            ]
        );
    }

    /// An SSE stream in chunks (RFC 9112 §7.1): records, a keep-alive comment and the last chunk.
    #[test]
    fn sse_stream_in_chunks() {
        let record = "id: 42\nevent: price\ndata: {\"id\":42}\n\n";
        let chunk = format!("{:x}\r\n{record}\r\n", record.len());
        let ms = vec![
            data(1, true, b"GET /events HTTP/1.1\r\nAccept: text/event-stream\r\nLast-Event-ID: 41\r\n\r\n"),
            data(1, false, b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"),
            data(1, false, chunk.as_bytes()),
            data(1, false, b"3\r\n:\n\n\r\n"),
            data(1, false, b"0\r\n\r\n"),
            // the same connection, kept alive, carries HTTP again
            data(1, false, b"HTTP/1.1 204 No Content\r\n\r\n"),
        ];
        assert_eq!(
            texts(&ms),
            vec![
                "GET /events · Last-Event-ID: 41",
                "200 OK · text/event-stream",
                "id: 42 · event: price · data 9 B",
                "comment (keep-alive)",
                "end of stream (last chunk)",
                "204 No Content",
            ]
        );
    }

    /// On a connection the server opened (a callback), the server sends the request.
    #[test]
    fn callbacks_are_requests_from_the_server() {
        let mut connect = data(2, false, b"");
        connect.what = What::Connect;
        let ms = vec![
            connect,
            data(
                2,
                false,
                b"POST /event HTTP/1.1\r\ncontent-length: 9\r\n\r\n{\"id\":160}",
            ),
            data(2, true, b"HTTP/1.1 204 No Content\r\n\r\n"),
        ];
        assert_eq!(
            texts(&ms),
            vec![
                "TCP handshake, connection #2",
                "POST /event · event 160",
                "204 No Content"
            ]
        );
    }

    #[test]
    fn polls_name_their_events() {
        let ms = vec![
            data(2, true, b"GET /poll?after=41 HTTP/1.1\r\n\r\n"),
            data(2, false, b"HTTP/1.1 204 No Content\r\n\r\n"),
            data(2, false, b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n[{\"id\":42,\"t\":1},{\"id\":43,\"t\":2}]"),
        ];
        let labels = describe(&ms);
        assert_eq!(labels[0].text, "GET /poll?after=41");
        assert_eq!(labels[0].kind, "GET");
        assert_eq!(labels[1].text, "204 No Content");
        assert_eq!(labels[1].kind, "204");
        assert_eq!(labels[2].text, "200 OK · events 42, 43");
    }
}
