//! What crosses the simulated wire: real HTTP/1.1 heads of exactly the configured size.

mod common;

use common::{run, scenario};

fn padded(id: &str) -> realtime_lab::RunResult {
    let s = scenario(&format!(
        "name = \"wire\"\nseed = 2\nduration_s = 30\nwarmup_s = 5\nstrategies = [\"{id}\"]\n\
         [clients]\ncount = 20\n\
         [events]\nrate_per_client_per_s = 0.3\npayload_bytes = 120\n\
         [network]\nlatency_ms = 30\n\
         [http]\nheaders = {{ request_bytes = 700, response_bytes = 171 }}\n\
         [long-polling]\ntimeout_s = 4\n"
    ));
    run(&s, id)
}

/// Every request head is 700 bytes and every response head 171; a `200` body is one payload
/// plus a newline per event, and each event is sent exactly once.
#[test]
fn padded_heads_are_exactly_the_configured_size_on_the_wire() {
    for id in ["short-polling", "long-polling"] {
        let r = padded(id);
        let (mut requests, mut responses, mut up, mut down) = (0, 0, 0, 0);
        for row in &r.seconds {
            requests += row.requests;
            responses += row.responses;
            up += row.app_bytes_up;
            down += row.app_bytes_down;
        }
        assert!(requests > 100, "{id}: only {requests} requests");
        assert_eq!(up, 700 * requests, "{id}: request bytes");
        let events = r.summary.events_generated;
        assert_eq!(down, 171 * responses + 121 * events, "{id}: response bytes");
        // the window's payload bytes are whole payloads
        assert_eq!(r.summary.payload_bytes % 120, 0);
    }
}

/// The minimal profile: a poll is `GET /events?client=C&after=A HTTP/1.1`, `host`, `accept`.
#[test]
fn minimal_heads_are_what_http_1_1_needs() {
    let s = scenario(
        "name = \"min\"\nduration_s = 5\nstrategies = [\"short-polling\"]\n\
         [clients]\ncount = 1\n[events]\nrate_per_s = 0.001\n\
         [network]\nlatency_ms = 10\n",
    );
    let r = run(&s, "short-polling");
    let requests: u64 = r.seconds.iter().map(|s| s.requests).sum();
    let up: u64 = r.seconds.iter().map(|s| s.app_bytes_up).sum();
    let down: u64 = r.seconds.iter().map(|s| s.app_bytes_down).sum();
    let head = "GET /events?client=0&after=0 HTTP/1.1\r\nhost: server\r\naccept: application/x-ndjson\r\n\r\n";
    assert_eq!(up, requests * head.len() as u64);
    assert_eq!(
        down,
        requests * "HTTP/1.1 204 No Content\r\n\r\n".len() as u64
    );
}

/// TCP/IP overhead model: a short poll is 3 packets (request, response carrying the request's
/// ACK, the client's delayed pure ACK) and every packet adds 52 bytes of headers.
#[test]
fn a_short_poll_costs_three_packets_of_52_header_bytes_each() {
    let s = scenario(
        "name = \"pk\"\nduration_s = 30\nwarmup_s = 5\nstrategies = [\"short-polling\"]\n\
         [clients]\ncount = 10\n[events]\nrate_per_s = 0.001\n[network]\nlatency_ms = 20\n",
    );
    let sum = run(&s, "short-polling").summary;
    assert_eq!(sum.events_generated, 0, "meant to be idle");
    let expected = 3 * sum.requests;
    assert!(
        sum.packets.abs_diff(expected) <= 10,
        "{} packets for {} requests",
        sum.packets,
        sum.requests
    );
    assert_eq!(
        sum.wire_bytes_up + sum.wire_bytes_down,
        sum.app_bytes_up + sum.app_bytes_down + 52 * sum.packets,
        "no handshake or teardown falls in the window: wire = app + 52 × packets"
    );
}

/// A pushed event is 2 packets: the data segment and the client's delayed ACK.
#[test]
fn a_pushed_event_costs_two_packets() {
    let s = scenario(
        "name = \"pk\"\nduration_s = 60\nwarmup_s = 5\n\
         [clients]\ncount = 5\n[events]\nrate_per_client_per_s = 0.5\n[network]\nlatency_ms = 20\n\
         [websocket]\nping_interval_s = 3600\n[sse]\nheartbeat_s = 3600\n",
    );
    for id in ["websocket", "sse"] {
        let sum = run(&s, id).summary;
        let events = sum.payload_bytes / 100;
        assert!(events > 100);
        assert!(
            sum.packets.abs_diff(2 * events) <= 4,
            "{id}: {} packets for {events} events",
            sum.packets
        );
    }
}
