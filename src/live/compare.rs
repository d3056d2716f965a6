//! `realtime-lab compare DIR_SIM DIR_REAL`: a simulated and a real run of one scenario, column
//! by column.
//!
//! What must agree, and how closely (see `docs/live.md`):
//! - events generated: exactly (one seeded publisher, the same in both worlds);
//! - events delivered, lost, duplicates: exactly (every strategy delivers exactly once);
//! - requests and bytes per event: within 5 %, or 5 requests (a connection opened at the edge
//!   of the measured window falls on either side of it);
//! - latency mean and p99: within 10 % or 3 ms, when the real run added the scenario's latency
//!   (real timers fire up to a millisecond late, and the process takes its own time); not
//!   compared on bare loopback, where ~0.1 ms stands for the scenario's latency.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context as _};

use crate::metrics::SummaryRow;

/// Requests and bytes per event may differ by this share between the worlds.
pub const TOLERANCE: f64 = 0.05;

/// The side-by-side table of the summaries in `sim` and `real`, and how many quantities
/// disagree beyond tolerance.
pub fn compare(sim: &Path, real: &Path) -> anyhow::Result<(String, usize)> {
    let (a, b) = (summary(sim)?, summary(real)?);
    let common: Vec<(&SummaryRow, &SummaryRow)> = a
        .iter()
        .filter_map(|x| b.iter().find(|y| y.strategy == x.strategy).map(|y| (x, y)))
        .collect();
    if common.is_empty() {
        bail!(
            "{} and {} have no strategy in common",
            sim.display(),
            real.display()
        );
    }
    let worlds = (world_of(sim), world_of(real));
    let conditions: Vec<String> = [sim, real]
        .iter()
        .map(|d| {
            std::fs::read_to_string(d.join(crate::runner::CONDITIONS_FILE)).unwrap_or_default()
        })
        .collect();
    let bare = conditions
        .iter()
        .any(|c| c.contains(crate::runner::world_label(false)));
    // a latency range: the simulator draws a delay per message, the real run per read, so
    // the tails differ by construction
    let range = conditions
        .iter()
        .any(|c| c.contains(" ms one-way") && c.contains('–'));
    let latency = if bare || range {
        Rule::Shown
    } else {
        Rule::Latency
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}) vs {} ({})",
        sim.display(),
        worlds.0,
        real.display(),
        worlds.1
    );
    let _ = writeln!(
        out,
        "{:<14} {:<22} {:>12} {:>12} {:>8}  agree?",
        "strategy", "quantity", "sim", "real", "diff"
    );
    let mut off = 0;
    for (x, y) in common {
        let per_event = |r: &SummaryRow| r.requests as f64 / r.events_generated.max(1) as f64;
        let rows: [(&str, f64, f64, Rule); 9] = [
            (
                "events generated",
                x.events_generated as f64,
                y.events_generated as f64,
                Rule::Exact,
            ),
            (
                "events delivered",
                x.events_delivered as f64,
                y.events_delivered as f64,
                Rule::Exact,
            ),
            (
                "events lost",
                x.events_lost as f64,
                y.events_lost as f64,
                Rule::Exact,
            ),
            (
                "duplicates",
                x.duplicates as f64,
                y.duplicates as f64,
                Rule::Exact,
            ),
            (
                "requests",
                x.requests as f64,
                y.requests as f64,
                Rule::Count,
            ),
            (
                "requests per event",
                per_event(x),
                per_event(y),
                Rule::PerEvent(x.requests.abs_diff(y.requests)),
            ),
            (
                "bytes per event",
                x.bytes_per_event,
                y.bytes_per_event,
                Rule::Bytes(x.events_generated.max(1)),
            ),
            (
                "latency mean ms",
                x.latency_mean_ms,
                y.latency_mean_ms,
                latency,
            ),
            (
                "latency p99 ms",
                x.latency_p99_ms as f64,
                y.latency_p99_ms as f64,
                latency,
            ),
        ];
        for (name, u, v, rule) in rows {
            let diff = if u == 0.0 && v == 0.0 {
                0.0
            } else {
                (v - u) / u.abs().max(1e-9)
            };
            let ok = match rule {
                Rule::Exact => u == v,
                Rule::Count => diff.abs() <= TOLERANCE || (v - u).abs() <= EDGE_REQUESTS,
                Rule::PerEvent(d) => diff.abs() <= TOLERANCE || d as f64 <= EDGE_REQUESTS,
                Rule::Latency => diff.abs() <= 0.10 || (v - u).abs() <= 3.0,
                Rule::Bytes(events) => {
                    diff.abs() <= TOLERANCE
                        || (v - u).abs() * events as f64 <= EDGE_REQUESTS * EDGE_EXCHANGE_BYTES
                }
                Rule::Shown => true,
            };
            if !ok {
                off += 1;
            }
            let verdict = match (rule, ok) {
                (Rule::Shown, _) if range => "(a latency range: not compared)",
                (Rule::Shown, _) => "(bare loopback: not compared)",
                (Rule::Exact, true) => "yes, exactly",
                (Rule::Count | Rule::PerEvent(_), true) => "yes, within 5 % or 5 requests",
                (Rule::Bytes(_), true) => "yes, within 5 % or 5 handshakes' bytes",
                (Rule::Latency, true) => "yes, within 10 % or 3 ms",
                (_, false) => "NO",
            };
            let _ = writeln!(
                out,
                "{:<14} {:<22} {:>12} {:>12} {:>7.1}%  {verdict}",
                crate::scenario::escape(&x.strategy),
                name,
                show(u),
                show(v),
                100.0 * diff
            );
        }
    }
    let only: Vec<String> = a
        .iter()
        .filter(|x| !b.iter().any(|y| y.strategy == x.strategy))
        .map(|x| format!("{} ({})", crate::scenario::escape(&x.strategy), worlds.0))
        .chain(
            b.iter()
                .filter(|y| !a.iter().any(|x| x.strategy == y.strategy))
                .map(|y| format!("{} ({})", crate::scenario::escape(&y.strategy), worlds.1)),
        )
        .collect();
    if !only.is_empty() {
        let _ = writeln!(out, "in one folder only, not compared: {}", only.join(", "));
    }
    if off == 0 {
        let _ = writeln!(out, "every compared quantity agrees");
    }
    Ok((out, off))
}

