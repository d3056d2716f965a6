//! Theory for the finite server: CPU, memory, the saturation point and the queueing delay
//! (`docs/theory.md`, "The finite server").
//!
//! A strategy's closed form states its server [`Load`]: operations per second and the state it
//! holds. From it and the scenario's `[server]`:
//!
//! - **CPU**: cores needed = Σ rate × cost (exact in expectation: each operation's cost is a
//!   constant, so the mean of the sum is the sum of rate × cost).
//! - **Memory**: Σ expected count × bytes (open connections, streams, parked requests, stored
//!   events, registry entries).
//! - **Saturation**: the load grows in proportion to the clients, so a K-core server saturates
//!   at K × N / cores needed clients.
//! - **Queueing delay below saturation**: the simulator delivers the jobs of one millisecond
//!   at its start, so a job waits for (a) the jobs of its own tick ahead of it, on K cores,
//!   and (b) the work left over from earlier ticks, drained by K cores. Both treat the jobs
//!   as equal (the mean cost) and arrivals as Poisson, m jobs per tick. (a) is exact: with J
//!   others ahead in its tick a job waits ⌊J/K⌋·s, the others are Poisson(m) and its place
//!   among them uniform. (b) is the stationary mean of the slotted Lindley recursion
//!   U' = max(0, U + B·s − K·1 ms), B ~ Poisson(m), solved numerically; for more than 64
//!   jobs per tick, Kingman's heavy-traffic form E\[U\] ≈ m·E\[s²\] / (2(K·1 ms − m·s)).
//!   (a) is an artefact of the 1 ms tick (real arrivals are spread over the millisecond, and
//!   a real server at 40 % load waits microseconds); it is at most half a tick.
//! - **Past saturation**: the cores are busy all the time (cores needed = K). Every strategy
//!   here waits for a job's work before its next one on the same connection, so each
//!   connection has at most one job queued: the work no core can do piles up elsewhere. A
//!   polling client waits for its answer: requests/s fall to K / (CPU per request), i.e. by
//!   the utilisation ρ. A push server's events wait in its mailboxes instead, so latency
//!   grows through the run. The queueing delay is then set by how many connections have a
//!   job queued, which the model does not predict.

use serde::Serialize;

use crate::scenario::Scenario;

/// What a strategy's server does per second and holds, in expectation (steady state).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Load {
    /// Connections accepted (or opened to clients) per second.
    pub connects_per_s: f64,
    /// HTTP requests per second (each parsed and answered).
    pub requests_per_s: f64,
    /// WebSocket data frames written or read per second.
    pub frames_per_s: f64,
    /// SSE records and keep-alive comments per second.
    pub sse_records_per_s: f64,
    /// Pings per second.
    pub pings_per_s: f64,
    /// Application bytes the server reads and writes per second.
    pub bytes_per_s: f64,
    /// Connections open.
    pub open_connections: f64,
    /// Long-lived streams open (WebSocket sessions, SSE streams).
    pub streams: f64,
    /// Requests parked.
    pub parked_requests: f64,
    /// Events kept for clients, averaged over the measured window.
    pub stored_events: f64,
    /// Callback registry entries.
    pub registry_entries: f64,
    /// Whether each client waits for an answer before asking again (polling): past
    /// saturation such clients slow down instead of piling up work.
    pub closed_loop: bool,
    /// Whether jobs arrive like a Poisson stream (events, requests that follow events). Polls
    /// on fixed timers do not: clients that started on the same millisecond poll on the same
    /// millisecond for ever, so the queueing delay is not predicted for them.
    pub poisson_arrivals: bool,
}

