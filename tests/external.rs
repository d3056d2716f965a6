//! A strategy defined outside the crate (`examples/adaptive_polling.rs`) runs through the
//! public API and passes the registry-wide invariants.

#[path = "../examples/adaptive_polling.rs"]
#[allow(dead_code)]
mod example;

use example::AdaptivePolling;
use realtime_lab::{output, Scenario, Source};

fn scenario(latency: &str) -> Scenario {
    Scenario::from_toml(&Source {
        label: "external".into(),
        text: &format!(
            "name = \"ext\"\nseed = 9\nduration_s = 40\nwarmup_s = 5\n\
             [clients]\ncount = 50\nconnect_over_s = 2\n\
             [events]\nrate_per_client_per_s = 0.1\n[network]\nlatency_ms = {latency}\n"
        ),
    })
    .unwrap()
}

const ADAPTIVE: AdaptivePolling = AdaptivePolling {
    min_s: 0.5,
    max_s: 4.0,
};

#[test]
fn an_out_of_crate_strategy_delivers_every_event_exactly_once() {
    for latency in ["30", "{ min = 10, max = 90 }"] {
        let r = realtime_lab::run(&scenario(latency), &ADAPTIVE).unwrap();
        let s = &r.summary;
        assert!(s.events_generated > 100);
        assert_eq!((s.events_lost, s.duplicates), (0, 0), "latency {latency}");
        assert_eq!(r.strategy, "adaptive-polling");
    }
}

#[test]
fn an_out_of_crate_strategy_is_deterministic() {
    let s = scenario("30");
    let a = output::csv::render(&[realtime_lab::run(&s, &ADAPTIVE).unwrap()]).unwrap();
    let b = output::csv::render(&[realtime_lab::run(&s, &ADAPTIVE).unwrap()]).unwrap();
    assert!(a == b);
}

/// Backing off: fewer requests than short polling at its minimum interval when events are
/// rare, and the same CSV and chart files as the built-ins.
#[test]
fn adaptive_polling_backs_off_and_writes_the_usual_files() {
    let s = scenario("30");
    let adaptive = realtime_lab::run(&s, &ADAPTIVE).unwrap();
    let mut short = s.clone();
    short.strategy_tables.insert(
        "short-polling".into(),
        toml::from_str("interval_s = 0.5").unwrap(),
    );
    let fixed = realtime_lab::run(
        &short,
        realtime_lab::strategy::find("short-polling").unwrap(),
    )
    .unwrap();
    assert!(adaptive.summary.requests_per_s < fixed.summary.requests_per_s / 2.0);
    let dir = tempfile::tempdir().unwrap();
    let outcome =
        realtime_lab::runner::write_results(&s, dir.path(), vec![fixed, adaptive]).unwrap();
    for f in [
        "summary.csv",
        "timeseries.csv",
        "latency.csv",
        "overview.png",
        "overview.svg",
    ] {
        assert!(outcome.dir.join(f).exists(), "{f}");
    }
    let summary = std::fs::read_to_string(outcome.dir.join("summary.csv")).unwrap();
    assert!(summary.contains("\nadaptive-polling,"));
}
