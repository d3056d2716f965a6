//! The recorder: every count, byte and latency of one run, and the rows written from it.
//!
//! Strategies and the harness report what happens through a shared [`Recorder`] (the clock is
//! turmoil's simulated time, read at each call). Per-second rows feed `timeseries.csv`;
//! counters for the measured window `[warmup_s, duration_s)` feed `summary.csv`; latencies are
//! kept exactly, one bucket per millisecond (the simulation ticks every 1 ms, so no histogram
//! approximation is needed), for `latency.csv` and the percentiles.
//!
//! Delivery is checked as it happens: a client's events carry increasing ids, so a delivery
//! whose id is not above the last one that client received is a duplicate (or out of order),
//! and is counted in `duplicates`. `duplicates == 0 && events_lost == 0` therefore proves
//! every event arrived exactly once, in order.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;

/// The recorder shared by every host of one simulation (all on one thread).
pub type RecorderHandle = Rc<RefCell<Recorder>>;

/// Which way bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

/// Milliseconds since the start of the run: simulated, or real in a real run (0 outside a
/// run).
pub fn now_ms() -> u64 {
    if let Some(d) = turmoil::sim_elapsed() {
        return d.as_millis() as u64;
    }
    REAL_EPOCH.with(|e| e.get().map_or(0, |t| t.elapsed().as_millis() as u64))
}

thread_local! {
    /// The start of the real run on this thread, if one is going on.
    static REAL_EPOCH: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// Whether a run (simulated or real) is going on on this thread: outside one (after the
/// simulation is dropped, say), dropped streams record nothing.
pub(crate) fn running() -> bool {
    turmoil::sim_elapsed().is_some() || REAL_EPOCH.with(|e| e.get().is_some())
}

/// Start the real clock on this thread at `epoch`; it stops when the guard is dropped.
pub(crate) fn start_real_clock(epoch: std::time::Instant) -> RealClock {
    REAL_EPOCH.with(|e| e.set(Some(epoch)));
    RealClock(())
}

/// The real clock of this thread runs until this is dropped.
pub(crate) struct RealClock(());

impl Drop for RealClock {
    fn drop(&mut self) {
        REAL_EPOCH.with(|e| e.set(None));
    }
}

/// One simulated second of one run: a row of `timeseries.csv` (without strategy and time).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SecondRow {
    /// Requests the server received (HTTP requests, or upgrade/stream requests).
    pub requests: u64,
    /// Responses the server sent.
    pub responses: u64,
    /// Responses that carried no event (a `204`).
    pub empty_responses: u64,
    /// Connections open at the server at the end of the second.
    pub open_connections: u64,
    /// Requests held open at the server (long polling) at the end of the second.
    pub parked_requests: u64,
    /// Events parsed by clients during the second.
    pub events_delivered: u64,
    /// Application bytes sent client → server.
    pub app_bytes_up: u64,
    /// Application bytes sent server → client.
    pub app_bytes_down: u64,
    /// CPU milliseconds the server's work took, by when it started (`[server.cost]`).
    pub server_cpu_ms: f64,
    /// Bytes of server memory at the end of the second (`[server.memory]`).
    pub server_memory_bytes: u64,
    /// Connection attempts clients made in that second (refused and failed ones included).
    pub connect_attempts: u64,
    /// Clients connected at the end of the second: with a connection the server still holds
    /// and a network that reaches it.
    pub connected_clients: u64,
}

/// Counts over the measured window.
#[derive(Debug, Clone, Default)]
struct Window {
    requests: u64,
    empty_responses: u64,
    connections_opened: u64,
    peak_open_connections: u64,
    app_bytes_up: u64,
    app_bytes_down: u64,
    payload_bytes: u64,
    events_created: u64,
    upstream_messages: u64,
    upstream_latency_sum: u64,
    /// ∫ parked requests dt over the window, in request·ms.
    parked_ms: u64,
    packets: u64,
    wire_up: u64,
    wire_down: u64,
}

/// Everything measured in one run.
#[derive(Debug)]
pub struct Recorder {
    window: (u64, u64),
    seconds: Vec<SecondRow>,
    w: Window,
    open_connections: u64,
    parked: u64,
    parked_since: u64,
    generated: u64,
    delivered: u64,
    duplicates: u64,
    misdelivered: u64,
    /// The addressee of event id `i + 1`: a client, or [`ALL`] for a fan-out to every client.
    addressee: Vec<u32>,
    last_id: Vec<Option<u64>>,
    latency: Vec<u64>,
    publisher_done: bool,
    client_failures: u64,
    first_failure: Option<String>,
    types: Vec<String>,
    by_type: Vec<u64>,
    tracer: Option<crate::trace::Tracer>,
    holds: Vec<u32>,
    entry_bytes: u64,
    pub(crate) server: crate::server::ServerModel,
    connect_attempts: u64,
    gave_up: u64,
    /// Client ends of connections open, per client.
    live: Vec<u32>,
    /// Of those, the ones already dead (the server end is gone, or the client knows it is over).
    dead: Vec<u32>,
    /// Clients with more live than dead connections.
    connected: u64,
    closing: bool,
    ended_ms: u64,
    disconnects: u64,
    connect_failures: u64,
    proxy_cuts: u64,
    stale_ms: u64,
    faults: Vec<FaultWatch>,
    /// Whether the server holds each client's address in memory now (a connection of its,
    /// or a hold: a request, a registration).
    in_memory: Vec<bool>,
    /// Clients whose address the server holds in memory.
    memory_gauge: Gauge,
    /// Addresses stored beyond a connection (callback registrations).
    stored_gauge: Gauge,
    /// Callback registrations in time order: `(t, client, stored address)`, `None` when the
    /// entry expired (for `stale_registry_entries_peak`).
    registrations: Vec<(u64, u32, Option<u32>)>,
    /// Who held which public address when (churn, address changes).
    plan: Option<Rc<crate::addresses::AddressPlan>>,
    /// Callbacks whose connect timed out (nobody answers at the stored address), in the window.
    callbacks_unreachable: u64,
    /// Callbacks the server attempted, in the window.
    callbacks: u64,
    /// Clients nobody can open a connection to (behind NAT, a browser).
    clients_unreachable: u64,
    /// `[privacy] access_log`: seconds each access-log line is kept (`None`: no log).
    log_retention_s: Option<f64>,
}

