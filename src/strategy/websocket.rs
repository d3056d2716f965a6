//! # WebSockets (`websocket`)
//!
//! ## What it is
//! One HTTP/1.1 request upgrades the connection (RFC 6455); from then on both sides send
//! frames whenever they like, on the same TCP connection, until one side closes it.
//!
//! ## How it works
//! ```text
//! client                                            server
//!   |── GET /events?client=7, Upgrade: websocket ──────►|
//!   |   Sec-WebSocket-Key: <base64 of 16 bytes>         |
//!   |◄──── 101 Switching Protocols, Sec-WebSocket-Accept ─|
//!   |◄──────────────── text frame: event 1 (unmasked) ───|   event created → pushed at once
//!   |── text frame: upstream message (masked) ─────────►|   (chat, acks: same connection)
//!   |◄───────────────────────────────────────── ping ───|   every ping_interval_s
//!   |── pong (masked) ─────────────────────────────────►|   none within pong_timeout_s → drop
//!   |◄───────────────────────────────── close 1000 ─────|   end of run: server starts closing
//!   |── close 1000 (masked) ───────────────────────────►|
//! ```
//! Frame sizes (RFC 6455 §5.2): a 2-byte header for payloads ≤ 125 bytes, 4 up to 65,535, 10
//! above; client frames add a 4-byte masking key.
//!
//! ## Trade-offs
//! Lowest latency (one transit, d) and the least overhead per event (2–10 bytes of framing),
//! full duplex, so upstream messages need no new request. But every client holds a connection
//! for its whole session (server memory, load balancers that must support upgrades, sticky
//! routing), heartbeats cost traffic even when idle, and reconnection is the application's job.
//!
//! ## What to watch in the charts
//! Requests/s is near zero after the handshakes; open connections = N throughout; latency is
//! flat at d; bytes per event ≈ payload + 2 (+ heartbeat traffic N × 8 bytes per ping interval).
//!
//! Built on tokio-tungstenite: the server accepts with tungstenite (its 101 response carries
//! the scenario's header profile), the client sends a request with a key derived from the seed
//! and its id. tungstenite draws client frame masks from the operating system; every client
//! frame is re-masked with a key from the client's seeded generator on its way to the wire
//! (`remask.rs`), so the same seed gives the same bytes.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use ::http::{HeaderValue, StatusCode};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use rand::RngCore;
use serde::Deserialize;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::http::Upstream;
use super::remask::Remask;
use crate::protocol::{http_heads, payload};
use crate::scenario::Scenario;
use crate::sim::Metered;
use crate::sim::{
    check_seconds, ClientCtx, LocalBoxFuture, ServerCtx, Settings, SettingsError, Strategy,
    StrategyResult, Work,
};
use crate::style::{okabe_ito, Dash, Look};

/// WebSockets: one upgraded connection per client, events pushed as frames.
pub struct WebSocket;

/// `[websocket]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSocketSettings {
    /// Seconds between the server's pings.
    #[serde(default = "default_ping")]
    pub ping_interval_s: f64,
    /// A client that has not answered a ping for this long is dropped.
    #[serde(default = "default_pong_timeout")]
    pub pong_timeout_s: f64,
    /// Send events as binary frames instead of text frames (same size on the wire).
    #[serde(default)]
    pub binary: bool,
    /// Resume after a reconnection, like Socket.IO's connection state recovery: the server
    /// keeps each client's events for `resume_window_s` and the client, reconnecting, sends
    /// the last id it saw and gets what it missed. Without it, what the server could not
    /// send while a client was away is lost.
    #[serde(default)]
    pub resume: bool,
    /// How long the server keeps events for a resume (Socket.IO's `maxDisconnectionDuration`
    /// default: 2 minutes).
    #[serde(default = "default_resume_window")]
    pub resume_window_s: f64,
    /// If set, a client that has received nothing (no frame, no ping) for this long takes
    /// its connection for dead and reconnects (Socket.IO's client waits ping interval + ping
    /// timeout). Browsers' `WebSocket` has no such timeout.
    pub client_timeout_s: Option<f64>,
}

