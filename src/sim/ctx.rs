//! The contexts a strategy's server and clients work through: the network (metered), the
//! clock, the event feed, the settings and the measurements. They are cheap to clone (shared
//! handles), because the simulator may call a host's closure again (a restarted host).
//!
//! Every measurement goes through a method here that counts one thing and returns: strategy
//! code never holds a borrow of the recorder, so nothing can be held across an `.await`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::Notify;

pub(crate) use super::net::one_way_delay;
use super::settings::Settings;
use super::{Feed, Listener, Metered};
use crate::metrics::RecorderHandle;
use crate::scenario::Scenario;
use crate::server::Work;

/// The end-of-run signal the harness raises once (see [`Run::closing`]).
///
/// Not a `tokio::sync::watch`: its waiters are spread over shards chosen by tokio's
/// thread-local RNG, so tasks would wake in an order that differs from run to run.
#[derive(Default)]
pub(crate) struct Closing {
    raised: Cell<bool>,
    /// The server is going away for good (a real server shut down), not at a run's end.
    away: Cell<bool>,
    notify: Notify,
}

impl Closing {
    /// Raise the signal: every waiter wakes.
    pub(crate) fn raise(&self) {
        self.raised.set(true);
        self.notify.notify_waiters();
    }

    /// Raise the signal because the server is shutting down for good.
    pub(crate) fn raise_going_away(&self) {
        self.away.set(true);
        self.raise();
    }

    /// Whether the signal is raised.
    pub(crate) fn is_raised(&self) -> bool {
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

/// What the server and every client of one run share: the scenario, the strategy's settings
/// and the end-of-run signal. Both contexts dereference to it, so `ctx.scenario()`,
/// `ctx.settings()` and `ctx.closing()` work on either.
pub struct Run {
    pub(crate) scenario: Rc<Scenario>,
    pub(crate) settings: Rc<Settings>,
    pub(crate) closing: Rc<Closing>,
    /// The run's faults, if the scenario has any.
    pub(crate) faults: Option<Rc<super::faults::Faults>>,
    /// The clients' reconnect policy (the strategy's override, `[reconnect]`, or the
    /// strategy's own default).
    pub(crate) policy: crate::scenario::reconnect::Reconnect,
    /// The client pool hosts (client `i` runs on `pool-{i % pool_hosts}`).
    pub(crate) pool_hosts: usize,
    /// The simulated network, or real sockets.
    pub(crate) world: super::net::World,
}

impl Run {
    /// The scenario being run.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// This strategy's settings table.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Resolves when the run is over: every event is delivered (or the grace period passed).
    /// A server should then close its connections (a WebSocket close handshake, the end of
    /// an event stream) — the harness keeps the simulation going briefly so that can happen —
    /// and a client should stop.
    pub fn closing(&self) -> impl Future<Output = ()> + 'static {
        wait_closing(self.closing.clone())
    }

    /// Whether the run is closing now.
    pub fn is_closing(&self) -> bool {
        self.closing.is_raised()
    }

    /// Whether the server is closing because it is going away for good (`realtime-lab serve`
    /// stopped with Ctrl-C), rather than because a measured run is over: a WebSocket server
    /// then closes with 1001 (Going Away) instead of 1000.
    pub fn is_going_away(&self) -> bool {
        self.closing.away.get()
    }
}

/// What a strategy's server may use (and, through [`Run`], the scenario, its settings and
/// the end of the run).
#[derive(Clone)]
pub struct ServerCtx {
    pub(crate) feed: Feed,
    pub(crate) rec: RecorderHandle,
    pub(crate) run: Rc<Run>,
}

impl std::ops::Deref for ServerCtx {
    type Target = Run;
    fn deref(&self) -> &Run {
        &self.run
    }
}

impl ServerCtx {
    /// The port every strategy's server listens on.
    pub const PORT: u16 = 80;

