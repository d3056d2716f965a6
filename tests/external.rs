//! A strategy defined outside the crate (`examples/adaptive_polling.rs`) is a peer of the
//! built-ins once it is in a `Lab`: nameable in scenario files, its `[id]` table validated,
//! run, written, charted, and held to the registry-wide invariants.

#[path = "../examples/adaptive_polling.rs"]
#[allow(dead_code)]
mod example;

mod common;

use example::AdaptivePolling;
use realtime_lab::{Lab, Scenario, Source};

fn lab() -> Lab {
    Lab::builtin().with(&AdaptivePolling)
}

fn scenario(latency: &str, extra: &str) -> Scenario {
    lab()
        .parse(&Source {
            label: "external".into(),
            text: &format!(
                "name = \"ext\"\nseed = 9\nduration_s = 40\nwarmup_s = 5\n\
                 strategies = [\"short-polling\", \"adaptive-polling\"]\n\
                 [clients]\ncount = 50\nconnect_over_s = 2\n\
                 [events]\nrate_per_client_per_s = 0.1\n[network]\nlatency_ms = {latency}\n\
                 [short-polling]\ninterval_s = 0.5\n\
                 [adaptive-polling]\nmin_s = 0.5\nmax_s = 4\n{extra}"
            ),
        })
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn an_out_of_crate_strategy_delivers_every_event_exactly_once() {
    for latency in ["30", "{ min = 10, max = 90 }"] {
        let r = lab()
            .run(&scenario(latency, ""), "adaptive-polling")
            .unwrap();
        let s = &r.summary;
        assert!(s.events_generated > 100);
        assert_eq!(
            (s.events_lost, s.duplicates, s.misdelivered),
            (0, 0, 0),
            "latency {latency}"
        );
        assert_eq!(r.strategy, "adaptive-polling");
    }
}

#[test]
fn an_out_of_crate_strategy_is_deterministic() {
    let (lab, s) = (lab(), scenario("30", ""));
    let a = common::csv_bytes(&lab, &s, vec![lab.run(&s, "adaptive-polling").unwrap()]);
    let b = common::csv_bytes(&lab, &s, vec![lab.run(&s, "adaptive-polling").unwrap()]);
    assert!(a == b);
}

/// Backing off: fewer requests than short polling at its minimum interval when events are
/// rare, and the same CSV and chart files as the built-ins, in the scenario's order.
#[test]
fn adaptive_polling_backs_off_and_writes_the_usual_files() {
    let (lab, s) = (lab(), scenario("30", ""));
    let results = lab.simulate(&s, 2).unwrap();
    let (fixed, adaptive) = (&results[0].summary, &results[1].summary);
    assert_eq!(
        (fixed.strategy.as_str(), adaptive.strategy.as_str()),
        ("short-polling", "adaptive-polling")
    );
    // short polling every 0.5 s: 50 clients × 2 polls/s = 100 requests/s
    assert!(
        (fixed.requests_per_s - 100.0).abs() < 2.0,
        "{}",
        fixed.requests_per_s
    );
    assert!(adaptive.requests_per_s < fixed.requests_per_s / 2.0);
    let dir = tempfile::tempdir().unwrap();
    let written = lab.write(&s, dir.path(), results).unwrap();
    for f in [
        "summary.csv",
        "timeseries.csv",
        "latency.csv",
        "overview.png",
        "overview.svg",
    ] {
        assert!(written.dir.join(f).exists(), "{f}");
    }
    let summary = std::fs::read_to_string(written.dir.join("summary.csv")).unwrap();
    assert!(summary.contains("\nadaptive-polling,"));
}

/// `[upstream]` reaches the server from the out-of-crate strategy too (the example used to
/// skip it silently): 50 clients × 0.5 messages/s over the 35 s window ≈ 875.
#[test]
fn an_out_of_crate_strategy_honours_upstream() {
    let s = scenario("30", "[upstream]\nrate_per_client_per_s = 0.5\n");
    let sum = lab().run(&s, "adaptive-polling").unwrap().summary;
    let expected = 50.0 * 0.5 * 35.0;
    let got = sum.upstream_messages as f64;
    assert!(
        (got - expected).abs() / expected < 0.1,
        "{got} vs ≈ {expected}"
    );
    assert_eq!(sum.upstream_latency_mean_ms, 30.0, "one transit");
}

/// Its table is validated like a built-in's: a misspelled key, a bad value and a table for a
/// strategy no lab knows each name file, field and line.
#[test]
fn an_out_of_crate_strategys_settings_are_validated_with_file_field_and_line() {
    let parse = |text: &str| {
        lab()
            .parse(&Source {
                label: "mine.toml".into(),
                text,
            })
            .unwrap_err()
            .to_string()
    };
    let e = parse("name = \"x\"\n[events]\nrate_per_s = 1\n\n[adaptive-polling]\nmin = 2\n");
    assert!(
        e.starts_with("mine.toml: `adaptive-polling.min` (line 6)"),
        "{e}"
    );
    assert!(e.contains("unknown field `min`"), "{e}");
    let e =
        parse("name = \"x\"\n[events]\nrate_per_s = 1\n[adaptive-polling]\nmin_s = 2\nmax_s = 1\n");
    assert!(e.contains("`adaptive-polling.max_s` (line 6)"), "{e}");
    let e = parse("name = \"x\"\nstrategies = [\"adaptive-poling\"]\n[events]\nrate_per_s = 1\n");
    assert!(e.contains("unknown strategy \"adaptive-poling\""), "{e}");
    assert!(e.contains("adaptive-polling"), "lists the known ids: {e}");
    // the built-in lab does not know the strategy, nor its table
    let e = Lab::builtin()
        .parse(&Source {
            label: "mine.toml".into(),
            text: "name = \"x\"\n[events]\nrate_per_s = 1\n[adaptive-polling]\nmin_s = 2\n",
        })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`[adaptive-polling]` (line 4): unknown table"),
        "{e}"
    );
}

/// A lab lists its strategies in order, gives the newcomer a look no built-in has, and the
/// command-line entry point accepts it.
#[test]
fn a_lab_with_an_extra_strategy_has_six_and_a_distinct_look() {
    let lab = lab();
    assert_eq!(
        lab.strategies().len(),
        Lab::builtin().strategies().len() + 1
    );
    assert_eq!(lab.ids().last(), Some(&"adaptive-polling"));
    let mine = lab.look("adaptive-polling").unwrap();
    for id in Lab::builtin().ids() {
        assert_ne!(lab.look(id), Some(mine), "{id} has the same look");
    }
    assert_eq!(realtime_lab::cli::run_with(lab, ["x", "list"]), 0);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\n[events]\nrate_per_s = 1\n[adaptive-polling]\nmax = 3\n",
    )
    .unwrap();
    let code = realtime_lab::cli::run_with(
        Lab::builtin().with(&AdaptivePolling),
        ["x", "validate", bad.to_str().unwrap()],
    );
    assert_eq!(code, 2);
}

#[test]
#[should_panic(expected = "two strategies have the id \"adaptive-polling\"")]
fn registering_an_id_twice_is_refused() {
    let _ = lab().with(&AdaptivePolling);
}
