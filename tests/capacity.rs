//! The finite server (`[server]`): CPU, memory, queueing and limits against theory and hand
//! calculations (`src/capacity.rs`, `docs/server-costs.md`).

mod common;

use realtime_lab::check;
use realtime_lab::Lab;

/// 800 clients, one event each per second, 20 ms away, a 1-core server where every request,
/// frame and record costs `cost_us`: utilisation ρ = 800 × 1/s × cost.
fn scenario(cost_us: u32, strategies: &str) -> realtime_lab::Scenario {
    common::scenario(&format!(
        "name = \"cap\"\nseed = 5\nduration_s = 20\nwarmup_s = 8\nstrategies = [{strategies}]\n\
         [clients]\ncount = 800\nconnect_over_s = 3\n\
         [events]\nrate_per_client_per_s = 1\n[network]\nlatency_ms = 20\n\
         [server]\ncores = 1\n\
         [server.cost]\nrequest_us = {cost_us}\nframe_us = {cost_us}\nsse_record_us = {cost_us}\n"
    ))
}

fn check_all(s: &realtime_lab::Scenario, id: &str) -> Vec<check::CheckRow> {
    let lab = Lab::builtin();
    let result = common::run(s, id);
    let p = lab
        .predictions(s)
        .into_iter()
        .find(|(i, _)| i == id)
        .unwrap()
        .1;
    check::compare(&result, &p, s)
}

/// Below saturation (ρ = 0.4): cores needed, memory and the mean queueing delay agree with
/// the model, and so does everything the model predicted before (latency included).
#[test]
fn below_saturation_the_server_agrees_with_the_model() {
    let s = scenario(500, "\"long-polling\", \"websocket\"");
    for id in ["long-polling", "websocket"] {
        let rows = check_all(&s, id);
        for want in [
            "cores needed (mean)",
            "memory mean (bytes)",
            "queue delay mean (ms)",
        ] {
            assert!(
                rows.iter().any(|r| r.quantity == want),
                "{id}: no {want} row"
            );
        }
        for r in &rows {
            assert!(
                r.ok,
                "{id}: {} simulated {} predicted {}",
                r.quantity, r.simulated, r.predicted
            );
        }
    }
}

/// Past saturation (ρ = 1.2): the core is busy all the time, and long polling's clients slow
/// down to what one core answers: 1 / 1.5 ms ≈ 667 requests/s instead of ≈ 800.
#[test]
fn past_saturation_the_cores_are_busy_and_polling_slows_down() {
    let s = scenario(1500, "\"long-polling\", \"sse\"");
    let lp = common::run(&s, "long-polling").summary;
    assert!((lp.server_cores_needed_mean - 1.0).abs() < 0.01, "{lp:?}");
    // hand calculation: one core, 1.5 ms per request, plus bytes (≈ 0.1 µs each)
    assert!(
        (lp.requests_per_s - 666.7).abs() / 666.7 < 0.03,
        "{}",
        lp.requests_per_s
    );
    for id in ["long-polling", "sse"] {
        for r in check_all(&s, id) {
            assert!(
                r.ok,
                "{id}: {} simulated {} predicted {}",
                r.quantity, r.simulated, r.predicted
            );
        }
    }
    // a saturated push server: events wait in its mailboxes, latency grows far beyond 20 ms
    let sse = common::run(&s, "sse").summary;
    assert!(sse.latency_mean_ms > 1000.0, "{}", sse.latency_mean_ms);
}

/// A file-descriptor limit of 50 with 80 WebSocket clients: 30 are refused and retry every
/// second, so the refusals in a 12 s window are about 30 × 12; the server never holds more
/// than 50 connections.
#[test]
fn connections_beyond_max_connections_are_refused_and_retried() {
    let s = common::scenario(
        "name = \"fd\"\nseed = 2\nduration_s = 14\nwarmup_s = 2\nstrategies = [\"websocket\"]\n\
         [clients]\ncount = 80\n[events]\nrate_per_client_per_s = 0.5\n\
         [network]\nlatency_ms = 10\n[server]\nmax_connections = 50\n",
    );
    let r = common::run(&s, "websocket").summary;
    assert_eq!(r.peak_open_connections, 50);
    // each refused client tries once per 1 s + one round trip (20 ms)
    let expected = 30.0 * 12.0 / 1.02;
    let refused = r.connections_refused as f64;
    assert!(
        (refused - expected).abs() <= 30.0,
        "{refused} vs {expected}"
    );
    assert!(r.events_lost > 0, "the refused clients' events are lost");
}