/// What the cost model predicts for one strategy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capacity {
    /// CPU cores the load asks for (may exceed the server's cores).
    pub demand_cores: f64,
    /// Cores busy on average: the demand, or the server's cores past saturation.
    pub cores_needed: f64,
    /// Mean server memory, bytes.
    pub memory_bytes: f64,
    /// Clients one core can serve.
    pub clients_per_core: f64,
    /// Clients at which the server's cores are all busy (`[server] cores` set).
    pub saturation_clients: Option<f64>,
    /// Demand ÷ cores (`[server] cores` set).
    pub utilisation: Option<f64>,
    /// Mean wait of a job for a core, ms (`[server] cores` set, and predictable).
    pub queue_delay_mean_ms: Option<f64>,
    /// Factor by which a closed-loop strategy's request rate falls past saturation (1 below).
    pub slowdown: f64,
    /// With `[server] cores`: seconds the cores need to open every client's connections
    /// (accept, TLS and the first request of each), at the earliest from the first connect.
    /// If this reaches into the measured window, the run is not in the steady state the
    /// model describes.
    pub setup_s: Option<f64>,
}

impl Capacity {
    /// Whether the demand reaches the server's cores.
    pub fn saturated(&self) -> bool {
        self.utilisation.is_some_and(|u| u >= 1.0)
    }
}

/// The jobs of one kind: rate per second and cost in µs.
fn jobs(s: &Scenario, l: &Load) -> [(f64, f64); 5] {
    let c = &s.server.cost;
    [
        (l.connects_per_s, c.connect_us + c.tls_handshake_us),
        (l.requests_per_s, c.request_us),
        (l.frames_per_s, c.frame_us),
        (l.sse_records_per_s, c.sse_record_us),
        (l.pings_per_s, c.ping_us),
    ]
}

/// The cost model's prediction for `load` under `s`.
pub fn predict(s: &Scenario, load: &Load) -> Capacity {
    let c = &s.server.cost;
    let m = &s.server.memory;
    let jobs = jobs(s, load);
    let job_us: f64 = jobs.iter().map(|(r, c)| r * c).sum();
    let byte_us = load.bytes_per_s * c.byte_ns / 1000.0;
    let demand = (job_us + byte_us) / 1e6;
    let n = s.clients.count as f64;
    let memory = load.open_connections * m.connection_bytes as f64
        + load.streams * m.stream_bytes as f64
        + load.parked_requests * m.parked_request_bytes as f64
        + load.stored_events * (s.events.payload_bytes + m.history_event_bytes) as f64
        + load.registry_entries * m.registry_entry_bytes as f64;
    let clients_per_core = if demand > 0.0 {
        n / demand
    } else {
        f64::INFINITY
    };
    let mut out = Capacity {
        demand_cores: demand,
        cores_needed: demand,
        memory_bytes: memory,
        clients_per_core,
        saturation_clients: None,
        utilisation: None,
        queue_delay_mean_ms: None,
        slowdown: 1.0,
        setup_s: None,
    };
    let Some(k) = s.server.cores else {
        return out;
    };
    let k = k as f64;
    let per_client = load.open_connections / n.max(1.0)
        * (c.connect_us + c.tls_handshake_us + c.request_us)
        / 1e6;
    out.setup_s = Some(n * per_client / k);
    let rho = demand / k;
    // no steady-state work at all: the server never saturates
    out.saturation_clients = Some(k * clients_per_core).filter(|v| v.is_finite());
    out.utilisation = Some(rho);
    if rho < 1.0 {
        let rate: f64 = jobs.iter().map(|j| j.0).sum();
        if rate > 0.0 {
            // per job, with the byte work spread over the jobs
            let mean_s = (job_us + byte_us) / rate;
            let second: f64 = jobs.iter().map(|(r, c)| r * c * c).sum::<f64>() / rate;
            let per_tick = rate / 1000.0;
            if mean_s > 0.0 {
                let batch = batch_wait_us(per_tick, mean_s, k);
                let backlog = carry_over_us(per_tick, mean_s, second, k * 1000.0);
                out.queue_delay_mean_ms = load
                    .poisson_arrivals
                    .then_some((batch + backlog / k) / 1000.0);
            } else {
                out.queue_delay_mean_ms = Some(0.0); // no work, no wait
            }
        } else {
            out.queue_delay_mean_ms = Some(0.0);
        }
        return out;
    }
    out.cores_needed = k;
    if load.closed_loop {
        out.slowdown = rho;
    }
    out
}