/// One fault's recovery: which clients it hit and when each was connected again.
#[derive(Debug)]
struct FaultWatch {
    end_ms: u64,
    /// `None`: every client.
    affected: Option<Rc<Vec<bool>>>,
    /// Whether it cuts its clients off while it lasts (an outage), for `connected_clients`.
    cuts_off: bool,
    start_ms: u64,
    recovered: Vec<Option<u64>>,
    ended: bool,
}

impl Recorder {
    /// A recorder for `clients` clients, measuring `[warmup_ms, duration_ms)`.
    pub fn new(clients: usize, warmup_ms: u64, duration_ms: u64, types: &[String]) -> Recorder {
        Recorder {
            window: (warmup_ms, duration_ms),
            seconds: Vec::new(),
            w: Window::default(),
            open_connections: 0,
            parked: 0,
            parked_since: 0,
            generated: 0,
            delivered: 0,
            duplicates: 0,
            misdelivered: 0,
            addressee: Vec::new(),
            last_id: vec![None; clients],
            latency: Vec::new(),
            publisher_done: false,
            client_failures: 0,
            first_failure: None,
            types: types.to_vec(),
            by_type: vec![0; types.len()],
            tracer: None,
            holds: vec![0; clients],
            entry_bytes: 14,
            server: crate::server::ServerModel::unlimited(),
            connect_attempts: 0,
            gave_up: 0,
            live: vec![0; clients],
            dead: vec![0; clients],
            connected: 0,
            closing: false,
            ended_ms: 0,
            disconnects: 0,
            connect_failures: 0,
            proxy_cuts: 0,
            stale_ms: 0,
            faults: Vec::new(),
            in_memory: vec![false; clients],
            memory_gauge: Gauge::default(),
            stored_gauge: Gauge::default(),
            registrations: Vec::new(),
            plan: None,
            callbacks_unreachable: 0,
            callbacks: 0,
            clients_unreachable: 0,
            log_retention_s: None,
        }
    }

    /// Watch a fault over `[start_ms, end_ms)` hitting `affected` clients (`None`: all) for
    /// `recovery_s`; `cuts_off`: they are unreachable meanwhile.
    pub(crate) fn watch_fault(
        &mut self,
        start_ms: u64,
        end_ms: u64,
        affected: Option<Rc<Vec<bool>>>,
        cuts_off: bool,
    ) {
        let n = self.live.len();
        self.faults.push(FaultWatch {
            end_ms,
            affected,
            cuts_off,
            start_ms,
            recovered: vec![None; n],
            ended: false,
        });
    }

    /// Whether client `c` is connected now (live connection, not cut off by an outage).
    fn is_connected(&self, c: usize, t: u64) -> bool {
        self.live[c] > self.dead[c]
            && !self.faults.iter().any(|f| {
                f.cuts_off
                    && f.start_ms <= t
                    && t < f.end_ms
                    && f.affected.as_ref().is_none_or(|a| a[c])
            })
    }

    /// At `t` (a fault's end, or a second's): every client hit by a fault that has ended and
    /// connected now has recovered from it (a client still cut off by an overlapping outage
    /// recovers when that one ends).
    pub(crate) fn faults_ended(&mut self, t: u64) {
        for i in 0..self.faults.len() {
            let f = &self.faults[i];
            if t < f.end_ms || f.ended {
                continue;
            }
            let mut pending = false;
            for c in 0..self.live.len() {
                let f = &self.faults[i];
                if f.recovered[c].is_some() || f.affected.as_ref().is_some_and(|a| !a[c]) {
                    continue;
                }
                if self.is_connected(c, t) {
                    self.faults[i].recovered[c] = Some(t);
                } else {
                    pending = true;
                }
            }
            // nobody left to wait for: no need to look again
            self.faults[i].ended = !pending;
        }
    }

    /// Client `c` may have become connected at `t`.
    fn maybe_recovered(&mut self, c: usize, t: u64) {
        if self.closing || !self.is_connected(c, t) {
            return;
        }
        for f in self.faults.iter_mut() {
            if t >= f.end_ms {
                f.recovered[c].get_or_insert(t);
            }
        }
    }

    /// The client end of one of `client`'s connections opened (`+1`) or was dropped (`-1`).
    pub(crate) fn client_live(&mut self, client: usize, delta: i32) {
        let was = self.live[client] > self.dead[client];
        self.live[client] = self.live[client].saturating_add_signed(delta);
        self.connected_changed(client, was);
        self.in_memory_changed(client);
    }

    /// One of `client`'s live connections is now dead (`+1`), or a dead one was dropped (`-1`).
    pub(crate) fn client_dead(&mut self, client: usize, delta: i32) {
        let was = self.live[client] > self.dead[client];
        self.dead[client] = self.dead[client].saturating_add_signed(delta);
        self.connected_changed(client, was);
    }

    fn connected_changed(&mut self, client: usize, was: bool) {
        let is = self.live[client] > self.dead[client];
        match (was, is) {
            (false, true) => {
                self.connected += 1;
                if !self.faults.is_empty() {
                    self.maybe_recovered(client, now_ms());
                }
            }
            (true, false) => self.connected -= 1,
            _ => {}
        }
    }

