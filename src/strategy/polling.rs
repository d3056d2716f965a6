//! What short and long polling share: the server's answer to
//! `GET /events?client=ID&after=LAST` (hold it up to `hold` while nothing is pending), and the
//! client's [`Poller`].
//!
//! `after` acknowledges every event up to that id, so the server forgets them; events stay in
//! the mailbox until acknowledged, so nothing is lost when a response is. The response is a
//! `200` whose body is one payload per line (`application/x-ndjson`), or a `204 No Content`.

use std::io;
use std::rc::Rc;
use std::time::Duration;

use ::http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::http::{self, client_of, query_param, respond, Body, Conn, Handler};
use crate::sim::{ClientCtx, ServerCtx, StrategyResult};

/// Content type of a batch of events, one JSON payload per line.
pub const BATCH_TYPE: &str = "application/x-ndjson";

/// Serve polls (and upstream messages) until the simulation ends. `hold` = zero answers at
/// once (short polling).
pub async fn serve(ctx: ServerCtx, hold: Duration) -> StrategyResult {
    let handler: Handler = Rc::new(move |ctx, req| Box::pin(answer(ctx, hold, req)));
    http::serve(ctx, handler).await
}

async fn answer(ctx: ServerCtx, hold: Duration, req: Request<Incoming>) -> Response<Body> {
    let after = query_param(&req, "after").and_then(|a| a.parse::<u64>().ok());
    let (Some(client), Some(after), "/events") = (client_of(&ctx, &req), after, req.uri().path())
    else {
        ctx.count_response(true);
        return respond(&ctx, StatusCode::BAD_REQUEST, &[], None);
    };
    let _address = ctx.hold_address(client); // for the life of this request
    let feed = ctx.feed().clone();
    feed.ack(client, after);
    // a newer request of this client (after a broken connection) takes over from this one
    let generation = feed.claim(client);
    let mut superseded = false;
    if feed.pending(client).is_empty() && !hold.is_zero() {
        let _parked = ctx.park();
        let deadline = tokio::time::Instant::now() + hold;
        while feed.pending(client).is_empty() {
            tokio::select! {
                biased;
                _ = ctx.closing() => break,
                _ = feed.changed(client) => {
                    if !feed.is_current(client, generation) {
                        feed.pass_on(client);
                        superseded = true;
                        break;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
    }
    let events = if superseded {
        Vec::new() // its connection is dead: the newer request answers
    } else {
        feed.pending(client)
    };
    ctx.count_response(events.is_empty());
    if events.is_empty() {
        return respond(&ctx, StatusCode::NO_CONTENT, &[], None);
    }
    let mut body = Vec::new();
    for event in &events {
        body.extend_from_slice(&feed.encode(event));
        body.push(b'\n');
    }
    respond(&ctx, StatusCode::OK, &[], Some((BATCH_TYPE, body)))
}

/// One client's polling connection.
pub struct Poller {
    ctx: ClientCtx,
    conn: Conn,
    last: u64,
    /// Give up on a poll unanswered for this long and reconnect (a client-side timeout).
    timeout: Option<std::time::Duration>,
}

impl Poller {
    /// Connect and get ready to poll.
    pub async fn connect(ctx: ClientCtx) -> io::Result<Poller> {
        let conn = Conn::connect(&ctx).await?;
        Ok(Poller {
            ctx,
            conn,
            last: 0,
            timeout: None,
        })
    }

    /// Give up on a poll unanswered after `timeout` (the connection is taken for dead and
    /// replaced).
    pub fn with_timeout(mut self, timeout: Option<std::time::Duration>) -> Poller {
        self.timeout = timeout;
        self
    }

    /// Send one poll and hand every event in the answer to the recorder; returns how many.
    pub async fn poll(&mut self) -> io::Result<usize> {
        let target = format!("/events?client={}&after={}", self.ctx.id(), self.last);
        let resp = self
            .conn
            .send(Method::GET, &target, &[("accept", BATCH_TYPE)], None)
            .await?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?
            .to_bytes();
        match status {
            StatusCode::NO_CONTENT => Ok(0),
            s if s.is_server_error() => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                format!("client {}: the poll was answered {s}", self.ctx.id()),
            )),
            StatusCode::OK => {
                let mut events = 0;
                for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    self.last = self.ctx.deliver(line)?;
                    events += 1;
                }
                Ok(events)
            }
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("client {}: unexpected status {other}", self.ctx.id()),
            )),
        }
    }

    /// Poll in a loop, waiting `pause()` before each poll, until the run closes. A broken
    /// connection (a reset, a proxy's `504`, a server error) is replaced as the reconnect
    /// policy says, and polling resumes from the same `after=` cursor: nothing the server
    /// still holds is lost.
    pub async fn run_until_closing(
        mut self,
        mut pause: impl FnMut() -> Option<tokio::time::Sleep>,
    ) -> io::Result<()> {
        let ctx = self.ctx.clone();
        http::spawn_upstream(&ctx);
        loop {
            if let Some(sleep) = pause() {
                tokio::select! {
                    biased;
                    _ = ctx.closing() => return Ok(()),
                    _ = sleep => {}
                }
            }
            let timeout = self.timeout;
            let result = tokio::select! {
                biased;
                _ = ctx.closing() => return Ok(()),
                r = async {
                    match timeout {
                        None => self.poll().await,
                        Some(t) => tokio::time::timeout(t, self.poll())
                            .await
                            .unwrap_or_else(|_| Err(io::Error::from(io::ErrorKind::TimedOut))),
                    }
                } => r,
            };
            match result {
                Ok(_) => {}
                // not a broken connection: a bug in what the server sent
                Err(e) if e.kind() == io::ErrorKind::InvalidData => return Err(e),
                Err(_) => {
                    let stream = tokio::select! {
                        biased;
                        _ = ctx.closing() => return Ok(()),
                        s = ctx.reconnect() => s?,
                    };
                    self.conn = Conn::over(stream, ctx.scenario().http.headers).await?;
                }
            }
        }
    }
}
