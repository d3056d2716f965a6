//! The extension point: one trait, one file per strategy, one const registry.
//!
//! A strategy is a type implementing [`Strategy`]: an id, a one-line summary, the check of its
//! own `[id]` settings table, and two async functions — the server (run once on the server host)
//! and the client (run once per simulated client). Both reach the network, the event feed, their
//! settings and the recorder only through their context ([`ServerCtx`], [`ClientCtx`]), which is
//! why a strategy defined outside this crate runs through the same harness
//! ([`crate::sim::run`] takes any `&dyn Strategy`).
//!
//! # What a strategy must do
//! - **Server**: bind with [`ServerCtx::listen`] (every accepted stream is metered), take
//!   events from [`ServerCtx::feed`] and send them; call [`crate::Recorder::request`] /
//!   [`crate::Recorder::response`] for each request it answers (through [`ServerCtx::record`]).
//! - **Client**: connect with [`ClientCtx::connect`] (metered, with the TCP-handshake
//!   compensation), and hand every payload it parses to [`ClientCtx::deliver`].
//! - **Determinism**: no wall clock (`tokio::time` and [`crate::metrics::now_ms`] are
//!   simulated), `biased;` in every `tokio::select!`, randomness only from [`ClientCtx::rng`].
//!
//! # Adding a strategy
//! Write `src/strategy/<name>.rs` with a unit struct implementing [`Strategy`], add
//! `mod <name>;`, `pub use <name>::Name;` and `&Name` to [`ALL`] below. The registry-wide
//! tests (`tests/registry.rs`) then check it delivers every event exactly once and
//! deterministically. The full checklist is in `CONTRIBUTING.md`.

pub mod http;
mod long_polling;
pub mod polling;
mod server_callback;
mod short_polling;
mod sse;
mod websocket;

use std::cell::RefMut;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use std::cell::Cell;
use tokio::sync::Notify;

pub use long_polling::LongPolling;
pub use server_callback::ServerCallback;
pub use short_polling::ShortPolling;
pub use sse::Sse;
pub use websocket::WebSocket;

use crate::metrics::{now_ms, Recorder, RecorderHandle};
use crate::scenario::Scenario;
use crate::sim::{Feed, Listener, Metered};

/// A boxed future that stays on the current thread (turmoil runs everything on one).
pub type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// Every built-in strategy, in the order tables and charts list them.
pub const ALL: &[&dyn Strategy] = &[
    &ShortPolling,
    &LongPolling,
    &WebSocket,
    &Sse,
    &ServerCallback,
];

/// Look a strategy up by id.
pub fn find(id: &str) -> Option<&'static dyn Strategy> {
    ALL.iter().copied().find(|s| s.id() == id)
}

/// A way of getting events from the server to its clients.
pub trait Strategy: Sync {
    /// Kebab-case id used in scenario files, CSV and the CLI, e.g. `long-polling`.
    fn id(&self) -> &'static str;

    /// One line for `realtime-lab list`.
    fn summary(&self) -> &'static str;

    /// Check this strategy's `[id]` table before anything runs. The default accepts only an
    /// empty table; a strategy with settings parses them here (see [`Settings::parse`]).
    fn check(&self, settings: &Settings, _scenario: &Scenario) -> Result<(), SettingsError> {
        match settings.table.keys().next() {
            None => Ok(()),
            Some(key) => Err(SettingsError {
                field: key.clone(),
                message: format!("unknown key; [{}] has no settings", settings.id),
            }),
        }
    }

    /// The longest period of the strategy (a poll interval, a hold timeout): the run goes on
    /// this long plus 10 s after the last event, to deliver what is in flight.
    fn longest_period(&self, settings: &Settings) -> Duration;

    /// What theory predicts for this strategy under `scenario` (see [`crate::model`]); `None`
    /// if there is no closed form.
    fn model(
        &self,
        _scenario: &Scenario,
        _settings: &Settings,
    ) -> Option<crate::model::Prediction> {
        None
    }

    /// Bound the per-client mailboxes to this many events (an SSE replay history); `None`
    /// keeps every event until the client acknowledges it.
    fn history(&self, _settings: &Settings) -> Option<usize> {
        None
    }

