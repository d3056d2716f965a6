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
use crate::scenario::Scenario;
use crate::scenario::StoreAddresses;
use crate::sim::{
    ClientCtx, LocalBoxFuture, ServerCtx, Settings, SettingsError, Strategy, StrategyResult, Work,
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
    /// Share of clients behind NAT: they register an address the server cannot reach.
    #[serde(default)]
    pub nat_fraction: f64,
}

fn yes() -> bool {
    true
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
        if !(0.0..=1.0).contains(&s.nat_fraction) {
            return Err(SettingsError {
                field: "nat_fraction".into(),
                message: format!("{} is not allowed; use a share from 0 to 1", s.nat_fraction),
            });
        }
        Ok(())
    }

    fn longest_period(&self, _: &Settings) -> Duration {
        Duration::ZERO
    }

    fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<StrategyResult> {
        Box::pin(async move {
            let s: ServerCallbackSettings = ctx.settings().parse().map_err(|e| e.message)?;
            let handler: Handler = Rc::new(move |ctx, req| Box::pin(register(ctx, s.clone(), req)));
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

/// `POST /register?client=N` with the client's address: store it, start calling back.
async fn register(
    ctx: ServerCtx,
    s: ServerCallbackSettings,
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
    tokio::task::spawn_local(call_back(ctx.clone(), s, client, stored));
    ctx.count_response(false);
    respond(&ctx, StatusCode::NO_CONTENT, &[], None)
}

/// Deliver `client`'s events by calling it back, until the run closes.
async fn call_back(ctx: ServerCtx, s: ServerCallbackSettings, client: usize, stored: Stored) {
    let _address = ctx.hold_address(client); // for as long as the client is registered
    let _entry = ctx.registry_entry(); // its place in server memory
    let feed = ctx.feed().clone();
    let mut conn: Option<Conn> = None;
    let target = format!("/event?client={client}");
    loop {
        for event in feed.pending(client) {
            let Stored::Full(addr) = stored else {
                feed.ack(client, event.id); // nothing to call: the event is lost
                continue;
            };
            if conn.as_ref().is_none_or(Conn::is_closed) {
                conn = match ctx.connect(addr).await {
                    Ok(stream) => Conn::over(stream, ctx.scenario().http.headers).await.ok(),
                    Err(_) => None, // unreachable (NAT, firewall): the event is lost
                };
            }
            let delivered = match conn.as_mut() {
                Some(c) => {
                    let extra: &[(&str, &str)] = if s.keep_alive {
                        &[]
                    } else {
                        &[("connection", "close")]
                    };
                    let payload = feed.encode(&event);
                    ctx.work(Work::Request).await; // a core writes the POST, reads the answer
                    match c
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
                    }
                }
                None => false,
            };
            if !delivered || !s.keep_alive {
                conn = None;
            }
            feed.ack(client, event.id);
        }
        tokio::select! {
            biased;
            _ = ctx.closing() => return,
            _ = feed.changed(client) => {}
        }
    }
}

/// Listen (unless behind NAT), register, then answer the server's `POST /event`s.
async fn client(ctx: ClientCtx, s: ServerCallbackSettings) -> io::Result<()> {
    let behind_nat = ctx.rng_for(3).random::<f64>() < s.nat_fraction;
    let port = ctx.own_port();
    let listener = if behind_nat {
        None
    } else {
        Some(ctx.listen(port).await?)
    };
    let ip = turmoil::lookup(ctx.host());
    let mut conn = Conn::connect(&ctx).await?;
    let body = Bytes::from(SocketAddr::new(ip, port).to_string());
    let target = format!("/register?client={}", ctx.id());
    let resp = conn
        .send(Method::POST, &target, &[], Some(("text/plain", body)))
        .await?;
    let status = resp.status();
    resp.into_body().collect().await.map_err(io::Error::other)?;
    if status != StatusCode::NO_CONTENT {
        return Err(io::Error::other(format!("registration answered {status}")));
    }
    drop(conn);
    super::http::spawn_upstream(&ctx);
    let Some(listener) = listener else {
        ctx.closing().await; // nobody can reach us
        return Ok(());
    };
    loop {
        let stream = tokio::select! {
            biased;
            _ = ctx.closing() => return Ok(()),
            s = listener.accept() => s?,
        };
        let ctx = ctx.clone();
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
            let _ = hyper::server::conn::http1::Builder::new()
                .auto_date_header(false)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