fn default_resume_window() -> f64 {
    120.0
}

fn default_ping() -> f64 {
    25.0
}
fn default_pong_timeout() -> f64 {
    20.0
}

/// Small per-connection read buffers. tungstenite zeroes up to `read_buffer_size` bytes of its
/// buffer before every read attempt, including the ones that find nothing (the server's
/// session polls its socket at every event it sends): the default 128 KiB cost ~7× the memory
/// at 10,000 clients, and 4 KiB still spent a quarter of a WebSocket run in `memset`
/// (measured; `docs/sources.md`, "Measured costs"). A larger frame is read in several chunks
/// within the same tick, so what is read, and when, does not change.
const READ_CHUNK: usize = 512;

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(READ_CHUNK)
}

impl Strategy for WebSocket {
    fn id(&self) -> &'static str {
        "websocket"
    }

    fn look(&self) -> Option<Look> {
        // bluish green, short dashes
        Some(Look {
            color: okabe_ito::BLUISH_GREEN,
            dash: Dash::Short,
        })
    }

    fn summary(&self) -> &'static str {
        "one upgraded connection per client; events pushed as frames; ping/pong; close handshake"
    }

    fn check(&self, settings: &Settings, scenario: &Scenario) -> Result<(), SettingsError> {
        let s: WebSocketSettings = settings.parse()?;
        check_seconds("ping_interval_s", s.ping_interval_s, 0.001, 3600.0)?;
        check_seconds("pong_timeout_s", s.pong_timeout_s, 0.001, 3600.0)?;
        check_seconds("resume_window_s", s.resume_window_s, 0.001, 86_400.0)?;
        if let Some(t) = s.client_timeout_s {
            check_seconds("client_timeout_s", t, 0.001, 3600.0)?;
            if t <= s.ping_interval_s {
                return Err(SettingsError {
                    field: "client_timeout_s".into(),
                    message: format!(
                        "{t} s is not longer than the ping interval ({} s): an idle client would drop every healthy connection between two pings; use more (Socket.IO: ping interval + 20 s)",
                        s.ping_interval_s
                    ),
                });
            }
        }
        // a pong comes back one round trip after its ping, at the largest latency 2·max
        let round_trip_ms = 2 * scenario.network.latency_ms.max_ms;
        if ((s.pong_timeout_s * 1000.0).round() as u64) <= round_trip_ms {
            return Err(SettingsError {
                field: "pong_timeout_s".into(),
                message: format!(
                    "{} s is not longer than a round trip ({round_trip_ms} ms at the largest latency): every pong would come too late and every connection be dropped; use more than {} s",
                    s.pong_timeout_s,
                    round_trip_ms as f64 / 1000.0
                ),
            });
        }
        Ok(())
    }

    fn longest_period(&self, _settings: &Settings) -> Duration {
        Duration::ZERO // pushes at once
    }

    fn history(&self, _settings: &Settings) -> Option<usize> {
        None // with resume, the window bounds the mailbox by time (`resume_window_s`)
    }

    fn model(&self, scenario: &Scenario, settings: &Settings) -> Option<Prediction> {
        let s: WebSocketSettings = settings.parse().ok()?;
        let mut p = websocket(scenario, s.ping_interval_s);
        crate::resilience::push_under_loss(&mut p, scenario);
        // without resume, what came while a client reconnected is lost too: not predicted
        p.events_lost = if s.resume {
            crate::resilience::restart_losses(scenario, 0.0)
        } else {
            None
        };
        let policy = crate::resilience::policy_for(scenario, self.id(), self.reconnect());
        p.attempts_peak_per_s = crate::resilience::attempts_peak(scenario, &policy);
        Some(p)
    }

    fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<StrategyResult> {
        Box::pin(async move {
            let s: WebSocketSettings = ctx.settings().parse().map_err(|e| e.message)?;
            let listener = ctx.listen().await?;
            loop {
                let stream = listener.accept().await?;
                tokio::task::spawn_local(session(ctx.clone(), s.clone(), stream));
            }
        })
    }

    fn client(&self, ctx: ClientCtx) -> LocalBoxFuture<StrategyResult> {
        Box::pin(async move {
            let s: WebSocketSettings = ctx.settings().parse().map_err(|e| e.message)?;
            client(ctx, s).await?;
            Ok(())
        })
    }
}