    /// A client learnt that one of its connections is over (an end of stream, a reset, a
    /// proxy's cut, or it dropped it): a disconnect unless the run is closing; if the server
    /// end had gone at `server_gone_at`, the client spent the time since on a dead connection.
    pub(crate) fn connection_lost(
        &mut self,
        client: usize,
        server_gone_at: Option<u64>,
        counted: bool,
    ) {
        // after the simulation is dropped (a client that never noticed), the run's end
        let t = if running() { now_ms() } else { self.ended_ms };
        match server_gone_at {
            None if counted => self.client_dead(client, 1),
            None => {}
            Some(gone) => {
                // the part of the dead time inside the window (a client that never noticed
                // counts until the end of the run)
                let (from, to) = (gone.max(self.window.0), t.min(self.window.1));
                self.stale_ms += to.saturating_sub(from);
            }
        }
        if !self.closing && self.in_window(t) {
            self.disconnects += 1;
        }
    }

    /// The proxy cut an idle connection.
    pub(crate) fn proxy_cut(&mut self) {
        if self.in_window(now_ms()) {
            self.proxy_cuts += 1;
        }
    }

    /// A connection attempt made at `attempted_ms` failed (refused, or the server is down).
    pub(crate) fn connect_failed(&mut self, attempted_ms: u64) {
        if self.in_window(attempted_ms) {
            self.connect_failures += 1;
        }
    }

    /// The simulation ends at `t`: connections still open are dropped after it.
    pub(crate) fn ended(&mut self, t: u64) {
        self.ended_ms = t;
    }

    /// The run is closing: connections ending from now on are not disconnects.
    pub(crate) fn closing(&mut self) {
        self.closing = true;
    }

    /// A client tries to open a connection (counted in the window).
    pub(crate) fn connect_attempt(&mut self) {
        let t = now_ms();
        self.second(t).connect_attempts += 1;
        if self.in_window(t) {
            self.connect_attempts += 1;
        }
    }

    /// A client's reconnect policy gave up: it stops, its events are lost.
    pub(crate) fn client_gave_up(&mut self) {
        self.gave_up += 1;
    }

    /// Give the server `scenario`'s costs and capacity (`[server]`).
    pub(crate) fn set_server(&mut self, scenario: &crate::scenario::Scenario) {
        self.server = crate::server::ServerModel::new(
            &scenario.server,
            scenario.events.payload_bytes,
            self.window,
        );
    }

    /// The server's memory changed now.
    fn memory_changed(&mut self) {
        self.memory_changed_at(now_ms());
    }

    /// [`Recorder::memory_changed`] at `t`, the time now, which the caller has already read.
    fn memory_changed_at(&mut self, t: u64) {
        let bytes = self.server.memory_bytes(self.open_connections, self.parked);
        self.server.memory_at(t, bytes);
    }

    /// Long-lived streams open at the server: `+1` opened, `-1` closed.
    pub(crate) fn streams(&mut self, delta: i64) {
        self.server.streams(delta);
        self.memory_changed();
    }

    /// Events kept for clients at the server: `+n` stored, `-n` forgotten.
    pub(crate) fn stored_events(&mut self, delta: i64) {
        self.stored_events_at(now_ms(), delta);
    }

    /// [`Recorder::stored_events`] at `t`, the time now, which the caller has already read.
    pub(crate) fn stored_events_at(&mut self, t: u64, delta: i64) {
        self.server.stored(delta);
        self.memory_changed_at(t);
    }

    /// Callback registry entries: `+1` registered, `-1` forgotten.
    pub(crate) fn registry(&mut self, delta: i64) {
        self.server.registry(delta);
        let window = self.window;
        self.stored_gauge.change(now_ms(), delta, window);
        self.memory_changed();
    }

    /// Wrap in the shared handle.
    pub fn shared(self) -> RecorderHandle {
        Rc::new(RefCell::new(self))
    }

    fn in_window(&self, t: u64) -> bool {
        t >= self.window.0 && t < self.window.1
    }

    fn second(&mut self, t: u64) -> &mut SecondRow {
        let s = (t / 1000) as usize;
        if self.seconds.len() <= s {
            self.seconds.resize(s + 1, SecondRow::default());
        }
        &mut self.seconds[s]
    }

    /// The server received a request.
    pub fn request(&mut self) {
        let t = now_ms();
        self.second(t).requests += 1;
        if self.in_window(t) {
            self.w.requests += 1;
        }
    }

    /// The server sent a response; `empty` if it carried no event.
    pub fn response(&mut self, empty: bool) {
        let t = now_ms();
        let row = self.second(t);
        row.responses += 1;
        if empty {
            row.empty_responses += 1;
            if self.in_window(t) {
                self.w.empty_responses += 1;
            }
        }
    }

    /// `n` application bytes were written in `dir` at `t` (counted once, by the sender).
    pub(crate) fn bytes_sent_at(&mut self, t: u64, dir: Direction, n: usize) {
        let n = n as u64;
        let in_window = self.in_window(t);
        let row = self.second(t);
        match dir {
            Direction::Up => row.app_bytes_up += n,
            Direction::Down => row.app_bytes_down += n,
        }
        if in_window {
            match dir {
                Direction::Up => self.w.app_bytes_up += n,
                Direction::Down => self.w.app_bytes_down += n,
            }
        }
    }

    /// A client opened a connection.
    pub fn connection_opened(&mut self) {
        if self.in_window(now_ms()) {
            self.w.connections_opened += 1;
        }
    }

    /// Modelled TCP/IP traffic at time `t`: `packets` packets carrying `bytes` bytes on the
    /// wire (headers included) in direction `dir` (see [`crate::sim::wire`]).
    pub fn wire(&mut self, t: u64, dir: Direction, packets: u64, bytes: u64) {
        if !self.in_window(t) {
            return;
        }
        self.w.packets += packets;
        match dir {
            Direction::Up => self.w.wire_up += bytes,
            Direction::Down => self.w.wire_down += bytes,
        }
    }

