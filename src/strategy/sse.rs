//! # Server-Sent Events (`sse`)
//!
//! ## What it is
//! The client sends one `GET` with `Accept: text/event-stream`; the server answers `200` and
//! never finishes the body: it writes each event into it as it happens (WHATWG HTML §9.2).
//! Plain HTTP, one direction (server → client); the browser's `EventSource` reconnects by
//! itself and tells the server where it left off.
//!
//! ## How it works
//! ```text
//! client                                         server
//!   |── GET /events?client=7 ─────────────────────►|
//!   |   Accept: text/event-stream                  |
//!   |◄── 200, Content-Type: text/event-stream ─────|   (chunked body, kept open)
//!   |◄── retry: 3000 ──────────────────────────────|
//!   |◄── id: 41 / event: price / data: {...} ──────|   event created → written at once
//!   |◄── : ────────────────────────────────────────|   comment keep-alive, every heartbeat_s
//!   |◄── (end of body) ────────────────────────────|   the server ends the stream
//!   |        … waits the reconnection time …       |
//!   |── GET, Last-Event-ID: 41 ───────────────────►|   replays what came after 41
//!   |◄── 204 No Content ───────────────────────────|   (at the end of the run: stop reconnecting)
//! ```
//!
//! ## Trade-offs
//! Push latency (d) over ordinary HTTP — proxies, auth and compression all work — with
//! resumption built in (`Last-Event-ID`) and small framing (`id:`, `data:` lines, chunk
//! sizes). But it is one-way: upstream messages need separate `POST`s. Each stream holds a
//! connection (and browsers allow only 6 per origin over HTTP/1.1); the server must keep a
//! replay history, and events older than it are lost after a long disconnection.
//!
//! ## What to watch in the charts
//! Open connections = N; latency flat at d except events created during a reconnection gap,
//! which wait up to the reconnection time; bytes per event = payload + `id`/`event`/`data`
//! lines + chunk framing; heartbeat comments cost N × 8 bytes per `heartbeat_s` (`:\n\n` in a chunk).

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use ::http::{Method, Request, Response, StatusCode};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::http::{self, client_of, respond, Body, Conn, Handler};
use crate::protocol::sse::{encode_comment, encode_event, encode_retry, is_event_stream, Parser};
use crate::scenario::Scenario;
use crate::sim::{
    check_seconds, ClientCtx, LocalBoxFuture, ServerCtx, Settings, SettingsError, Strategy,
    StrategyResult, Work,
};
use crate::style::{okabe_ito, Dash, Look};

/// Server-Sent Events: a never-ending HTTP response the server writes events into.
pub struct Sse;

/// The content type of an event stream.
pub const EVENT_STREAM: &str = "text/event-stream";

/// `[sse]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SseSettings {
    /// Reconnection time the server announces with `retry:` (Chromium's default is 3,000 ms).
    #[serde(default = "default_retry")]
    pub retry_ms: u64,
    /// Seconds between comment keep-alives (`:\n\n`).
    #[serde(default = "default_heartbeat")]
    pub heartbeat_s: f64,
    /// Events the server keeps per client to replay after a reconnection.
    #[serde(default = "default_history")]
    pub history_events: u64,
    /// If set, the server ends every stream after this many seconds (as servers do to shed or
    /// rebalance connections); the client reconnects with `Last-Event-ID`.
    pub stream_max_s: Option<f64>,
    /// If set, a client that has read nothing (no event, no heartbeat) for this long takes
    /// the stream for dead and reconnects, as SSE libraries can; a browser's native
    /// `EventSource` has no such timeout and waits on a dead connection.
    pub read_timeout_s: Option<f64>,
}

fn default_retry() -> u64 {
    3000
}
fn default_heartbeat() -> f64 {
    15.0
}
fn default_history() -> u64 {
    1000
}