    /// The server: runs on the server host for the whole simulation.
    fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<turmoil::Result>;

    /// One client: runs on a client pool host from the client's start time.
    fn client(&self, ctx: ClientCtx) -> LocalBoxFuture<turmoil::Result>;
}

/// A strategy's `[id]` table from the scenario file.
#[derive(Debug, Clone)]
pub struct Settings {
    id: String,
    table: toml::Table,
}

/// A problem with one field of a strategy's settings.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct SettingsError {
    /// The field, within the strategy's table.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl Settings {
    /// The table of strategy `id`.
    pub fn new(id: &str, table: toml::Table) -> Settings {
        Settings {
            id: id.to_string(),
            table,
        }
    }

    /// Deserialize into the strategy's settings type (use `#[serde(deny_unknown_fields)]` and
    /// defaults on it), naming the field on error.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, SettingsError> {
        serde_path_to_error::deserialize(toml::Value::Table(self.table.clone())).map_err(|e| {
            let message = e.inner().message().to_string();
            let path = e.path().to_string();
            let unknown = message
                .strip_prefix("unknown field `")
                .and_then(|r| r.split('`').next())
                .filter(|_| path == ".")
                .map(str::to_string);
            let field = unknown.unwrap_or(path);
            SettingsError { field, message }
        })
    }
}

/// Reject a number of seconds outside `[min, max]` or finer than 1 ms.
pub fn check_seconds(field: &str, v: f64, min: f64, max: f64) -> Result<(), SettingsError> {
    if !(v.is_finite() && v >= min && v <= max) || (v * 1000.0).fract() != 0.0 {
        return Err(SettingsError {
            field: field.into(),
            message: format!(
                "{v} is not allowed; use {min} to {max} seconds, in whole milliseconds"
            ),
        });
    }
    Ok(())
}

/// What a strategy's server may use.
#[derive(Clone)]
pub struct ServerCtx {
    pub(crate) feed: Feed,
    pub(crate) rec: RecorderHandle,
    pub(crate) scenario: Rc<Scenario>,
    pub(crate) settings: Rc<Settings>,
    pub(crate) closing: Rc<Closing>,
}

/// The end-of-run signal the harness raises once (see [`ServerCtx::closing`]).
///
/// Not a `tokio::sync::watch`: its waiters are spread over shards chosen by tokio's
/// thread-local RNG, so tasks would wake in an order that differs from run to run.
#[derive(Default)]
pub struct Closing {
    raised: Cell<bool>,
    notify: Notify,
}

impl Closing {
    /// Raise the signal: every waiter wakes.
    pub fn raise(&self) {
        self.raised.set(true);
        self.notify.notify_waiters();
    }

    /// Whether the signal is raised.
    pub fn is_raised(&self) -> bool {
        self.raised.get()
    }
}

/// Resolves once the run is over and connections should be closed.
async fn wait_closing(closing: Rc<Closing>) {
    let notified = closing.notify.notified();
    tokio::pin!(notified);
    notified.as_mut().enable(); // registered before the check: no wake-up can be missed
    if !closing.is_raised() {
        notified.await;
    }
}

impl ServerCtx {
    /// The port every strategy's server listens on.
    pub const PORT: u16 = 80;

    /// Bind the server's listening socket; accepted streams are metered.
    pub async fn listen(&self) -> io::Result<Listener> {
        Listener::bind(Self::PORT, self.rec.clone()).await
    }

