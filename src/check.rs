//! Simulation against theory: `realtime-lab run --check` and the validation tests.
//!
//! Tolerances (the validation issue's): 1 % for rates (requests/s, bytes/s); for latency
//! mean/p50/p99, 2 % or 2 ms, whichever is larger (push strategies on a constant-latency link:
//! 1 ms, one tick); 2 percentage points for the empty fraction; 2 % or one request for parked
//! requests; 2 % for bytes per event; the simulated maximum may not exceed the predicted one
//! by more than one tick.
//!
//! Quantities estimated from events (latencies, bytes per event) are compared only when the
//! window is expected to hold at least [`MIN_EVENTS`] events: below that, the sampling noise
//! of a finite run (e.g. 1/√n on a mean) is of the order of the tolerance itself, and a
//! difference would say nothing about the model. Likewise a requests/s or bytes/s beyond
//! tolerance is flagged only when the run's sampling noise (cycle cv / √requests) is at most
//! half the tolerance; otherwise the row says "not judged". Push strategies' traffic follows
//! the events, so their bytes/s noise is 1/√(expected events). A median is held to three of
//! its standard errors (√(0.25/n)/density at the median, [`crate::model::Prediction`]'s
//! `p50_density`) when they exceed the 2 % tolerance.

/// Fewest expected events in the window for event-based quantities to be compared.
pub const MIN_EVENTS: f64 = 5_000.0;

use std::fmt::Write as _;

use crate::model::Prediction;
use crate::sim::RunResult;
use crate::Scenario;

/// One compared quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRow {
    /// What is compared.
    pub quantity: &'static str,
    /// Measured in the simulation.
    pub simulated: f64,
    /// Predicted by the model.
    pub predicted: f64,
    /// The difference, as text (relative for relative tolerances).
    pub difference: String,
    /// What difference is allowed, as text.
    pub tolerance: String,
    /// Whether the difference is within it.
    pub ok: bool,
}

enum Tol {
    /// An absolute tolerance set by sampling noise: three standard errors.
    Noise(f64),
    Rel(f64),
    RelOrAbs(f64, f64),
    Abs(f64),
    AtMost(f64),
}

fn row(quantity: &'static str, simulated: f64, predicted: f64, tol: Tol) -> CheckRow {
    let signed = simulated - predicted;
    let diff = signed.abs();
    let difference = match tol {
        Tol::Rel(_) | Tol::RelOrAbs(..) if predicted.abs() > 1e-9 => {
            format!("{:+.2}%", 100.0 * signed / predicted)
        }
        _ => format!("{signed:+.4}"),
    };
    let (ok, tolerance) = match tol {
        Tol::Rel(r) => (
            diff <= r * predicted.abs() + 1e-9,
            format!("±{}%", crate::metrics::round3(r * 100.0)),
        ),
        Tol::RelOrAbs(r, a) => (
            diff <= (r * predicted.abs()).max(a) + 1e-9,
            format!("±{}% or {a}", crate::metrics::round3(r * 100.0)),
        ),
        Tol::Abs(a) => (diff <= a + 1e-9, format!("±{}", short(a))),
        Tol::Noise(a) => (diff <= a + 1e-9, format!("±{a:.1} (3 s.e.)")),
        Tol::AtMost(a) => (simulated <= predicted + a + 1e-9, format!("≤ +{a}")),
    };
    CheckRow {
        quantity,
        simulated,
        predicted,
        difference,
        tolerance,
        ok,
    }
}

/// A quantity the run is too small to judge: shown, not flagged.
fn unjudged(quantity: &'static str, simulated: f64, predicted: f64, noise: String) -> CheckRow {
    CheckRow {
        quantity,
        simulated,
        predicted,
        difference: format!("{:+.2}%", 100.0 * (simulated - predicted) / predicted),
        tolerance: format!("noise {noise}"),
        ok: true,
    }
}