impl Strategy for Sse {
    fn id(&self) -> &'static str {
        "sse"
    }

    fn look(&self) -> Option<Look> {
        // vermillion, dotted
        Some(Look {
            color: okabe_ito::VERMILLION,
            dash: Dash::Dotted,
        })
    }

    fn summary(&self) -> &'static str {
        "one long-lived GET whose body is a text/event-stream; reconnects with Last-Event-ID"
    }

    fn check(&self, settings: &Settings, _: &Scenario) -> Result<(), SettingsError> {
        let s: SseSettings = settings.parse()?;
        if !(1..=3_600_000).contains(&s.retry_ms) {
            return Err(SettingsError {
                field: "retry_ms".into(),
                message: format!("{} is not allowed; use 1 to 3600000 ms", s.retry_ms),
            });
        }
        if !(1..=1_000_000).contains(&s.history_events) {
            return Err(SettingsError {
                field: "history_events".into(),
                message: format!("{} is not allowed; use 1 to 1000000", s.history_events),
            });
        }
        check_seconds("heartbeat_s", s.heartbeat_s, 0.001, 3600.0)?;
        if let Some(t) = s.read_timeout_s {
            check_seconds("read_timeout_s", t, 0.001, 3600.0)?;
            if t <= s.heartbeat_s {
                return Err(SettingsError {
                    field: "read_timeout_s".into(),
                    message: format!(
                        "{t} s is not longer than the heartbeat ({} s): a quiet, healthy stream would be dropped between two heartbeats; use more (e.g. twice the heartbeat)",
                        s.heartbeat_s
                    ),
                });
            }
        }
        match s.stream_max_s {
            Some(m) => check_seconds("stream_max_s", m, 0.001, 86_400.0),
            None => Ok(()),
        }
    }

    fn longest_period(&self, settings: &Settings) -> Duration {
        // events created while a client reconnects wait up to the reconnection time
        settings
            .parse::<SseSettings>()
            .map_or(Duration::ZERO, |s| Duration::from_millis(s.retry_ms))
    }

    fn reconnect(&self) -> crate::scenario::reconnect::Reconnect {
        // a browser's EventSource: the reconnection time, 3 s until the server's `retry:`
        crate::scenario::reconnect::Reconnect::EventSource { ms: 3000 }
    }

    fn history(&self, settings: &Settings) -> Option<usize> {
        settings
            .parse::<SseSettings>()
            .ok()
            .map(|s| s.history_events as usize)
    }

    fn model(&self, scenario: &Scenario, settings: &Settings) -> Option<Prediction> {
        let s: SseSettings = settings.parse().ok()?;
        let mut p = sse(scenario, s.heartbeat_s);
        p.load = Some(sse_load(scenario, &p, &s));
        crate::resilience::push_under_loss(&mut p, scenario);
        p.events_lost = crate::resilience::restart_losses(scenario, 0.0);
        // an EventSource waits the reconnection time the server's `retry:` announced
        let policy = match crate::resilience::policy_for(scenario, self.id(), self.reconnect()) {
            crate::scenario::reconnect::Reconnect::EventSource { .. } => {
                crate::scenario::reconnect::Reconnect::EventSource { ms: s.retry_ms }
            }
            other => other,
        };
        p.attempts_peak_per_s = crate::resilience::attempts_peak(scenario, &policy);
        Some(p)
    }

    fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<StrategyResult> {
        Box::pin(async move {
            let s: SseSettings = ctx.settings().parse().map_err(|e| e.message)?;
            let handler: Handler =
                Rc::new(move |ctx, req| Box::pin(open_stream(ctx, s.clone(), req)));
            http::serve(ctx, handler).await
        })
    }

    fn client(&self, ctx: ClientCtx) -> LocalBoxFuture<StrategyResult> {
        Box::pin(async move {
            let s: SseSettings = ctx.settings().parse().map_err(|e| e.message)?;
            http::spawn_upstream(&ctx);
            client(ctx, s.read_timeout_s).await?;
            Ok(())
        })
    }
}

/// A response body fed by a channel: each message becomes one HTTP chunk.
struct EventStreamBody(mpsc::UnboundedReceiver<Bytes>);

impl hyper::body::Body for EventStreamBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|m| m.map(|b| Ok(Frame::data(b))))
    }
}

