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
    let cold = callback("[server-callback]\nkeep_alive = false\nnat_fraction = 0\n");
    assert_eq!(cold.events_lost, 0);
    assert!(
        (60..=61).contains(&cold.latency_p50_ms) && cold.latency_max_ms <= 61,
        "every event: connect + transit, got p50 {} max {}",
        cold.latency_p50_ms,
        cold.latency_max_ms
    );
    let warm = callback("[server-callback]\nkeep_alive = true\nnat_fraction = 0\n");
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

/// 10 clients connected before a 20 s window: every strategy holds all 10 addresses the
/// whole window — 200 address-seconds (the old `address_seconds` and
/// `addresses_retained_peak` are now the same rule as `address_seconds_in_memory`); only the
/// callback registry stores them, 10 × 14 bytes (8-byte id + 6-byte IPv4 address and port).
#[test]
fn retention_metrics_match_hand_computed_values() {
    let s = scenario(
        "name = \"ret\"\nseed = 3\nduration_s = 25\nwarmup_s = 5\n\
         [clients]\ncount = 10\n[events]\nrate_per_client_per_s = 0.2\n[network]\nlatency_ms = 20\n",
    );
    for id in [
        "server-callback",
        "websocket",
        "sse",
        "short-polling",
        "long-polling",
    ] {
        let sum = run(&s, id).summary;
        assert_eq!(sum.addresses_retained_peak, 10, "{id}");
        assert_eq!(sum.address_seconds, 200.0, "{id}");
        let (bytes, entries) = if id == "server-callback" {
            (140, 10)
        } else {
            (0, 0)
        };
        assert_eq!(sum.registry_bytes_peak, bytes, "{id}");
        assert_eq!(sum.registry_entries_peak, entries, "{id}");
    }
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

/// Addresses change and are reused (issue 16): the server keeps calling a client's old
/// address until it registers again, and once another client holds that address the events
/// reach a stranger. A connection-based strategy cannot make that mistake: the connection
/// *is* the client. 200 clients that come and go and change address once a minute, sharing
/// 250 addresses reused after 5 s, everyone reachable, registering every 30 s.
#[test]
fn only_a_server_that_calls_stored_addresses_misdelivers() {
    let s = common::scenario(
        "name = \"moving\"\nseed = 5\nduration_s = 90\nwarmup_s = 10\n\
         [clients]\ncount = 200\nconnect_over_s = 2\nonline_s = 60\noffline_s = 10\n\
         address_change_per_hour = 60\naddress_pool = 250\naddress_reuse_after_s = 5\n\
         [events]\nrate_per_client_per_s = 0.2\n[network]\nlatency_ms = 20\n\
         [server-callback]\nnat_fraction = 0\nregister_every_s = 30\nregistry_ttl_s = 90\n",
    );
    let cb = common::run(&s, "server-callback").summary;
    assert!(cb.address_changes > 100, "{}", cb.address_changes);
    assert!(cb.misdelivered > 20, "misdelivered {}", cb.misdelivered);
    // a misdelivery is never a delivery
    assert!(cb.events_delivered + cb.misdelivered <= cb.events_generated + cb.duplicates);
    assert!(cb.events_lost >= cb.misdelivered);
    // entries of clients that moved or left stay until renewed or expired
    assert!(cb.stale_registry_entries_peak > 0);
    assert!(cb.stale_registry_entries_peak <= cb.registry_entries_peak);
    assert_eq!(
        cb.registry_entries_peak, 200,
        "nobody's entry expires in 90 s"
    );
    for id in ["short-polling", "long-polling", "websocket", "sse"] {
        let r = common::run(&s, id).summary;
        assert_eq!(r.misdelivered, 0, "{id}");
        assert_eq!(r.address_changes, cb.address_changes, "{id}: the same plan");
        assert_eq!(r.registry_entries_peak, 0, "{id}");
        assert_eq!(r.address_seconds_stored, 0.0, "{id}");
        assert!(r.disconnects > 0, "{id}: a change breaks its connections");
        assert_eq!(r.duplicates, 0, "{id}");
        if id != "websocket" {
            // polling resumes by its cursor, SSE by Last-Event-ID: nothing is lost
            assert_eq!(r.events_lost, 0, "{id}");
        }
    }
}

/// Inputs at the edges of the address plan finish (they once hung or exhausted memory): a
/// pool with exactly one address per client under churn and a 120 s rest, and a change rate
/// so small that the next change never comes.
#[test]
fn address_plans_at_the_edges_finish() {
    for extra in [
        "count = 2\nonline_s = 5\noffline_s = 5\naddress_pool = 2\n",
        "count = 2\naddress_change_per_hour = 1e-300\n",
        "count = 20\naddress_change_per_hour = 3600\naddress_pool = 20\naddress_reuse_after_s = 0\n",
    ] {
        let s = common::scenario(&format!(
            "name = \"edge\"\nduration_s = 10\nstrategies = [\"sse\"]\n[clients]\n{extra}\
             [events]\nrate_per_client_per_s = 0.5\n[sse]\nhistory_events = 100000\n"
        ));
        let r = common::run(&s, "sse").summary;
        assert!(r.events_generated > 0, "{extra}");
        assert_eq!(r.duplicates, 0, "{extra}");
    }
}

/// A web page cannot accept a connection: with `kind = "browser"` no callback reaches
/// anyone, every event is lost, and every client counts as unreachable; the same clients
/// get everything over a connection they open themselves.
#[test]
fn a_browser_cannot_be_called_back() {
    let s = common::scenario(
        "name = \"pages\"\nduration_s = 20\nwarmup_s = 5\n[clients]\ncount = 20\nkind = \"browser\"\n\
         [events]\nrate_per_client_per_s = 0.5\n[network]\nlatency_ms = 20\n\
         [server-callback]\nnat_fraction = 0\nconnect_timeout_s = 2\n",
    );
    let cb = common::run(&s, "server-callback").summary;
    assert_eq!(cb.events_delivered, 0);
    assert_eq!(cb.events_lost, cb.events_generated);
    assert_eq!(cb.clients_unreachable, 20);
    assert_eq!(cb.callbacks, cb.callbacks_unreachable);
    let ws = common::run(&s, "websocket").summary;
    assert_eq!(ws.events_lost, 0);
    assert_eq!(ws.clients_unreachable, 0);
}

/// An access log stores one address per request for `retention_days`: short polling every
/// second, 10 clients, a 20 s window: 10 × 20 = 200 lines (one per poll; the first polls
/// fall before the window), each kept 14 days = 1,209,600 s.
#[test]
fn an_access_log_stores_an_address_per_request_for_its_retention() {
    let s = common::scenario(
        "name = \"log\"\nduration_s = 25\nwarmup_s = 5\n[clients]\ncount = 10\n\
         [events]\nrate_per_client_per_s = 0.2\n[network]\nlatency_ms = 0\n\
         [short-polling]\ninterval_s = 1\n[privacy]\naccess_log = true\n",
    );
    let r = common::run(&s, "short-polling").summary;
    assert!(
        (199..=201).contains(&r.access_log_lines),
        "{}",
        r.access_log_lines
    );
    assert_eq!(r.access_log_lines, r.requests);
    assert_eq!(
        r.address_seconds_logged,
        r.access_log_lines as f64 * 1_209_600.0
    );
    let ws = common::run(&s, "websocket").summary;
    assert_eq!(
        ws.access_log_lines, 0,
        "the upgrades happen before the window"
    );
    let quiet = common::run(&common::scenario(&s_text_without_log()), "short-polling").summary;
    assert_eq!(
        (quiet.access_log_lines, quiet.address_seconds_logged),
        (0, 0.0)
    );
}

fn s_text_without_log() -> String {
    "name = \"log\"\nduration_s = 25\nwarmup_s = 5\n[clients]\ncount = 10\n\
     [events]\nrate_per_client_per_s = 0.2\n[network]\nlatency_ms = 0\n\
     [short-polling]\ninterval_s = 1\n"
        .to_string()
}
