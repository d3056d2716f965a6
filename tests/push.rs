//! WebSocket and Server-Sent Events in simulation: latency, exact framing bytes, heartbeats,
//! reconnection with `Last-Event-ID`, and the end-of-run close.

mod common;

use common::{run, scenario};
use realtime_lab::protocol::sse;

fn totals(r: &realtime_lab::RunResult) -> (u64, u64) {
    r.seconds.iter().fold((0, 0), |(u, d), s| {
        (u + s.app_bytes_up, d + s.app_bytes_down)
    })
}

/// On a constant-latency link a pushed event arrives exactly one transit after it is created.
#[test]
fn push_latency_is_the_link_latency_for_every_event() {
    let s = scenario(
        "name = \"push\"\nseed = 8\nduration_s = 30\nwarmup_s = 5\n\
         [clients]\ncount = 100\nconnect_over_s = 2\n\
         [events]\nrate_per_client_per_s = 1\ntypes = [\"message\", \"price\"]\n\
         [network]\nlatency_ms = 40\n",
    );
    for id in ["websocket", "sse"] {
        let r = run(&s, id);
        let buckets: Vec<usize> = (0..r.latency.len())
            .filter(|&ms| r.latency[ms] > 0)
            .collect();
        assert_eq!(
            buckets,
            vec![40],
            "{id}: latencies {buckets:?} ms, expected only 40"
        );
        assert!(r.summary.events_delivered > 2000);
        let by_type: u64 = r.delivered_by_type.iter().map(|(_, n)| n).sum();
        assert_eq!(
            by_type, r.summary.events_delivered,
            "{id}: every event has a listener"
        );
        assert!(
            r.delivered_by_type.iter().all(|(_, n)| *n > 500),
            "{id}: {:?}",
            r.delivered_by_type
        );
    }
}

fn one_client(id: &str, payload: u64, extra: &str) -> realtime_lab::RunResult {
    let s = scenario(&format!(
        "name = \"frames\"\nseed = 4\nduration_s = 20\n\
         [clients]\ncount = 1\n\
         [events]\nrate_per_s = 0.5\npayload_bytes = {payload}\ntypes = [\"message\", \"price\"]\n\
         [network]\nlatency_ms = 20\n\
         [http]\nheaders = {{ request_bytes = 400, response_bytes = 200 }}\n\
         [websocket]\nping_interval_s = 3600\n[sse]\nheartbeat_s = 3600\n{extra}"
    ));
    run(&s, id)
}