    /// The events waiting for each client.
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// Record something (`ctx.record().request()`).
    pub fn record(&self) -> RefMut<'_, Recorder> {
        self.rec.borrow_mut()
    }

    /// The scenario being run.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// This strategy's settings table.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Resolves when the run is over: every event is delivered (or the grace period passed).
    /// The server should then close its connections (a WebSocket close handshake, the end of
    /// an event stream); the harness keeps the simulation going briefly so that can happen.
    pub fn closing(&self) -> impl Future<Output = ()> + 'static {
        wait_closing(self.closing.clone())
    }

    /// Open a metered connection from the server to a client's address (a callback),
    /// compensating turmoil's cheap connect like [`ClientCtx::connect`].
    pub async fn connect(&self, addr: std::net::SocketAddr) -> io::Result<Metered> {
        let stream = turmoil::net::TcpStream::connect(addr).await?;
        tokio::time::sleep(Duration::from_millis(
            self.scenario.network.latency_ms.min_ms,
        ))
        .await;
        Ok(Metered::server_outbound(stream, self.rec.clone()))
    }

    /// Hold `client`'s address until the returned guard is dropped (a request in progress, an
    /// open connection, a registration): this is what `addresses_retained_peak`,
    /// `address_seconds` and `registry_bytes_peak` measure.
    pub fn hold_address(&self, client: usize) -> AddressHold {
        self.rec.borrow_mut().address_hold(client, 1);
        AddressHold {
            rec: self.rec.clone(),
            client,
        }
    }

    /// Whether the run is closing now.
    pub fn is_closing(&self) -> bool {
        self.closing.is_raised()
    }
}

/// The server holds a client's address while this lives (see [`ServerCtx::hold_address`]).
pub struct AddressHold {
    rec: RecorderHandle,
    client: usize,
}

impl Drop for AddressHold {
    fn drop(&mut self) {
        self.rec.borrow_mut().address_hold(self.client, -1);
    }
}

/// What one client may use.
#[derive(Clone)]
pub struct ClientCtx {
    pub(crate) id: usize,
    pub(crate) rec: RecorderHandle,
    pub(crate) scenario: Rc<Scenario>,
    pub(crate) settings: Rc<Settings>,
    pub(crate) closing: Rc<Closing>,
    pub(crate) host: Rc<str>,
    pub(crate) slot: u16,
}

impl ClientCtx {
    /// This client's index, `0..clients.count`.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The name of the simulated host this client runs on (`pool-3`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A port no other client on this host uses (for a client that listens).
    pub fn own_port(&self) -> u16 {
        1024 + self.slot
    }

    /// Listen on `port` of this client's host (a callback endpoint); accepted streams are
    /// metered, their writes counted as upstream.
    pub async fn listen(&self, port: u16) -> io::Result<Listener> {
        Listener::bind_client(port, self.rec.clone()).await
    }

    /// Open a metered TCP connection to the server.
    ///
    /// turmoil's connect costs one one-way delay d (its SYN-ACK is instant), so a request sent
    /// right after it reaches the server at 2d; real TCP needs SYN, SYN-ACK and ACK first, so the
    /// first request arrives at 3d. This waits one more one-way delay to make up the difference.
    pub async fn connect(&self) -> io::Result<Metered> {
        let stream = turmoil::net::TcpStream::connect(("server", ServerCtx::PORT)).await?;
        let lat = self.scenario.network.latency_ms;
        let extra = if lat.is_constant() {
            lat.min_ms
        } else {
            use rand::Rng;
            let mut rng = self.rng_for(now_ms());
            rng.random_range(lat.min_ms..=lat.max_ms)
        };
        tokio::time::sleep(Duration::from_millis(extra)).await;
        Ok(Metered::client(stream, self.rec.clone()))
    }

    /// Hand over one event payload parsed from the wire; returns its id.
    pub fn deliver(&self, payload: &[u8]) -> io::Result<u64> {
        let (id, event_type, created) =
            crate::protocol::payload::decode(payload).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "client {}: not an event payload: {:?}",
                        self.id,
                        String::from_utf8_lossy(payload)
                    ),
                )
            })?;
        self.rec
            .borrow_mut()
            .delivered(self.id, id, event_type, created);
        Ok(id)
    }

    /// Record something.
    pub fn record(&self) -> RefMut<'_, Recorder> {
        self.rec.borrow_mut()
    }

    /// The scenario being run.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// This strategy's settings table.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Resolves when the run is over (see [`ServerCtx::closing`]); a client should stop.
    pub fn closing(&self) -> impl Future<Output = ()> + 'static {
        wait_closing(self.closing.clone())
    }

    /// A random generator for this client, seeded from the scenario seed and the client id.
    pub fn rng(&self) -> ChaCha8Rng {
        self.rng_for(0)
    }

    /// Independent random streams of this client, one per `salt`.
    pub(crate) fn rng_for(&self, salt: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.scenario.seed);
        rng.set_stream(((self.id as u64) << 32) ^ salt);
        rng
    }
}