    /// Bind the server's listening socket; accepted streams are metered (bytes, connections,
    /// packets).
    pub async fn listen(&self) -> io::Result<Listener> {
        Listener::bind(
            &self.world,
            Self::PORT,
            self.rec.clone(),
            self.faults.clone(),
        )
        .await
    }

    /// The events waiting for each client.
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// The server's own random generator, seeded from the scenario seed (a stream apart from
    /// every client's and the publisher's). Each call starts it afresh: keep it.
    pub fn rng(&self) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.scenario.seed);
        rng.set_stream(0xffff_fffe_0000_0000);
        rng
    }

    /// Count one request received and charge its work ([`Work::Request`]: parse it, write
    /// its answer). The shared HTTP server ([`crate::strategies::http::serve`]) counts every
    /// request it parses; call this only for requests your own code parses (a WebSocket
    /// upgrade read by a WebSocket library, say). Uncounted requests are missing from
    /// `requests_per_s`, `server_cpu_s` and the `server_load` chart.
    ///
    /// Await the result before answering: on a server with `[server] cores` it resolves when
    /// a core has done the work (at once otherwise).
    pub fn count_request(&self) -> WorkDone {
        self.rec.borrow_mut().request();
        self.work(Work::Request)
    }

    /// Charge one job of server work (its cost is in `[server.cost]`) and return a future
    /// that resolves when a core has done it: at once on a server without `[server] cores`;
    /// otherwise after the jobs queued before it, on the tick during which it completes.
    /// Await it before sending what the work produces (a frame, an SSE record); drop it for
    /// work nothing waits on (a frame read). Bytes read and written are charged by the
    /// stream itself (`byte_ns`), connections by the listener (`connect_us`).
    pub fn work(&self, work: Work) -> WorkDone {
        let now = crate::metrics::now_ms();
        let mut rec = self.rec.borrow_mut();
        let cost = rec.server.cost_of(work);
        let done = rec.server.run(now, cost, true);
        WorkDone::until(rec.server.departure(now, done).map(|tick| tick - now))
    }

    /// Count a long-lived stream (a WebSocket session, an SSE stream) as open at the server
    /// until the returned guard is dropped: its memory (`[server.memory] stream_bytes`).
    pub fn hold_stream(&self) -> StreamHold {
        self.rec.borrow_mut().streams(1);
        StreamHold {
            rec: self.rec.clone(),
        }
    }

    /// Count a callback-registry entry until the returned guard is dropped: its memory
    /// (`[server.memory] registry_entry_bytes`).
    pub fn registry_entry(&self) -> RegistryEntry {
        self.rec.borrow_mut().registry(1);
        RegistryEntry {
            rec: self.rec.clone(),
        }
    }

    /// Count one answer sent; `empty` when it carried no event (a `204`, a long-poll timeout).
    /// Every strategy counts its own answers (what an "answer" is depends on the strategy:
    /// a poll response, a `101` upgrade, the end of an event stream).
    pub fn count_response(&self, empty: bool) {
        self.rec.borrow_mut().response(empty);
    }

    /// Count a request as held at the server until the returned guard is dropped (a parked
    /// long poll): this is `parked_requests`.
    pub fn park(&self) -> Parked {
        self.rec.borrow_mut().parked(1);
        Parked {
            rec: self.rec.clone(),
        }
    }

    /// Count an upstream (client → server) message created at `created_ms` (the time in its
    /// payload) as received now: `upstream_messages`, `upstream_latency_mean_ms`.
    pub fn upstream_received(&self, created_ms: u64) {
        self.rec.borrow_mut().upstream_received(created_ms);
    }

    /// Open a metered connection from the server to a client's address (a callback),
    /// compensating the simulator's cheap connect like [`ClientCtx::connect`].
    ///
    /// A client's public address ([`ClientCtx::public_addr`]) reaches whoever holds it now
    /// (addresses change and are reused: `[clients] address_change_per_hour`). When nobody
    /// answers there — the address is unused, or its holder is behind NAT, a firewall or a
    /// browser and never listens — the SYN is dropped and this fails only when TCP gives up
    /// after its SYN retries (Linux: 127 s): wrap it in your own connect timeout.
    pub async fn connect(&self, addr: std::net::SocketAddr) -> io::Result<Metered> {
        if matches!(self.world, super::net::World::Real(_)) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "server callbacks need the simulator's addresses",
            ));
        }
        let started = crate::metrics::now_ms();
        let addr = match crate::addresses::index_of(addr) {
            None => Some(addr),
            Some(a) => self.route(a),
        };
        let dropped = || async {
            tokio::time::sleep(SYN_GIVE_UP).await;
            Err::<Metered, _>(io::Error::new(
                io::ErrorKind::TimedOut,
                "nobody answered at that address",
            ))
        };
        let Some(addr) = addr else {
            return dropped().await;
        };
        if self.scenario.server.max_connections.is_some() {
            // a socket is a file descriptor too: beyond the limit, connect fails (EMFILE)
            let mut rec = self.rec.borrow_mut();
            let open = rec.open_connection_count();
            if !rec.server.admit_outbound(crate::metrics::now_ms(), open) {
                return Err(io::Error::other(
                    "too many open files: the server's max_connections is reached",
                ));
            }
        }
        self.work(Work::Connect).await;
        let stream = match super::net::Stream::connect_addr(&self.world, addr).await {
            Ok(stream) => stream,
            // nothing listens there: a NAT or firewall drops the SYN without a word
            Err(_) => return dropped().await,
        };
        if matches!(self.world, super::net::World::Sim) {
            // the server has no per-client random stream: the constant part of the delay
            tokio::time::sleep(Duration::from_millis(
                self.scenario.network.latency_ms.min_ms,
            ))
            .await;
        }
        Ok(Metered::server_outbound(stream, self.rec.clone(), started))
    }

    /// Where public address `a` leads now: the simulated host and port of the client that
    /// holds it, if one does.
    fn route(&self, a: u32) -> Option<std::net::SocketAddr> {
        let now = crate::metrics::now_ms();
        let n = self.scenario.clients.count as usize;
        let holder = match self.faults.as_ref().and_then(|f| f.plan.as_ref()) {
            Some(plan) => plan.holder(a, now),
            None => ((a as usize) < n).then_some(a as usize),
        }?;
        let k = self.pool_hosts;
        let ip = turmoil::lookup(format!("pool-{}", holder % k));
        Some(std::net::SocketAddr::new(ip, 1024 + (holder / k) as u16))
    }

    /// The callback registry now keeps `stored` for `client` (`None`: the entry expired, or
    /// what is kept is no address): for `stale_registry_entries_peak`.
    pub fn registered(&self, client: usize, stored: Option<std::net::SocketAddr>) {
        let a = stored.and_then(crate::addresses::index_of);
        self.rec.borrow_mut().registration(client, a);
    }

    /// Count a callback attempt (`callbacks`); `reached`: its connect succeeded (otherwise
    /// `callbacks_unreachable`).
    pub fn count_callback(&self, reached: bool) {
        self.rec.borrow_mut().callback(reached);
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
}