    /// The server accepted a connection (`+1`) or one closed (`-1`).
    pub fn open_connections(&mut self, delta: i64) {
        self.open_connections = self.open_connections.saturating_add_signed(delta);
        if self.in_window(now_ms()) {
            self.w.peak_open_connections = self.w.peak_open_connections.max(self.open_connections);
        }
        self.memory_changed();
    }

    /// Connections open at the server now.
    pub fn open_connection_count(&self) -> u64 {
        self.open_connections
    }

    /// Keep client `client`'s exchange ([`crate::trace`]).
    pub(crate) fn trace_client(&mut self, client: usize) {
        self.tracer = Some(crate::trace::Tracer::new(client));
    }

    /// The tracer, when a client is traced.
    pub(crate) fn tracer(&mut self) -> Option<&mut crate::trace::Tracer> {
        self.tracer.as_mut()
    }

    /// Event `id` of type `event_type` was created at `created_ms` for `client` (or for
    /// every client): noted if that is the traced client.
    pub(crate) fn trace_event(
        &mut self,
        client: Option<usize>,
        id: u64,
        event_type: &str,
        created_ms: u64,
    ) {
        if let Some(t) = self.tracer.as_mut() {
            if client.is_none_or(|c| t.traces(c)) {
                t.event(id, event_type, created_ms);
            }
        }
    }

    /// What was kept of the traced client's exchange (empty when none is traced).
    pub fn trace(&self) -> crate::trace::Trace {
        self.tracer
            .as_ref()
            .map(|t| t.trace().clone())
            .unwrap_or_default()
    }

    /// Bytes of one registry entry (client id + stored address; see `[privacy]`).
    pub fn set_registry_entry_bytes(&mut self, bytes: u64) {
        self.entry_bytes = bytes;
    }

    /// The server starts (`+1`) or stops (`-1`) holding `client`'s address for one reason (a
    /// request in progress, an open connection, a registration). The address counts as
    /// retained while any reason holds it.
    pub fn address_hold(&mut self, client: usize, delta: i32) {
        let h = &mut self.holds[client];
        *h = h.saturating_add_signed(delta);
        self.in_memory_changed(client);
    }

    /// The addresses clients hold (churn, address changes): for the stale-entry count.
    pub(crate) fn set_address_plan(&mut self, plan: Rc<crate::addresses::AddressPlan>) {
        self.plan = Some(plan);
    }

    /// `[privacy] access_log`: keep each request's line for `retention_s`.
    pub(crate) fn set_access_log(&mut self, retention_s: Option<f64>) {
        self.log_retention_s = retention_s;
    }

    /// The callback registry now stores `address` (a pool index; `None`: a stored value that
    /// is no address, or the entry expired) for `client`.
    pub(crate) fn registration(&mut self, client: usize, address: Option<u32>) {
        self.registrations.push((now_ms(), client as u32, address));
    }

    /// A client that nobody can open a connection to (NAT, firewall, a browser).
    pub(crate) fn client_unreachable(&mut self) {
        self.clients_unreachable += 1;
    }

    /// The server attempted a callback; `reached` says whether its connect succeeded.
    pub(crate) fn callback(&mut self, reached: bool) {
        if self.in_window(now_ms()) {
            self.callbacks += 1;
            if !reached {
                self.callbacks_unreachable += 1;
            }
        }
    }

    /// Client `client`'s connections or holds changed: does the server hold its address now?
    fn in_memory_changed(&mut self, client: usize) {
        let now = self.live[client] > 0 || self.holds[client] > 0;
        if now != self.in_memory[client] {
            self.in_memory[client] = now;
            let window = self.window;
            self.memory_gauge
                .change(now_ms(), if now { 1 } else { -1 }, window);
        }
    }

    /// A request was parked (`+1`) or released (`-1`) at the server.
    pub fn parked(&mut self, delta: i64) {
        self.accumulate_parked(now_ms());
        self.parked = self.parked.saturating_add_signed(delta);
        self.memory_changed();
    }

    /// The publisher created event `id` (ids count up from 1) at `created_ms`, for client
    /// `to`, or for all `recipients` clients when `to` is `None`.
    pub fn event_generated(
        &mut self,
        id: u64,
        to: Option<usize>,
        recipients: u64,
        created_ms: u64,
    ) {
        debug_assert_eq!(
            id,
            self.addressee.len() as u64 + 1,
            "event ids count up from 1"
        );
        self.addressee.push(to.map_or(ALL, |c| c as u32));
        self.generated += recipients;
        if self.in_window(created_ms) {
            self.w.events_created += recipients;
        }
    }

    /// The publisher has created its last event.
    pub fn publisher_finished(&mut self) {
        self.publisher_done = true;
    }

    /// `n` payload bytes were put on the wire (once per event per recipient sent).
    pub fn payload_sent(&mut self, n: usize) {
        if self.in_window(now_ms()) {
            self.w.payload_bytes += n as u64;
        }
    }

    /// Client `client` parsed event `id` of type `event_type` created at `created_ms`.
    ///
    /// An event addressed to another client (or an id never generated) counts as
    /// `misdelivered`, never as delivered.
    pub fn delivered(&mut self, client: usize, id: u64, event_type: &str, created_ms: u64) {
        let t = now_ms();
        let addressed = id
            .checked_sub(1)
            .and_then(|i| self.addressee.get(i as usize))
            .is_some_and(|&to| to == ALL || to as usize == client);
        if !addressed {
            self.misdelivered += 1;
            return;
        }
        let last = &mut self.last_id[client];
        if last.is_some_and(|last| id <= last) {
            self.duplicates += 1;
            return;
        }
        *last = Some(id);
        self.delivered += 1;
        if let Some(k) = self.types.iter().position(|n| n == event_type) {
            self.by_type[k] += 1;
        }
        self.second(t).events_delivered += 1;
        if self.in_window(created_ms) {
            let ms = t.saturating_sub(created_ms) as usize;
            if self.latency.len() <= ms {
                self.latency.resize(ms + 1, 0);
            }
            self.latency[ms] += 1;
        }
    }

