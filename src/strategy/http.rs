//! HTTP/1.1 plumbing every HTTP-based strategy shares (hyper on both ends):
//!
//! - [`serve`]: accept metered connections and serve them with hyper (no `Date` header), routing `POST /messages` to the shared upstream handler and everything
//!   else to the strategy's own [`Handler`];
//! - [`Conn`]: one client's kept-alive HTTP connection;
//! - [`Upstream`]: a client's Poisson stream of upstream messages, and [`post_upstream`], which
//!   sends them as `POST /messages` on a connection of their own, as a browser page would.

use std::convert::Infallible;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::metrics::now_ms;
use crate::protocol::{http_heads, payload};
use crate::sim::{ClientCtx, LocalBoxFuture, ServerCtx, StrategyResult};

/// Every response body: a whole body or a stream (SSE), boxed.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A strategy's answer to a request that is not an upstream message.
pub type Handler = Rc<dyn Fn(ServerCtx, Request<Incoming>) -> LocalBoxFuture<Response<Body>>>;

/// A whole body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A response with the scenario's header profile; `body` is `(content type, bytes)`.
pub fn respond(
    ctx: &ServerCtx,
    status: StatusCode,
    extra: &[(&str, &str)],
    body: Option<(&str, Vec<u8>)>,
) -> Response<Body> {
    let kind = body.as_ref().map(|(t, b)| (*t, b.len()));
    let headers = http_heads::response(&ctx.scenario().http.headers, status, extra, kind);
    let mut resp = Response::new(full(body.map(|(_, b)| b).unwrap_or_default()));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

/// Serve HTTP until the simulation ends.
pub async fn serve(ctx: ServerCtx, handler: Handler) -> StrategyResult {
    let listener = ctx.listen().await?;
    loop {
        let stream = listener.accept().await?;
        let (ctx, handler) = (ctx.clone(), handler.clone());
        tokio::task::spawn_local(async move {
            let service = hyper::service::service_fn(move |req| {
                let (ctx, handler) = (ctx.clone(), handler.clone());
                async move { Ok::<_, Infallible>(route(ctx, handler, req).await) }
            });
            // A connection error ends only that connection.
            let _ = hyper::server::conn::http1::Builder::new()
                .auto_date_header(false) // no wall clock in the bytes
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(ctx: ServerCtx, handler: Handler, req: Request<Incoming>) -> Response<Body> {
    ctx.count_request().await; // a core parses it and writes the answer
    if req.method() == Method::POST && req.uri().path() == "/messages" {
        return receive_upstream(ctx, req).await;
    }
    handler(ctx, req).await
}

/// `POST /messages`: record the message's latency, answer `204`.
async fn receive_upstream(ctx: ServerCtx, req: Request<Incoming>) -> Response<Body> {
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return respond(&ctx, StatusCode::BAD_REQUEST, &[], None),
    };
    match payload::decode(&body) {
        Some((_, _, created)) => {
            ctx.upstream_received(created);
            ctx.count_response(false);
            respond(&ctx, StatusCode::NO_CONTENT, &[], None)
        }
        None => respond(&ctx, StatusCode::BAD_REQUEST, &[], None),
    }
}

/// A request's whole body (empty if the connection broke while reading it).
pub async fn body_bytes(req: Request<Incoming>) -> Bytes {
    req.into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

/// The `client` number in a `?client=N&…` query, if valid for this run.
pub fn query_param<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.uri()
        .query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The client id of a request (`?client=N`), if it names a client of this run.
pub fn client_of(ctx: &ServerCtx, req: &Request<Incoming>) -> Option<usize> {
    query_param(req, "client")?
        .parse()
        .ok()
        .filter(|&c| c < ctx.feed().clients())
}

/// A kept-alive HTTP/1.1 client connection (a client's to the server, or the server's to a
/// client for callbacks).
pub struct Conn {
    profile: crate::scenario::HeaderProfile,
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    /// Connect to the server (metered, with handshake compensation) and start HTTP/1.1.
    pub async fn connect(ctx: &ClientCtx) -> io::Result<Conn> {
        let stream = ctx.connect().await?;
        Conn::over(stream, ctx.scenario().http.headers).await
    }

    /// Start HTTP/1.1 over an open stream; requests carry `profile`'s heads.
    pub async fn over(
        stream: crate::sim::Metered,
        profile: crate::scenario::HeaderProfile,
    ) -> io::Result<Conn> {
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        tokio::task::spawn_local(async move {
            let _ = conn.await;
        });
        Ok(Conn { profile, sender })
    }

    /// Send a request with the scenario's header profile; `body` is `(content type, bytes)`.
    pub async fn send(
        &mut self,
        method: Method,
        target: &str,
        extra: &[(&str, &str)],
        body: Option<(&str, Bytes)>,
    ) -> io::Result<Response<Incoming>> {
        let kind = body.as_ref().map(|(t, b)| (*t, b.len()));
        let headers = http_heads::request(&self.profile, method.as_str(), target, extra, kind);
        let mut req = Request::builder()
            .method(method)
            .uri(target)
            .body(Full::new(body.map(|(_, b)| b).unwrap_or_default()))
            .map_err(io::Error::other)?;
        *req.headers_mut() = headers;
        self.sender
            .send_request(req)
            .await
            .map_err(io::Error::other)
    }

    /// Whether the connection can still carry requests.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

/// A client's upstream messages: a seeded Poisson stream of payloads.
pub struct Upstream {
    rng: ChaCha8Rng,
    rate: f64,
    len: usize,
    seq: u64,
}

impl Upstream {
    /// The scenario's upstream stream for this client, if it has one.
    pub fn of(ctx: &ClientCtx) -> Option<Upstream> {
        let u = ctx.scenario().upstream.as_ref()?;
        Some(Upstream {
            rng: ctx.rng_for(1),
            rate: u.rate_per_client_per_s,
            len: u.payload_bytes as usize,
            seq: 0,
        })
    }

    /// Time until the next message (exponential, whole milliseconds, at least 1).
    pub fn next_gap(&mut self) -> Duration {
        let u: f64 = self.rng.random();
        let s = -(1.0 - u).ln() / self.rate;
        Duration::from_millis(((s * 1000.0).ceil() as u64).max(1))
    }

    /// The next message, created now.
    pub fn next_message(&mut self) -> Bytes {
        self.seq += 1;
        payload::encode(self.seq, "upstream", now_ms(), self.len)
    }
}

/// Start [`post_upstream`] as a task of its own; a failure is recorded as a client failure.
pub fn spawn_upstream(ctx: &ClientCtx) {
    if ctx.scenario().upstream.is_none() {
        return;
    }
    let ctx = ctx.clone();
    tokio::task::spawn_local(async move {
        if let Err(e) = post_upstream(ctx.clone()).await {
            if !crate::sim::gave_up(&e) {
                ctx.fail(format!("client {} upstream: {e}", ctx.id()));
            }
        }
    });
}

/// Send the client's upstream messages as `POST /messages` on their own connection, until the
/// run closes. Does nothing if the scenario has no `[upstream]`.
pub async fn post_upstream(ctx: ClientCtx) -> io::Result<()> {
    let Some(mut upstream) = Upstream::of(&ctx) else {
        return Ok(());
    };
    let mut conn = Conn::connect(&ctx).await?;
    let target = format!("/messages?client={}", ctx.id());
    loop {
        tokio::select! {
            biased;
            _ = ctx.closing() => return Ok(()),
            _ = tokio::time::sleep(upstream.next_gap()) => {}
        }
        let msg = upstream.next_message();
        let sent = async {
            let resp = conn
                .send(Method::POST, &target, &[], Some(("application/json", msg)))
                .await?;
            let status = resp.status();
            resp.into_body().collect().await.map_err(io::Error::other)?;
            Ok::<_, io::Error>(status)
        }
        .await;
        match sent {
            Ok(StatusCode::NO_CONTENT) => {}
            Ok(status) if !status.is_server_error() => {
                return Err(io::Error::other(format!("upstream POST answered {status}")));
            }
            // a broken connection or a server error: that message is lost; connect again
            _ => {
                let stream = tokio::select! {
                    biased;
                    _ = ctx.closing() => return Ok(()),
                    s = ctx.reconnect() => s?,
                };
                conn = Conn::over(stream, ctx.scenario().http.headers).await?;
            }
        }
    }
}
