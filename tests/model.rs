//! The validation suite: the simulation against the closed forms of `realtime_lab::model`,
//! over two seeds and three regimes per strategy — rare events (λT ≪ 1), moderate, bursty
//! (λ·2d ≫ 1, where long polling degenerates into polling with batches) — with fixed-rate and
//! after-response polling, on constant and ranged latency. Tolerances are those of
//! `realtime_lab::check` and are never loosened here.
//!
//! Known departures of the simulation from the model, and how they are accounted for:
//! - turmoil's connect costs one transit where TCP's handshake costs 1.5 round trips: the
//!   harness compensates (`ClientCtx::connect`) and every client connects before the window;
//! - time advances in 1 ms ticks: event times are rounded up to a tick and latencies are whole
//!   milliseconds — within the 2 ms / one-tick tolerances;
//! - a finite run samples: event-based quantities are compared only with at least
//!   `check::MIN_EVENTS` expected events (so the rare regime checks rates only);
//! - TCP delivers in order: on a ranged-latency link a pushed event may wait behind an earlier
//!   one that drew a longer delay (head-of-line blocking), which the one-way-delay model leaves
//!   out. It matters only when events come faster than the latency spread (the bursty regime);
//!   there the test checks that push latency is never *below* theory instead.

use realtime_lab::{check, Lab, Scenario};

mod common;

struct Regime {
    name: &'static str,
    clients: u64,
    lambda: f64,
    timeout_s: f64,
}

const REGIMES: [Regime; 3] = [
    Regime {
        name: "rare",
        clients: 1000,
        lambda: 0.01,
        timeout_s: 2.0,
    },
    Regime {
        name: "moderate",
        clients: 1000,
        lambda: 0.2,
        timeout_s: 30.0,
    },
    Regime {
        name: "bursty",
        clients: 40,
        lambda: 50.0,
        timeout_s: 30.0,
    },
];

const LATENCIES: [&str; 2] = ["50", "{ min = 20, max = 120 }"];

fn scenario(r: &Regime, latency: &str, seed: u64, timer: &str) -> Scenario {
    common::scenario(&format!(
        "name = \"v\"\nseed = {seed}\nduration_s = 70\nwarmup_s = 10\n\
         [clients]\ncount = {}\nconnect_over_s = 2\n\
         [events]\nrate_per_client_per_s = {}\n[network]\nlatency_ms = {latency}\n\
         [short-polling]\ninterval_s = 1\ntimer = \"{timer}\"\n\
         [long-polling]\ntimeout_s = {}\n[websocket]\nping_interval_s = 10\n[sse]\nheartbeat_s = 10\n",
        r.clients, r.lambda, r.timeout_s
    ))
}

