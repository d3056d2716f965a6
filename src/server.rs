//! The finite server: CPU work queued first-in first-out on K cores, the memory the server's
//! state takes, and its connection limits (`[server]`, `docs/server-costs.md`).
//!
//! CPU time is kept in integer nanoseconds, so sub-millisecond costs add up exactly although
//! the simulation ticks every millisecond. A job that arrives at tick t starts on the core
//! that frees first (at t if one is idle), runs for its cost, and what it produces leaves on
//! the tick during which it completes. Without `cores`, every job starts at once (nothing
//! waits; the work is only counted).
//!
//! Arrivals are batched by the tick: every job of one millisecond arrives at its start, so a
//! job waits for the jobs of the same tick ahead of it (on average half a tick's work divided
//! by K). Real arrivals are spread over the millisecond; the model in [`crate::capacity`]
//! includes this batch wait and says how large it is.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::scenario::{MemoryCosts, Server};

/// A job of server work (what [`crate::ServerCtx::work`] is told).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Parse one HTTP request and write its response (`request_us`).
    Request,
    /// Write or read one WebSocket data frame (`frame_us`).
    Frame,
    /// Write one SSE record or keep-alive comment (`sse_record_us`).
    SseRecord,
    /// Send one ping and read its pong (`ping_us`).
    Ping,
    /// Accept a connection, or open one to a client (`connect_us + tls_handshake_us`).
    Connect,
}

/// Costs in whole nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Ns {
    connect: u64,
    request: u64,
    frame: u64,
    record: u64,
    ping: u64,
    /// Per byte, in thousandths of a nanosecond (0.5 ns/B is exact).
    byte_milli: u64,
}

fn ns(us: f64) -> u64 {
    (us * 1000.0).round() as u64
}

/// Queueing delays: exact to the microsecond below 1 ms, to the millisecond above.
#[derive(Debug, Default)]
struct Delays {
    fine: Vec<u64>,
    coarse: Vec<u64>,
    count: u64,
    sum_ns: u128,
}

impl Delays {
    fn add(&mut self, delay_ns: u64) {
        self.count += 1;
        self.sum_ns += delay_ns as u128;
        let us = (delay_ns / 1000) as usize;
        if us < 1000 {
            if self.fine.is_empty() {
                self.fine = vec![0; 1000];
            }
            self.fine[us] += 1;
        } else {
            let ms = us / 1000;
            if self.coarse.len() <= ms {
                self.coarse.resize(ms + 1, 0);
            }
            self.coarse[ms] += 1;
        }
    }

    fn mean_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.count as f64 / 1e6
        }
    }

    /// The `q` quantile (nearest rank), in ms: the bucket's lower edge.
    fn quantile_ms(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (us, &c) in self.fine.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return us as f64 / 1000.0;
            }
        }
        for (ms, &c) in self.coarse.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return ms as f64;
            }
        }
        0.0
    }
}

/// The server's CPU, memory and limits over one run.
#[derive(Debug)]
pub(crate) struct ServerModel {
    cost: Ns,
    memory: MemoryCosts,
    /// Bytes of every stored event's payload.
    payload: u64,
    /// When each core is next free (ns); `None`: unlimited cores.
    cores: Option<BinaryHeap<Reverse<u64>>>,
    max_connections: Option<u64>,
    accept_backlog: Option<u64>,
    /// Connections admitted by a client but not yet accepted by the server.
    reserved: u64,
    /// When each accept in progress completes (ns).
    accepting: BinaryHeap<Reverse<u64>>,
    /// Long-lived streams open (WebSocket sessions, SSE streams).
    streams: u64,
    /// Events kept for clients (mailboxes, histories).
    stored: u64,
    /// Registry entries.
    registry: u64,
    /// Thousandths of a nanosecond of byte work not charged yet.
    byte_carry: u64,
    /// CPU ns started in each second.
    cpu_by_second: Vec<u64>,
    window_ms: (u64, u64),
    window_cpu_ns: u128,
    delays: Delays,
    refused: u64,
    memory_now: u64,
    memory_since_ms: u64,
    memory_peak: u64,
    /// ∫ memory dt over the window, byte·ms.
    memory_area: u128,
}

