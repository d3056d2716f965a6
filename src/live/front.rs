//! The front door of `serve`: one HTTP/1.1 port (hyper) that serves the page, a little JSON
//! about the run, and passes `/<strategy>/…` on to that strategy's own server — the unchanged
//! strategy code on a loopback port of its own — as a reverse proxy would. One origin for
//! everything, so the page needs no CORS and WebSocket `Origin` checks are simple.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::guard::{close_frame, FrameBounds, FrameCheck, Limits};
use crate::metrics::RecorderHandle;
use crate::sim::log;

type Body = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// The page, its script and style, built into the binary (no build step, no CDN).
const PAGE: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/style.css");

/// One strategy's server behind the front door.
pub(crate) struct Backend {
    pub(crate) id: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) addr: SocketAddr,
    pub(crate) rec: RecorderHandle,
    /// The strategy's settings a browser needs (the short-polling interval).
    pub(crate) interval_s: Option<f64>,
    /// Its colour in the charts, `#rrggbb`.
    pub(crate) color: String,
}

/// What the front door counted for one strategy (`/_lab/stats`).
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Figures {
    /// Requests passed on (polls, stream requests, upgrades).
    pub(crate) requests: u64,
    /// WebSocket upgrades passed on.
    pub(crate) upgrades: u64,
    /// Connections cut on request (`POST /_lab/cut`).
    pub(crate) cuts: u64,
    /// Requests that arrived with a `Last-Event-ID` header (an `EventSource` reconnecting).
    pub(crate) resumed: u64,
    /// The last few `Last-Event-ID` values seen.
    pub(crate) last_event_ids: VecDeque<String>,
    /// Requests or connections refused, or closed for breaking a limit.
    pub(crate) refused: u64,
}

struct Open {
    abort: tokio::task::AbortHandle,
    /// Requests it carried (an idle kept-alive connection timing out is not worth a log line).
    requests: u64,
    /// The strategy and client this connection carried last.
    tag: Option<(&'static str, usize)>,
}

/// The front door's state.
pub(crate) struct Front {
    pub(crate) backends: Vec<Backend>,
    pub(crate) limits: Limits,
    pub(crate) clients: usize,
    pub(crate) types: Vec<String>,
    pub(crate) scenario: String,
    next_client: Cell<usize>,
    next_conn: Cell<u64>,
    open: RefCell<BTreeMap<u64, Open>>,
    figures: RefCell<BTreeMap<&'static str, Figures>>,
    /// The address the front door listens on (for `Host` checks).
    pub(crate) bind: std::net::IpAddr,
    /// Extra host names it answers to (`--bind` with a name a lecture hall uses).
    pub(crate) names: Vec<String>,
    /// Requests refused before routing (a bad `Host`).
    pub(crate) refused_requests: Cell<u64>,
    /// Connections refused for the connection limit (not per strategy).
    pub(crate) refused_connections: Cell<u64>,
    pub(crate) dropped_connections: Cell<u64>,
}

impl Front {
    pub(crate) fn new(
        backends: Vec<Backend>,
        limits: Limits,
        clients: usize,
        types: Vec<String>,
        scenario: String,
        bind: std::net::IpAddr,
        names: Vec<String>,
    ) -> Rc<Front> {
        let figures = backends
            .iter()
            .map(|b| (b.id, Figures::default()))
            .collect();
        Rc::new(Front {
            backends,
            limits,
            clients,
            types,
            scenario,
            next_client: Cell::new(0),
            next_conn: Cell::new(0),
            open: RefCell::new(BTreeMap::new()),
            figures: RefCell::new(figures),
            refused_connections: Cell::new(0),
            dropped_connections: Cell::new(0),
            bind,
            names,
            refused_requests: Cell::new(0),
        })
    }

    /// Open connections (browser side).
    pub(crate) fn open_connections(&self) -> usize {
        self.open.borrow().len()
    }

