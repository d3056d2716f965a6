//! The summary table printed after a run.

use crate::metrics::SummaryRow;

/// Format a count for humans: 950, 1.2k, 3.4M.
pub fn human(x: f64) -> String {
    let a = x.abs();
    if a >= 1e9 {
        format!("{:.1}G", x / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", x / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else if a >= 100.0 || x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// A whole number with thousands separators: 10,000.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A sweep's table: the headline numbers of each point (the first and last few of a long
/// sweep), under a line naming the point.
pub fn render_sweep(points: &[(String, Vec<SummaryRow>)]) -> String {
    let mut out = String::new();
    let shown: Vec<usize> = if points.len() <= 8 {
        (0..points.len()).collect()
    } else {
        (0..3).chain(points.len() - 3..points.len()).collect()
    };
    for (k, &i) in shown.iter().enumerate() {
        if k == 3 && points.len() > 8 {
            out.push_str(&format!(
                "… {} more points in sweep.csv\n\n",
                points.len() - 6
            ));
        }
        let (label, rows) = &points[i];
        out.push_str(&format!("{label}\n{}\n", render(rows)));
    }
    out
}

/// A fixed-width table of the headline numbers, one line per strategy.
pub fn render(rows: &[SummaryRow]) -> String {
    let header = [
        "strategy",
        "req/s",
        "empty",
        "conns",
        "lat mean",
        "p50",
        "p99",
        "max",
        "bytes/ev",
        "delivered",
        "lost",
        "cores",
        "memory",
    ];
    let mut lines = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for r in rows {
        let empty = if r.requests == 0 {
            "-".to_string()
        } else {
            format!(
                "{:.1}%",
                // answers to requests made before the window (a long poll held into it)
                // can outnumber the window's requests: at most all of them were empty
                (100.0 * r.empty_responses as f64 / r.requests as f64).min(100.0)
            )
        };
        lines.push(vec![
            r.strategy.clone(),
            human(r.requests_per_s),
            empty,
            human(r.peak_open_connections as f64),
            format!("{:.1} ms", r.latency_mean_ms),
            format!("{} ms", r.latency_p50_ms),
            format!("{} ms", r.latency_p99_ms),
            format!("{} ms", r.latency_max_ms),
            human(r.bytes_per_event),
            human(r.events_delivered as f64),
            r.events_lost.to_string(),
            cores(r.server_cores_needed_mean),
            bytes(r.server_memory_peak_bytes as f64),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c == 0 {
                    format!("{cell:<w$}", w = widths[c])
                } else {
                    format!("{cell:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    for r in rows {
        out.push_str(&saturation_note(r));
    }
    out
}

/// 950 B, 1.2 kB, 3.4 MB.
pub fn bytes(v: f64) -> String {
    let a = v.abs();
    let (x, unit) = if a >= 1e9 {
        (v / 1e9, "GB")
    } else if a >= 1e6 {
        (v / 1e6, "MB")
    } else if a >= 1e3 {
        (v / 1e3, "kB")
    } else {
        (v, "B")
    };
    if x.abs() >= 100.0 || unit == "B" {
        format!("{x:.0} {unit}")
    } else {
        format!("{x:.1} {unit}")
    }
}

/// Cores needed: a fraction of a core with two significant digits.
fn cores(v: f64) -> String {
    if v < 1.0 {
        small(v)
    } else {
        format!("{v:.2}")
    }
}

/// A value below 1 with two significant digits and no trailing zeros (0.015, 0.02, 0.005);
/// larger ones as [`human`].
pub fn small(v: f64) -> String {
    if v > 0.0 && v < 1.0 {
        let decimals = (-v.log10()).ceil() as usize + 1;
        let s = format!("{v:.decimals$}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        human(v)
    }
}

/// A line for a strategy whose server ran out of cores or refused connections.
fn saturation_note(r: &SummaryRow) -> String {
    let mut out = String::new();
    // the cores are busy at least 98 % of the window: saturated (the work no core can do
    // waits in queues and mailboxes, so latency grows)
    if r.server_cores > 0 && r.server_cores_needed_mean >= 0.98 * r.server_cores as f64 {
        out.push_str(&format!(
            "⚠ {}: SATURATED — the server's {} core(s) are busy {:.0} % of the window; queueing delay mean {:.1} ms, p99 {:.0} ms\n",
            r.strategy,
            r.server_cores,
            100.0 * r.server_cores_needed_mean / r.server_cores as f64,
            r.server_queue_delay_mean_ms,
            r.server_queue_delay_p99_ms
        ));
    }
    if r.connections_refused > 0 {
        out.push_str(&format!(
            "⚠ {}: {} connection attempts refused (max_connections / accept_backlog); refused clients retry as their reconnect policy says\n",
            r.strategy,
            thousands(r.connections_refused)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{human, thousands};

    #[test]
    fn numbers_read_like_a_person_writes_them() {
        assert_eq!(human(950.0), "950");
        assert_eq!(human(1234.0), "1.2k");
        assert_eq!(human(48_000.0), "48k");
        assert_eq!(human(3_400_000.0), "3.4M");
        assert_eq!(human(0.5), "0.5");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100000), "100,000");
    }
}
