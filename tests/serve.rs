//! `serve` against hostile and broken clients: oversized heads, garbage, slow heads, bad
//! upgrades, invalid WebSocket frames, floods. After each, the server still serves others and
//! the stats say what it refused; then Ctrl-C-style shutdown answers polls, ends streams and
//! closes WebSockets with 1001. All on an ephemeral loopback port, a few seconds in all.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use realtime_lab::live::{self, guard::Limits, ServeOptions};
use realtime_lab::Lab;

struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    done: std::thread::JoinHandle<anyhow::Result<live::Served>>,
}

fn start(limits: Limits) -> Server {
    // 1,000 clients at one event per 1,000 s each: a parked long poll stays parked
    let s = common::scenario(
        "name = \"serve\"\nseed = 1\nduration_s = 60\n[clients]\ncount = 1000\n\
         [events]\nrate_per_client_per_s = 0.001\n[long-polling]\ntimeout_s = 30\n",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let opts = ServeOptions {
        bind: "127.0.0.1".parse().unwrap(),
        port: 0,
        duration_s: Some(60.0),
        limits,
        stop: Some(stop.clone()),
        names: Vec::new(),
    };
    live::log::set_quiet(true);
    let done = std::thread::spawn(move || {
        let lab = Lab::builtin();
        let ids = ["short-polling", "long-polling", "websocket", "sse"];
        let strategies: Vec<_> = ids
            .iter()
            .map(|id| (lab.find(id).unwrap(), "#000000".to_string()))
            .collect();
        let real = live::real_scenario(&s, "sse").unwrap();
        live::serve(&real, &strategies, &opts, &mut |url| {
            tx.send(url.to_string()).unwrap();
        })
    });
    let url = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("serve starts");
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    Server { addr, stop, done }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Everything the server sends until it closes (or `limit` bytes, or the read timeout).
fn read_some(s: &mut TcpStream, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < limit {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// Read until `needle` appears (or the connection ends); what was read.
fn read_until(s: &mut TcpStream, needle: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.windows(needle.len()).any(|w| w == needle) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

fn get(addr: SocketAddr, target: &str) -> String {
    let mut s = connect(addr);
    write!(
        s,
        "GET {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    String::from_utf8_lossy(&read_some(&mut s, 1 << 20)).into_owned()
}

fn still_serving(addr: SocketAddr, after: &str) {
    let r = get(addr, "/_lab/info");
    assert!(r.starts_with("HTTP/1.1 200"), "after {after}: {r}");
}

/// A WebSocket opened by hand with RFC 6455's own example key (§1.3), whose accept value the
/// RFC gives.
fn websocket(addr: SocketAddr, client: u32) -> TcpStream {
    let mut s = connect(addr);
    write!(
        s,
        "GET /websocket/events?client={client} HTTP/1.1\r\nhost: {addr}\r\nupgrade: websocket\r\n\
         connection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         sec-websocket-version: 13\r\norigin: http://{addr}\r\n\r\n"
    )
    .unwrap();
    let head = String::from_utf8_lossy(&read_until(&mut s, b"\r\n\r\n")).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    s
}

/// The close code of the first close frame (opcode 8) in server bytes, skipping other frames.
fn close_code(bytes: &[u8]) -> Option<u16> {
    let mut i = 0;
    while i + 2 <= bytes.len() {
        let (op, mut len, mut at) = (bytes[i] & 0x0f, (bytes[i + 1] & 0x7f) as usize, i + 2);
        if len == 126 {
            len = u16::from_be_bytes([bytes[at], bytes[at + 1]]) as usize;
            at += 2;
        }
        if op == 8 && len >= 2 {
            return Some(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
        }
        i = at + len;
    }
    None
}

/// A masked client frame (mask 0, so the payload reads as is).
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() <= 125);
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

#[test]
fn serve_survives_malformed_input_and_shuts_down_gracefully() {
    let limits = Limits {
        max_connections: 40,
        head_timeout: Duration::from_secs(1),
        ws_max_frames_per_s: 20,
        ..Limits::default()
    };
    let srv = start(limits);
    let addr = srv.addr;
    still_serving(addr, "start");

    // a Host that is not this server's (DNS rebinding), or none, or two: 400 (RFC 9112 §3.2)
    for host in ["host: evil.example\r\n", "", "host: a\r\nhost: b\r\n"] {
        let mut s = connect(addr);
        write!(
            s,
            "GET /_lab/info HTTP/1.1\r\n{host}connection: close\r\n\r\n"
        )
        .unwrap();
        let r = String::from_utf8_lossy(&read_some(&mut s, 4096)).into_owned();
        assert!(r.starts_with("HTTP/1.1 400"), "{host:?}: {r}");
    }
    // HEAD of a page: its headers, no body; another method: 405 with Allow (RFC 9110 §15.5.6)
    let mut s = connect(addr);
    write!(
        s,
        "HEAD /app.js HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let r = String::from_utf8_lossy(&read_some(&mut s, 1 << 20)).into_owned();
    assert!(
        r.starts_with("HTTP/1.1 200") && r.ends_with("\r\n\r\n"),
        "{r}"
    );
    let mut s = connect(addr);
    write!(
        s,
        "DELETE / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let r = String::from_utf8_lossy(&read_some(&mut s, 4096)).to_lowercase();
    assert!(
        r.starts_with("http/1.1 405") && r.contains("allow: get, head"),
        "{r}"
    );

    // a head over 16 KiB: 431 (RFC 6585 §5)
    let mut s = connect(addr);
    let big = "x".repeat(20_000);
    let _ = write!(
        s,
        "GET / HTTP/1.1\r\nhost: localhost\r\nx-big: {big}\r\n\r\n"
    );
    let r = String::from_utf8_lossy(&read_some(&mut s, 4096)).into_owned();
    assert!(r.starts_with("HTTP/1.1 431"), "{r}");
    still_serving(addr, "an oversized head");

    // bytes that are not HTTP (a TLS hello, say): 400 and closed
    let mut s = connect(addr);
    s.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n")
        .unwrap();
    let r = String::from_utf8_lossy(&read_some(&mut s, 4096)).into_owned();
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 400"), "{r}");
    still_serving(addr, "garbage");

    // a head that never ends: closed after the 1 s head timeout
    let mut s = connect(addr);
    s.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n")
        .unwrap();
    let t = std::time::Instant::now();
    let _ = read_some(&mut s, 4096);
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "closed in {:?}",
        t.elapsed()
    );
    still_serving(addr, "a slow head");

    // a body over 64 KiB: 413
    let mut s = connect(addr);
    write!(
        s,
        "POST /short-polling/messages?client=1 HTTP/1.1\r\nhost: localhost\r\ncontent-length: 100000\r\n\r\n"
    )
    .unwrap();
    let r = String::from_utf8_lossy(&read_until(&mut s, b"\r\n\r\n")).into_owned();
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");

    // a chunked body past 64 KiB: 413
    let mut s = connect(addr);
    write!(
        s,
        "POST /short-polling/messages?client=1 HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
    for _ in 0..5 {
        let _ = s.write_all(chunk.as_bytes());
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let r = String::from_utf8_lossy(&read_until(&mut s, b"\r\n\r\n")).into_owned();
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");

    // an upgrade from another site's page: 403, and counted
    let mut s = connect(addr);
    write!(
        s,
        "GET /websocket/events?client=1 HTTP/1.1\r\nhost: {addr}\r\nupgrade: websocket\r\n\
         connection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         sec-websocket-version: 13\r\norigin: http://evil.example\r\n\r\n"
    )
    .unwrap();
    let r = String::from_utf8_lossy(&read_until(&mut s, b"\r\n\r\n")).into_owned();
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    // an upgrade without its key: 400 (RFC 6455 §4.2.1); with another version: 426 naming 13
    let mut s = connect(addr);
    write!(
        s,
        "GET /websocket/events?client=1 HTTP/1.1\r\nhost: {addr}\r\nupgrade: websocket\r\n\
         connection: Upgrade\r\nsec-websocket-version: 13\r\n\r\n"
    )
    .unwrap();
    let r = String::from_utf8_lossy(&read_until(&mut s, b"\r\n\r\n")).into_owned();
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    let mut s = connect(addr);
    write!(
        s,
        "GET /websocket/events?client=1 HTTP/1.1\r\nhost: {addr}\r\nupgrade: websocket\r\n\
         connection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         sec-websocket-version: 8\r\n\r\n"
    )
    .unwrap();
    let r = String::from_utf8_lossy(&read_until(&mut s, b"\r\n\r\n")).into_owned();
    assert!(
        r.starts_with("HTTP/1.1 426") && r.contains("sec-websocket-version: 13"),
        "{r}"
    );
    still_serving(addr, "bad upgrades");

    // invalid frames get the close code RFC 6455 §7.4.1 gives
    let mut ws = websocket(addr, 1);
    ws.write_all(&[0x81, 0x03, b'a', b'b', b'c']).unwrap(); // unmasked
    assert_eq!(close_code(&read_some(&mut ws, 1 << 16)), Some(1002));
    // text that is not UTF-8 (§8.1): close 1007, from the front door
    let mut ws = websocket(addr, 5);
    ws.write_all(&frame(0x1, b"\xff\xfeabc")).unwrap();
    assert_eq!(close_code(&read_some(&mut ws, 1 << 16)), Some(1007));
    let mut ws = websocket(addr, 2);
    let mut huge = vec![0x82, 0x80 | 127];
    huge.extend_from_slice(&(10_000_000u64).to_be_bytes());
    huge.extend_from_slice(&[0, 0, 0, 0]);
    ws.write_all(&huge).unwrap(); // a 10 MB frame announced
    assert_eq!(close_code(&read_some(&mut ws, 1 << 16)), Some(1009));
    let mut ws = websocket(addr, 3);
    let mut flood = Vec::new();
    for _ in 0..50 {
        flood.extend(frame(0x9, b"hi")); // 50 pings at once, 20 a second allowed
    }
    ws.write_all(&flood).unwrap();
    assert_eq!(close_code(&read_some(&mut ws, 1 << 16)), Some(1008));
    still_serving(addr, "invalid frames");

    // a flood of connections: beyond 40 open, new ones are closed at once
    let mut held = Vec::new();
    for _ in 0..60 {
        held.push(connect(addr));
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut closed = 0;
    for s in &mut held {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        closed += matches!(s.read(&mut [0u8; 16]), Ok(0)) as usize;
    }
    assert!(closed >= 20, "{closed} of 60 connections closed at once");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    still_serving(addr, "a connection flood");
    let stats = get(addr, "/_lab/stats");
    assert!(stats.contains("\"refused_connections\":"), "{stats}");
    assert!(!stats.contains("\"refused_connections\":0,"), "{stats}");

    // a cut ends an event stream; the reconnection's Last-Event-ID is seen
    let mut sse = connect(addr);
    write!(
        sse,
        "GET /sse/events?client=7 HTTP/1.1\r\nhost: localhost\r\naccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let r = read_until(&mut sse, b"retry:");
    assert!(
        r.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    let mut cut = connect(addr);
    write!(
        cut,
        "POST /_lab/cut?strategy=sse&client=7 HTTP/1.1\r\nhost: localhost\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let r = String::from_utf8_lossy(&read_some(&mut cut, 4096)).into_owned();
    assert!(r.contains("{\"cut\":1}"), "{r}");
    let _ = read_some(&mut sse, 1 << 16); // ends
    let mut again = connect(addr);
    write!(
        again,
        "GET /sse/events?client=7 HTTP/1.1\r\nhost: localhost\r\naccept: text/event-stream\r\nlast-event-id: 42\r\n\r\n"
    )
    .unwrap();
    let r = read_until(&mut again, b"retry:");
    assert!(r.starts_with(b"HTTP/1.1 200"));
    let stats = get(addr, "/_lab/stats");
    assert!(stats.contains("\"last_event_ids\":[\"42\"]"), "{stats}");
    drop(again);

    // shutdown: a parked long poll is answered, a stream ends, a WebSocket closes with 1001
    let mut poll = connect(addr);
    write!(
        poll,
        "GET /long-polling/events?client=9&after=0 HTTP/1.1\r\nhost: localhost\r\n\r\n"
    )
    .unwrap();
    let mut stream = connect(addr);
    write!(
        stream,
        "GET /sse/events?client=8 HTTP/1.1\r\nhost: localhost\r\naccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let _ = read_until(&mut stream, b"retry:");
    let mut ws = websocket(addr, 4);
    std::thread::sleep(Duration::from_millis(300));
    srv.stop.store(true, Ordering::SeqCst);
    let r = String::from_utf8_lossy(&read_until(&mut poll, b"\r\n\r\n")).into_owned();
    assert!(r.starts_with("HTTP/1.1 204"), "the parked poll: {r}");
    let tail = read_some(&mut stream, 1 << 16);
    assert!(
        tail.ends_with(b"0\r\n\r\n"),
        "the stream's last chunk: {:?}",
        String::from_utf8_lossy(&tail)
    );
    let bytes = read_until(&mut ws, &[0x88]);
    let mut bytes = bytes;
    bytes.extend(read_some(&mut ws, 8));
    let at = bytes.iter().position(|&b| b == 0x88).unwrap();
    assert_eq!(close_code(&bytes[at..]), Some(1001));
    ws.write_all(&frame(0x8, &1001u16.to_be_bytes())).unwrap();
    let served = srv.done.join().unwrap().unwrap();
    assert!(served.seconds < 30.0);
}