/// Requests that may fall on either side of the measured window's start.
const EDGE_REQUESTS: f64 = 5.0;

#[derive(Clone, Copy)]
enum Rule {
    Exact,
    Count,
    /// Per event, with the difference in requests behind it.
    PerEvent(u64),
    Latency,
    /// Bytes per event, over this many events.
    Bytes(u64),
    Shown,
}

/// The most bytes one exchange at the window's edge moves (a WebSocket handshake with the
/// browser header profile: ~1.5 kB).
const EDGE_EXCHANGE_BYTES: f64 = 1_500.0;

fn show(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        crate::output::table::thousands(v as u64)
    } else {
        format!("{v:.2}")
    }
}

fn summary(dir: &Path) -> anyhow::Result<Vec<SummaryRow>> {
    let path = dir.join("summary.csv");
    if !path.is_file() {
        bail!(
            "{}: no summary.csv; give a folder that `realtime-lab run` or `load` wrote",
            dir.display()
        );
    }
    crate::output::read::rows(&path).with_context(|| format!("reading {}", path.display()))
}

/// `real` or `sim`, from the folder's conditions line.
fn world_of(dir: &Path) -> &'static str {
    match std::fs::read_to_string(dir.join(crate::runner::CONDITIONS_FILE)) {
        Ok(c) if c.contains(crate::runner::WORLD_TAG) => "real",
        _ => "sim",
    }
}
