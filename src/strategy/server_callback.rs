//! # Server callback (`server-callback`)
//!
//! ## What it is
//! The question a systems-design course asks first: *why doesn't the server just store every
//! client's IP address and contact it when there is news?* Here it does. Each client listens on
//! a port and registers its address with one `POST`; for every event the server opens a
//! connection *to the client* (or reuses one) and `POST`s the event.
//!
//! ## How it works
//! ```text
//! client (listening on :1031)                     server (registry: client → address)
//!   |── POST /register?client=7  "10.0.0.3:1031" ──►|   stores the address
//!   |◄───────────────────────────────── 204 ────────|
//!   |                                               |   event for client 7
//!   |◄── connect to 10.0.0.3:1031, POST /event ─────|   (a new connection per event,
//!   |─── 204 ──────────────────────────────────────►|    or one kept alive)
//!   |       client behind NAT: the connect fails, the event is lost
//! ```
//!
//! ## Trade-offs
//! Two concerns sink it in practice, and this strategy makes both measurable:
//! - **Privacy**: the server must keep every client's address for as long as the client wants
//!   events — an address reveals location (`address_seconds` is far above any other strategy).
//!   Storing it truncated or hashed (`[privacy]`) protects it, and makes calling back
//!   impossible.
//! - **Scalability and reachability**: the server opens (or keeps) a connection per client
//!   and must reach each one; clients behind NAT or firewalls — most of them — cannot be
//!   reached at all (`nat_fraction`), so their events are lost.
//!
//! ## What to watch in the charts
//! Without `keep_alive` each event costs a TCP connect before its `POST` can leave (SYN and
//! SYN-ACK, a round trip; the `POST` rides right behind the ACK) plus the `POST`'s transit:
//! three one-way delays, 3d. With it, one transit, d. `events_lost` grows with
//! `nat_fraction`; `addresses_retained_peak` equals the registered clients for the whole run.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use ::http::{Method, Request, Response, StatusCode};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rand::Rng;
use serde::Deserialize;

use super::http::{self, client_of, respond, Body, Conn, Handler};
use crate::metrics::now_ms;
use crate::model::Prediction;
use crate::privacy;
use crate::scenario::Scenario;
use crate::scenario::{ClientKind, StoreAddresses};
use crate::sim::{
    check_seconds, AddressHold, ClientCtx, LocalBoxFuture, RegistryEntry, ServerCtx, Settings,
    SettingsError, Strategy, StrategyResult, Work,
};
use crate::style::{okabe_ito, Dash, Look};

/// The server calls each registered client back with every event.
pub struct ServerCallback;

/// `[server-callback]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerCallbackSettings {
    /// Keep one connection per client open between events (otherwise one per event).
    #[serde(default = "yes")]
    pub keep_alive: bool,
    /// Share of clients nobody can connect to: behind a home router's NAT, a carrier-grade
    /// NAT or a firewall that drops unsolicited connections. Default 0.9: more than 90 % of
    /// residential DSL lines sit behind a NAT gateway (Maier, Schneider, Feldmann, "NAT Usage
    /// in Residential Broadband Networks", PAM 2011), and mobile networks use carrier-grade
    /// NAT almost everywhere (Richter et al., IMC 2016). See docs/addresses.md.
    #[serde(default = "default_nat")]
    pub nat_fraction: f64,
    /// A client registers its address again this often, seconds (and whenever it comes
    /// back online). Default 1,800: half of SIP's default registration lifetime.
    #[serde(default = "default_register_every")]
    pub register_every_s: f64,
    /// The server forgets a registration not renewed for this long, seconds. Default 3,600:
    /// SIP's default registration lifetime (RFC 3261 §10.2.1.1).
    #[serde(default = "default_ttl")]
    pub registry_ttl_s: f64,
    /// The server gives up a callback connect nobody answers after this long, seconds, and
    /// drops the events it was for. Default 10: Node.js's `fetch` (undici) connect timeout.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_s: f64,
}

fn yes() -> bool {
    true
}
fn default_nat() -> f64 {
    0.9
}
fn default_register_every() -> f64 {
    1_800.0
}
fn default_ttl() -> f64 {
    3_600.0
}
fn default_connect_timeout() -> f64 {
    10.0
}

/// What the server keeps for a registered client, per `[privacy] store_addresses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The address: the server can call back.
    Full(SocketAddr),
    /// The /24 prefix only.
    Truncated([u8; 3]),
    /// A keyed hash of address and port.
    Hashed(u128),
}