/// `GET /events?client=N`: answer `200` with a stream, or `204` once the run is closing.
async fn open_stream(ctx: ServerCtx, s: SseSettings, req: Request<Incoming>) -> Response<Body> {
    let accepts = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(EVENT_STREAM));
    let Some(client) = client_of(&ctx, &req).filter(|_| accepts && req.uri().path() == "/events")
    else {
        ctx.count_response(true);
        return respond(&ctx, StatusCode::BAD_REQUEST, &[], None);
    };
    if ctx.is_closing() {
        ctx.count_response(true);
        return respond(&ctx, StatusCode::NO_CONTENT, &[], None); // stop reconnecting
    }
    let last: u64 = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        // an id this server never gave (from the future, or another server's): start afresh
        .filter(|&id| id <= ctx.feed().newest_id())
        .unwrap_or(0);
    ctx.feed().ack(client, last); // the client has everything up to its Last-Event-ID
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::task::spawn_local(pump(ctx.clone(), s, client, last, tx));
    ctx.count_response(false);
    let headers = crate::protocol::http_heads::response(
        &ctx.scenario().http.headers,
        StatusCode::OK,
        &[
            ("content-type", EVENT_STREAM),
            ("cache-control", "no-cache"),
            // hyper adds this for a body of unknown length; naming it keeps head sizes exact
            ("transfer-encoding", "chunked"),
        ],
        None,
    );
    let mut resp = Response::new(EventStreamBody(rx).boxed_unsync());
    *resp.headers_mut() = headers;
    resp
}