/// RFC 6455 §5.2: a server frame's header is 2 bytes up to 125 bytes of payload, 4 up to
/// 65,535 and 10 above; the close handshake is 4 bytes down and 8 up (masked).
#[test]
fn websocket_bytes_are_the_frame_arithmetic_exactly() {
    for (payload, header) in [(125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
        let r = one_client("websocket", payload, "");
        let n = r.summary.events_generated;
        assert!(n > 3, "only {n} events");
        let (up, down) = totals(&r);
        assert_eq!(
            up,
            400 + 8,
            "payload {payload}: handshake request + masked close"
        );
        assert_eq!(
            down,
            200 + n * (header + payload) + 4,
            "payload {payload}: 101 + frames + close"
        );
    }
}

/// Each SSE event is one HTTP chunk (`<hex length>\r\n … \r\n`) holding `id: N\n`,
/// `event: price\n` unless the type is `message`, `data: <payload>\n` and a blank line.
#[test]
fn sse_bytes_are_the_event_stream_arithmetic_exactly() {
    let payload = 100;
    let r = one_client("sse", payload, "");
    let n = r.summary.events_generated;
    let prices = r
        .delivered_by_type
        .iter()
        .find(|(t, _)| t == "price")
        .unwrap()
        .1;
    let chunk = |len: usize| format!("{len:x}").len() + 2 + len + 2;
    let events: usize = (1..=n)
        .map(|id| sse::event_len(&id.to_string(), "message", payload as usize))
        .map(chunk)
        .sum::<usize>()
        + prices as usize * "event: price\n".len();
    let retry = chunk(sse::encode_retry(3000).len());
    let (up, down) = totals(&r);
    // the stream ends at the close ("0\r\n\r\n"); the client reconnects and gets a 204
    assert_eq!(up, 2 * 400, "two stream requests");
    assert_eq!(down as usize, 200 + retry + events + 5 + 200);
}

/// Heartbeats cost N × bytes × duration / interval: WebSocket ping (2 bytes) + masked pong
/// (6); SSE `:\n\n` in a chunk (8).
#[test]
fn heartbeat_traffic_is_n_times_bytes_times_duration_over_interval() {
    let s = scenario(
        "name = \"idle\"\nseed = 1\nduration_s = 70\nwarmup_s = 10\n\
         [clients]\ncount = 25\n[events]\nrate_per_s = 0.0001\n[network]\nlatency_ms = 50\n\
         [websocket]\nping_interval_s = 1\n[sse]\nheartbeat_s = 1\n",
    );
    let beats = 25 * 60;
    for (id, up, down) in [("websocket", 6, 2), ("sse", 0, 8)] {
        let sum = run(&s, id).summary;
        assert_eq!(sum.events_generated, 0, "this scenario is meant to be idle");
        assert_eq!(sum.app_bytes_up, beats * up, "{id} up");
        assert_eq!(sum.app_bytes_down, beats * down, "{id} down");
    }
}

fn sse_with_reconnects(history: u64, retry_ms: u64) -> realtime_lab::SummaryRow {
    let s = scenario(&format!(
        "name = \"resume\"\nseed = 6\nduration_s = 40\nwarmup_s = 0\n\
         [clients]\ncount = 30\n[events]\nrate_per_client_per_s = 4\n[network]\nlatency_ms = 30\n\
         [sse]\nstream_max_s = 5\nretry_ms = {retry_ms}\nhistory_events = {history}\n"
    ));
    run(&s, "sse").summary
}

/// The server ends every stream after 5 s; clients come back with Last-Event-ID and the server
/// replays what they missed from its history: nothing lost, nothing twice.
#[test]
fn sse_resumes_with_last_event_id_and_loses_nothing_within_the_history() {
    let sum = sse_with_reconnects(1000, 500);
    assert!(
        sum.requests >= 30 * 7,
        "expected a reconnect every 5 s, got {} requests",
        sum.requests
    );
    assert_eq!(sum.duplicates, 0);
    assert_eq!(sum.events_lost, 0);
    assert_eq!(sum.events_delivered, sum.events_generated);
    // events created during a reconnection gap wait for the next stream
    assert!(
        sum.latency_max_ms > 500,
        "max latency {}",
        sum.latency_max_ms
    );
}

/// With a history of 2 events and 3 s between streams at 4 events/s, most events of each gap
/// fall out of the history before the client is back: they are counted as lost, never duplicated.
#[test]
fn sse_events_older_than_the_history_are_counted_lost() {
    let sum = sse_with_reconnects(2, 3000);
    assert!(sum.events_lost > 1000, "lost {}", sum.events_lost);
    assert_eq!(sum.duplicates, 0);
    assert_eq!(sum.events_generated, sum.events_delivered + sum.events_lost);
}

/// At the end of the run the server ends each stream; the client reconnects, is answered
/// `204 No Content`, and stops: exactly one 204 per client, and no connection left open.
#[test]
fn sse_server_close_then_204_stops_reconnection() {
    let s = scenario(
        "name = \"close\"\nseed = 2\nduration_s = 10\n[clients]\ncount = 40\n\
         [events]\nrate_per_client_per_s = 0.5\n[network]\nlatency_ms = 20\n",
    );
    let r = run(&s, "sse");
    let empty: u64 = r.seconds.iter().map(|s| s.empty_responses).sum();
    assert_eq!(empty, 40, "one 204 per client");
    assert_eq!(r.seconds.last().unwrap().open_connections, 0);
}

/// Upstream messages reach the server one transit after they are sent, for every strategy
/// (WebSocket frames on the same connection; HTTP POSTs on a kept-alive one).
#[test]
fn upstream_messages_take_one_transit_in_every_strategy() {
    let s = scenario(
        "name = \"chat\"\nseed = 12\nduration_s = 40\nwarmup_s = 5\n\
         [clients]\ncount = 50\nconnect_over_s = 2\n[events]\nrate_per_client_per_s = 0.2\n\
         [network]\nlatency_ms = 35\n[upstream]\nrate_per_client_per_s = 0.5\npayload_bytes = 80\n\
         [server-callback]\nnat_fraction = 0\n",
    );
    for strategy in realtime_lab::Lab::builtin().strategies() {
        let sum = common::run(&s, strategy.id()).summary;
        let expected = 50.0 * 0.5 * 35.0;
        let got = sum.upstream_messages as f64;
        assert!(
            (got - expected).abs() / expected < 0.1,
            "{}: {got} upstream messages, expected ≈ {expected}",
            strategy.id()
        );
        assert_eq!(sum.upstream_latency_mean_ms, 35.0, "{}", strategy.id());
        assert_eq!(sum.events_lost, 0);
    }
}
