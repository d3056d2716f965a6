//! The server-callback strategy and the address-retention metrics of every strategy.

mod common;

use common::{run, scenario};

fn callback(extra: &str) -> realtime_lab::SummaryRow {
    let s = scenario(&format!(
        "name = \"cb\"\nseed = 3\nduration_s = 25\nwarmup_s = 5\n\
         [clients]\ncount = 10\n[events]\nrate_per_client_per_s = 0.2\n[network]\nlatency_ms = 20\n{extra}"
    ));
    run(&s, "server-callback").summary
}

/// Without keep-alive every event pays a TCP connect (SYN, SYN-ACK: one round trip) before
/// the `POST`'s transit, three one-way delays: 3 × 20 ms = 60 ms, plus at most one 1 ms tick for the hop from the connect to the request; with
/// keep-alive only the first does, the rest take one transit.
#[test]
fn a_callback_costs_a_connect_plus_a_transit_unless_kept_alive() {
    let cold = callback("[server-callback]\nkeep_alive = false\n");
    assert_eq!(cold.events_lost, 0);
    assert!(
        (60..=61).contains(&cold.latency_p50_ms) && cold.latency_max_ms <= 61,
        "every event: connect + transit, got p50 {} max {}",
        cold.latency_p50_ms,
        cold.latency_max_ms
    );
    let warm = callback("[server-callback]\nkeep_alive = true\n");
    assert_eq!(warm.events_lost, 0);
    assert_eq!(
        warm.latency_p50_ms, 20,
        "a kept-alive connection: one transit"
    );
    assert!(cold.connections_opened > 5 * warm.connections_opened);
}

/// Clients behind NAT register an address the server cannot reach: all their events are lost,
/// and only theirs.
#[test]
fn events_for_clients_behind_nat_are_lost() {
    let none = callback("[server-callback]\nnat_fraction = 0.0\n");
    assert_eq!(none.events_lost, 0);
    let all = callback("[server-callback]\nnat_fraction = 1.0\n");
    assert_eq!(all.events_delivered, 0);
    assert_eq!(all.events_lost, all.events_generated);
    let half = callback("[server-callback]\nnat_fraction = 0.5\n");
    let share = half.events_lost as f64 / half.events_generated as f64;
    assert!((0.2..0.8).contains(&share), "lost share {share}");
    assert_eq!(half.duplicates, 0);
    assert_eq!(
        half.events_delivered + half.events_lost,
        half.events_generated
    );
}

/// 10 clients connected before a 20 s window: a registration or a connection holds all 10
/// addresses the whole window — 200 address-seconds, 10 × 14 registry bytes (8-byte id +
/// 6-byte IPv4 address and port); short polling answers at once, so it holds an address for
/// no measurable time.
#[test]
fn retention_metrics_match_hand_computed_values() {
    let s = scenario(
        "name = \"ret\"\nseed = 3\nduration_s = 25\nwarmup_s = 5\n\
         [clients]\ncount = 10\n[events]\nrate_per_client_per_s = 0.2\n[network]\nlatency_ms = 20\n",
    );
    for id in ["server-callback", "websocket", "sse"] {
        let sum = run(&s, id).summary;
        assert_eq!(sum.addresses_retained_peak, 10, "{id}");
        assert_eq!(sum.address_seconds, 200.0, "{id}");
        assert_eq!(sum.registry_bytes_peak, 140, "{id}");
    }
    let poll = run(&s, "short-polling").summary;
    assert_eq!(poll.address_seconds, 0.0);
    assert!(poll.addresses_retained_peak <= 1);
    let long = run(&s, "long-polling").summary;
    assert!(
        long.address_seconds > 150.0 && long.address_seconds < 200.0,
        "{}",
        long.address_seconds
    );
}

/// Storing a truncated or hashed address shrinks or changes the registry entry — and makes
/// calling back impossible: every event is lost.
#[test]
fn a_truncated_or_hashed_registry_cannot_call_back() {
    for (how, bytes) in [("truncated", 110), ("hashed", 240)] {
        let sum = callback(&format!("[privacy]\nstore_addresses = \"{how}\"\n"));
        assert_eq!(sum.registry_bytes_peak, bytes, "{how}");
        assert_eq!(sum.events_delivered, 0, "{how}: no address to call");
    }
}

/// One rule for every strategy (issue 16): the server holds a client's address in memory
/// while any connection of the client is open, or a request or registration holds it. 50
/// clients connected through the whole 20 s window: 50 × 20 = 1,000 address·seconds for every
/// strategy — short polling's kept-alive connection included, which the older
/// `address_seconds` counted only while a request was in flight. Stored beyond a connection:
/// only the callback registry, 1,000.
#[test]
fn every_strategy_holds_addresses_by_the_same_rule() {
    let s = common::scenario(
        "name = \"ret\"\nduration_s = 25\nwarmup_s = 5\n[clients]\ncount = 50\nconnect_over_s = 2\n\
         [events]\nrate_per_client_per_s = 0.2\n[network]\nlatency_ms = 50\n",
    );
    for id in [
        "short-polling",
        "long-polling",
        "websocket",
        "sse",
        "server-callback",
    ] {
        let r = common::run(&s, id).summary;
        assert_eq!(r.address_seconds_in_memory, 1000.0, "{id}");
        let stored = if id == "server-callback" { 1000.0 } else { 0.0 };
        assert_eq!(r.address_seconds_stored, stored, "{id}");
    }
}
