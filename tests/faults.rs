//! Faults (issue 15): each fault and each client behaviour that answers it, against what it
//! must do by hand calculation — and the invariants every run keeps under every fault: every
//! event generated is delivered once or counted lost, nothing is delivered twice or to the
//! wrong client.

mod common;

use common::{run, scenario};
use realtime_lab::RunResult;

const ALL: [&str; 4] = ["short-polling", "long-polling", "websocket", "sse"];

/// `clients` clients, 1 event per client per second, 50 ms away, for `duration` s; `extra`
/// is appended (faults, settings).
fn base(clients: u64, duration: u64, extra: &str) -> String {
    with_rate(clients, duration, 1.0, "", extra)
}

/// [`base`] with `rate` events per client per second and `network` lines in `[network]`.
fn with_rate(clients: u64, duration: u64, rate: f64, network: &str, extra: &str) -> String {
    format!(
        "name = \"f\"\nseed = 2\nduration_s = {duration}\nwarmup_s = 5\n\
         [clients]\ncount = {clients}\nconnect_over_s = 2\n\
         [events]\nrate_per_client_per_s = {rate}\n[network]\nlatency_ms = 50\n{network}{extra}"
    )
}

/// Conservation and exactly-once: what every run must keep, whatever goes wrong.
#[track_caller]
fn invariants(r: &RunResult) {
    let s = &r.summary;
    assert_eq!(
        s.events_generated,
        s.events_delivered + s.events_lost,
        "{}: generated = delivered + lost",
        r.strategy
    );
    assert_eq!(s.duplicates, 0, "{}: duplicates", r.strategy);
    assert_eq!(s.misdelivered, 0, "{}: misdelivered", r.strategy);
}

const RESTART: &str = "[[faults]]\nkind = \"server-restart\"\nat_s = 10\ndown_s = 5\n";

/// A 5 s restart with 50 clients at 1 event/s each: the 250 events of the down time are lost
/// by every strategy whose server keeps the clients' events (a Poisson count: within
/// 3·√250 ≈ 47, plus what short polling held waiting for a poll); every client's connection
/// was reset once. With `durable` state they are all delivered.
#[test]
fn a_restart_loses_the_down_time_unless_the_state_is_durable() {
    let s = scenario(&base(50, 30, RESTART));
    for id in ALL {
        let r = run(&s, id);
        invariants(&r);
        let lost = r.summary.events_lost as f64;
        let held = if id == "short-polling" { 25.0 } else { 0.0 }; // ≈ λN × (I/2 = 0.5 s)
        let extra = if id == "websocket" { 60.0 } else { 0.0 }; // reconnect gap, no resume
        assert!(
            lost >= 250.0 - 47.0 && lost <= 250.0 + held + extra + 47.0,
            "{id}: {lost} lost"
        );
        assert!(
            r.summary.disconnects >= 50,
            "{id}: {}",
            r.summary.disconnects
        );
        assert!(
            r.summary.recovery_s > 0.0 && r.summary.recovery_s < 3.0,
            "{id}"
        );
    }
    // the registry of server-callback is gone with the server: it never calls again, but
    // every event is still accounted for
    invariants(&run(&s, "server-callback"));
    let durable = scenario(&base(
        50,
        30,
        &format!("[server]\ndurable = true\n{RESTART}"),
    ));
    for id in ["short-polling", "long-polling", "sse"] {
        let r = run(&durable, id);
        invariants(&r);
        assert_eq!(r.summary.events_lost, 0, "{id} with durable state");
    }
}

/// While the server is down every attempt is refused after a 100 ms round trip. Immediate
/// retries: 10 attempts per client per second (50 clients: 500/s). A fixed 1 s wait: one
/// per 1.1 s, at most 50 in a second. Full jitter from 1 s: fewer than immediate, more than
/// none.
#[test]
fn immediate_retries_storm_a_down_server_and_backoff_does_not() {
    let peak = |policy: &str| {
        let s = scenario(&base(
            50,
            30,
            &format!("[reconnect]\npolicy = {policy}\n{RESTART}"),
        ));
        let r = run(&s, "websocket");
        invariants(&r);
        r.summary.connect_attempts_peak_per_s
    };
    assert_eq!(peak("\"immediate\""), 500);
    assert_eq!(peak("\"fixed\""), 50);
    let jitter = peak("{ initial_ms = 1000, max_ms = 10000, jitter = \"full\" }");
    assert!((40..=70).contains(&jitter), "{jitter}");
}