/// Run `id` in every regime, latency and seed (and `timers`), comparing with its model.
fn validate(id: &str, timers: &[&str]) {
    let mut failures = Vec::new();
    let mut checked = 0;
    for seed in [1, 2] {
        for r in &REGIMES {
            for latency in LATENCIES {
                for timer in timers {
                    let s = scenario(r, latency, seed, timer);
                    let (_, p) = Lab::builtin()
                        .predictions(&s)
                        .into_iter()
                        .find(|(s, _)| s == id)
                        .expect("built-in strategies have a model");
                    let result = common::run(&s, id);
                    let hol = p.requests_per_s == Some(0.0)
                        && latency.contains("min")
                        && r.name == "bursty";
                    for row in check::compare(&result, &p, &s) {
                        checked += 1;
                        let ok = if hol && row.quantity.starts_with("latency") {
                            row.simulated + 1.0 >= row.predicted // head-of-line blocking only adds delay
                        } else {
                            row.ok
                        };
                        if !ok {
                            failures.push(format!(
                                "{id} / {} / latency {latency} / {timer} / seed {seed}: {}: simulated {:.3}, predicted {:.3} ({}, allowed {})",
                                r.name, row.quantity, row.simulated, row.predicted, row.difference, row.tolerance
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(checked >= 40, "{id}: only {checked} comparisons");
    assert!(
        failures.is_empty(),
        "{id}: {} of {checked} beyond tolerance:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn short_polling_agrees_with_its_closed_form() {
    validate("short-polling", &["fixed-rate", "after-response"]);
}

#[test]
fn long_polling_agrees_with_its_closed_form() {
    validate("long-polling", &["fixed-rate"]);
}

#[test]
fn websocket_agrees_with_its_closed_form() {
    validate("websocket", &["fixed-rate"]);
}

#[test]
fn sse_agrees_with_its_closed_form() {
    validate("sse", &["fixed-rate"]);
}

/// Notebook 01's run: 500 clients, λ = 0.2/s, a 60 s window, so n = 0.2 × 500 × 60 = 6,000
/// latencies. Their median has a standard error of √(0.25/n) / density = 0.006455 × 1,000 ms
/// (the wait is uniform over the 1 s cycle): three of them, 19.4 ms, exceed the 2 % (11 ms)
/// tolerance, so the p50 is held to 19.4 ms. WebSocket traffic follows the events: its noise
/// is 1/√n, not "±100 %".
#[test]
fn small_runs_are_held_to_their_sampling_noise() {
    let s = common::scenario(
        "name = \"n\"\nseed = 7\nduration_s = 70\nwarmup_s = 10\n\
         strategies = [\"short-polling\", \"websocket\"]\n\
         [clients]\ncount = 500\nconnect_over_s = 2\n[events]\nrate_per_client_per_s = 0.2\n\
         [network]\nlatency_ms = 50\n",
    );
    let lab = Lab::builtin();
    let preds = lab.predictions(&s);
    let (_, p) = preds.iter().find(|(id, _)| id == "short-polling").unwrap();
    let result = common::run(&s, "short-polling");
    let rows = check::compare(&result, p, &s);
    let p50 = rows
        .iter()
        .find(|r| r.quantity == "latency p50 (ms)")
        .unwrap();
    assert_eq!(p50.tolerance, "±19.4 (3 s.e.)");
    assert_eq!(p50.ok, (p50.simulated - p50.predicted).abs() <= 19.36);
    let (_, p) = preds.iter().find(|(id, _)| id == "websocket").unwrap();
    let result = common::run(&s, "websocket");
    let rows = check::compare(&result, p, &s);
    let bytes = rows.iter().find(|r| r.quantity == "app bytes/s").unwrap();
    // 1/√6000 = 1.29 %: within 0.5 %? no, so a difference beyond 1 % is "not judged"
    if !bytes.ok {
        assert_eq!(bytes.tolerance, "noise ±1.3%", "{bytes:?}");
    }
    assert!(!bytes.tolerance.contains("100"), "{bytes:?}");
}

/// The closed forms under faults (`realtime_lab::resilience`), through `--check`'s rows: a
/// restart's losses (λ·N·D) and the busiest second of the reconnect storm, for immediate
/// retries, a fixed wait and full jitter, on two seeds; and the tail of loss for push
/// (5,000+ events each, so the latency rows are judged).
#[test]
fn fault_theory_agrees_with_the_simulation() {
    let lab = Lab::builtin();
    for seed in [1, 2] {
        for policy in [
            "\"immediate\"",
            "\"fixed\"",
            "{ initial_ms = 1000, max_ms = 10000, jitter = \"full\" }",
        ] {
            let s = common::scenario(&format!(
                "name = \"f\"\nseed = {seed}\nduration_s = 40\nwarmup_s = 5\n\
                 strategies = [\"long-polling\", \"sse\"]\n\
                 [clients]\ncount = 300\nconnect_over_s = 2\n\
                 [events]\nrate_per_client_per_s = 1\n[network]\nlatency_ms = 50\n\
                 [reconnect]\npolicy = {policy}\n\
                 [[faults]]\nkind = \"server-restart\"\nat_s = 15\ndown_s = 5\n"
            ));
            for (id, p) in lab.predictions(&s) {
                assert!(
                    p.events_lost.is_some(),
                    "{id}: a restart's losses are predicted"
                );
                let r = lab.run(&s, &id).unwrap();
                let rows = check::compare(&r, &p, &s);
                assert!(
                    rows.iter().any(|r| r.quantity == "events lost"),
                    "{id}: no loss row"
                );
                for row in rows {
                    assert!(row.ok, "seed {seed}, {policy}, {id}: {row:?}");
                }
            }
        }
    }
    for seed in [1, 2] {
        let s = common::scenario(&format!(
            "name = \"l\"\nseed = {seed}\nduration_s = 40\nwarmup_s = 5\n\
             strategies = [\"websocket\", \"sse\"]\n\
             [clients]\ncount = 300\nconnect_over_s = 2\n\
             [events]\nrate_per_client_per_s = 1\n[network]\nlatency_ms = {{ min = 20, max = 80 }}\nloss = 0.03\n"
        ));
        for (id, p) in lab.predictions(&s) {
            let r = lab.run(&s, &id).unwrap();
            let rows = check::compare(&r, &p, &s);
            assert!(
                rows.iter().any(|r| r.quantity == "latency p99 (ms)"),
                "{id}"
            );
            for row in rows {
                assert!(row.ok, "seed {seed}, loss, {id}: {row:?}");
            }
        }
    }
}

/// Stale addresses (issue 16): misdeliveries, losses and unreachable clients of
/// server-callback against `realtime_lab::privacy`, for a roomy pool (an address rests
/// T = F/k = 100/(500/120) = 24 s) and a tight one with immediate reuse (T = 4.8 s), with and
/// without NAT, on two seeds; 500 clients changing address twice an hour, registering every
/// 60 s.
#[test]
fn address_theory_agrees_with_the_simulation() {
    let lab = Lab::builtin();
    for seed in [1, 2] {
        for (pool, rest, nat, timeout) in [(600, 10, 0.0, 5), (520, 0, 0.3, 1)] {
            let s = common::scenario(&format!(
                "name = \"a\"\nseed = {seed}\nduration_s = 150\nwarmup_s = 10\n\
                 strategies = [\"server-callback\"]\n\
                 [clients]\ncount = 500\nconnect_over_s = 2\naddress_change_per_hour = 30\n\
                 address_pool = {pool}\naddress_reuse_after_s = {rest}\n\
                 [events]\nrate_per_client_per_s = 0.2\n[network]\nlatency_ms = 20\n\
                 [server-callback]\nnat_fraction = {nat}\nregister_every_s = 60\n\
                 registry_ttl_s = 180\nconnect_timeout_s = {timeout}\n"
            ));
            let (_, p) = lab.predictions(&s).into_iter().next().unwrap();
            assert!(p.misdelivered.unwrap() > 100.0, "{p:?}");
            let r = lab.run(&s, "server-callback").unwrap();
            let rows = check::compare(&r, &p, &s);
            for q in ["misdelivered", "events lost", "address-s stored"] {
                assert!(rows.iter().any(|r| r.quantity == q), "no {q} row");
            }
            for row in rows {
                assert!(row.ok, "seed {seed}, pool {pool}, nat {nat}: {row:?}");
            }
        }
    }
}