/// Compare a run of `scenario` with its prediction, quantity by quantity (only those the
/// model predicts, and event-based ones only with enough events).
pub fn compare(result: &RunResult, p: &Prediction, scenario: &Scenario) -> Vec<CheckRow> {
    let s = &result.summary;
    let window = scenario.duration_s - scenario.warmup_s;
    let expected_events = crate::model::lambda(scenario) * scenario.clients.count as f64 * window;
    let enough = expected_events >= MIN_EVENTS;
    let push = p.requests_per_s == Some(0.0);
    let constant = scenario.network.latency_ms.is_constant();
    // on a server with cores, a frame or answer may wait for a core: up to its p99 wait,
    // rounded up to the tick it leaves on
    let queue_ms = if scenario.server.cores.is_some() {
        s.server_queue_delay_p99_ms.ceil() + 1.0
    } else {
        0.0
    };
    let lat = |r: f64| {
        if push && constant {
            Tol::Abs(1.0 + queue_ms)
        } else {
            Tol::RelOrAbs(r, 2.0)
        }
    };
    let cap = p
        .load
        .as_ref()
        .map(|l| crate::capacity::predict(scenario, l));
    if let Some(c) = cap.as_ref().filter(|c| c.saturated()) {
        return saturated_rows(s, p, c, window);
    }
    // the model is for the steady state: if opening the clients' connections keeps the cores
    // busy into the measured window, the run has not reached it
    let setup = cap.as_ref().and_then(|c| c.setup_s).unwrap_or(0.0);
    let cap = cap.filter(|_| setup <= scenario.warmup_s);
    // without faults every closed form expects no loss: a lost or misdelivered event is a
    // difference from theory, whatever the run's size; under faults, the invariants hold
    // (nothing twice, nothing to the wrong client) and losses are compared where predicted
    let n = scenario.clients.count as f64;
    let mut rows = vec![row("duplicates", s.duplicates as f64, 0.0, Tol::Abs(0.0))];
    // the stale-address theory, again for the address changes and unreachable clients the
    // run drew (its prediction is for their expected numbers; both are the scenario's random
    // input, not what the theory is about)
    let redrawn = p.callback.map(|cb| {
        let mut sc = scenario.clone();
        if let Some(e) = p.address_changes.filter(|&e| e > 0.0) {
            sc.clients.address_change_per_hour *= s.address_changes as f64 / e;
        }
        let cb = crate::model::Callback {
            unreachable: s.clients_unreachable as f64 / n.max(1.0),
            ..cb
        };
        crate::privacy::callback(&sc, cb)
    });
    let (misdelivered, lost) = match redrawn.flatten() {
        Some(e) => (Some(e.misdelivered), Some(e.lost)),
        None => (p.misdelivered, p.events_lost),
    };
    match misdelivered {
        // a count of rare events whose expectation the theory approximates (docs/addresses.md):
        // Poisson noise, and 20 % for the approximations
        Some(v) => rows.insert(
            0,
            row(
                "misdelivered",
                s.misdelivered as f64,
                v,
                Tol::Abs(3.0 * v.sqrt() + 0.2 * v + 1.0),
            ),
        ),
        None => rows.insert(
            0,
            row("misdelivered", s.misdelivered as f64, 0.0, Tol::Abs(0.0)),
        ),
    }
    match lost {
        Some(v) if scenario.faults.is_empty() => {
            // the strategy's own losses (unreachable clients, stale addresses): Poisson counts,
            // and 10 % for the approximations of the stale-address theory
            rows.insert(
                0,
                row(
                    "events lost",
                    s.events_lost as f64,
                    v,
                    Tol::Abs(3.0 * v.sqrt() + 0.1 * v),
                ),
            );
        }
        _ if !scenario.has_faults() => {
            rows.insert(
                0,
                row("events lost", s.events_lost as f64, 0.0, Tol::Abs(0.0)),
            );
        }
        Some(v) => {
            // a Poisson count, and the events within a round trip of each crash or return
            // may go either way
            let edge = crate::model::lambda(scenario)
                * n
                * (4.0 * scenario.network.latency_ms.max_ms as f64 / 1000.0)
                * scenario.faults.len() as f64;
            rows.insert(
                0,
                row(
                    "events lost",
                    s.events_lost as f64,
                    v,
                    Tol::Abs(3.0 * v.sqrt() + edge),
                ),
            );
        }
        None => {}
    }
    if let Some(share) = p.unreachable_share.filter(|&u| u > 0.0) {
        let sd = (share * (1.0 - share) * n).sqrt();
        rows.push(row(
            "clients unreachable",
            s.clients_unreachable as f64,
            share * n,
            Tol::Abs(3.0 * sd + 0.5),
        ));
    }
    for (quantity, sim, pred) in [
        (
            "address-s in memory",
            s.address_seconds_in_memory,
            p.address_seconds_in_memory,
        ),
        (
            "address-s stored",
            s.address_seconds_stored,
            p.address_seconds_stored,
        ),
    ] {
        if let Some(v) = pred {
            // connections open and close within a round trip of the window's edges
            rows.push(row(quantity, sim, v, Tol::RelOrAbs(0.02, n)));
        }
    }
    if let Some((lo, hi)) = p.attempts_peak_per_s {
        rows.push(row(
            "attempts peak/s",
            s.connect_attempts_peak_per_s as f64,
            (lo + hi) / 2.0,
            Tol::Abs((hi - lo) / 2.0),
        ));
    }
    // timed faults and cuts: the steady state's forms hold for no window that contains them
    if !scenario.faults.is_empty()
        || scenario.proxy.idle_timeout_s.is_some()
        || scenario.has_churn()
    {
        return rows;
    }
    // a finite run's request count is noisy when cycles vary (≈ cv/√requests): a difference
    // beyond tolerance is flagged only if the run is large enough to tell
    // (push traffic follows the events instead: a Poisson count, noise 1/√events)
    let request_noise = if push {
        1.0 / expected_events.max(1.0).sqrt()
    } else {
        p.requests_per_s.map_or(0.0, |v| {
            p.cycle_cv.unwrap_or(1.0) / (v * window).max(1.0).sqrt()
        })
    };
    let judge = |r: CheckRow| {
        if !r.ok && request_noise > 0.01 / 2.0 {
            unjudged(
                r.quantity,
                r.simulated,
                r.predicted,
                format!("±{:.1}%", 100.0 * request_noise),
            )
        } else {
            r
        }
    };
    if let Some(v) = p.requests_per_s.filter(|_| !push) {
        rows.push(judge(row(
            "requests/s",
            s.requests_per_s,
            v,
            Tol::Rel(0.01),
        )));
    }
    // push traffic is nearly all events: with few events it is sampling noise too
    if let Some(v) = p.app_bytes_per_s.filter(|_| enough || !push) {
        let sim = (s.app_bytes_up + s.app_bytes_down) as f64 / window;
        rows.push(judge(row("app bytes/s", sim, v, Tol::Rel(0.01))));
    }
    if let Some(v) = p.empty_fraction {
        let sim = if s.requests == 0 {
            0.0
        } else {
            s.empty_responses as f64 / s.requests as f64
        };
        rows.push(row("empty fraction", sim, v, Tol::Abs(0.02)));
    }
    if let Some(v) = p.parked_requests.filter(|&v| v > 0.0) {
        let sim = s.parked_requests_mean;
        rows.push(row("parked requests", sim, v, Tol::RelOrAbs(0.02, 1.0)));
    }
    if let Some(c) = &cap {
        // CPU is Σ rate × cost: as noisy as the counts it adds up (bytes unknown with
        // upstream messages: then only requests, frames and records are predicted)
        let tol = if scenario.upstream.is_some() {
            0.1
        } else {
            0.03
        };
        rows.push(judge(row(
            "cores needed (mean)",
            s.server_cores_needed_mean,
            c.cores_needed,
            Tol::Rel(tol),
        )));
        rows.push(judge(row(
            "memory mean (bytes)",
            s.server_memory_mean_bytes as f64,
            c.memory_bytes,
            Tol::Rel(0.03),
        )));
        if let Some(v) = c.queue_delay_mean_ms.filter(|_| setup <= scenario.warmup_s) {
            rows.push(row(
                "queue delay mean (ms)",
                s.server_queue_delay_mean_ms,
                v,
                Tol::RelOrAbs(0.1, 0.02),
            ));
        }
    }
    if !enough {
        return rows;
    }
    if let Some(v) = p.latency_mean_ms {
        rows.push(row("latency mean (ms)", s.latency_mean_ms, v, lat(0.02)));
    }
    if let Some(v) = p.latency_p50_ms {
        // the median of n samples has a standard error √(0.25/n)/density: when three of
        // them exceed the tolerance, a run this size cannot be held to it
        let se = p
            .p50_density
            .map_or(0.0, |f| (0.25 / expected_events).sqrt() / f.max(1e-12));
        let base = if push && constant {
            1.0
        } else {
            (0.02 * v).max(2.0)
        };
        let tol = if 3.0 * se > base {
            Tol::Noise(3.0 * se)
        } else {
            lat(0.02)
        };
        rows.push(row("latency p50 (ms)", s.latency_p50_ms as f64, v, tol));
    }
    // a p99 is compared only if a run this size can pin it down: its standard error
    // √(0.99·0.01/n)/density must be within a third of the tolerance
    let p99_se = p
        .p99_density
        .map_or(0.0, |f| (0.0099 / expected_events).sqrt() / f.max(1e-12));
    let p99_tol = p.latency_p99_ms.map_or(0.0, |v| {
        if push && constant {
            1.0
        } else {
            (0.02 * v).max(2.0)
        }
    });
    if let Some(v) = p.latency_p99_ms.filter(|_| p99_se <= p99_tol / 3.0) {
        rows.push(row(
            "latency p99 (ms)",
            s.latency_p99_ms as f64,
            v,
            lat(0.02),
        ));
    }
    if let Some(v) = p.latency_max_ms {
        rows.push(row(
            "latency max (ms)",
            s.latency_max_ms as f64,
            v,
            Tol::AtMost(1.0 + queue_ms),
        ));
    }
    if let Some(v) = p.bytes_per_event {
        rows.push(row("bytes per event", s.bytes_per_event, v, Tol::Rel(0.02)));
    }
    rows
}

