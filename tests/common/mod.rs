//! Helpers shared by the integration tests.
#![allow(dead_code)]

use realtime_lab::{RunResult, Scenario, Source};

/// A validated scenario from TOML text (panics with the validation message if it is bad).
pub fn scenario(text: &str) -> Scenario {
    Scenario::from_toml(&Source {
        label: "test".into(),
        text,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Run one strategy by id.
pub fn run(s: &Scenario, id: &str) -> RunResult {
    let strategy = realtime_lab::strategy::find(id).expect("registered strategy");
    realtime_lab::run(s, strategy).unwrap_or_else(|e| panic!("{id}: {e:#}"))
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
