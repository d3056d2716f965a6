//! What a run will cost, before it runs: work (requests, deliveries, bytes moved), peak memory
//! and wall time on a machine like the one the constants were measured on — and the budget it
//! must fit in.
//!
//! The constants come from the scale benchmark (`cargo bench --bench scale`, README
//! "Performance"), measured on a 2-core machine: about 16 µs of wall time per HTTP request
//! answered, 15 µs per event delivered, 1.4 µs per client per simulated second (timers, the
//! simulator's per-tick work) and 4 ns per byte moved (each byte is copied several times);
//! 48 KB of memory per connected client (the most the benchmark saw, short polling at 100,000
//! clients: 4.7 GB), 24 KB more with a second (upstream) connection, plus the bytes in flight
//! (held about three times over) and the events waiting in mailboxes. They are estimates within a factor of about two: good
//! enough to refuse a run that would take a day or need 50 GB, not a stopwatch.

use crate::model::Prediction;
use crate::scenario::{Fanout, Latency, Scenario};

/// Wall time per request answered, seconds.
const PER_REQUEST_S: f64 = 16e-6;
/// Wall time per event delivered, seconds.
const PER_DELIVERY_S: f64 = 15e-6;
/// Wall time per client per simulated second.
const PER_CLIENT_SECOND_S: f64 = 1.4e-6;
/// Wall time per byte moved.
const PER_BYTE_S: f64 = 4e-9;
/// Memory per connected client, bytes.
const PER_CLIENT_BYTES: f64 = 48e3;
/// Memory per client for an upstream connection of its own.
const PER_UPSTREAM_CLIENT_BYTES: f64 = 24e3;
/// Memory of the program before any client (code, runtime, recorder).
const BASE_BYTES: f64 = 64e6;
/// Bytes of HTTP heads and framing around a payload, on average.
const FRAMING_BYTES: f64 = 200.0;

/// What one simulation is expected to cost.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Estimate {
    /// Requests the server answers.
    pub requests: f64,
    /// Event deliveries.
    pub deliveries: f64,
    /// Application bytes moved, both directions.
    pub bytes: f64,
    /// Peak memory, bytes.
    pub memory_bytes: f64,
    /// Wall time on the reference machine, seconds.
    pub wall_s: f64,
}

/// Reconnections clients make when they come back or change address (`[clients] online_s`,
/// `address_change_per_hour`): each is at least one new connection and its first request.
fn reconnects(s: &Scenario) -> f64 {
    let c = &s.clients;
    let per_client_s = c.address_change_per_hour / 3600.0
        + match (c.online_s, c.offline_s) {
            (Some(on), Some(off)) if on + off > 0.0 => 1.0 / (on + off),
            _ => 0.0,
        };
    c.count as f64 * per_client_s * s.duration_s
}

/// The estimate of one strategy under `s`; `prediction` is its closed form if it has one,
/// `longest_period_s` its [`crate::Strategy::longest_period`].
pub(crate) fn of_run(
    s: &Scenario,
    prediction: Option<&Prediction>,
    longest_period_s: f64,
) -> Estimate {
    let n = s.clients.count as f64;
    let grace = s.simulation.grace_s.unwrap_or(longest_period_s + 10.0);
    let simulated = s.duration_s + grace;
    let deliveries = s.expected_deliveries();
    let upstream = s
        .upstream
        .as_ref()
        .map_or(0.0, |u| n * u.rate_per_client_per_s * s.duration_s);
    let requests = match prediction.and_then(|p| p.requests_per_s) {
        Some(r) => r * s.duration_s,
        // no closed form: as if each client asked once per longest period (a strategy with
        // none pushes), and once per event
        None if longest_period_s >= 0.001 => n * s.duration_s / longest_period_s + deliveries,
        None => deliveries,
    } + n
        + reconnects(s);
    let payload = s.events.payload_bytes as f64;
    let up_payload = s.upstream.as_ref().map_or(0.0, |u| u.payload_bytes as f64);
    let bytes = deliveries * (payload + FRAMING_BYTES)
        + requests * FRAMING_BYTES
        + upstream * (up_payload + FRAMING_BYTES);
    let wall_s = PER_REQUEST_S * (requests + upstream)
        + PER_DELIVERY_S * deliveries
        + PER_CLIENT_SECOND_S * n * simulated
        + PER_BYTE_S * bytes;
    Estimate {
        requests,
        deliveries,
        bytes,
        memory_bytes: memory(s, longest_period_s),
        wall_s,
    }
}