fn ms(s: f64) -> Duration {
    Duration::from_millis((s * 1000.0).round() as u64)
}

/// Accept the upgrade: answer 101 with the scenario's header profile, learn the client id.
// tungstenite's callback signature fixes the (large) error type
#[allow(clippy::result_large_err)]
async fn accept(ctx: &ServerCtx, stream: Metered) -> Option<(Hello, WebSocketStream<Metered>)> {
    let client = Rc::new(Cell::new(None));
    let seen = client.clone();
    let clients = ctx.feed().clients();
    let profile = ctx.scenario().http.headers;
    let callback = move |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        let param = |name: &str| {
            req.uri()
                .query()?
                .split('&')
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| *k == name)
                .and_then(|(_, v)| v.parse::<u64>().ok())
        };
        let id = param("client").map(|c| c as usize).filter(|&c| c < clients);
        let Some(id) = id else {
            let mut err = ErrorResponse::new(Some("unknown client".into()));
            *err.status_mut() = StatusCode::BAD_REQUEST;
            return Err(err);
        };
        seen.set(Some(Hello {
            client: id,
            last: param("last"),
            again: param("again").is_some(),
        }));
        let accept = resp.headers().get("sec-websocket-accept").cloned();
        let accept = accept.unwrap_or(HeaderValue::from_static(""));
        let extra = [
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-accept", accept.to_str().unwrap_or("")),
        ];
        *resp.headers_mut() =
            http_heads::response(&profile, StatusCode::SWITCHING_PROTOCOLS, &extra, None);
        Ok(resp)
    };
    ctx.count_request().await; // a core reads the upgrade and writes the 101
    let ws =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config())).await;
    ctx.count_response(false);
    Some((client.get()?, ws.ok()?))
}

/// What the upgrade request says: `?client=N`, and on a reconnection `&again=1` and, with
/// resume, `&last=ID`.
#[derive(Debug, Clone, Copy)]
struct Hello {
    client: usize,
    /// The last event id the client saw (a resume).
    last: Option<u64>,
    /// A reconnection (not the client's first connection).
    again: bool,
}