    /// A copy of the figures of `strategy`.
    pub(crate) fn figures(&self, strategy: &str) -> Option<Figures> {
        self.figures.borrow().get(strategy).cloned()
    }

    fn count(&self, strategy: &'static str, f: impl FnOnce(&mut Figures)) {
        if let Some(fig) = self.figures.borrow_mut().get_mut(strategy) {
            f(fig);
        }
    }

    /// Close every connection at once (the end of a shutdown).
    pub(crate) fn close_all(&self) {
        let open = std::mem::take(&mut *self.open.borrow_mut());
        for (_, o) in open {
            o.abort.abort();
        }
    }

    /// Cut every connection carrying `strategy` for `client`; returns how many.
    fn cut(&self, strategy: &'static str, client: usize) -> usize {
        let hit: Vec<Open> = {
            let mut open = self.open.borrow_mut();
            let keys: Vec<u64> = open
                .iter()
                .filter(|(_, o)| o.tag == Some((strategy, client)))
                .map(|(&k, _)| k)
                .collect();
            keys.iter().filter_map(|k| open.remove(k)).collect()
        };
        for o in &hit {
            o.abort.abort();
        }
        hit.len()
    }

    fn register(
        self: &Rc<Self>,
        abort: tokio::task::AbortHandle,
        tag: Option<(&'static str, usize)>,
    ) -> u64 {
        let id = self.next_conn.get();
        self.next_conn.set(id + 1);
        self.open.borrow_mut().insert(
            id,
            Open {
                abort,
                tag,
                requests: 0,
            },
        );
        id
    }

    fn requests_on(&self, conn: u64) {
        if let Some(o) = self.open.borrow_mut().get_mut(&conn) {
            o.requests += 1;
        }
    }

    fn requests_of(&self, conn: u64) -> u64 {
        self.open.borrow().get(&conn).map_or(0, |o| o.requests)
    }

    /// Whether `host` names this server: a loopback name or address, or the address it was
    /// told to listen on.
    pub(crate) fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host.parse::<std::net::IpAddr>().is_ok_and(|ip| {
                ip.is_loopback()
                    || ip == self.bind
                    || (self.bind.is_unspecified() && !ip.is_multicast())
            })
            || self.names.iter().any(|n| n.eq_ignore_ascii_case(host))
    }

    fn tag(&self, conn: u64, tag: (&'static str, usize)) {
        if let Some(o) = self.open.borrow_mut().get_mut(&conn) {
            o.tag = Some(tag);
        }
    }

    fn closed(&self, conn: u64) {
        self.open.borrow_mut().remove(&conn);
    }
}

/// Removes a connection from the open set however its task ends (done or aborted).
struct Registered(Rc<Front>, u64);

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.closed(self.1);
    }
}