impl ServerModel {
    pub(crate) fn new(server: &Server, payload: u64, window_ms: (u64, u64)) -> ServerModel {
        let c = &server.cost;
        ServerModel {
            cost: Ns {
                connect: ns(c.connect_us + c.tls_handshake_us),
                request: ns(c.request_us),
                frame: ns(c.frame_us),
                record: ns(c.sse_record_us),
                ping: ns(c.ping_us),
                byte_milli: (c.byte_ns * 1000.0).round() as u64,
            },
            memory: server.memory.clone(),
            payload,
            cores: server
                .cores
                .map(|k| (0..k).map(|_| Reverse(0)).collect::<BinaryHeap<_>>()),
            max_connections: server.max_connections,
            accept_backlog: server.accept_backlog,
            reserved: 0,
            accepting: BinaryHeap::new(),
            streams: 0,
            stored: 0,
            registry: 0,
            byte_carry: 0,
            cpu_by_second: Vec::new(),
            window_ms,
            window_cpu_ns: 0,
            delays: Delays::default(),
            refused: 0,
            memory_now: 0,
            memory_since_ms: 0,
            memory_peak: 0,
            memory_area: 0,
        }
    }

    /// An infinitely fast, unlimited server with the default costs (a recorder built
    /// outside a simulation).
    pub(crate) fn unlimited() -> ServerModel {
        ServerModel::new(&Server::default(), 0, (0, u64::MAX))
    }

    fn in_window(&self, t_ms: u64) -> bool {
        t_ms >= self.window_ms.0 && t_ms < self.window_ms.1
    }

    /// The cost of `work`, ns.
    pub(crate) fn cost_of(&self, work: Work) -> u64 {
        match work {
            Work::Request => self.cost.request,
            Work::Frame => self.cost.frame,
            Work::SseRecord => self.cost.record,
            Work::Ping => self.cost.ping,
            Work::Connect => self.cost.connect,
        }
    }

    /// Run a job of `cost_ns` arriving at `now_ms`; returns when it completes (ns). Its wait
    /// counts in the queueing delays if `measured`.
    pub(crate) fn run(&mut self, now_ms: u64, cost_ns: u64, measured: bool) -> u64 {
        let now = now_ms * 1_000_000;
        let start = match self.cores.as_mut() {
            None => now,
            Some(free) => {
                let Reverse(at) = free.pop().expect("at least one core");
                let start = at.max(now);
                free.push(Reverse(start + cost_ns));
                start
            }
        };
        let second = (start / 1_000_000_000) as usize;
        if self.cpu_by_second.len() <= second {
            self.cpu_by_second.resize(second + 1, 0);
        }
        self.cpu_by_second[second] += cost_ns;
        if self.in_window(start / 1_000_000) {
            self.window_cpu_ns += cost_ns as u128;
        }
        if measured && self.in_window(now_ms) {
            self.delays.add(start - now);
        }
        start + cost_ns
    }

    /// Charge `bytes` read or written by the server (occupies a core; nothing waits on it).
    /// Fractions of a nanosecond carry over to the next bytes, so the total is exact.
    pub(crate) fn bytes(&mut self, now_ms: u64, bytes: u64) {
        self.byte_carry += bytes * self.cost.byte_milli;
        let cost = self.byte_carry / 1000;
        self.byte_carry %= 1000;
        if cost > 0 {
            self.run(now_ms, cost, false);
        }
    }

    /// The tick at which work completing at `done_ns` leaves (`None`: now).
    pub(crate) fn departure(&self, now_ms: u64, done_ns: u64) -> Option<u64> {
        let tick = done_ns / 1_000_000;
        (self.cores.is_some() && tick > now_ms).then_some(tick)
    }

    /// Whether a client may open a connection now; a refused attempt is counted. An admitted
    /// one is reserved until [`ServerModel::accepted`].
    pub(crate) fn admit(&mut self, now_ms: u64, open: u64) -> bool {
        if self.max_connections.is_none() && self.accept_backlog.is_none() {
            return true;
        }
        let now = now_ms * 1_000_000;
        while self.accepting.peek().is_some_and(|Reverse(t)| *t <= now) {
            self.accepting.pop();
        }
        let full = self
            .max_connections
            .is_some_and(|m| open + self.reserved >= m)
            // with cores, admitted connections on their way count too: they will be in the
            // queue when their SYN arrives (else a herd admitted in one tick would all get
            // in); without, an accept is done at once and nothing waits
            || self.accept_backlog.is_some_and(|b| {
                let coming = if self.cores.is_some() { self.reserved } else { 0 };
                self.accepting.len() as u64 + coming >= b
            });
        if full {
            if self.in_window(now_ms) {
                self.refused += 1;
            }
            return false;
        }
        self.reserved += 1;
        true
    }

    /// Whether the server may open a connection of its own now (a callback): not beyond
    /// `max_connections`; a refused one is counted.
    pub(crate) fn admit_outbound(&mut self, now_ms: u64, open: u64) -> bool {
        if self
            .max_connections
            .is_some_and(|m| open + self.reserved >= m)
        {
            if self.in_window(now_ms) {
                self.refused += 1;
            }
            return false;
        }
        true
    }

