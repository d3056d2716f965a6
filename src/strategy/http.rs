//! HTTP/1.1 plumbing shared by the polling strategies: a hyper server that answers
//! `GET /events?client=ID&after=LAST` from the feed (holding the request up to `hold` when
//! nothing is pending), and a hyper client connection that sends such polls.
//!
//! `after` acknowledges every event up to that id, so the server forgets them; events stay in
//! the mailbox until acknowledged, so nothing is lost when a response is. The response is a
//! `200` whose body is one payload per line (`application/x-ndjson`), or a `204 No Content`.

use std::convert::Infallible;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use super::{ClientCtx, ServerCtx};
use crate::protocol::http_heads;

/// Content type of a batch of events, one JSON payload per line.
pub const BATCH_TYPE: &str = "application/x-ndjson";

/// Serve polls until the simulation ends. `hold` = zero answers at once (short polling).
pub async fn serve(ctx: ServerCtx, hold: Duration) -> turmoil::Result {
    let listener = ctx.listen().await?;
    loop {
        let stream = listener.accept().await?;
        let ctx = ctx.clone();
        tokio::task::spawn_local(async move {
            let service = hyper::service::service_fn(move |req| answer(ctx.clone(), hold, req));
            // A connection error ends only that connection (the client reconnects).
            let _ = hyper::server::conn::http1::Builder::new()
                .auto_date_header(false) // no wall clock in the bytes
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Parse `client` and `after` from `/events?client=ID&after=LAST`.
fn parse_target(req: &Request<Incoming>, clients: usize) -> Option<(usize, u64)> {
    if req.uri().path() != "/events" {
        return None;
    }
    let (mut client, mut after) = (None, None);
    for pair in req.uri().query()?.split('&') {
        match pair.split_once('=')? {
            ("client", v) => client = v.parse().ok(),
            ("after", v) => after = v.parse().ok(),
            _ => return None,
        }
    }
    Some((client.filter(|&c| c < clients)?, after?))
}

async fn answer(
    ctx: ServerCtx,
    hold: Duration,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    ctx.record().request();
    let profile = ctx.scenario().http.headers;
    let Some((client, after)) = parse_target(&req, ctx.feed().clients()) else {
        ctx.record().response(true);
        return Ok(respond(&profile, StatusCode::BAD_REQUEST, None));
    };
    let feed = ctx.feed();
    feed.ack(client, after);
    if feed.pending(client).is_empty() && !hold.is_zero() {
        ctx.record().parked(1);
        let deadline = tokio::time::Instant::now() + hold;
        while feed.pending(client).is_empty() {
            tokio::select! {
                biased;
                _ = feed.changed(client) => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        ctx.record().parked(-1);
    }
    let events = feed.pending(client);
    ctx.record().response(events.is_empty());
    if events.is_empty() {
        return Ok(respond(&profile, StatusCode::NO_CONTENT, None));
    }
    let mut body = Vec::new();
    for event in &events {
        body.extend_from_slice(&feed.encode(event));
        body.push(b'\n');
    }
    Ok(respond(&profile, StatusCode::OK, Some(body)))
}

fn respond(
    profile: &crate::scenario::HeaderProfile,
    status: StatusCode,
    body: Option<Vec<u8>>,
) -> Response<Full<Bytes>> {
    let kind = body.as_ref().map(|b| (BATCH_TYPE, b.len()));
    let headers = http_heads::response(profile, status, &[], kind);
    let mut resp = Response::new(Full::new(Bytes::from(body.unwrap_or_default())));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

/// One client's kept-alive HTTP connection for polling.
pub struct Poller {
    ctx: ClientCtx,
    sender: SendRequest<Empty<Bytes>>,
    last: u64,
}

/// What one poll brought back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollOutcome {
    /// Events parsed from the response.
    pub events: usize,
}

impl Poller {
    /// Connect (metered, with handshake compensation) and start the HTTP/1.1 connection.
    pub async fn connect(ctx: ClientCtx) -> io::Result<Poller> {
        let stream = ctx.connect().await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        tokio::task::spawn_local(async move {
            let _ = conn.await;
        });
        Ok(Poller {
            ctx,
            sender,
            last: 0,
        })
    }

    /// Send one poll and hand every event in the answer to the recorder.
    pub async fn poll(&mut self) -> io::Result<PollOutcome> {
        let target = format!("/events?client={}&after={}", self.ctx.id(), self.last);
        let headers = http_heads::request(
            &self.ctx.scenario().http.headers,
            "GET",
            &target,
            &[("accept", BATCH_TYPE)],
            None,
        );
        let mut req = Request::get(target)
            .body(Empty::new())
            .map_err(io::Error::other)?;
        *req.headers_mut() = headers;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(io::Error::other)?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?
            .to_bytes();
        match status {
            StatusCode::NO_CONTENT => Ok(PollOutcome { events: 0 }),
            StatusCode::OK => {
                let mut events = 0;
                for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    self.last = self.ctx.deliver(line)?;
                    events += 1;
                }
                Ok(PollOutcome { events })
            }
            other => Err(io::Error::other(format!(
                "client {}: unexpected status {other}",
                self.ctx.id()
            ))),
        }
    }
}
