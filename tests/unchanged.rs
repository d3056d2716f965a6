//! A scenario without `[server]` gives the same numbers as before the server had a cost
//! model, in every column that existed then (issue 14): `tests/golden/unchanged-*.csv` were
//! written by the code of commit b146466, before the cost model, from
//! `tests/golden/unchanged.toml`. The new columns come after the old ones.
//!
//! Deliberate changes since, not compared: issue 16 redefined `addresses_retained_peak` and
//! `address_seconds` as the one rule every strategy now follows (any open connection of the
//! client holds its address: short polling's kept-alive connection counts, where before only a
//! request in flight did), and `registry_bytes_peak` counts only a real registry's entries.
//! Issue 16 also rewrote server-callback (a registry that expires, registrations renewed, a
//! listener task started before registering): its tasks start in another order, so the
//! simulator draws its link delays in another order, and its rows are not compared (its
//! numbers are checked against theory in `tests/callback.rs` and `tests/model.rs`).

mod common;

use realtime_lab::Lab;

fn golden(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/golden/unchanged-{name}.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Columns redefined on purpose since the golden files were written (see the module docs).
const REDEFINED: [&str; 3] = [
    "addresses_retained_peak",
    "address_seconds",
    "registry_bytes_peak",
];

/// `new`'s columns, cut to the first `old` header's columns, must equal `old` line by line
/// (but for the [`REDEFINED`] ones).
fn assert_prefix_columns(file: &str, old: &str, new: &str) {
    let old_cols = old.lines().next().unwrap().split(',').count();
    let new_lines: Vec<&str> = new.lines().collect();
    let old_lines: Vec<&str> = old.lines().collect();
    assert_eq!(
        old_lines.len(),
        new_lines.len(),
        "{file}: row count changed"
    );
    let header: Vec<&str> = old.lines().next().unwrap().split(',').collect();
    let compared = |line: &str| -> Vec<String> {
        line.split(',')
            .take(old_cols)
            .zip(&header)
            .filter(|(_, h)| !REDEFINED.contains(h))
            .map(|(v, _)| v.to_string())
            .collect()
    };
    for (i, (o, n)) in old_lines.iter().zip(&new_lines).enumerate() {
        if o.starts_with("server-callback,") {
            assert!(n.starts_with("server-callback,"), "{file} line {}", i + 1);
            continue;
        }
        assert_eq!(
            compared(o),
            compared(n),
            "{file} line {}: an existing column changed",
            i + 1
        );
        assert!(
            n.split(',').count() > old_cols,
            "{file} line {}: no new columns after the old ones",
            i + 1
        );
    }
}

#[test]
fn a_scenario_without_server_keeps_every_existing_number() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/golden/unchanged.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let s = common::scenario(&text);
    let lab = Lab::builtin();
    let results = lab.simulate(&s, 2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let written = lab.write(&s, dir.path(), results).unwrap();
    let read = |f: &str| std::fs::read_to_string(written.dir.join(f)).unwrap();
    assert_prefix_columns("summary.csv", &golden("summary"), &read("summary.csv"));
    assert_prefix_columns(
        "timeseries.csv",
        &golden("timeseries"),
        &read("timeseries.csv"),
    );
    let but_callback = |t: String| -> String {
        t.lines()
            .filter(|l| !l.starts_with("server-callback,"))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert_eq!(
        but_callback(read("latency.csv")),
        but_callback(golden("latency")),
        "latency.csv changed"
    );
    // the cost is accounted even without [server]: every strategy spent some CPU
    let summary = read("summary.csv");
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let cpu = header.iter().position(|c| *c == "server_cpu_s").unwrap();
    let delay = header
        .iter()
        .position(|c| *c == "server_queue_delay_mean_ms")
        .unwrap();
    for row in summary.lines().skip(1) {
        let cells: Vec<&str> = row.split(',').collect();
        assert!(cells[cpu].parse::<f64>().unwrap() > 0.0, "{row}");
        assert_eq!(cells[delay], "0.0", "nothing queues without cores: {row}");
    }
}