/// Resolves when a job of server work is done (see [`ServerCtx::work`]).
#[must_use = "await it before sending what the work produces, or drop it explicitly"]
pub struct WorkDone(Option<std::pin::Pin<Box<tokio::time::Sleep>>>);

impl WorkDone {
    fn until(wait_ms: Option<u64>) -> WorkDone {
        WorkDone(wait_ms.map(|ms| Box::pin(tokio::time::sleep(Duration::from_millis(ms)))))
    }
}

impl Future for WorkDone {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        match self.0.as_mut() {
            None => std::task::Poll::Ready(()),
            Some(sleep) => sleep.as_mut().poll(cx),
        }
    }
}

/// A long-lived stream open at the server while this lives (see [`ServerCtx::hold_stream`]).
pub struct StreamHold {
    rec: RecorderHandle,
}

impl Drop for StreamHold {
    fn drop(&mut self) {
        self.rec.borrow_mut().streams(-1);
    }
}

/// A callback-registry entry while this lives (see [`ServerCtx::registry_entry`]).
pub struct RegistryEntry {
    rec: RecorderHandle,
}

impl Drop for RegistryEntry {
    fn drop(&mut self) {
        self.rec.borrow_mut().registry(-1);
    }
}

/// A request held at the server while this lives (see [`ServerCtx::park`]).
pub struct Parked {
    rec: RecorderHandle,
}