fn memory(s: &Scenario, longest_period_s: f64) -> f64 {
    let n = s.clients.count as f64;
    let (rate, fanout) = s.event_rate();
    let recipients = match fanout {
        Fanout::One => 1.0,
        Fanout::All => n,
    };
    let payload = s.events.payload_bytes as f64 + FRAMING_BYTES;
    let Latency { max_ms, .. } = s.network.latency_ms;
    let in_transit_s = (2 * max_ms + 1) as f64 / 1000.0;
    // bytes in flight: what is sent during one round trip, and at least one whole event (a
    // fan-out sends a copy to every client at once), each held about three times (the
    // sender's buffer, the simulated network, the receiver's buffer: 2,000 clients × 1 MiB
    // fan-out measured 6.2–6.4 GB peak)
    let in_flight = 3.0 * (rate * in_transit_s).max(1.0) * recipients * payload;
    // events waiting in mailboxes for up to the longest period (32 bytes each)
    let waiting = rate * recipients * longest_period_s.max(in_transit_s) * 32.0;
    // the recorder: 4 bytes per event (its addressee), 8 per latency bucket, a row per second
    let recorder = rate * s.duration_s * 4.0 + 8.0 * max_ms as f64 + 200.0 * s.duration_s;
    let per_client = PER_CLIENT_BYTES
        + if s.upstream.is_some() {
            PER_UPSTREAM_CLIENT_BYTES
        } else {
            0.0
        };
    BASE_BYTES + n * per_client + in_flight + waiting + recorder
}

/// What this machine allows (see [`Budget::of_machine`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// Peak memory of the runs that run at once, bytes.
    pub memory_bytes: f64,
    /// Where the memory figure comes from.
    pub memory_source: String,
    /// Longest single run, seconds of wall time.
    pub run_wall_s: f64,
    /// Longest whole command (all runs, spread over the jobs), seconds.
    pub total_wall_s: f64,
}

impl Budget {
    /// 80 % of the memory this process may use — the smallest of the memory available
    /// (`/proc/meminfo`), its cgroup's limit and its address-space limit (`ulimit -v`; half
    /// of it, as virtual memory runs ahead of what is used) — one hour per run, four hours
    /// in all.
    pub fn of_machine() -> Budget {
        let mut limits: Vec<(f64, String)> = Vec::new();
        if let Some(kb) = read_number("/proc/meminfo", "MemAvailable:") {
            limits.push((kb * 1024.0, "memory available".into()));
        }
        for path in [
            "/sys/fs/cgroup/memory.max",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        ] {
            if let Some(b) = std::fs::read_to_string(path)
                .ok()
                .and_then(|t| t.trim().parse::<f64>().ok())
            {
                limits.push((b, format!("the cgroup limit ({path})")));
            }
        }
        if let Some(b) = address_space_limit() {
            limits.push((b / 2.0, "half the address-space limit (ulimit -v)".into()));
        }
        let (memory, source) = limits
            .into_iter()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap_or((
                8e9,
                "an assumed 8 GB (the machine's memory is unknown)".into(),
            ));
        Budget {
            memory_bytes: 0.8 * memory,
            memory_source: format!("80 % of {source}"),
            run_wall_s: 3600.0,
            total_wall_s: 4.0 * 3600.0,
        }
    }
}

fn read_number(path: &str, key: &str) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

fn address_space_limit() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    let soft = line.split_whitespace().nth(3)?;
    soft.parse().ok() // "unlimited" does not parse
}

/// The estimates of every run of a command, and whether they fit a budget.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `(label, estimate)` per simulation.
    pub runs: Vec<(String, Estimate)>,
    /// Simulations at once.
    pub jobs: usize,
}

impl Plan {
    /// Peak memory: the `jobs` largest runs at once.
    pub fn memory_bytes(&self) -> f64 {
        let mut m: Vec<f64> = self.runs.iter().map(|r| r.1.memory_bytes).collect();
        m.sort_by(|a, b| b.total_cmp(a));
        m.iter().take(self.jobs.max(1)).sum()
    }

    /// Wall time of everything, spread over the jobs.
    pub fn wall_s(&self) -> f64 {
        let total: f64 = self.runs.iter().map(|r| r.1.wall_s).sum();
        let longest = self.runs.iter().map(|r| r.1.wall_s).fold(0.0, f64::max);
        (total / self.jobs.max(1) as f64).max(longest)
    }

    /// One paragraph for the terminal.
    pub fn describe(&self) -> String {
        let sum = |f: fn(&Estimate) -> f64| self.runs.iter().map(|r| f(&r.1)).sum::<f64>();
        format!(
            "estimate: {} simulation{}, {} requests, {} deliveries, {} moved; peak memory {} ({} at once); about {} of wall time",
            self.runs.len(),
            if self.runs.len() == 1 { "" } else { "s" },
            count(sum(|e| e.requests)),
            count(sum(|e| e.deliveries)),
            bytes(sum(|e| e.bytes)),
            bytes(self.memory_bytes()),
            self.jobs.max(1).min(self.runs.len().max(1)),
            duration(self.wall_s())
        )
    }