/// Accept browser connections on `listener` until the task is dropped.
pub(crate) async fn accept_loop(front: Rc<Front>, listener: tokio::net::TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                log::line(format_args!("accept failed ({e}); still listening"));
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if front.open_connections() >= front.limits.max_connections {
            front
                .refused_connections
                .set(front.refused_connections.get() + 1);
            log::line(format_args!(
                "refused a connection from {peer}: {} connections open, the limit",
                front.limits.max_connections
            ));
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let conn_id = Rc::new(Cell::new(u64::MAX));
        let (f, id_cell) = (front.clone(), conn_id.clone());
        let task = tokio::task::spawn_local(async move {
            // wait until registered, so the guard removes the right entry
            tokio::task::yield_now().await;
            let conn = id_cell.get();
            let _registered = Registered(f.clone(), conn);
            let service = {
                let f = f.clone();
                hyper::service::service_fn(move |req| {
                    let f = f.clone();
                    async move { Ok::<_, Infallible>(handle(f, conn, req).await) }
                })
            };
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(f.limits.head_timeout)
                .max_buf_size(f.limits.max_head_bytes.max(8192));
            let result = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
            if let Err(e) = result {
                // a kept-alive connection that carried requests and then timed out waiting is
                // only idle: closing it is routine
                let idle = e.is_timeout() && f.requests_of(conn) > 0;
                if !idle
                    && (e.is_parse()
                        || e.is_parse_too_large()
                        || e.is_timeout()
                        || e.is_parse_status())
                {
                    f.dropped_connections.set(f.dropped_connections.get() + 1);
                    log::line(format_args!("dropped the connection from {peer}: {e}"));
                }
            }
        });
        conn_id.set(front.register(task.abort_handle(), None));
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>, content_type: &'static str) -> Response<Body> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn plain(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    text(status, body.into(), "text/plain; charset=utf-8")
}

fn json(value: &impl Serialize) -> Response<Body> {
    text(
        StatusCode::OK,
        serde_json::to_vec(value).unwrap_or_default(),
        "application/json",
    )
}

/// Whether `req` comes from this page's own origin (or from no browser at all).
fn same_origin(req: &Request<Incoming>) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true; // not a browser page: curl, the load tool
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    match (origin.to_str().ok(), host) {
        (Some(o), Some(h)) => o == format!("http://{h}") || o == format!("https://{h}"),
        _ => false,
    }
}

fn query(req: &Request<Incoming>, key: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

#[derive(Serialize)]
struct Info<'a> {
    scenario: &'a str,
    /// The client id this page should use.
    client: usize,
    clients: usize,
    /// The server's clock (ms since it started), to turn event times into latencies.
    now_ms: u64,
    types: &'a [String],
    strategies: Vec<InfoStrategy>,
}

#[derive(Serialize)]
struct InfoStrategy {
    id: &'static str,
    summary: &'static str,
    interval_s: Option<f64>,
    color: String,
}

#[derive(Serialize)]
struct Stats {
    now_ms: u64,
    open_connections: usize,
    refused_connections: u64,
    dropped_connections: u64,
    refused_requests: u64,
    strategies: BTreeMap<&'static str, StrategyStats>,
}

#[derive(Serialize)]
struct StrategyStats {
    #[serde(flatten)]
    front: Figures,
    /// Events the strategy's publisher created (all clients).
    events_published: u64,
    /// Connections open at the strategy's own server.
    backend_connections: u64,
}

/// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one `Host`, a valid authority; and this
/// server answers only to its own names (a page of another site that resolves its own name to
/// 127.0.0.1 — DNS rebinding — sends that other name).
fn host_ok(front: &Front, req: &Request<Incoming>) -> bool {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) => req.version() < http::Version::HTTP_11,
        (Some(h), None) => h.to_str().is_ok_and(|h| {
            h.parse::<http::uri::Authority>()
                .is_ok_and(|a| front.allows_host(a.host()))
        }),
        _ => false,
    }
}