impl Drop for Parked {
    fn drop(&mut self) {
        self.rec.borrow_mut().parked(-1);
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

/// What one client may use (and, through [`Run`], the scenario, its settings and the end of
/// the run).
#[derive(Clone)]
pub struct ClientCtx {
    pub(crate) id: usize,
    pub(crate) rec: RecorderHandle,
    pub(crate) run: Rc<Run>,
    pub(crate) host: Rc<str>,
    pub(crate) slot: u16,
    /// The harness's own random stream for this client (connect delays), shared by clones.
    pub(crate) harness_rng: Rc<RefCell<ChaCha8Rng>>,
    /// Where this client is in its reconnect policy, shared by clones.
    pub(crate) backoff: Rc<Backoff>,
}

/// A client's place in its reconnect policy.
#[derive(Default)]
pub(crate) struct Backoff {
    /// Retries since the last successful connect.
    attempt: Cell<u32>,
    /// The last wait.
    previous: Cell<Duration>,
    /// An `EventSource`'s reconnection time, once the server's `retry:` has set it.
    retry_ms: Cell<Option<u64>>,
}

/// How long a refused client waits before it tries to connect again by default (`[reconnect]
/// policy = "fixed"`): 1 s, the initial retransmission timeout of a TCP SYN (RFC 6298 §2;
/// Linux waits 1 s before resending an unanswered SYN).
pub const REFUSED_RETRY: Duration = Duration::from_secs(1);

/// How long an unanswered connect takes to fail: Linux resends a SYN 6 times
/// (`tcp_syn_retries`), after 1, 2, 4, 8, 16, 32 s, and gives up 64 s after the last: 127 s.
pub const SYN_GIVE_UP: Duration = Duration::from_secs(127);

/// The error of a client whose `[reconnect]` policy gave up connecting: its run ends quietly
/// (`clients_gave_up`), its events are lost; not a failure of the run.
#[derive(Debug)]
pub struct GaveUp;

impl std::fmt::Display for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the reconnect policy gave up connecting")
    }
}

impl std::error::Error for GaveUp {}

/// Whether `e` (or the I/O error it is) says the client gave up connecting ([`GaveUp`]).
pub fn gave_up(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<GaveUp>().is_some()
        || e.downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.downcast_ref::<GaveUp>().is_some())
}

/// Salts at or above this are the harness's; [`ClientCtx::rng_for`] takes salts below it.
const HARNESS_SALTS: u64 = 1 << 31;

/// The random stream of client `id`, salt `salt`: streams never overlap between clients,
/// salts, the harness and the publisher (which uses stream `u64::MAX`).
pub(crate) fn client_stream(seed: u64, id: usize, salt: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((id as u64) << 32) | (salt & 0xffff_ffff));
    rng
}