    /// The server received an upstream message created at `created_ms`.
    pub fn upstream_received(&mut self, created_ms: u64) {
        let t = now_ms();
        if self.in_window(created_ms) {
            self.w.upstream_messages += 1;
            self.w.upstream_latency_sum += t.saturating_sub(created_ms);
        }
    }

    /// Deliveries per event type, in the scenario's order of `events.types`.
    pub fn delivered_by_type(&self) -> Vec<(String, u64)> {
        self.types
            .iter()
            .cloned()
            .zip(self.by_type.iter().copied())
            .collect()
    }

    /// Add parked·dt since the last change, clipped to the window.
    fn accumulate_parked(&mut self, t: u64) {
        let (from, to) = (self.parked_since.max(self.window.0), t.min(self.window.1));
        if to > from {
            self.w.parked_ms += self.parked * (to - from);
        }
        self.parked_since = t;
    }

    /// Close simulated second `s`: snapshot the gauges into its row.
    pub fn end_second(&mut self, s: u64) {
        self.accumulate_parked((s + 1) * 1000);
        let t = (s + 1) * 1000;
        let window = self.window;
        self.memory_gauge.advance(t, window);
        self.stored_gauge.advance(t, window);
        let (open, parked) = (self.open_connections, self.parked);
        let in_window = self.in_window(s * 1000);
        let memory = self.server.memory_bytes(open, parked);
        self.server.memory_at(t, memory);
        let cpu_ms = round3(self.server.cpu_ms_in_second(s));
        if !self.faults.is_empty() {
            self.faults_ended(t);
        }
        let connected = if self.faults.iter().any(|f| f.cuts_off) {
            (0..self.live.len())
                .filter(|&c| self.is_connected(c, t))
                .count() as u64
        } else {
            self.connected
        };
        let row = self.second(s * 1000);
        row.connected_clients = connected;
        row.open_connections = open;
        row.parked_requests = parked;
        row.server_cpu_ms = cpu_ms;
        row.server_memory_bytes = memory;
        if in_window {
            self.w.peak_open_connections = self.w.peak_open_connections.max(open);
        }
    }

    /// A client task ended with an error.
    pub fn client_failed(&mut self, error: String) {
        self.client_failures += 1;
        self.first_failure.get_or_insert(error);
    }

    /// How many client tasks ended with an error.
    pub fn client_failures(&self) -> u64 {
        self.client_failures
    }

    /// The first client error, if any.
    pub fn first_client_failure(&self) -> Option<&str> {
        self.first_failure.as_deref()
    }

    /// Requests the server received so far, in every second (not only the measured window).
    pub fn total_requests(&self) -> u64 {
        self.seconds.iter().map(|r| r.requests).sum()
    }

    /// Deliveries generated so far (events × recipients).
    pub fn generated(&self) -> u64 {
        self.generated
    }

    /// Whether every event generated so far has been delivered and no more will come.
    pub fn all_delivered(&self) -> bool {
        self.publisher_done && self.delivered == self.generated
    }

    /// The per-second rows, from second 0.
    pub fn seconds(&self) -> &[SecondRow] {
        &self.seconds
    }

    /// Latency counts: `latency_counts()[ms]` events took `ms` milliseconds.
    pub fn latency_counts(&self) -> &[u64] {
        &self.latency
    }

    /// The summary row for this run.
    pub fn summary(&self, strategy: &str, clients: u64) -> SummaryRow {
        let w = &self.w;
        let window_s = (self.window.1 - self.window.0) as f64 / 1000.0;
        let app = w.app_bytes_up + w.app_bytes_down;
        let lat = LatencyStats::from_counts(&self.latency);
        let delivered_in_window: u64 = self.latency.iter().sum();
        let srv = self.server.summary();
        SummaryRow {
            strategy: strategy.to_string(),
            clients,
            duration_s: window_s,
            events_generated: self.generated,
            events_delivered: self.delivered,
            events_lost: self.generated - self.delivered.min(self.generated),
            duplicates: self.duplicates,
            requests: w.requests,
            requests_per_s: round3(w.requests as f64 / window_s),
            empty_responses: w.empty_responses,
            connections_opened: w.connections_opened,
            peak_open_connections: w.peak_open_connections,
            latency_mean_ms: round3(lat.mean),
            latency_p50_ms: lat.p50,
            latency_p95_ms: lat.p95,
            latency_p99_ms: lat.p99,
            latency_max_ms: lat.max,
            app_bytes_up: w.app_bytes_up,
            app_bytes_down: w.app_bytes_down,
            payload_bytes: w.payload_bytes,
            overhead_bytes: app.saturating_sub(w.payload_bytes),
            // per event *delivered* (created in the window): a strategy that loses events
            // must not look cheap because the lost ones stay in the divisor
            bytes_per_event: if delivered_in_window == 0 {
                0.0
            } else {
                round3(app as f64 / delivered_in_window as f64)
            },
            upstream_messages: w.upstream_messages,
            upstream_latency_mean_ms: if w.upstream_messages == 0 {
                0.0
            } else {
                round3(w.upstream_latency_sum as f64 / w.upstream_messages as f64)
            },
            parked_requests_mean: round3(w.parked_ms as f64 / (window_s * 1000.0)),
            packets: w.packets,
            wire_bytes_up: w.wire_up,
            wire_bytes_down: w.wire_down,
            wire_bytes_per_event: if delivered_in_window == 0 {
                0.0
            } else {
                round3((w.wire_up + w.wire_down) as f64 / delivered_in_window as f64)
            },
            addresses_retained_peak: self.memory_gauge.peak,
            address_seconds: round3(self.memory_gauge.area_ms as f64 / 1000.0),
            registry_bytes_peak: self.stored_gauge.peak * self.entry_bytes,
            misdelivered: self.misdelivered,
            server_cpu_s: round6(srv.cpu_s),
            server_cores_needed_mean: round6(srv.cores_needed_mean),
            server_cores_needed_peak: round6(srv.cores_needed_peak),
            server_memory_peak_bytes: srv.memory_peak_bytes,
            server_memory_mean_bytes: srv.memory_mean_bytes.round() as u64,
            server_queue_delay_mean_ms: round6(srv.queue_delay_mean_ms),
            server_queue_delay_p99_ms: round6(srv.queue_delay_p99_ms),
            connections_refused: srv.refused,
            server_cores: srv.cores,
            connect_attempts: self.connect_attempts,
            clients_gave_up: self.gave_up,
            disconnects: self.disconnects,
            connect_failures: self.connect_failures,
            connect_attempts_peak_per_s: self.peak_attempts(),
            recovery_s: self.recovery_s(),
            stale_s: round3(self.stale_ms as f64 / 1000.0),
            proxy_cuts: self.proxy_cuts,
            address_seconds_in_memory: round3(self.memory_gauge.area_ms as f64 / 1000.0),
            // the registry, and the access log's lines for their retention
            address_seconds_stored: round3(
                self.stored_gauge.area_ms as f64 / 1000.0
                    + self.log_retention_s.map_or(0.0, |r| w.requests as f64 * r),
            ),
            access_log_lines: self.log_retention_s.map_or(0, |_| w.requests),
            address_seconds_logged: self
                .log_retention_s
                .map_or(0.0, |r| round3(w.requests as f64 * r)),
            stale_registry_entries_peak: self.stale_peak(),
            registry_entries_peak: self.stored_gauge.peak,
            address_changes: self.plan.as_ref().map_or(0, |p| p.changes),
            callbacks: self.callbacks,
            callbacks_per_event: if w.events_created == 0 {
                0.0
            } else {
                round3(self.callbacks as f64 / w.events_created as f64)
            },
            callbacks_unreachable: self.callbacks_unreachable,
            clients_unreachable: self.clients_unreachable,
        }
    }
}