/// Mean work (µs) left over from earlier ticks when a tick brings Poisson(`m`) jobs of `s` µs
/// (second moment `s2`) and `capacity` µs of work can be done per tick: the stationary mean
/// of U' = max(0, U + B·s − capacity), solved on a grid of an eighth of a job (Kingman's form
/// beyond 64 jobs per tick, where the grid would be large and the form is good).
fn carry_over_us(m: f64, s: f64, s2: f64, capacity: f64) -> f64 {
    // the grid holds 40 ticks of capacity in eighths of a job: beyond 2,048 jobs per tick
    // (jobs far smaller than a tick) it would be huge, and little work is ever left over
    if m > 64.0 || capacity / s > 2048.0 {
        return m * s2 / (2.0 * (capacity - m * s));
    }
    let top = (m + 12.0 * m.sqrt() + 30.0).ceil() as usize;
    let mut q = vec![0.0; top + 1];
    let mut p = (-m).exp();
    for (b, slot) in q.iter_mut().enumerate() {
        if b > 0 {
            p *= m / b as f64;
        }
        *slot = p;
    }
    // U on a grid of 1/8 job; capacity in grid units
    const G: usize = 8;
    let cap = (capacity / s * G as f64).round() as usize;
    let size = (cap * 40).max(64 * G);
    let mut u = vec![0.0; size];
    u[0] = 1.0;
    let mut mean = 0.0;
    for _ in 0..5000 {
        let mut next = vec![0.0; size];
        for (x, &px) in u.iter().enumerate().filter(|(_, &p)| p > 1e-15) {
            for (b, &pb) in q.iter().enumerate() {
                let y = (x + b * G).saturating_sub(cap).min(size - 1);
                next[y] += px * pb;
            }
        }
        let new_mean = next
            .iter()
            .enumerate()
            .map(|(x, p)| x as f64 * p)
            .sum::<f64>()
            / G as f64;
        u = next;
        let done = (new_mean - mean).abs() < 1e-9 * new_mean.max(1e-6);
        mean = new_mean;
        if done {
            break;
        }
    }
    mean * s
}

/// Mean wait (µs) of a job for the jobs of its own tick ahead of it, on `k` cores, when a tick
/// brings Poisson(`m`) jobs of `s` µs each: with J jobs ahead it waits ⌊J/k⌋·s. The others
/// in its tick are Poisson(m) (Poisson arrivals seen by a job), its place among them uniform.
fn batch_wait_us(m: f64, s: f64, k: f64) -> f64 {
    if m > 1000.0 {
        // Poisson(m) ≈ m for large m: a uniformly placed job has about m/2 jobs ahead
        return s * (m / 2.0 / k).floor();
    }
    let top = (m + 12.0 * m.sqrt() + 30.0).ceil() as u64;
    let k = k as u64;
    let mut p = (-m).exp(); // P(B' = 0)
    let mut total = 0.0;
    let mut mass = 0.0;
    for b in 0..=top {
        if b > 0 {
            p *= m / b as f64;
        }
        // jobs ahead j = 0..=b, each with probability 1/(b+1)
        let waits: u64 = (0..=b).map(|j| j / k).sum();
        total += p * waits as f64 / (b + 1) as f64;
        mass += p;
    }
    s * total / mass
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One job per tick on average and one core: the job waits for each other job of its
    /// tick ahead of it, E[J] = m/2 = 0.5 jobs (for Poisson others, the number ahead of a
    /// uniformly placed job has mean m/2), so 5 µs for 10 µs jobs.
    #[test]
    fn batch_wait_on_one_core_is_half_the_batch() {
        assert!((batch_wait_us(1.0, 10.0, 1.0) - 5.0).abs() < 1e-9);
        assert!((batch_wait_us(40.0, 10.0, 1.0) - 200.0).abs() < 1e-6);
    }

    /// With more cores than jobs in a tick, almost nothing waits: m = 0.2 on 4 cores needs
    /// four others ahead, P ≈ 0.2⁴/4!·e^-0.2/5 ≈ 1e-5.
    #[test]
    fn batch_wait_vanishes_with_spare_cores() {
        assert!(batch_wait_us(0.2, 10.0, 4.0) < 1e-3);
    }
}