/// A run whose load exceeds its server's cores: the cores are busy all the time, and a
/// polling strategy's requests/s fall by the utilisation (see [`crate::capacity`]); latency,
/// losses and memory then depend on how long the overload lasts, which the model does not
/// predict.
fn saturated_rows(
    s: &crate::metrics::SummaryRow,
    p: &Prediction,
    c: &crate::capacity::Capacity,
    window: f64,
) -> Vec<CheckRow> {
    let mut rows = vec![row(
        "cores needed (mean)",
        s.server_cores_needed_mean,
        c.cores_needed,
        Tol::Rel(0.01),
    )];
    if let Some(v) = p.requests_per_s.filter(|_| c.slowdown > 1.0) {
        let predicted = v / c.slowdown;
        let noise = 1.0 / (predicted * window).max(1.0).sqrt();
        rows.push(row(
            "requests/s (saturated)",
            s.requests_per_s,
            predicted,
            Tol::Rel(0.03_f64.max(3.0 * noise)),
        ));
    }
    rows
}

/// The check table as text, one block per strategy; flagged rows are marked `✗`.
pub fn render(blocks: &[(String, Vec<CheckRow>)]) -> String {
    let mut out = String::new();
    for (strategy, rows) in blocks {
        let _ = writeln!(out, "{strategy}");
        let _ = writeln!(
            out,
            "  {:<20} {:>12} {:>12} {:>10}  {:<16}",
            "quantity", "simulated", "predicted", "diff", "tolerance"
        );
        for r in rows {
            let _ = writeln!(
                out,
                "  {:<20} {:>12} {:>12} {:>10}  {:<16} {}",
                r.quantity,
                fmt(r.simulated),
                fmt(r.predicted),
                r.difference,
                r.tolerance,
                if r.tolerance.starts_with("noise") {
                    "not judged: the run is too short to tell"
                } else if r.ok {
                    "ok"
                } else {
                    "✗ beyond tolerance"
                }
            );
        }
        if rows.is_empty() {
            let _ = writeln!(out, "  (no closed form for this strategy)");
        }
    }
    out
}

/// A tolerance with no more decimals than it needs (`±2`, `±0.02`, `±59.7`).
fn short(v: f64) -> String {
    if v.fract() == 0.0 || v.abs() >= 10.0 {
        format!("{v:.0}").replace("-0", "0")
    } else {
        format!("{}", (v * 1000.0).round() / 1000.0)
    }
}

fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}