fn not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = plain(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("allowed: {allow}\n"),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

async fn handle(front: Rc<Front>, conn: u64, req: Request<Incoming>) -> Response<Body> {
    front.requests_on(conn);
    if !host_ok(&front, &req) {
        front.refused_requests.set(front.refused_requests.get() + 1);
        return plain(
            StatusCode::BAD_REQUEST,
            "give exactly one Host header naming this server (RFC 9112 §3.2)\n",
        );
    }
    let path = req.uri().path().to_string();
    let page = matches!(
        path.as_str(),
        "/" | "/index.html"
            | "/app.js"
            | "/style.css"
            | "/favicon.ico"
            | "/_lab/info"
            | "/_lab/stats"
    );
    if page && req.method() != Method::GET && req.method() != Method::HEAD {
        return not_allowed("GET, HEAD");
    }
    if path == "/_lab/cut" && req.method() != Method::POST {
        return not_allowed("POST");
    }
    if (page || path == "/_lab/cut") && hyper::body::Body::size_hint(req.body()).lower() > 0 {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "no body expected here\n");
    }
    // hyper sends a HEAD's headers without its body
    let method = if req.method() == Method::HEAD {
        &Method::GET
    } else {
        req.method()
    };
    match (method, path.as_str()) {
        (&Method::GET, "/" | "/index.html") => {
            text(StatusCode::OK, PAGE, "text/html; charset=utf-8")
        }
        (&Method::GET, "/app.js") => text(StatusCode::OK, SCRIPT, "text/javascript; charset=utf-8"),
        (&Method::GET, "/style.css") => text(StatusCode::OK, STYLE, "text/css; charset=utf-8"),
        (&Method::GET, "/favicon.ico") => plain(StatusCode::NO_CONTENT, ""),
        (&Method::GET, "/_lab/info") => {
            let client = front.next_client.get();
            front.next_client.set((client + 1) % front.clients.max(1));
            json(&Info {
                scenario: &front.scenario,
                client,
                clients: front.clients,
                now_ms: crate::metrics::now_ms(),
                types: &front.types,
                strategies: front
                    .backends
                    .iter()
                    .map(|b| InfoStrategy {
                        id: b.id,
                        summary: b.summary,
                        interval_s: b.interval_s,
                        color: b.color.clone(),
                    })
                    .collect(),
            })
        }
        (&Method::GET, "/_lab/stats") => json(&Stats {
            now_ms: crate::metrics::now_ms(),
            open_connections: front.open_connections(),
            refused_connections: front.refused_connections.get(),
            dropped_connections: front.dropped_connections.get(),
            refused_requests: front.refused_requests.get(),
            strategies: front
                .backends
                .iter()
                .map(|b| {
                    let r = b.rec.borrow();
                    (
                        b.id,
                        StrategyStats {
                            front: front.figures(b.id).unwrap_or_default(),
                            events_published: r.generated(),
                            backend_connections: r.open_connection_count(),
                        },
                    )
                })
                .collect(),
        }),
        (&Method::POST, "/_lab/cut") => {
            if !same_origin(&req) {
                return plain(StatusCode::FORBIDDEN, "cross-origin request refused\n");
            }
            let strategy = query(&req, "strategy");
            let client = query(&req, "client").and_then(|c| c.parse::<usize>().ok());
            let Some(b) = strategy.and_then(|s| front.backends.iter().find(|b| b.id == s)) else {
                return plain(
                    StatusCode::BAD_REQUEST,
                    "give ?strategy=ID&client=K of a strategy this server runs\n",
                );
            };
            let Some(client) = client else {
                return plain(StatusCode::BAD_REQUEST, "give ?client=K\n");
            };
            let id = b.id;
            let n = front.cut(id, client);
            front.count(id, |f| f.cuts += n as u64);
            log::line(format_args!(
                "cut {n} connection(s) of {id} client {client}, as asked"
            ));
            json(&serde_json::json!({ "cut": n }))
        }
        _ => {
            let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
            match front.backends.iter().position(|b| b.id == first) {
                Some(i) => proxy(front.clone(), conn, i, req).await,
                None => plain(StatusCode::NOT_FOUND, format!("no such page: {path}\n")),
            }
        }
    }
}

/// What RFC 6455 §4.2.1 asks of an opening handshake: a GET, `Sec-WebSocket-Key` the base64 of
/// 16 bytes, `Sec-WebSocket-Version: 13`.
fn upgrade_request_ok(req: &Request<Incoming>) -> Result<(), &'static str> {
    use base64::Engine as _;
    if req.method() != Method::GET {
        return Err("an upgrade must be a GET");
    }
    if req.version() != http::Version::HTTP_11 {
        return Err("an upgrade needs HTTP/1.1");
    }
    let connection_upgrade = req
        .headers()
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if !connection_upgrade {
        return Err("an upgrade needs `Connection: Upgrade`");
    }
    let key = req
        .headers()
        .get("sec-websocket-key")
        .ok_or("no Sec-WebSocket-Key")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(key.as_bytes())
        .map_err(|_| "Sec-WebSocket-Key is not base64")?;
    if decoded.len() != 16 {
        return Err("Sec-WebSocket-Key is not 16 bytes");
    }
    match req.headers().get("sec-websocket-version") {
        Some(v) if v == "13" => Ok(()),
        _ => Err("Sec-WebSocket-Version must be 13 (the only version RFC 6455 defines)"),
    }
}

