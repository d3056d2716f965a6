//! Simulation against theory: `realtime-lab run --check` and the validation tests.
//!
//! Tolerances (the validation issue's): 1 % for rates; for latency mean/p50/p99, 2 % or 2 ms,
//! whichever is larger (push strategies: 1 ms, one tick); 2 percentage points for the empty
//! fraction; 2 % for parked requests and bytes per event; the simulated maximum may not exceed
//! the predicted one by more than one tick.

use std::fmt::Write as _;

use crate::model::Prediction;
use crate::sim::RunResult;

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
            format!("±{}%", r * 100.0),
        ),
        Tol::RelOrAbs(r, a) => (
            diff <= (r * predicted.abs()).max(a) + 1e-9,
            format!("±{}% or {a} ms", r * 100.0),
        ),
        Tol::Abs(a) => (diff <= a + 1e-9, format!("±{a}")),
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

/// Compare a run with its prediction, quantity by quantity (only those the model predicts).
pub fn compare(
    result: &RunResult,
    p: &Prediction,
    warmup_s: f64,
    duration_s: f64,
) -> Vec<CheckRow> {
    let s = &result.summary;
    let push = p.requests_per_s == Some(0.0);
    let lat = |r: f64| {
        if push {
            Tol::Abs(1.0)
        } else {
            Tol::RelOrAbs(r, 2.0)
        }
    };
    let mut rows = Vec::new();
    if let Some(v) = p.requests_per_s.filter(|_| !push) {
        rows.push(row("requests/s", s.requests_per_s, v, Tol::Rel(0.01)));
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
        let window: Vec<_> = result
            .seconds
            .iter()
            .enumerate()
            .filter(|(t, _)| (*t as f64) >= warmup_s && ((*t + 1) as f64) <= duration_s)
            .map(|(_, r)| r.parked_requests as f64)
            .collect();
        let sim = window.iter().sum::<f64>() / window.len().max(1) as f64;
        rows.push(row("parked requests", sim, v, Tol::Rel(0.02)));
    }
    if let Some(v) = p.latency_mean_ms {
        rows.push(row("latency mean (ms)", s.latency_mean_ms, v, lat(0.02)));
    }
    if let Some(v) = p.latency_p50_ms {
        rows.push(row(
            "latency p50 (ms)",
            s.latency_p50_ms as f64,
            v,
            lat(0.02),
        ));
    }
    if let Some(v) = p.latency_p99_ms {
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
            Tol::AtMost(1.0),
        ));
    }
    if let Some(v) = p.bytes_per_event {
        rows.push(row("bytes per event", s.bytes_per_event, v, Tol::Rel(0.02)));
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
                if r.ok { "ok" } else { "✗ beyond tolerance" }
            );
        }
        if rows.is_empty() {
            let _ = writeln!(out, "  (no closed form for this strategy)");
        }
    }
    out
}

fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}
