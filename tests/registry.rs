//! Registry-wide tests: every strategy of `Lab::builtin()` gets these for free (and
//! `tests/external.rs` runs the same on a lab with an out-of-crate strategy).

mod common;

use realtime_lab::Lab;

#[test]
fn ids_are_unique_and_kebab_case() {
    let mut seen = std::collections::BTreeSet::new();
    for s in Lab::builtin().strategies() {
        let id = s.id();
        assert!(seen.insert(id), "{id} registered twice");
        assert!(
            !id.is_empty()
                && id.split('-').all(|w| !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
            "{id} is not kebab-case"
        );
        assert!(!s.summary().is_empty());
    }
}

/// Lossless networks deliver every event exactly once, in order per client: per-client
/// streams, a fan-out to all, constant and ranged latency, a staggered start.
#[test]
fn every_strategy_delivers_every_event_exactly_once_in_order() {
    let variants = [
        (
            "per-client, constant latency",
            "rate_per_client_per_s = 0.5",
            "latency_ms = 40",
        ),
        (
            "fan-out to all, ranged latency",
            "rate_per_s = 2\nfanout = \"all\"",
            "latency_ms = { min = 10, max = 120 }",
        ),
        (
            "global stream to one, bursty",
            "rate_per_s = 200\nfanout = \"one\"",
            "latency_ms = 25",
        ),
    ];
    for (what, events, latency) in variants {
        let s = common::scenario(&format!(
            "name = \"t\"\nseed = 3\nduration_s = 20\nwarmup_s = 2\n\
             [clients]\ncount = 60\nconnect_over_s = 3\n\
             [events]\n{events}\n[network]\n{latency}\n[long-polling]\ntimeout_s = 5\n\
             [server-callback]\nnat_fraction = 0\n"
        ));
        for strategy in Lab::builtin().strategies() {
            let r = common::run(&s, strategy.id());
            let sum = &r.summary;
            assert!(sum.events_generated > 0, "{what}: no events generated");
            assert_eq!(
                sum.duplicates,
                0,
                "{} / {what}: duplicates or reordering",
                strategy.id()
            );
            assert_eq!(
                sum.events_lost,
                0,
                "{} / {what}: events lost",
                strategy.id()
            );
            assert_eq!(sum.events_delivered, sum.events_generated);
            assert_eq!(
                sum.misdelivered,
                0,
                "{} / {what}: misdelivered",
                strategy.id()
            );
        }
    }
}

#[test]
fn every_strategy_gives_the_same_bytes_for_the_same_seed() {
    let text = "name = \"t\"\nseed = 11\nduration_s = 15\nwarmup_s = 2\n\
                [clients]\ncount = 40\nconnect_over_s = 2\n\
                [events]\nrate_per_client_per_s = 0.3\n\
                [network]\nlatency_ms = { min = 20, max = 90 }\n";
    let s = common::scenario(text);
    let lab = Lab::builtin();
    for strategy in lab.strategies() {
        let a = common::csv_bytes(&lab, &s, vec![common::run(&s, strategy.id())]);
        let b = common::csv_bytes(&lab, &s, vec![common::run(&s, strategy.id())]);
        assert!(a == b, "{}: two runs with one seed differ", strategy.id());
    }
}