/// Headers that belong to one hop, not passed on (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

async fn proxy(
    front: Rc<Front>,
    conn: u64,
    i: usize,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let (id, addr) = (front.backends[i].id, front.backends[i].addr);
    let client = query(&req, "client").and_then(|c| c.parse::<usize>().ok());
    if let Some(c) = client {
        front.tag(conn, (id, c));
    }
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|u| u.to_str().ok())
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    if upgrade && !same_origin(&req) {
        front.count(id, |f| f.refused += 1);
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .map(|o| String::from_utf8_lossy(o.as_bytes()).into_owned())
            .unwrap_or_default();
        log::line(format_args!(
            "refused a WebSocket upgrade for {id} from origin {origin:?}: not this page's origin"
        ));
        return plain(
            StatusCode::FORBIDDEN,
            "WebSocket upgrades only from this page's origin\n",
        );
    }
    if upgrade {
        if let Err(why) = upgrade_request_ok(&req) {
            front.count(id, |f| f.refused += 1);
            log::line(format_args!("refused a WebSocket upgrade for {id}: {why}"));
            let mut r = plain(StatusCode::BAD_REQUEST, format!("{why}\n"));
            if why.contains("version") {
                *r.status_mut() = StatusCode::UPGRADE_REQUIRED;
                r.headers_mut()
                    .insert("sec-websocket-version", HeaderValue::from_static("13"));
            }
            return r;
        }
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > front.limits.max_body_bytes) {
        front.count(id, |f| f.refused += 1);
        log::line(format_args!(
            "refused a {}-byte request body for {id} (at most {})",
            declared.unwrap_or(0),
            front.limits.max_body_bytes
        ));
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    }
    front.count(id, |f| {
        f.requests += 1;
        f.upgrades += upgrade as u64;
    });
    if let Some(last) = req.headers().get("last-event-id") {
        let last = String::from_utf8_lossy(last.as_bytes()).into_owned();
        front.count(id, |f| {
            f.resumed += 1;
            if f.last_event_ids.len() == 8 {
                f.last_event_ids.pop_front();
            }
            f.last_event_ids.push_back(last);
        });
    }
    let on_browser = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    let rest = parts.uri.path()[1 + id.len()..].to_string();
    let target = match parts.uri.query() {
        Some(q) => format!("{}?{q}", if rest.is_empty() { "/" } else { &rest }),
        None => {
            if rest.is_empty() {
                "/".into()
            } else {
                rest
            }
        }
    };
    parts.uri = match target.parse() {
        Ok(u) => u,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "bad request target\n"),
    };
    if !upgrade {
        for h in HOP_BY_HOP {
            parts.headers.remove(h);
        }
    }
    let limit = front.limits.max_body_bytes as usize;
    let forward = Request::from_parts(parts, Limited::new(body, limit));
    let stream = match tokio::net::TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => {
            return plain(
                StatusCode::BAD_GATEWAY,
                format!("the {id} server is not answering: {e}\n"),
            )
        }
    };
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
            Ok(x) => x,
            Err(e) => return plain(StatusCode::BAD_GATEWAY, format!("{e}\n")),
        };
    tokio::task::spawn_local(async move {
        let _ = connection.with_upgrades().await;
    });
    let mut resp = match sender.send_request(forward).await {
        Ok(r) => r,
        Err(e) => {
            front.count(id, |f| f.refused += 1);
            // a body over the limit, a broken chunk: the request's fault
            let body_error = std::error::Error::source(&e).is_some_and(|s| {
                s.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
            }) || e.is_user();
            let (status, why) = if body_error {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body is too large or malformed".to_string(),
                )
            } else if e.is_incomplete_message() {
                // the strategy's server hung up without answering: it did not take the
                // request (a WebSocket endpoint given a plain GET, say)
                (
                    StatusCode::BAD_REQUEST,
                    format!("the {id} server closed the connection without answering (a WebSocket endpoint needs an upgrade)"),
                )
            } else {
                (StatusCode::BAD_GATEWAY, e.to_string())
            };
            log::line(format_args!("answered {} for {id}: {why}", status.as_u16()));
            return plain(status, format!("{why}\n"));
        }
    };
    if let (Some(on_browser), StatusCode::SWITCHING_PROTOCOLS) = (on_browser, resp.status()) {
        let on_backend = hyper::upgrade::on(&mut resp);
        let f = front.clone();
        let tag = client.map(|c| (id, c));
        let task = tokio::task::spawn_local({
            let f = f.clone();
            async move {
                let (Ok(browser), Ok(backend)) = (on_browser.await, on_backend.await) else {
                    return;
                };
                pipe_websocket(f, id, TokioIo::new(browser), TokioIo::new(backend)).await;
            }
        });
        let registered = f.register(task.abort_handle(), tag);
        // the entry goes when the pipe ends
        tokio::task::spawn_local(async move {
            let _ = task.await;
            f.closed(registered);
        });
        let (parts, _) = resp.into_parts();
        return Response::from_parts(
            parts,
            Full::new(Bytes::new())
                .map_err(|e| match e {})
                .boxed_unsync(),
        );
    }
    let (mut parts, body) = resp.into_parts();
    for h in HOP_BY_HOP {
        parts.headers.remove(h);
    }
    Response::from_parts(parts, body.map_err(|e| Box::new(e) as _).boxed_unsync())
}