    /// `Err` with the estimate and the limit if the plan does not fit `budget`.
    pub fn check(&self, budget: &Budget) -> Result<(), String> {
        let over = |what: String| {
            Err(format!(
                "{what}; {}. Make the scenario smaller (clients, duration, rate, payload), run fewer jobs at once (--jobs), or pass --force to run it anyway",
                self.describe()
            ))
        };
        if self.memory_bytes() > budget.memory_bytes {
            return over(format!(
                "this would need about {} of memory, more than this machine allows ({}: {})",
                bytes(self.memory_bytes()),
                budget.memory_source,
                bytes(budget.memory_bytes)
            ));
        }
        if let Some((label, e)) = self.runs.iter().find(|r| r.1.wall_s > budget.run_wall_s) {
            return over(format!(
                "{label} would take about {} (the limit for one run is {})",
                duration(e.wall_s),
                duration(budget.run_wall_s)
            ));
        }
        if self.wall_s() > budget.total_wall_s {
            return over(format!(
                "all runs would take about {} (the limit is {})",
                duration(self.wall_s()),
                duration(budget.total_wall_s)
            ));
        }
        Ok(())
    }
}

fn count(x: f64) -> String {
    match x {
        x if x >= 1e9 => format!("{:.1} G", x / 1e9),
        x if x >= 1e6 => format!("{:.1} M", x / 1e6),
        x if x >= 1e3 => format!("{:.1} k", x / 1e3),
        x => format!("{x:.0}"),
    }
}

fn bytes(x: f64) -> String {
    match x {
        x if x >= 1e12 => format!("{:.1} TB", x / 1e12),
        x if x >= 1e9 => format!("{:.1} GB", x / 1e9),
        x if x >= 1e6 => format!("{:.0} MB", x / 1e6),
        x => format!("{:.0} kB", x / 1e3),
    }
}

fn duration(s: f64) -> String {
    match s {
        s if s >= 7200.0 => format!("{:.0} h", s / 3600.0),
        s if s >= 120.0 => format!("{:.0} min", s / 60.0),
        s => format!("{:.0} s", s.max(1.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(memory: f64, wall: f64, n: usize, jobs: usize) -> Plan {
        let e = Estimate {
            memory_bytes: memory,
            wall_s: wall,
            ..Estimate::default()
        };
        Plan {
            runs: (0..n).map(|i| (format!("run {i}"), e)).collect(),
            jobs,
        }
    }

    fn budget() -> Budget {
        Budget {
            memory_bytes: 10e9,
            memory_source: "test".into(),
            run_wall_s: 3600.0,
            total_wall_s: 14_400.0,
        }
    }

    /// Clients that move or come back reconnect: 100 clients changing address once a
    /// second (3,600 an hour) for 100 s add 100 × 1 × 100 = 10,000 connection requests, and
    /// churn with sessions of 30 s and absences of 20 s adds 100 × 100 / 50 = 200 more.
    #[test]
    fn moving_clients_add_their_reconnections() {
        let s = |extra: &str| {
            Scenario::from_toml(&crate::scenario::Source {
                label: "t".into(),
                text: &format!(
                    "name = \"t\"\nduration_s = 100\n[clients]\ncount = 100\n{extra}\n\
                     [events]\nrate_per_client_per_s = 0.1\n"
                ),
            })
            .unwrap()
        };
        let still = of_run(&s(""), None, 0.0).requests;
        let moving = of_run(&s("address_change_per_hour = 3600"), None, 0.0).requests;
        assert!(
            (moving - still - 10_000.0).abs() < 1e-6,
            "{moving} vs {still}"
        );
        let both = of_run(
            &s("address_change_per_hour = 3600\nonline_s = 30\noffline_s = 20"),
            None,
            0.0,
        )
        .requests;
        assert!((both - still - 10_200.0).abs() < 1e-6, "{both} vs {still}");
    }

    /// Memory adds up over the runs that run at once; time spreads over the jobs.
    #[test]
    fn a_plan_is_judged_by_its_concurrent_memory_and_its_time() {
        assert!(plan(4e9, 10.0, 5, 2).check(&budget()).is_ok()); // 8 GB at once
        let e = plan(4e9, 10.0, 5, 3).check(&budget()).unwrap_err(); // 12 GB at once
        assert!(e.contains("12.0 GB of memory"), "{e}");
        let e = plan(1e9, 4000.0, 1, 1).check(&budget()).unwrap_err();
        assert!(e.contains("run 0 would take about 67 min"), "{e}");
        // 10 runs of 50 min on 2 jobs: 250 min > 4 h
        let e = plan(1e9, 3000.0, 10, 2).check(&budget()).unwrap_err();
        assert!(e.contains("all runs would take about 4 h"), "{e}");
    }
}