impl std::ops::Deref for ClientCtx {
    type Target = Run;
    fn deref(&self) -> &Run {
        &self.run
    }
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
    /// metered, their writes counted as upstream. Fails with `Unsupported` for `[clients]
    /// kind = "browser"`: a web page has no API to accept a connection.
    pub async fn listen(&self, port: u16) -> io::Result<Listener> {
        if self.scenario.clients.kind == crate::scenario::ClientKind::Browser {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a browser cannot accept connections: a web page has no API to listen on a port",
            ));
        }
        Listener::bind_client(&self.world, port, self.rec.clone(), self.id, &self.host).await
    }

    /// Report that nobody can open a connection to this client (it is behind NAT or a
    /// firewall, or a browser): `clients_unreachable`.
    pub fn unreachable(&self) {
        self.rec.borrow_mut().client_unreachable();
    }

    /// This client's public address now: what a server that sees its connections would see
    /// and could store (`None` while it is away). Addresses change and are reused by other
    /// clients (`[clients] address_change_per_hour`, `address_pool`); without churn or
    /// changes, client `i` keeps pool address `i`. Connecting to it from the server
    /// ([`ServerCtx::connect`]) reaches whoever holds it then, on its [`ClientCtx::own_port`].
    pub fn public_addr(&self) -> Option<std::net::SocketAddr> {
        let now = crate::metrics::now_ms();
        match self.faults.as_ref().and_then(|f| f.plan.as_ref()) {
            Some(plan) => plan.address_of(self.id, now),
            None => Some(self.id as u32),
        }
        .map(crate::addresses::public)
    }

    /// When this client's current address goes away (it changes, or the client leaves),
    /// if it does; the ms of simulated time.
    pub fn address_ends_at(&self) -> Option<u64> {
        let now = crate::metrics::now_ms();
        let plan = self.faults.as_ref().and_then(|f| f.plan.as_ref())?;
        plan.session_at(self.id, now)
            .map(|s| s.to)
            .filter(|&t| t != u64::MAX)
    }

    /// When this client next comes back online after an absence (churn), if it does: the
    /// moment a real app would know it has just (re)started.
    pub fn next_return(&self) -> Option<u64> {
        let now = crate::metrics::now_ms();
        let plan = self.faults.as_ref().and_then(|f| f.plan.as_ref())?;
        plan.sessions(self.id)
            .iter()
            .find(|s| s.from > now && s.after_absence)
            .map(|s| s.from)
    }

    /// Open a metered TCP connection to the server, trying again after the reconnect
    /// policy's wait while attempts fail.
    ///
    /// The simulator's connect costs one one-way delay d (its SYN-ACK is instant), so a
    /// request sent right after it would reach the server at 2d; real TCP needs SYN, SYN-ACK
    /// and ACK first, so the first request arrives at 3d. This waits one more one-way delay,
    /// drawn from the same distribution the simulator draws link delays from, to make up the
    /// difference (see `docs/sources.md`, "The turmoil simulator").
    ///
    /// An attempt fails when the server refuses it (`max_connections`, `accept_backlog`:
    /// `connections_refused`) or is down (a `server-restart` fault): the client learns it after
    /// one round trip. It then waits as its policy says (`[reconnect]`; the default is a
    /// fixed [`REFUSED_RETRY`]) and tries again; when the policy gives up, the error is
    /// [`GaveUp`] (return it: the client stops quietly and counts in `clients_gave_up`).
    pub async fn connect(&self) -> io::Result<Metered> {
        loop {
            let attempted = crate::metrics::now_ms();
            match self.try_connect().await {
                Ok(stream) => {
                    self.backoff.attempt.set(0);
                    self.backoff.previous.set(Duration::ZERO);
                    return Ok(stream);
                }
                Err(_) => {
                    // counted by when it was made, as the attempt was
                    self.rec.borrow_mut().connect_failed(attempted);
                    self.backoff().await?;
                }
            }
        }
    }

    /// After losing a connection: wait as the reconnect policy says, then [`ClientCtx::connect`].
    pub async fn reconnect(&self) -> io::Result<Metered> {
        self.backoff().await?;
        self.connect().await
    }

    /// Wait the reconnect policy's next delay (the first after a successful connect, then
    /// longer as the policy grows); [`GaveUp`] when the policy stops trying.
    pub async fn backoff(&self) -> io::Result<()> {
        let wait = {
            let b = &self.backoff;
            let mut rng = self.harness_rng.borrow_mut();
            match (&self.policy, b.retry_ms.get()) {
                (crate::scenario::reconnect::Reconnect::EventSource { .. }, Some(ms)) => {
                    Some(Duration::from_millis(ms))
                }
                (policy, _) => policy.delay(b.attempt.get(), b.previous.get(), &mut *rng),
            }
        };
        let Some(wait) = wait else {
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, GaveUp));
        };
        self.backoff.attempt.set(self.backoff.attempt.get() + 1);
        self.backoff.previous.set(wait);
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// A connection is working again (a stream opened on a kept-alive connection): the
    /// reconnect policy starts over from its first wait.
    pub fn reset_backoff(&self) {
        self.backoff.attempt.set(0);
        self.backoff.previous.set(Duration::ZERO);
    }

    /// The server's `retry:` field set an `EventSource`'s reconnection time to `ms` (used when
    /// the policy is `"eventsource"`, SSE's default).
    pub fn set_reconnection_time(&self, ms: u64) {
        self.backoff.retry_ms.set(Some(ms));
    }

    /// One connection attempt.
    async fn try_connect(&self) -> io::Result<Metered> {
        let faults = self.faults.clone();
        if let Some(back) = faults
            .as_ref()
            .and_then(|f| f.offline_until(self.id, crate::metrics::now_ms()))
        {
            // a client that is away (churn) connects when it comes back
            tokio::time::sleep(Duration::from_millis(back - crate::metrics::now_ms())).await;
        }
        self.rec.borrow_mut().connect_attempt();
        let lat = self.scenario.network.latency_ms;
        if let Some(f) = &faults {
            // the SYN gets through when the client's network is back, and after its losses
            if let Some(until) = f.cut_off_until(self.id, crate::metrics::now_ms()) {
                tokio::time::sleep(Duration::from_millis(until - crate::metrics::now_ms())).await;
            }
            let lost = f.syn_delay(&mut self.harness_rng.borrow_mut());
            if lost > 0 {
                tokio::time::sleep(Duration::from_millis(lost)).await;
            }
        }
        let refused = |rtt: u64, why: &'static str| async move {
            tokio::time::sleep(Duration::from_millis(rtt)).await;
            Err::<Metered, _>(io::Error::new(io::ErrorKind::ConnectionRefused, why))
        };
        if faults
            .as_ref()
            .is_some_and(|f| f.server_down(crate::metrics::now_ms()))
        {
            // the server's host answers the SYN with a reset while its process is down
            let rtt = {
                let mut rng = self.harness_rng.borrow_mut();
                one_way_delay(&mut rng, lat) + one_way_delay(&mut rng, lat)
            };
            return refused(rtt, "the server is down").await;
        }
        let limited = self.scenario.server.limits_connections();
        if limited {
            let admitted = {
                let mut rec = self.rec.borrow_mut();
                let open = rec.open_connection_count();
                rec.server.admit(crate::metrics::now_ms(), open)
            };
            if !admitted {
                let rtt = {
                    let mut rng = self.harness_rng.borrow_mut();
                    one_way_delay(&mut rng, lat) + one_way_delay(&mut rng, lat)
                };
                return refused(rtt, "the server refused the connection").await;
            }
        }
        let started = crate::metrics::now_ms();
        let stream =
            match super::net::Stream::connect(&self.world, ("server", ServerCtx::PORT)).await {
                Ok(stream) => stream,
                Err(e) => {
                    if limited {
                        self.rec.borrow_mut().server.unreserve();
                    }
                    return Err(e);
                }
            };
        if matches!(self.world, super::net::World::Sim)
            || self.scenario.network.latency_ms.max_ms > 0
        {
            // the simulator's connect is cheap (see above), and a real one on loopback too
            // when the scenario's latency is added to every read
            let extra = one_way_delay(&mut self.harness_rng.borrow_mut(), lat);
            tokio::time::sleep(Duration::from_millis(extra)).await;
        }
        Ok(Metered::client(stream, self.rec.clone(), self.id, started)
            .client_faults(faults.as_ref()))
    }

    /// Hand over one event payload parsed from the wire; returns its id. This is where
    /// latency, duplicates, order and misdelivery are measured: an event addressed to another
    /// client counts as `misdelivered`, never as delivered. An `Err` means the bytes are not
    /// an event payload (a framing bug in the strategy).
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

    /// Report that a task of this client other than its main future failed (an upstream
    /// connection, say): the run fails with the first such message, as if the client's own
    /// future had returned it.
    pub fn fail(&self, message: String) {
        self.rec.borrow_mut().client_failed(message);
    }

    /// A random generator for this client, seeded from the scenario seed and the client id
    /// (the same as `rng_for(0)`).
    pub fn rng(&self) -> ChaCha8Rng {
        self.rng_for(0)
    }

    /// Independent random streams of this client, one per `salt`. Salts 1 to 15 are taken by
    /// the shared building blocks (1: upstream messages, 3: NAT, 4: WebSocket masks); use 16
    /// and up for your own. Salts from 2³¹ are the harness's own.
    ///
    /// # Panics
    /// If `salt` is 2³¹ or more (a programming error).
    pub fn rng_for(&self, salt: u64) -> ChaCha8Rng {
        assert!(
            salt < HARNESS_SALTS,
            "rng_for: salt {salt} is reserved; use salts below 2^31"
        );
        client_stream(self.scenario.seed, self.id, salt)
    }
}