/// One client's connection on the server: push events, ping, read upstream frames, close.
async fn session(ctx: ServerCtx, s: WebSocketSettings, stream: Metered) {
    // boxed: the handshake's state is large and needed once; the session's own future, which
    // every connected client keeps for its whole life, stays small (memory per idle client)
    let Some((hello, mut ws)) = Box::pin(accept(&ctx, stream)).await else {
        return;
    };
    let client = hello.client;
    let _address = ctx.hold_address(client); // for the life of the connection
    let _stream = ctx.hold_stream(); // the session's buffers, in server memory
    let feed = ctx.feed().clone();
    // what this connection has sent: with resume, events stay until the window passes
    let mut cursor = 0;
    if hello.again {
        match (s.resume, hello.last) {
            // the client has everything up to `last`; the rest is replayed
            (true, Some(last)) => {
                feed.ack(client, last);
                cursor = last;
            }
            (true, None) => {}
            // no resume: what came while the client was away had nowhere to go
            (false, _) => feed.drop_pending(client),
        }
    }
    let generation = feed.claim(client); // an older, half-open session stops
    let window = ms(s.resume_window_s);
    let mut pings = tokio::time::interval_at(
        Instant::now() + ms(s.ping_interval_s),
        ms(s.ping_interval_s),
    );
    let mut unanswered_since: Option<Instant> = None;
    // the feed's wake-up lives as long as the session: a wake-up does not build and register
    // it again. (`closing` is built anew on purpose: the order in which streams register
    // for it is the order in which they close, and the closing phase's bytes depend on it.)
    let changed = feed.changed(client);
    tokio::pin!(changed);
    loop {
        if !feed.is_current(client, generation) {
            feed.pass_on(client);
            return; // a newer connection of this client took over
        }
        if s.resume {
            let now = crate::metrics::now_ms();
            feed.forget_before(client, now.saturating_sub(window.as_millis() as u64));
        }
        let pending = feed.pending_after(client, cursor);
        if let Some(last) = pending.last() {
            for event in &pending {
                let p = feed.encode(event);
                let msg = if s.binary {
                    Message::binary(p)
                } else {
                    // valid UTF-8 (always, for these payloads): the frame shares its bytes
                    let text = Utf8Bytes::try_from(p.clone())
                        .unwrap_or_else(|_| String::from_utf8_lossy(&p).into_owned().into());
                    Message::Text(text)
                };
                ctx.work(Work::Frame).await; // the frame leaves when a core has written it
                if ws.feed(msg).await.is_err() {
                    return;
                }
            }
            if ws.flush().await.is_err() {
                return;
            }
            if s.resume {
                cursor = last.id; // kept for a resume until the window passes
            } else {
                feed.ack(client, last.id); // TCP delivers in order; nothing to resend
            }
        }
        let pong_deadline = unanswered_since.map(|t| t + ms(s.pong_timeout_s));
        tokio::select! {
            biased;
            _ = ctx.closing() => {
                // a server going away for good says so (RFC 6455 §7.4.1); a run's end is normal
                let code = if ctx.is_going_away() { CloseCode::Away } else { CloseCode::Normal };
                let frame = CloseFrame { code, reason: "".into() };
                if ws.close(Some(frame)).await.is_ok() {
                    // read until the client's close frame completes the handshake
                    while let Some(Ok(_)) = ws.next().await {}
                }
                return;
            }
            _ = sleep_until_opt(pong_deadline) => return, // unresponsive: drop the connection
            msg = ws.next() => match msg {
                Some(Ok(Message::Pong(_))) => unanswered_since = None,
                Some(Ok(Message::Text(t))) => upstream(&ctx, t.as_bytes()),
                Some(Ok(Message::Binary(b))) => upstream(&ctx, &b),
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return,
            },
            _ = &mut changed => changed.set(feed.changed(client)),
            _ = pings.tick() => {
                ctx.work(Work::Ping).await;
                if ws.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
                unanswered_since.get_or_insert(Instant::now());
            }
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn upstream(ctx: &ServerCtx, bytes: &[u8]) {
    drop(ctx.work(Work::Frame)); // reading a frame costs a core's time; nothing waits on it
    if let Some((_, _, created)) = payload::decode(bytes) {
        ctx.upstream_received(created);
    }
}

/// The client: upgrade, then read frames (tungstenite answers pings and the close frame) and
/// send upstream messages on the same connection. A connection that ends without a close
/// frame (a reset, a proxy's cut, a server restart) or goes silent for `client_timeout_s`
/// is replaced as the reconnect policy says, sending the last id seen when resuming.
async fn client(ctx: ClientCtx, s: WebSocketSettings) -> io::Result<()> {
    let mut upstream: Option<Upstream> = None;
    let mut next_up = None;
    let mut last_id: Option<u64> = None;
    let mut again = false;
    loop {
        let target = match (again, s.resume, last_id) {
            (false, _, _) => format!("/events?client={}", ctx.id()),
            (true, true, Some(last)) => format!("/events?client={}&again=1&last={last}", ctx.id()),
            (true, _, _) => format!("/events?client={}&again=1", ctx.id()),
        };
        // connecting and upgrading are boxed: the future every idle client keeps is the
        // message loop's, not theirs (memory per idle client)
        let stream = if again {
            tokio::select! {
                biased;
                _ = ctx.closing() => return Ok(()),
                s = Box::pin(ctx.reconnect()) => s?,
            }
        } else {
            Box::pin(ctx.connect()).await?
        };
        again = true;
        let ws = tokio::select! {
            biased;
            _ = ctx.closing() => return Ok(()),
            ws = Box::pin(upgrade(&ctx, stream, &target)) => ws,
        };
        let Ok(mut ws) = ws else {
            continue; // refused or cut before the 101: try again
        };
        if upstream.is_none() {
            // upstream messages start once the first connection is up
            upstream = Upstream::of(&ctx);
            next_up = upstream.as_mut().map(|u| Instant::now() + u.next_gap());
        }
        let timeout = s.client_timeout_s.map(ms);
        let mut heard = Instant::now();
        loop {
            let silent_until = timeout.map(|t| heard + t);
            tokio::select! {
                biased;
                msg = ws.next() => {
                    if timeout.is_some() {
                        heard = Instant::now();
                    }
                    match msg {
                        Some(Ok(Message::Text(t))) => { last_id = Some(ctx.deliver(t.as_bytes())?); }
                        Some(Ok(Message::Binary(b))) => { last_id = Some(ctx.deliver(&b)?); }
                        Some(Ok(Message::Close(_))) => next_up = None, // closing: send nothing more
                        Some(Ok(_)) => {} // ping (answered by tungstenite), pong
                        None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed))
                            if ctx.is_closing() => return Ok(()),
                        // closed without a close frame, reset, or the server's close frame
                        // before the end of the run: connect again
                        None | Some(Err(_)) => break,
                    }
                }
                _ = sleep_until_opt(silent_until) => break, // silent too long: take it for dead
                _ = sleep_until_opt(next_up) => {
                    if let Some(u) = upstream.as_mut() {
                        let text = String::from_utf8_lossy(&u.next_message()).into_owned();
                        match ws.send(Message::text(text)).await {
                            Ok(()) => next_up = Some(Instant::now() + u.next_gap()),
                            // the server started closing while we were about to send
                            Err(WsError::Protocol(_) | WsError::ConnectionClosed | WsError::AlreadyClosed)
                                if ctx.is_closing() => next_up = None,
                            Err(_) => {
                                next_up = Some(Instant::now() + u.next_gap());
                                break;
                            }
                        }
                    }
                }
            }
        }
        if ctx.is_closing() {
            return Ok(());
        }
    }
}

/// Send the upgrade request for `target` and read the `101`.
async fn upgrade(
    ctx: &ClientCtx,
    stream: Metered,
    target: &str,
) -> io::Result<WebSocketStream<Remask<Metered>>> {
    // seeded frame masks instead of tungstenite's OS-random ones (see remask.rs)
    let stream = Remask::new(stream, ctx.rng_for(4));
    let mut key = [0u8; 16];
    ctx.rng().fill_bytes(&mut key);
    let key = base64::engine::general_purpose::STANDARD.encode(key);
    let extra = [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", key.as_str()),
    ];
    let headers = http_heads::request(&ctx.scenario().http.headers, "GET", target, &extra, None);
    // tungstenite wants an absolute ws:// URI; it writes only the path on the request line
    let mut req = ::http::Request::get(format!("ws://server{target}"))
        .body(())
        .map_err(io::Error::other)?;
    *req.headers_mut() = headers;
    let (ws, _) = tokio_tungstenite::client_async_with_config(req, stream, Some(ws_config()))
        .await
        .map_err(io::Error::other)?;
    Ok(ws)
}

// ---- closed form ----------------------------------------------------------------------

use crate::model::{lambda, push, push_load, upstream_posts_per_s, Prediction};

/// WebSocket: a server frame has a 2-byte header up to 125 bytes of payload, 4 up to 65,535,
/// 10 above (RFC 6455 §5.2); a ping (2 bytes) and its masked pong (6) every `ping_interval_s`.
pub(crate) fn websocket(s: &Scenario, ping_interval_s: f64) -> Prediction {
    let p = s.events.payload_bytes;
    let header = match p {
        0..=125 => 2.0,
        126..=65_535 => 4.0,
        _ => 10.0,
    };
    let mut p = push(s, header, 8.0, ping_interval_s);
    let n = s.clients.count as f64;
    let upstream = upstream_posts_per_s(s); // sent as frames here, not as POSTs
    p.load = Some(crate::capacity::Load {
        requests_per_s: 0.0,
        frames_per_s: lambda(s) * n + upstream,
        pings_per_s: n / ping_interval_s,
        ..push_load(s, &p)
    });
    p
}