/// A strategy's own `reconnect` overrides `[reconnect]`; SignalR's policy gives up after
/// 0 + 2 + 10 + 30 s of waits, so a 60 s outage of the server loses its clients for good.
#[test]
fn a_strategy_may_override_the_policy_and_signalr_gives_up() {
    let s = scenario(&base(
        20,
        90,
        "[reconnect]\npolicy = \"fixed\"\n[websocket]\nreconnect = \"immediate\"\n\
         [[faults]]\nkind = \"server-restart\"\nat_s = 10\ndown_s = 5\n",
    ));
    assert_eq!(
        run(&s, "websocket").summary.connect_attempts_peak_per_s,
        200
    );
    assert_eq!(
        run(&s, "long-polling").summary.connect_attempts_peak_per_s,
        20
    );
    let s = scenario(&base(
        20,
        90,
        "[reconnect]\npolicy = \"signalr\"\n\
         [[faults]]\nkind = \"server-restart\"\nat_s = 10\ndown_s = 60\n",
    ));
    let r = run(&s, "websocket");
    invariants(&r);
    assert_eq!(r.summary.clients_gave_up, 20);
    assert_eq!(r.summary.recovery_s, -1.0, "nobody came back");
}

const OUTAGE: &str = "[[faults]]\nkind = \"outage\"\nat_s = 10\nfor_s = 8\nclients = 0.5\n";

/// Half the clients lose the network for 8 s. TCP holds what was sent: polling and SSE lose
/// nothing, and the events of the outage arrive when it ends (the largest latency is about
/// the outage itself). While it lasts, half the clients are not connected.
#[test]
fn an_outage_holds_data_and_nothing_is_lost_where_the_server_keeps_it() {
    let s = scenario(&base(40, 30, OUTAGE));
    for id in ["short-polling", "long-polling", "sse"] {
        let r = run(&s, id);
        invariants(&r);
        assert_eq!(r.summary.events_lost, 0, "{id}");
        assert!(
            (7_500..=10_200).contains(&r.summary.latency_max_ms),
            "{id}: max {}",
            r.summary.latency_max_ms
        );
        let during = &r.seconds[14];
        assert_eq!(during.connected_clients, 20, "{id}: second 14");
        assert_eq!(r.seconds[25].connected_clients, 40, "{id}: second 25");
    }
}

/// A WebSocket server that pings every 2 s and waits 1 s for the pong gives up on the cut-off
/// clients during the outage: without resume it forgets what it could not send them (lost);
/// with `resume = true` the client sends the last id it saw and gets the rest.
#[test]
fn websocket_resume_replays_what_a_dropped_client_missed() {
    let ws = "[websocket]\nping_interval_s = 2\npong_timeout_s = 1\n";
    let without = run(
        &scenario(&base(40, 30, &format!("{ws}{OUTAGE}"))),
        "websocket",
    );
    invariants(&without);
    assert!(
        without.summary.events_lost > 20,
        "{}",
        without.summary.events_lost
    );
    assert!(without.summary.disconnects >= 20);
    let with = run(
        &scenario(&base(40, 30, &format!("{ws}resume = true\n{OUTAGE}"))),
        "websocket",
    );
    invariants(&with);
    assert_eq!(with.summary.events_lost, 0);
}

/// A proxy that closes connections idle for 5 s: long polls held 8 s are answered `504` by
/// it and re-sent (nothing lost: the server keeps the events until acknowledged); a
/// WebSocket pinged every 2 s is never idle and never cut.
#[test]
fn a_proxy_cuts_idle_connections_but_not_busy_ones() {
    let proxy = "[proxy]\nidle_timeout_s = 5\n[long-polling]\ntimeout_s = 8\n\
                 [websocket]\nping_interval_s = 2\n";
    // rare events: connections go idle
    let s = scenario(&with_rate(20, 40, 0.02, "", proxy));
    let lp = run(&s, "long-polling");
    invariants(&lp);
    assert_eq!(lp.summary.events_lost, 0);
    assert!(lp.summary.proxy_cuts >= 20, "{}", lp.summary.proxy_cuts);
    let ws = run(&s, "websocket");
    invariants(&ws);
    assert_eq!(ws.summary.proxy_cuts, 0);
    assert_eq!(ws.summary.events_lost, 0);
}

/// A NAT that silently forgets connections idle for 5 s: a native EventSource (no read
/// timeout) with 10 s heartbeats waits on a dead stream — its later events are lost and the
/// client-seconds on dead connections add up, while no client ever sees a disconnect. With
/// `read_timeout_s` the client notices and resumes with Last-Event-ID: nothing is lost.
#[test]
fn a_silent_cut_leaves_an_eventsource_on_a_dead_stream_without_a_read_timeout() {
    let nat = "[proxy]\nidle_timeout_s = 5\nsilent = true\n[sse]\nheartbeat_s = 10\n";
    let s = scenario(&with_rate(20, 40, 0.05, "", nat));
    let native = run(&s, "sse");
    invariants(&native);
    assert!(native.summary.events_lost > 0);
    assert_eq!(native.summary.disconnects, 0);
    assert!(
        native.summary.stale_s > 20.0 * 20.0,
        "{}",
        native.summary.stale_s
    );
    let s = scenario(&with_rate(
        20,
        40,
        0.05,
        "",
        &format!("{nat}read_timeout_s = 12\n"),
    ));
    let timed = run(&s, "sse");
    invariants(&timed);
    assert_eq!(timed.summary.events_lost, 0);
    assert!(timed.summary.disconnects > 0);
}