impl Stored {
    /// Store `addr` the way the scenario says; `key` keys the hash.
    pub fn of(addr: SocketAddr, how: StoreAddresses, key: u64) -> Stored {
        match (how, addr.ip()) {
            (StoreAddresses::Full, _) => Stored::Full(addr),
            (StoreAddresses::Truncated, std::net::IpAddr::V4(ip)) => {
                let o = ip.octets();
                Stored::Truncated([o[0], o[1], o[2]])
            }
            (StoreAddresses::Truncated, std::net::IpAddr::V6(ip)) => {
                let o = ip.octets();
                Stored::Truncated([o[0], o[1], o[2]])
            }
            (StoreAddresses::Hashed, _) => {
                // a keyed FNV-1a over the textual address: not cryptographic, but shows the
                // idea (a real server would use HMAC-SHA-256 with a secret key)
                let mut h: u128 = 0x6c62272e07bb014262b821756295c58d ^ key as u128;
                for b in addr.to_string().bytes() {
                    h ^= b as u128;
                    h = h.wrapping_mul(0x0000000001000000000000000000013B);
                }
                Stored::Hashed(h)
            }
        }
    }
}

impl Strategy for ServerCallback {
    fn id(&self) -> &'static str {
        "server-callback"
    }

    fn look(&self) -> Option<Look> {
        // reddish purple, long dashes
        Some(Look {
            color: okabe_ito::REDDISH_PURPLE,
            dash: Dash::Long,
        })
    }

    fn summary(&self) -> &'static str {
        "clients register their address; the server connects to each client and POSTs events"
    }

    fn check(&self, settings: &Settings, _: &Scenario) -> Result<(), SettingsError> {
        let s: ServerCallbackSettings = settings.parse()?;
        if !(s.nat_fraction.is_finite() && (0.0..=1.0).contains(&s.nat_fraction)) {
            return Err(SettingsError {
                field: "nat_fraction".into(),
                message: format!("{} is not allowed; use a share from 0 to 1", s.nat_fraction),
            });
        }
        check_seconds("register_every_s", s.register_every_s, 0.1, 86_400.0)?;
        check_seconds("registry_ttl_s", s.registry_ttl_s, 0.1, 7.0 * 86_400.0)?;
        check_seconds("connect_timeout_s", s.connect_timeout_s, 0.001, 127.0)?;
        Ok(())
    }

    fn longest_period(&self, settings: &Settings) -> Duration {
        // a callback nobody answers holds the client's events this long
        settings
            .parse::<ServerCallbackSettings>()
            .map_or(Duration::ZERO, |s| {
                Duration::from_millis((s.connect_timeout_s * 1000.0).round() as u64)
            })
    }

    fn model(&self, scenario: &Scenario, settings: &Settings) -> Option<Prediction> {
        let s: ServerCallbackSettings = settings.parse().ok()?;
        let browser = scenario.clients.kind == ClientKind::Browser;
        let cb = privacy::Callback {
            unreachable: if browser { 1.0 } else { s.nat_fraction },
            register_every_s: s.register_every_s,
            ttl_s: s.registry_ttl_s,
            connect_timeout_s: s.connect_timeout_s,
        };
        // only the address questions have closed forms here (and only without other faults)
        let others = !scenario.faults.is_empty()
            || scenario.proxy.idle_timeout_s.is_some()
            || scenario.network.loss > 0.0;
        let expected = (!others).then(|| privacy::callback(scenario, cb)).flatten();
        let full = scenario.privacy.store_addresses == StoreAddresses::Full;
        Some(Prediction {
            events_lost: expected.map(|e| {
                if full {
                    e.lost.min(scenario.expected_deliveries())
                } else {
                    scenario.expected_deliveries()
                }
            }),
            misdelivered: expected.map(|e| if full { e.misdelivered } else { 0.0 }),
            address_seconds_in_memory: privacy::address_seconds_stored(scenario, cb)
                .filter(|_| !others),
            address_seconds_stored: privacy::address_seconds_stored(scenario, cb)
                .filter(|_| !others && !scenario.privacy.access_log),
            unreachable_share: Some(cb.unreachable),
            address_changes: expected.map(|e| e.changes),
            callback: (full && expected.is_some()).then_some(cb),
            ..Prediction::default()
        })
    }

    fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<StrategyResult> {
        Box::pin(async move {
            let s: ServerCallbackSettings = ctx.settings().parse().map_err(|e| e.message)?;
            let registry = Registry::default();
            let handler: Handler =
                Rc::new(move |ctx, req| Box::pin(register(ctx, s.clone(), registry.clone(), req)));
            http::serve(ctx, handler).await
        })
    }

    fn client(&self, ctx: ClientCtx) -> LocalBoxFuture<StrategyResult> {
        Box::pin(async move {
            let s: ServerCallbackSettings = ctx.settings().parse().map_err(|e| e.message)?;
            client(ctx, s).await?;
            Ok(())
        })
    }
}

/// One registration: what is stored for a client, until when.
struct Entry {
    stored: Stored,
    expires_ms: u64,
    /// The server holds the address (in memory, and stored) while the entry lives.
    _address: AddressHold,
    _entry: RegistryEntry,
}