/// CPU accounting without `[server]`, by hand: 100 WebSocket clients, pings every 2 s, no
/// events: the server writes 50 pings per second (20 µs each) = 1 ms/s, plus the bytes of
/// the pings (2 B) and masked pongs (6 B) at 0.5 ns/B = 400 B/s = 0.2 µs/s.
#[test]
fn cpu_is_the_sum_of_rate_times_cost() {
    let s = common::scenario(
        "name = \"cpu\"\nseed = 2\nduration_s = 30\nwarmup_s = 10\nstrategies = [\"websocket\"]\n\
         [clients]\ncount = 100\n[events]\nrate_per_s = 0.001\n\
         [network]\nlatency_ms = 10\n[websocket]\nping_interval_s = 2\n",
    );
    let r = common::run(&s, "websocket").summary;
    let expected = 20.0 * (0.001 + 0.000_000_2);
    assert!(
        (r.server_cpu_s - expected).abs() < 0.0005,
        "{} vs {expected}",
        r.server_cpu_s
    );
    // memory: 100 connections × 4,352 B + 100 sessions × 25,600 B (the defaults), plus the
    // rare event while it waits to be sent (100 B payload + 64 B)
    let base = 100 * (4_352 + 25_600);
    assert!(
        [base, base + 164].contains(&r.server_memory_peak_bytes),
        "{}",
        r.server_memory_peak_bytes
    );
    assert_eq!(r.server_queue_delay_mean_ms, 0.0);
}

/// Costs of zero (or far below a tick) on a server with cores: the model and the run carry on
/// (they once overflowed an allocation), nothing waits, and nothing saturates.
#[test]
fn zero_and_tiny_costs_run() {
    for cost in ["0", "0.001"] {
        let s = common::scenario(&format!(
            "name = \"z\"\nduration_s = 6\nwarmup_s = 1\nstrategies = [\"websocket\", \"short-polling\"]\n\
             [clients]\ncount = 20\n[events]\nrate_per_client_per_s = 0.5\n\
             [server]\ncores = 1024\n[server.cost]\nconnect_us = {cost}\nrequest_us = {cost}\n\
             frame_us = {cost}\nping_us = {cost}\nbyte_ns = {cost}\n"
        ));
        let lab = Lab::builtin();
        let results = lab.simulate(&s, 1).unwrap();
        let dir = tempfile::tempdir().unwrap();
        lab.write(&s, dir.path(), results).unwrap();
        for (id, p) in lab.predictions(&s) {
            let c = realtime_lab::capacity::predict(&s, p.load.as_ref().unwrap());
            assert!(!c.saturated(), "{id} at {cost} µs");
            assert!(
                c.queue_delay_mean_ms.is_none_or(|d| d < 0.001),
                "{id}: {c:?}"
            );
        }
    }
}

/// A listen backlog of 1 on a server without cores: accepts complete at once, so no
/// connection waits in the backlog and none is refused (connections still in their
/// handshake are not in it).
#[test]
fn a_backlog_without_cores_refuses_nothing() {
    let s = common::scenario(
        "name = \"bl\"\nduration_s = 8\nwarmup_s = 6\nstrategies = [\"sse\"]\n\
         [clients]\ncount = 200\nconnect_over_s = 2\n[events]\nrate_per_client_per_s = 0.2\n\
         [network]\nlatency_ms = 50\n[server]\naccept_backlog = 1\n",
    );
    let r = common::run(&s, "sse").summary;
    assert_eq!(r.connections_refused, 0);
    assert_eq!(r.peak_open_connections, 200);
}

/// `[reconnect] policy` decides how refused clients retry: SignalR's schedule (0, 2, 10 and
/// 30 s, then stop) makes the 30 clients beyond `max_connections = 50` give up after their
/// fifth refusal, 42 s and four round trips in, and the run still completes; "immediate"
/// retries after every round trip (20 ms): about 30 × 50 attempts per second.
#[test]
fn refused_clients_follow_the_reconnect_policy() {
    let base = "strategies = [\"websocket\"]\n\
         [clients]\ncount = 80\n[events]\nrate_per_client_per_s = 0.2\n\
         [network]\nlatency_ms = 10\n[server]\nmax_connections = 50\n";
    let s = common::scenario(&format!(
        "name = \"rc\"\nseed = 2\nduration_s = 50\nwarmup_s = 1\n{base}[reconnect]\npolicy = \"signalr\"\n"
    ));
    let r = common::run(&s, "websocket").summary;
    assert_eq!(r.clients_gave_up, 30);
    // attempts in the window [1, 50) s: 50 admitted ones happened at t = 0; the refused
    // clients' 3rd, 4th and 5th attempts at ≈ 2.04, 12.06 and 42.08 s
    assert_eq!(r.connect_attempts, 30 * 3);
    assert_eq!(r.connections_refused, 30 * 3);
    assert!(r.events_lost > 0);

    let s = common::scenario(&format!(
        "name = \"rc\"\nseed = 2\nduration_s = 6\nwarmup_s = 2\n{base}[reconnect]\npolicy = \"immediate\"\n"
    ));
    let r = common::run(&s, "websocket").summary;
    let expected = 30.0 * 4.0 * 1000.0 / 20.0; // 4 s window, one attempt per 20 ms round trip
    let attempts = r.connect_attempts as f64;
    assert!(
        (attempts - expected).abs() / expected < 0.02,
        "{attempts} vs {expected}"
    );
    assert_eq!(r.clients_gave_up, 0);
}