/// Write the stream: `retry:` once, then every event after `cursor` as it comes, comment
/// keep-alives, until the run closes or `stream_max_s` passes (dropping `tx` ends the body).
async fn pump(
    ctx: ServerCtx,
    s: SseSettings,
    client: usize,
    mut cursor: u64,
    tx: mpsc::UnboundedSender<Bytes>,
) {
    let _address = ctx.hold_address(client); // for the life of the stream
    let _stream = ctx.hold_stream(); // the stream's buffers, in server memory
    let feed = ctx.feed().clone();
    let generation = feed.claim(client); // an older, half-open stream stops
    let beat = Duration::from_millis((s.heartbeat_s * 1000.0).round() as u64);
    let mut beats = tokio::time::interval_at(Instant::now() + beat, beat);
    let end = s
        .stream_max_s
        .map(|m| Instant::now() + Duration::from_millis((m * 1000.0).round() as u64));
    if tx.send(encode_retry(s.retry_ms).into()).is_err() {
        return;
    }
    // the feed's wake-up lives as long as the pump: a wake-up does not build and register
    // it again. (`closing` is built anew on purpose: the order in which streams register
    // for it is the order in which they close, and the closing phase's bytes depend on it.)
    let changed = feed.changed(client);
    tokio::pin!(changed);
    let ended = sleep_until_opt(end);
    tokio::pin!(ended);
    loop {
        if !feed.is_current(client, generation) {
            feed.pass_on(client);
            return; // a newer stream of this client took over
        }
        for event in feed.pending_after(client, cursor) {
            let payload = feed.encode(&event);
            let data = String::from_utf8_lossy(&payload);
            let id = event.id.to_string();
            let record = encode_event(Some(&id), Some(feed.type_name(&event)), &data);
            ctx.work(Work::SseRecord).await; // the record leaves when a core has written it
            if tx.send(record.into()).is_err() {
                return; // the client went away
            }
            cursor = event.id;
        }
        tokio::select! {
            biased;
            _ = ctx.closing() => return,
            _ = &mut ended => return,
            _ = &mut changed => changed.set(feed.changed(client)),
            _ = beats.tick() => {
                ctx.work(Work::SseRecord).await;
                if tx.send(encode_comment("").into()).is_err() {
                    return;
                }
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

/// An `EventSource`: open the stream, parse it, dispatch events to the listeners of the
/// scenario's event types, and reconnect with `Last-Event-ID` whenever the stream ends or the
/// connection breaks, after the reconnect policy's wait (by default the reconnection time:
/// 3 s, or what `retry:` said); stop on `204`. Any other status or content type fails the
/// `EventSource` for good (as browsers do): the client gives up.
async fn client(ctx: ClientCtx, read_timeout_s: Option<f64>) -> io::Result<()> {
    let listeners = ctx.scenario().events.types.clone();
    let mut parser = Parser::new();
    let mut conn: Option<Conn> = None;
    let target = format!("/events?client={}", ctx.id());
    let read_timeout = read_timeout_s.map(|t| Duration::from_millis((t * 1000.0).round() as u64));
    let mut first = true;
    loop {
        if !std::mem::take(&mut first) {
            // not cut short by the end of the run: the server's `204` then says stop
            ctx.backoff().await?;
        }
        if conn.as_ref().is_none_or(Conn::is_closed) {
            let stream = tokio::select! {
                biased;
                _ = ctx.closing() => return Ok(()),
                s = ctx.connect() => s?,
            };
            conn = Some(Conn::over(stream, ctx.scenario().http.headers).await?);
        }
        let c = conn.as_mut().expect("connected above");
        let last = parser.last_event_id().to_string();
        let mut extra = vec![("accept", EVENT_STREAM), ("cache-control", "no-cache")];
        if !last.is_empty() {
            extra.push(("last-event-id", last.as_str()));
        }
        match c.send(Method::GET, &target, &extra, None).await {
            Err(_) => conn = None, // broken connection: reconnect after the reconnection time
            Ok(resp) => {
                let kind = resp.headers().get("content-type").cloned();
                match resp.status() {
                    StatusCode::NO_CONTENT => return Ok(()),
                    StatusCode::OK
                        if kind
                            .as_ref()
                            .and_then(|k| k.to_str().ok())
                            .is_some_and(is_event_stream) => {}
                    s if s.is_server_error() => {
                        // EventSource fails the connection and does not retry
                        return Err(io::Error::new(io::ErrorKind::ConnectionAborted, crate::sim::GaveUp));
                    }
                    other => {
                        return Err(io::Error::other(format!(
                            "client {}: event stream answered {other} ({kind:?}); EventSource fails without retrying",
                            ctx.id()
                        )))
                    }
                }
                parser.reset_stream();
                ctx.reset_backoff(); // a stream is open: the policy starts over
                let mut body = resp.into_body();
                loop {
                    let frame = match read_timeout {
                        None => body.frame().await,
                        Some(t) => match tokio::time::timeout(t, body.frame()).await {
                            Ok(f) => f,
                            Err(_) => {
                                conn = None; // silent too long: take the stream for dead
                                break;
                            }
                        },
                    };
                    let Some(frame) = frame else { break };
                    let Ok(frame) = frame else {
                        conn = None;
                        break;
                    };
                    let Some(data) = frame.data_ref() else {
                        continue;
                    };
                    for event in parser.feed(data) {
                        if listeners.contains(&event.event_type) {
                            ctx.deliver(event.data.as_bytes())?;
                        }
                    }
                }
                if let Some(ms) = parser.retry() {
                    ctx.set_reconnection_time(ms);
                }
            }
        }
    }
}

// ---- closed form ----------------------------------------------------------------------

use crate::model::{connections_per_client, lambda, mean_id_digits, push, push_load, Prediction};

/// SSE's server load: a record per event and per heartbeat; the replay history grows by λ per
/// client per second from the stream's start (mean connect time) until it holds
/// `history_events`, and is trimmed at each reconnection (`stream_max_s`).
fn sse_load(s: &Scenario, p: &Prediction, settings: &SseSettings) -> crate::capacity::Load {
    let (n, l) = (s.clients.count as f64, lambda(s));
    let h = settings.history_events as f64;
    let start = s.clients.connect_over_s / 2.0;
    let held = |t: f64| {
        let age = match settings.stream_max_s {
            Some(m) => (t - start).max(0.0) % m,
            None => (t - start).max(0.0),
        };
        (l * age).min(h)
    };
    let steps = 1000;
    let (w0, w1) = (s.warmup_s, s.duration_s);
    let mean_held = (0..steps)
        .map(|i| held(w0 + (w1 - w0) * (i as f64 + 0.5) / steps as f64))
        .sum::<f64>()
        / steps as f64;
    crate::capacity::Load {
        sse_records_per_s: l * n + n / settings.heartbeat_s,
        open_connections: n * connections_per_client(s),
        stored_events: n * mean_held,
        ..push_load(s, p)
    }
}

/// SSE: each event is one HTTP chunk (`<hex len>\r\n … \r\n`) holding `id: N\n`,
/// `event: T\n` unless T is `message`, `data: P\n` and `\n`; a `:\n\n` keep-alive in a chunk
/// (8 bytes) every `heartbeat_s`. Id lengths are averaged over the ids of the window.
pub(crate) fn sse(s: &Scenario, heartbeat_s: f64) -> Prediction {
    let p = s.events.payload_bytes as usize;
    let types = &s.events.types;
    let event_line: f64 = types
        .iter()
        .map(|t| {
            if t == "message" {
                0
            } else {
                "event: \n".len() + t.len()
            }
        })
        .sum::<usize>() as f64
        / types.len() as f64;
    let id_digits = mean_id_digits(s);
    let record =
        "id: \n".len() as f64 + id_digits + event_line + "data: \n\n".len() as f64 + p as f64;
    let hex = format!("{:x}", record.round() as u64).len() as f64;
    push(s, record - p as f64 + hex + 4.0, 8.0, heartbeat_s)
}