/// Pass a WebSocket's bytes both ways, checking the browser's frames against the limits and
/// closing an idle one.
async fn pipe_websocket<B, S>(front: Rc<Front>, id: &'static str, mut browser: B, mut backend: S)
where
    B: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut check = FrameCheck::new(front.limits);
    let mut bounds = FrameBounds::default();
    let (mut up, mut down) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    let closing = loop {
        let idle = tokio::time::sleep(front.limits.ws_idle);
        tokio::select! {
            n = browser.read(&mut up) => {
                let n = match n { Ok(0) | Err(_) => break None, Ok(n) => n };
                if let Err(v) = check.feed(&up[..n], crate::metrics::now_ms()) {
                    front.count(id, |f| f.refused += 1);
                    log::line(format_args!("closed a {id} WebSocket ({}): {}", v.code, v.reason));
                    break Some(close_frame(v.code, &v.reason));
                }
                if backend.write_all(&up[..n]).await.is_err() { break None; }
            }
            n = backend.read(&mut down) => {
                let n = match n { Ok(0) | Err(_) => break None, Ok(n) => n };
                bounds.feed(&down[..n]);
                if browser.write_all(&down[..n]).await.is_err() { break None; }
            }
            _ = idle => {
                log::line(format_args!("closed a {id} WebSocket idle for {} s", front.limits.ws_idle.as_secs()));
                break Some(close_frame(1001, "idle"));
            }
        }
    };
    if let Some(close) = closing {
        // finish the server's frame in flight first: a close frame goes between frames
        let mut ok = true;
        while ok && bounds.to_boundary() > 0 {
            let want = (bounds.to_boundary() as usize).min(down.len());
            ok = match backend.read(&mut down[..want]).await {
                Ok(0) | Err(_) => false,
                Ok(n) => {
                    bounds.feed(&down[..n]);
                    browser.write_all(&down[..n]).await.is_ok()
                }
            };
        }
        if ok {
            let _ = browser.write_all(&close).await;
        }
    }
    let _ = browser.shutdown().await;
    let _ = backend.shutdown().await;
}