impl Recorder {
    /// The most callback-registry entries at once, within the window, whose stored address
    /// was not (or no longer) the address their client had: it changed, or the client was
    /// away. Computed after the run from the registrations and the address plan.
    fn stale_peak(&self) -> u64 {
        let Some(plan) = &self.plan else {
            return 0;
        };
        let mut by_client: std::collections::BTreeMap<u32, Vec<(u64, Option<u32>)>> =
            std::collections::BTreeMap::new();
        for &(t, c, a) in &self.registrations {
            by_client.entry(c).or_default().push((t, a));
        }
        let mut deltas: Vec<(u64, i64)> = Vec::new();
        for (c, regs) in &by_client {
            let c = *c as usize;
            let mut times: Vec<u64> = regs.iter().map(|r| r.0).collect();
            for s in plan.sessions(c) {
                times.push(s.from);
                if s.to != u64::MAX {
                    times.push(s.to);
                }
            }
            times.sort_unstable();
            times.dedup();
            let mut stale = false;
            for t in times {
                let i = regs.partition_point(|r| r.0 <= t);
                let stored = i.checked_sub(1).and_then(|i| regs[i].1);
                let now = stored.is_some() && stored != plan.address_of(c, t);
                if now != stale {
                    deltas.push((t, if now { 1 } else { -1 }));
                    stale = now;
                }
            }
        }
        deltas.sort_unstable();
        let (mut value, mut peak) = (0i64, 0i64);
        for (i, &(t, d)) in deltas.iter().enumerate() {
            value += d;
            let held_until = deltas.get(i + 1).map_or(u64::MAX, |n| n.0);
            // the value holds over [t, next change): count it if that meets the window
            if held_until > t && t < self.window.1 && held_until > self.window.0 {
                peak = peak.max(value);
            }
        }
        peak.max(0) as u64
    }

    /// The most connection attempts in one second of the window.
    fn peak_attempts(&self) -> u64 {
        let (from, to) = (self.window.0 / 1000, self.window.1.div_ceil(1000));
        self.seconds
            .iter()
            .enumerate()
            .filter(|(s, _)| (*s as u64) >= from && (*s as u64) < to)
            .map(|(_, r)| r.connect_attempts)
            .max()
            .unwrap_or(0)
    }

    /// After each fault, the time from its end until 99 % of the clients it hit were connected
    /// again; the worst over the faults, seconds (0 without faults; −1 if 99 % never were).
    fn recovery_s(&self) -> f64 {
        let mut worst = 0.0_f64;
        for f in &self.faults {
            let mut delays: Vec<Option<u64>> = (0..self.live.len())
                .filter(|&c| f.affected.as_ref().is_none_or(|a| a[c]))
                .map(|c| f.recovered[c].map(|t| t.saturating_sub(f.end_ms)))
                .collect();
            if delays.is_empty() {
                continue;
            }
            delays.sort_by_key(|d| d.unwrap_or(u64::MAX));
            let rank = ((0.99 * delays.len() as f64).ceil() as usize).max(1) - 1;
            match delays[rank] {
                Some(ms) => worst = worst.max(ms as f64 / 1000.0),
                None => return -1.0,
            }
        }
        round3(worst)
    }
}

/// A count over time and its integral over the measured window, value·ms.
#[derive(Debug, Default)]
struct Gauge {
    value: u64,
    since: u64,
    area_ms: u64,
    /// The highest value within the window.
    peak: u64,
}

impl Gauge {
    /// Add the area up to `t` (clipped to `window`).
    fn advance(&mut self, t: u64, window: (u64, u64)) {
        let (from, to) = (self.since.max(window.0), t.min(window.1));
        if to > from {
            self.area_ms += self.value * (to - from);
            // the value held over [from, to), inside the window
            self.peak = self.peak.max(self.value);
        }
        self.since = self.since.max(t);
    }

