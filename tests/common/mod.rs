//! Helpers shared by the integration tests.
#![allow(dead_code)]

use realtime_lab::{Lab, RunResult, Scenario, Source};

/// A validated scenario from TOML text, with the built-in strategies (panics with the
/// validation message if it is bad).
pub fn scenario(text: &str) -> Scenario {
    Lab::builtin()
        .parse(&Source {
            label: "test".into(),
            text,
        })
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Run one built-in strategy by id.
pub fn run(s: &Scenario, id: &str) -> RunResult {
    Lab::builtin()
        .run(s, id)
        .unwrap_or_else(|e| panic!("{id}: {e:#}"))
}

/// The summary, time-series and latency CSV of results, as one byte string (what two runs
/// with one seed must agree on).
pub fn csv_bytes(lab: &Lab, s: &Scenario, results: Vec<RunResult>) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let written = lab.write(s, dir.path(), results).unwrap();
    let mut all = Vec::new();
    for f in ["summary.csv", "timeseries.csv", "latency.csv"] {
        all.extend(std::fs::read(written.dir.join(f)).unwrap());
    }
    all
}

/// Assert `actual` is within `rel` (relative) of `expected`.
#[track_caller]
pub fn assert_close(what: &str, actual: f64, expected: f64, rel: f64) {
    let err = (actual - expected).abs() / expected.abs();
    assert!(
        err <= rel,
        "{what}: simulated {actual:.4}, predicted {expected:.4}: off by {:.2} % (allowed {:.2} %)",
        err * 100.0,
        rel * 100.0
    );
}