/// The harness's random stream of client `id` (connect delays).
pub(crate) fn harness_stream(seed: u64, id: usize) -> ChaCha8Rng {
    client_stream(seed, id, HARNESS_SALTS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Latency;
    use rand::Rng as _;

    /// The connect compensation draws from the simulator's own delay distribution: its mean
    /// and median agree with the closed-form distribution (a uniform draw, as before, has mean
    /// (min + max)/2 = 50 ms here instead of ≈ 26 ms).
    #[test]
    fn connect_compensation_follows_the_link_delay_distribution() {
        let lat = Latency {
            min_ms: 10,
            max_ms: 90,
        };
        // the model's distribution for the same link, computed independently of one_way_delay
        let r = 80.0_f64;
        let mean: f64 = (0..80)
            .map(|k| {
                let k = k as f64;
                (10.0 + k) * ((-5.0 * k / r).exp() - (-5.0 * (k + 1.0) / r).exp())
            })
            .sum::<f64>()
            + 90.0 * (-5.0_f64).exp();
        let mut rng = harness_stream(1, 0);
        let n = 200_000;
        let draws: Vec<u64> = (0..n).map(|_| one_way_delay(&mut rng, lat)).collect();
        let sample_mean = draws.iter().sum::<u64>() as f64 / n as f64;
        assert!((sample_mean - mean).abs() < 0.2, "{sample_mean} vs {mean}");
        assert!(draws.iter().all(|&d| (10..=90).contains(&d)));
    }

    /// The harness's stream, the publisher's and every salt a strategy may use are different
    /// streams; the old scheme (`(id << 32) ^ now_ms`) gave the connect delay at t = 0 the very
    /// numbers of `rng()`.
    #[test]
    fn random_streams_are_independent() {
        let first = |mut r: ChaCha8Rng| -> u64 { r.random() };
        let user = first(client_stream(7, 3, 0));
        assert_ne!(user, first(harness_stream(7, 3)));
        assert_ne!(user, first(client_stream(7, 3, 1)));
        assert_ne!(user, first(client_stream(7, 4, 0)));
        let mut publisher = ChaCha8Rng::seed_from_u64(7);
        publisher.set_stream(u64::MAX);
        assert_ne!(first(harness_stream(7, 3)), first(publisher));
    }
}
