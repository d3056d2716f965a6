//! A scenario without `[server]` gives the same numbers as before the server had a cost
//! model, in every column that existed then (issue 14): `tests/golden/unchanged-*.csv` were
//! written by the code of commit b146466, before the cost model, from
//! `tests/golden/unchanged.toml`. The new columns come after the old ones.

mod common;

use realtime_lab::Lab;

fn golden(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/golden/unchanged-{name}.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// `new`'s columns, cut to the first `old` header's columns, must equal `old` line by line.
fn assert_prefix_columns(file: &str, old: &str, new: &str) {
    let old_cols = old.lines().next().unwrap().split(',').count();
    let new_lines: Vec<&str> = new.lines().collect();
    let old_lines: Vec<&str> = old.lines().collect();
    assert_eq!(
        old_lines.len(),
        new_lines.len(),
        "{file}: row count changed"
    );
    for (i, (o, n)) in old_lines.iter().zip(&new_lines).enumerate() {
        let cut: Vec<&str> = n.split(',').take(old_cols).collect();
        assert_eq!(
            *o,
            cut.join(","),
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
    assert_eq!(
        read("latency.csv"),
        golden("latency"),
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