    /// The count changes by `delta` at `t`.
    fn change(&mut self, t: u64, delta: i64, window: (u64, u64)) {
        self.advance(t, window);
        self.value = self.value.saturating_add_signed(delta);
    }
}

/// [`Recorder`]'s addressee of an event sent to every client.
const ALL: u32 = u32::MAX;

/// Round to six decimals (CPU seconds and queueing delays are sub-millisecond).
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Round to three decimals, so CSV numbers are readable and stable.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Exact statistics from 1 ms latency buckets.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LatencyStats {
    /// Mean, ms.
    pub mean: f64,
    /// Median (nearest rank), ms.
    pub p50: u64,
    /// 95th percentile (nearest rank), ms.
    pub p95: u64,
    /// 99th percentile (nearest rank), ms.
    pub p99: u64,
    /// Largest, ms.
    pub max: u64,
}

impl LatencyStats {
    /// Statistics of `counts[ms]` samples at each millisecond.
    pub fn from_counts(counts: &[u64]) -> LatencyStats {
        let n: u64 = counts.iter().sum();
        if n == 0 {
            return LatencyStats::default();
        }
        let sum: u64 = counts.iter().enumerate().map(|(ms, c)| ms as u64 * c).sum();
        let rank = |p: f64| -> u64 {
            let want = ((p * n as f64).ceil() as u64).max(1);
            let mut seen = 0;
            for (ms, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= want {
                    return ms as u64;
                }
            }
            counts.len() as u64 - 1
        };
        LatencyStats {
            mean: sum as f64 / n as f64,
            p50: rank(0.50),
            p95: rank(0.95),
            p99: rank(0.99),
            max: counts.iter().rposition(|&c| c > 0).unwrap_or(0) as u64,
        }
    }
}