/// 10 % segment loss, RTO 200 ms, 50 ms away: a pushed event is one segment, late by 200 ms
/// with probability 0.1 (600 ms with 0.01): nothing is lost, the median stays at 50 ms and
/// the p95 is 250 ms (the 90–99 % band).
#[test]
fn loss_costs_time_in_whole_rtos_not_events() {
    let s = scenario(&with_rate(50, 40, 1.0, "loss = 0.1\n", ""));
    for id in ["websocket", "sse"] {
        let r = run(&s, id);
        invariants(&r);
        assert_eq!(r.summary.events_lost, 0, "{id}");
        assert_eq!(r.summary.latency_p50_ms, 50, "{id}");
        assert_eq!(r.summary.latency_p95_ms, 250, "{id}");
    }
    let lossless = scenario(&base(50, 40, ""));
    assert_eq!(run(&lossless, "websocket").summary.latency_p95_ms, 50);
}

/// The same seed gives the same bytes under faults too.
#[test]
fn faulty_runs_are_deterministic() {
    let s = scenario(&with_rate(30, 25, 1.0, "loss = 0.05\n", OUTAGE));
    let lab = realtime_lab::Lab::builtin();
    let once = common::csv_bytes(&lab, &s, lab.simulate(&s, 2).unwrap());
    let twice = common::csv_bytes(&lab, &s, lab.simulate(&s, 1).unwrap());
    assert!(once == twice, "two runs of one seed differ");
}

/// Every strategy (server-callback too) under every kind of fault keeps the invariants.
#[test]
fn every_strategy_keeps_the_invariants_under_every_fault() {
    let faults = [
        ("restart", with_rate(20, 30, 1.0, "", RESTART)),
        ("outage", with_rate(20, 30, 1.0, "", OUTAGE)),
        (
            "proxy",
            with_rate(20, 30, 0.1, "", "[proxy]\nidle_timeout_s = 3\n"),
        ),
        (
            "silent NAT",
            with_rate(
                20,
                30,
                0.1,
                "",
                "[proxy]\nidle_timeout_s = 3\nsilent = true\n",
            ),
        ),
        ("loss", with_rate(20, 30, 1.0, "loss = 0.2\n", "")),
    ];
    let lab = realtime_lab::Lab::builtin();
    for (what, text) in faults {
        let s = scenario(&text);
        let results = lab.simulate(&s, 2).unwrap();
        assert_eq!(results.len(), lab.ids().len(), "{what}: every strategy ran");
        for r in &results {
            invariants(r);
        }
    }
}

/// Churn (issue 16): clients online for Exp(20 s), away for Exp(20 s). About half of them are
/// connected at any time (online share 20/(20 + 20)); polling and SSE keep what comes while a
/// client is away and deliver it when it is back (nothing lost, a long tail); a WebSocket
/// without resume loses what came while its client was away — about half the events — and
/// with resume (a 120 s window, far above a typical 20 s absence) nothing.
#[test]
fn churn_halves_the_connected_clients_and_only_a_websocket_without_resume_loses_events() {
    let churn = |ws: &str| {
        scenario(
            &with_rate(
                100,
                100,
                0.5,
                "",
                &format!("{ws}[sse]\nhistory_events = 100000\n"),
            )
            .replace(
                "connect_over_s = 2\n",
                "connect_over_s = 2\nonline_s = 20\noffline_s = 20\n",
            ),
        )
    };
    let s = churn("");
    for id in ["short-polling", "long-polling", "sse", "websocket"] {
        let r = run(&s, id);
        invariants(&r);
        let window: Vec<u64> = r.seconds[10..100]
            .iter()
            .map(|x| x.connected_clients)
            .collect();
        let mean = window.iter().sum::<u64>() as f64 / window.len() as f64;
        assert!(
            (40.0..=60.0).contains(&mean),
            "{id}: {mean} connected on average"
        );
        let lost = r.summary.events_lost as f64 / r.summary.events_generated as f64;
        if id == "websocket" {
            assert!((0.35..=0.65).contains(&lost), "{id}: {lost} lost");
        } else {
            assert_eq!(r.summary.events_lost, 0, "{id}");
        }
    }
    let r = run(&churn("[websocket]\nresume = true\n"), "websocket");
    invariants(&r);
    assert_eq!(r.summary.events_lost, 0);
}