    /// The server accepted a connection at `now_ms`: its accept work; returns when done (ns).
    pub(crate) fn accepted(&mut self, now_ms: u64) -> u64 {
        self.reserved = self.reserved.saturating_sub(1);
        let done = self.run(now_ms, self.cost.connect, true);
        // without cores an accept is done at once: nothing waits in the backlog
        if self.accept_backlog.is_some() && self.cores.is_some() {
            self.accepting.push(Reverse(done));
        }
        done
    }

    /// An admitted connection attempt failed before the server accepted it.
    pub(crate) fn unreserve(&mut self) {
        self.reserved = self.reserved.saturating_sub(1);
    }

    /// The server crashed at `now_ms`: the work queued on its cores and the accepts in
    /// progress are gone.
    pub(crate) fn crash(&mut self, now_ms: u64) {
        let now = now_ms * 1_000_000;
        if let Some(free) = self.cores.as_mut() {
            let k = free.len();
            free.clear();
            free.extend(std::iter::repeat_n(Reverse(now), k));
        }
        self.reserved = 0;
        self.accepting.clear();
    }

    pub(crate) fn streams(&mut self, delta: i64) {
        self.streams = self.streams.saturating_add_signed(delta);
    }

    pub(crate) fn stored(&mut self, delta: i64) {
        self.stored = self.stored.saturating_add_signed(delta);
    }

    pub(crate) fn registry(&mut self, delta: i64) {
        self.registry = self.registry.saturating_add_signed(delta);
    }

    /// Bytes of server memory with `open` connections and `parked` requests.
    pub(crate) fn memory_bytes(&self, open: u64, parked: u64) -> u64 {
        let m = &self.memory;
        open * m.connection_bytes
            + self.streams * m.stream_bytes
            + parked * m.parked_request_bytes
            + self.stored * (self.payload + m.history_event_bytes)
            + self.registry * m.registry_entry_bytes
    }

    /// The memory changed (or a second ended) at `t_ms`: it is `bytes` from now on.
    pub(crate) fn memory_at(&mut self, t_ms: u64, bytes: u64) {
        let (from, to) = (
            self.memory_since_ms.max(self.window_ms.0),
            t_ms.min(self.window_ms.1),
        );
        if to > from {
            self.memory_area += self.memory_now as u128 * (to - from) as u128;
        }
        self.memory_since_ms = self.memory_since_ms.max(t_ms);
        self.memory_now = bytes;
        if self.in_window(t_ms) {
            self.memory_peak = self.memory_peak.max(bytes);
        }
    }

    /// CPU ms spent in second `s`.
    pub(crate) fn cpu_ms_in_second(&self, s: u64) -> f64 {
        self.cpu_by_second.get(s as usize).copied().unwrap_or(0) as f64 / 1e6
    }

    /// The summary columns.
    pub(crate) fn summary(&self) -> ServerSummary {
        let (w0, w1) = self.window_ms;
        let window_s = (w1 - w0) as f64 / 1000.0;
        let cpu_s = self.window_cpu_ns as f64 / 1e9;
        // only the seconds with work (the window of a recorder built outside a simulation
        // is unbounded)
        let seconds = (w0 / 1000)..w1.div_ceil(1000).min(self.cpu_by_second.len() as u64);
        let peak = seconds
            .map(|s| self.cpu_ms_in_second(s) / 1000.0)
            .fold(0.0, f64::max);
        ServerSummary {
            cpu_s,
            cores_needed_mean: cpu_s / window_s,
            cores_needed_peak: peak,
            memory_peak_bytes: self.memory_peak,
            memory_mean_bytes: self.memory_area as f64 / (w1 - w0) as f64,
            queue_delay_mean_ms: self.delays.mean_ms(),
            queue_delay_p99_ms: self.delays.quantile_ms(0.99),
            refused: self.refused,
            cores: self.cores.as_ref().map_or(0, |c| c.len() as u64),
        }
    }
}

/// What [`ServerModel::summary`] reports.
pub(crate) struct ServerSummary {
    pub cpu_s: f64,
    pub cores_needed_mean: f64,
    pub cores_needed_peak: f64,
    pub memory_peak_bytes: u64,
    pub memory_mean_bytes: f64,
    pub queue_delay_mean_ms: f64,
    pub queue_delay_p99_ms: f64,
    pub refused: u64,
    pub cores: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(cores: Option<u64>) -> ServerModel {
        let s = Server {
            cores,
            ..Server::default()
        };
        ServerModel::new(&s, 100, (0, 10_000))
    }