/// One row of `summary.csv`. Column order is part of the file format: append, never reorder.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SummaryRow {
    /// Strategy id.
    pub strategy: String,
    /// Client count.
    pub clients: u64,
    /// Length of the measured window, seconds.
    pub duration_s: f64,
    /// Deliveries owed over the whole run (events × recipients).
    pub events_generated: u64,
    /// Deliveries made, each once, in order.
    pub events_delivered: u64,
    /// Generated but never delivered.
    pub events_lost: u64,
    /// Deliveries of an event the client already had (or out of order).
    pub duplicates: u64,
    /// Requests the server received in the window.
    pub requests: u64,
    /// `requests` per second of window.
    pub requests_per_s: f64,
    /// Responses carrying no event, in the window.
    pub empty_responses: u64,
    /// Connections clients opened in the window.
    pub connections_opened: u64,
    /// Most connections open at the server at once, in the window.
    pub peak_open_connections: u64,
    /// Mean latency of events created in the window, ms.
    pub latency_mean_ms: f64,
    /// Median latency, ms.
    pub latency_p50_ms: u64,
    /// 95th percentile latency, ms.
    pub latency_p95_ms: u64,
    /// 99th percentile latency, ms.
    pub latency_p99_ms: u64,
    /// Largest latency, ms.
    pub latency_max_ms: u64,
    /// Application bytes client → server in the window.
    pub app_bytes_up: u64,
    /// Application bytes server → client in the window.
    pub app_bytes_down: u64,
    /// Payload bytes sent in the window.
    pub payload_bytes: u64,
    /// `app_bytes_up + app_bytes_down - payload_bytes`: headers and framing.
    pub overhead_bytes: u64,
    /// Window application bytes (both ways) per event created in the window and delivered
    /// (lost events are not in the divisor; 0 if none was delivered).
    pub bytes_per_event: f64,
    /// Upstream messages created in the window that reached the server.
    pub upstream_messages: u64,
    /// Their mean latency, client → server, ms.
    pub upstream_latency_mean_ms: f64,
    /// Requests held at the server, averaged over the window (time-weighted).
    pub parked_requests_mean: f64,
    /// Modelled TCP/IP packets in the window, both directions (data, pure ACKs, handshakes,
    /// teardowns; the model is described in `src/sim/wire.rs`).
    pub packets: u64,
    /// Modelled wire bytes client → server: application bytes plus TCP/IP headers.
    pub wire_bytes_up: u64,
    /// Modelled wire bytes server → client.
    pub wire_bytes_down: u64,
    /// `(wire_bytes_up + wire_bytes_down)` per event created in the window and delivered.
    pub wire_bytes_per_event: f64,
    /// Most distinct client addresses the server held at once to do its job (window).
    pub addresses_retained_peak: u64,
    /// ∫ retained addresses dt over the window: the privacy exposure, address·seconds.
    pub address_seconds: f64,
    /// Peak bytes of per-client registry state (client id + stored address, see `[privacy]`).
    pub registry_bytes_peak: u64,
    /// Events a client received that were addressed to another client: never counted as
    /// delivered (a connection-based strategy cannot make this mistake; a server that calls
    /// stored addresses can, once an address is reused).
    #[serde(default)]
    pub misdelivered: u64,
    /// CPU seconds the server's work took in the window (`[server.cost]`, always accounted).
    #[serde(default)]
    pub server_cpu_s: f64,
    /// `server_cpu_s` per second of window: the cores the load needs on average.
    #[serde(default)]
    pub server_cores_needed_mean: f64,
    /// The most CPU seconds started in one second of the window.
    #[serde(default)]
    pub server_cores_needed_peak: f64,
    /// Most bytes of server memory at once in the window (`[server.memory]`).
    #[serde(default)]
    pub server_memory_peak_bytes: u64,
    /// Server memory averaged over the window (time-weighted), bytes.
    #[serde(default)]
    pub server_memory_mean_bytes: u64,
    /// Mean wait of a job for a free core, ms (0 without `[server] cores`).
    #[serde(default)]
    pub server_queue_delay_mean_ms: f64,
    /// 99th percentile of that wait, ms.
    #[serde(default)]
    pub server_queue_delay_p99_ms: f64,
    /// Connection attempts refused by `max_connections` or `accept_backlog` in the window.
    #[serde(default)]
    pub connections_refused: u64,
    /// The server's cores (`[server] cores`); 0 = unlimited (nothing queues).
    #[serde(default)]
    pub server_cores: u64,
    /// Connection attempts clients made to the server in the window (refused ones included).
    #[serde(default)]
    pub connect_attempts: u64,
    /// Clients whose `[reconnect]` policy gave up connecting (they stopped; their events are
    /// lost).
    #[serde(default)]
    pub clients_gave_up: u64,
    /// Connections whose end a client learnt of before the run closed (a reset, an end of
    /// stream, a proxy's cut, a liveness timeout), in the window.
    #[serde(default)]
    pub disconnects: u64,
    /// Connection attempts that failed (refused, server down), in the window.
    #[serde(default)]
    pub connect_failures: u64,
    /// The most connection attempts in one second of the window.
    #[serde(default)]
    pub connect_attempts_peak_per_s: u64,
    /// After each fault, seconds from its end until 99 % of the clients it hit were connected
    /// again; the worst over the faults (0 without faults, −1 if that never happened).
    #[serde(default)]
    pub recovery_s: f64,
    /// Client-seconds spent on connections whose server end was already gone (half-open).
    #[serde(default)]
    pub stale_s: f64,
    /// Idle connections the proxy cut (`[proxy] idle_timeout_s`), in the window.
    #[serde(default)]
    pub proxy_cuts: u64,
    /// ∫ clients whose address the server holds in memory dt, address·seconds: one rule for
    /// every strategy — a connection of the client's open (kept-alive polling connections
    /// included), a request in progress, a registration.
    #[serde(default)]
    pub address_seconds_in_memory: f64,
    /// Addresses stored beyond any connection, address·seconds: ∫ callback registrations dt
    /// over the window, plus `address_seconds_logged` with `[privacy] access_log`.
    #[serde(default)]
    pub address_seconds_stored: f64,
    /// Access-log lines written in the window, one per request answered, each with the
    /// client's address (`[privacy] access_log`; 0 without a log).
    #[serde(default)]
    pub access_log_lines: u64,
    /// Address·seconds the window's access-log lines will be kept: lines ×
    /// `retention_days` (storage committed, most of it after the run); part of
    /// `address_seconds_stored`.
    #[serde(default)]
    pub address_seconds_logged: f64,
    /// Most callback-registry entries at once whose stored address was no longer their
    /// client's (it moved, or went away), in the window.
    #[serde(default)]
    pub stale_registry_entries_peak: u64,
    /// Most callback-registry entries at once, in the window.
    #[serde(default)]
    pub registry_entries_peak: u64,
    /// Client address changes in the run (`[clients] address_change_per_hour`).
    #[serde(default)]
    pub address_changes: u64,
    /// Callbacks the server attempted (connections it opened or tried to open to a stored
    /// address, one per event without keep-alive), in the window.
    #[serde(default)]
    pub callbacks: u64,
    /// `callbacks` per event created in the window: the connections the server opens (or
    /// tries to) per event — 1 without keep-alive, 0 for a strategy whose clients connect.
    #[serde(default)]
    pub callbacks_per_event: f64,
    /// Of those, the ones nobody answered (behind NAT, a browser, an unused address): each
    /// lost after the server's connect timeout.
    #[serde(default)]
    pub callbacks_unreachable: u64,
    /// Clients that could not accept a connection from the server (behind NAT or a
    /// firewall, or a browser), as a strategy that needs to call them found.
    #[serde(default)]
    pub clients_unreachable: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        // 100 samples: 1..=100 ms
        let mut counts = vec![0; 101];
        for c in counts.iter_mut().skip(1) {
            *c = 1;
        }
        let s = LatencyStats::from_counts(&counts);
        assert_eq!((s.p50, s.p95, s.p99, s.max), (50, 95, 99, 100));
        assert_eq!(s.mean, 50.5);
    }

    #[test]
    fn a_repeated_or_older_id_counts_as_a_duplicate() {
        let mut r = two_clients_five_events();
        r.delivered(0, 5, "message", 0);
        r.delivered(0, 5, "message", 0);
        r.delivered(0, 3, "message", 0);
        r.delivered(1, 3, "message", 0);
        let s = r.summary("x", 2);
        // 6 deliveries owed (event 3 goes to both clients), 2 made
        assert_eq!((s.events_delivered, s.duplicates, s.events_lost), (2, 2, 4));
        assert_eq!(s.misdelivered, 0);
    }

    /// Events 1 and 5 for client 0, 2 and 4 for client 1, 3 for both.
    fn two_clients_five_events() -> Recorder {
        let mut r = Recorder::new(2, 0, 10_000, &["message".to_string()]);
        r.event_generated(1, Some(0), 1, 0);
        r.event_generated(2, Some(1), 1, 0);
        r.event_generated(3, None, 2, 0);
        r.event_generated(4, Some(1), 1, 0);
        r.event_generated(5, Some(0), 1, 0);
        r
    }

    /// A client that receives another client's event has not been delivered anything: it is
    /// a misdelivery (and the addressee's event is still owed).
    #[test]
    fn another_clients_event_counts_as_misdelivered_not_delivered() {
        let mut r = two_clients_five_events();
        r.delivered(1, 5, "message", 0); // client 0's event at client 1
        r.delivered(0, 99, "message", 0); // an id never generated
        r.delivered(1, 3, "message", 0); // a fan-out event: right for everyone
        let s = r.summary("x", 2);
        assert_eq!(
            (s.events_delivered, s.misdelivered, s.events_lost),
            (1, 2, 5)
        );
        assert!(!r.all_delivered());
    }
}