/// The callback registry: client → its entry (absent: never registered, or expired), and the
/// clients whose caller task runs (one each, started at their first registration).
#[derive(Clone, Default)]
struct Registry(
    Rc<RefCell<BTreeMap<usize, Entry>>>,
    Rc<RefCell<BTreeSet<usize>>>,
);

/// `POST /register?client=N` with the client's address: store it (again), call back with
/// the client's events until the entry expires.
async fn register(
    ctx: ServerCtx,
    s: ServerCallbackSettings,
    registry: Registry,
    req: Request<Incoming>,
) -> Response<Body> {
    let client = client_of(&ctx, &req).filter(|_| req.uri().path() == "/register");
    let body = http::body_bytes(req).await;
    let addr = std::str::from_utf8(&body)
        .ok()
        .and_then(|a| a.parse::<SocketAddr>().ok());
    let (Some(client), Some(addr)) = (client, addr) else {
        ctx.count_response(true);
        return respond(&ctx, StatusCode::BAD_REQUEST, &[], None);
    };
    let stored = Stored::of(
        addr,
        ctx.scenario().privacy.store_addresses,
        ctx.scenario().seed,
    );
    let expires_ms = now_ms() + (s.registry_ttl_s * 1000.0).round() as u64;
    let first = {
        let mut map = registry.0.borrow_mut();
        match map.get_mut(&client) {
            Some(e) => {
                e.stored = stored;
                e.expires_ms = expires_ms;
            }
            None => {
                map.insert(
                    client,
                    Entry {
                        stored,
                        expires_ms,
                        _address: ctx.hold_address(client),
                        _entry: ctx.registry_entry(),
                    },
                );
            }
        }
        // a caller per client, for the whole run: an entry that expired and came back
        // finds its caller waiting
        registry.1.borrow_mut().insert(client)
    };
    ctx.registered(client, matches!(stored, Stored::Full(_)).then_some(addr));
    if first {
        // the client's caller runs until the run closes; it may be waiting for this entry
        tokio::task::spawn_local(call_back(ctx.clone(), s, registry, client));
    }
    ctx.feed().pass_on(client); // the caller looks at the (new) address
    ctx.count_response(false);
    respond(&ctx, StatusCode::NO_CONTENT, &[], None)
}

/// The registry's current address for `client`, forgetting the entry if it has expired.
fn lookup(ctx: &ServerCtx, registry: &Registry, client: usize) -> Option<(Stored, u64)> {
    let mut map = registry.0.borrow_mut();
    let e = map.get(&client)?;
    if e.expires_ms <= now_ms() {
        map.remove(&client); // drops the holds: the address is forgotten
        drop(map);
        ctx.registered(client, None);
        return None;
    }
    Some((e.stored, e.expires_ms))
}

/// Deliver `client`'s events by calling its registered address, until the run closes. With
/// no live entry, events wait for the next registration.
async fn call_back(ctx: ServerCtx, s: ServerCallbackSettings, registry: Registry, client: usize) {
    let feed = ctx.feed().clone();
    // a kept-alive connection and the address it was opened to
    let mut conn: Option<(Conn, SocketAddr)> = None;
    let target = format!("/event?client={client}");
    let timeout = Duration::from_millis((s.connect_timeout_s * 1000.0).round() as u64);
    loop {
        let entry = lookup(&ctx, &registry, client);
        if entry.is_none() {
            conn = None; // the address is forgotten: so is the connection to it
        }
        if let Some((stored, _)) = entry {
            for event in feed.pending(client) {
                let Stored::Full(addr) = stored else {
                    feed.ack(client, event.id); // nothing to call: the event is lost
                    continue;
                };
                if conn
                    .as_ref()
                    .is_none_or(|(c, to)| c.is_closed() || *to != addr)
                {
                    conn = None;
                    let attempt = tokio::time::timeout(timeout, ctx.connect(addr)).await;
                    let opened = match attempt {
                        Ok(Ok(stream)) => {
                            Conn::over(stream, ctx.scenario().http.headers).await.ok()
                        }
                        _ => None,
                    };
                    ctx.count_callback(opened.is_some());
                    match opened {
                        Some(c) => conn = Some((c, addr)),
                        None => {
                            // nobody answered (NAT, firewall, a browser, an unused address):
                            // the events waiting for this address are lost
                            if let Some(last) = feed.pending(client).last() {
                                feed.ack(client, last.id);
                            }
                            break;
                        }
                    }
                }
                let Some((c, _)) = conn.as_mut() else { break };
                let extra: &[(&str, &str)] = if s.keep_alive {
                    &[]
                } else {
                    &[("connection", "close")]
                };
                let payload = feed.encode(&event);
                ctx.work(Work::Request).await; // a core writes the POST, reads the answer
                let delivered = match c
                    .send(
                        Method::POST,
                        &target,
                        extra,
                        Some(("application/json", payload)),
                    )
                    .await
                {
                    Ok(resp) => resp.into_body().collect().await.is_ok(),
                    Err(_) => false,
                };
                if !delivered || !s.keep_alive {
                    conn = None;
                }
                // whoever answered at the address has it: the server cannot tell who that was
                feed.ack(client, event.id);
            }
        }
        let expiry = entry.map(|(_, at)| at);
        tokio::select! {
            biased;
            _ = ctx.closing() => return,
            _ = feed.changed(client) => {}
            _ = sleep_until_ms(expiry) => {}
        }
    }
}