    /// 1,000 jobs of 10 µs, 3,000 single bytes and 3 more at 0.5 ns/B: 10 ms + 1,501.5 ns,
    /// of which 1,501 whole ns are charged (the half carries over).
    #[test]
    fn sub_millisecond_costs_add_up_exactly() {
        let mut m = server(None);
        for _ in 0..1000 {
            m.run(5, m.cost_of(Work::Request), true);
        }
        for _ in 0..3000 {
            m.bytes(5, 1);
        }
        m.bytes(5, 3);
        assert_eq!(m.cpu_by_second[0], 10_000_000 + 1_501);
        assert_eq!(m.summary().queue_delay_mean_ms, 0.0);
    }

    /// Two cores, five 10 µs jobs at one tick: they start at 0, 0, 10, 10, 20 µs (FIFO onto
    /// the first free core), so the mean wait is 8 µs and the last is done at 30 µs.
    #[test]
    fn jobs_queue_first_in_first_out_on_k_cores() {
        let mut m = server(Some(2));
        let done: Vec<u64> = (0..5).map(|_| m.run(3, 10_000, true)).collect();
        let t = 3_000_000;
        assert_eq!(
            done,
            [t + 10_000, t + 10_000, t + 20_000, t + 20_000, t + 30_000]
        );
        assert!((m.summary().queue_delay_mean_ms - 0.008).abs() < 1e-12);
        // each job leaves on the tick during which it completes: still tick 3
        assert_eq!(m.departure(3, t + 30_000), None);
        // 150 jobs of 10 µs on 2 cores: the last completes at 750 µs after the first five
        let last = (0..150).map(|_| m.run(3, 10_000, true)).last().unwrap();
        assert_eq!(last, t + 30_000 + 750_000);
        let more = (0..100).map(|_| m.run(3, 10_000, true)).last().unwrap();
        assert_eq!(m.departure(3, more), Some(4), "done at 3.78 ms + 0.5 ms");
    }

    /// `max_connections` counts open and admitted-but-not-accepted connections.
    #[test]
    fn connections_beyond_the_limit_are_refused() {
        let s = Server {
            max_connections: Some(2),
            ..Server::default()
        };
        let mut m = ServerModel::new(&s, 100, (0, 10_000));
        assert!(m.admit(1, 0)); // reserved until accepted
        assert!(m.admit(1, 0));
        assert!(!m.admit(1, 0)); // two reserved
        m.accepted(2); // one of them is now open, one still reserved
        assert!(!m.admit(2, 1));
        assert!(m.admit(3, 0)); // the open one closed: 1 reserved + 1
        assert_eq!(m.summary().refused, 2);
    }

    /// `accept_backlog = 2` on one core with 1 ms accepts: two connections wait for their
    /// accept work, a third is refused until the first accept completes (two accepts queued
    /// at 4 ms complete at 5 and 6 ms). A connection still in its handshake is not in the
    /// backlog.
    #[test]
    fn the_backlog_holds_connections_whose_accept_is_not_done() {
        let s = Server {
            cores: Some(1),
            accept_backlog: Some(2),
            cost: crate::scenario::Costs {
                connect_us: 1000.0,
                ..Default::default()
            },
            ..Server::default()
        };
        let mut m = ServerModel::new(&s, 100, (0, 10_000));
        assert!(m.admit(4, 0) && m.admit(4, 0));
        assert_eq!(m.accepted(4), 5_000_000);
        assert_eq!(m.accepted(4), 6_000_000);
        assert!(!m.admit(4, 2), "two accepts in progress");
        assert!(m.admit(5, 2), "the first completed at 5 ms");
        assert_eq!(m.summary().refused, 1);
    }

    /// Memory: 3 connections × 4,352 + 1 stream × 25,600 + 2 parked × 10,240 + 4 stored
    /// events × (100 + 64) + 1 registry entry × 128 = 13,056 + 25,600 + 20,480 + 656 + 128
    /// = 59,920 bytes (the defaults).
    #[test]
    fn memory_adds_every_piece_of_state() {
        let mut m = server(None);
        m.streams(1);
        m.stored(4);
        m.registry(1);
        assert_eq!(m.memory_bytes(3, 2), 59_920);
        m.memory_at(0, 1000);
        m.memory_at(5_000, 3000);
        m.memory_at(10_000, 0);
        let s = m.summary();
        assert_eq!(s.memory_peak_bytes, 3000);
        assert_eq!(s.memory_mean_bytes, 2000.0);
    }
}