/// Sleep until simulated time `at` ms, or forever for `None`.
async fn sleep_until_ms(at: Option<u64>) {
    match at {
        Some(at) => tokio::time::sleep(Duration::from_millis(at.saturating_sub(now_ms()))).await,
        None => std::future::pending().await,
    }
}

/// Listen (unless unreachable), register, register again every `register_every_s` and on
/// coming back online; answer the server's `POST /event`s.
async fn client(ctx: ClientCtx, s: ServerCallbackSettings) -> io::Result<()> {
    let behind_nat = ctx.rng_for(3).random::<f64>() < s.nat_fraction;
    let listener = if behind_nat {
        None
    } else {
        // a browser cannot listen: it is unreachable like a client behind NAT
        ctx.listen(ctx.own_port()).await.ok()
    };
    match listener {
        Some(listener) => {
            tokio::task::spawn_local(answer(ctx.clone(), listener));
        }
        None => ctx.unreachable(),
    }
    let every = Duration::from_millis((s.register_every_s * 1000.0).round() as u64);
    let mut upstream = false;
    loop {
        let mut conn = match Conn::connect(&ctx).await {
            Ok(c) => c,
            Err(_) if ctx.is_closing() => return Ok(()),
            Err(e) => return Err(e),
        };
        // the address the client has now (it connects only while it has one; a moment
        // without one — a handover — passes)
        let Some(addr) = ctx.public_addr() else {
            drop(conn);
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        let body = Bytes::from(addr.to_string());
        let target = format!("/register?client={}", ctx.id());
        let registered = async {
            let resp = conn
                .send(Method::POST, &target, &[], Some(("text/plain", body)))
                .await?;
            let status = resp.status();
            resp.into_body().collect().await.map_err(io::Error::other)?;
            Ok::<_, io::Error>(status)
        }
        .await;
        drop(conn);
        match registered {
            Ok(StatusCode::NO_CONTENT) => {}
            Ok(status) => return Err(io::Error::other(format!("registration answered {status}"))),
            // the connection broke (the client moved or left): register when it can
            Err(_) => {
                if ctx.is_closing() {
                    return Ok(());
                }
                ctx.backoff().await?;
                continue;
            }
        }
        if !upstream {
            super::http::spawn_upstream(&ctx);
            upstream = true;
        }
        // again after `every`, or as soon as the client comes back from an absence
        let back = ctx.next_return();
        let wait = match back {
            Some(at) => every.min(Duration::from_millis(at.saturating_sub(now_ms()))),
            None => every,
        };
        tokio::select! {
            biased;
            _ = ctx.closing() => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Answer the `POST /event`s of whoever connects to this client's port; a connection lasts
/// only as long as the client's address: when it changes or the client leaves, its
/// connections are gone.
async fn answer(ctx: ClientCtx, listener: crate::sim::Listener) {
    loop {
        let stream = tokio::select! {
            biased;
            _ = ctx.closing() => return,
            s = listener.accept() => match s {
                Ok(s) => s,
                Err(_) => return,
            },
        };
        let ctx = ctx.clone();
        if ctx.public_addr().is_none() {
            continue; // accepted in a handover: the address it came to is gone
        }
        let ends = ctx.address_ends_at();
        tokio::task::spawn_local(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let ctx = ctx.clone();
                async move {
                    let body = http::body_bytes(req).await;
                    let status = match ctx.deliver(&body) {
                        Ok(_) => StatusCode::NO_CONTENT,
                        Err(_) => StatusCode::BAD_REQUEST,
                    };
                    let headers = crate::protocol::http_heads::response(
                        &ctx.scenario().http.headers,
                        status,
                        &[],
                        None,
                    );
                    let mut resp = Response::new(Full::new(Bytes::new()));
                    *resp.status_mut() = status;
                    *resp.headers_mut() = headers;
                    Ok::<_, Infallible>(resp)
                }
            });
            let serve = hyper::server::conn::http1::Builder::new()
                .auto_date_header(false)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = serve => {}
                _ = sleep_until_ms(ends) => {}
            }
        });
    }
}
