//! One client's exchange: `realtime-lab trace`, `run --trace-client` and the sequence
//! diagrams' rows, checked against the protocols' rules and the link's latency.

use std::path::Path;
use std::process::{Command, Output};

fn realtime_lab(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_realtime-lab"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the binary runs")
}

/// (sent ms, arrived ms, what) of every transcript line with both times.
fn lines(transcript: &str) -> Vec<(u64, Option<u64>, String)> {
    let ms = |s: &str| -> Option<u64> {
        let (a, b) = s.strip_suffix(" s")?.split_once('.')?;
        Some(a.trim().parse::<u64>().ok()? * 1000 + b.parse::<u64>().ok()?)
    };
    // columns by characters (the direction has a multi-byte arrow): sent 0..10, conn
    // 12..16, direction 18..34, bytes 36..42, arrived 44..54, what from 56
    transcript
        .lines()
        .skip(2)
        .filter_map(|l| {
            let c: Vec<char> = l.chars().collect();
            let col = |a: usize, b: usize| -> String {
                c.get(a..b.min(c.len())).unwrap_or(&[]).iter().collect()
            };
            let sent = ms(col(0, 10).trim())?;
            let arrived = ms(col(44, 54).trim());
            Some((sent, arrived, col(56, c.len())))
        })
        .collect()
}

const WS: &str = "name = \"ws\"\nseed = 3\nduration_s = 10\nwarmup_s = 1\n\
                  strategies = [\"websocket\", \"sse\"]\n\
                  [clients]\ncount = 4\n[events]\nrate_per_client_per_s = 1\n\
                  [network]\nlatency_ms = 30\n[websocket]\nping_interval_s = 1\n\
                  [sse]\nstream_max_s = 2\n";

/// On a link with a constant 30 ms one-way delay, every write arrives 30 ms after it was
/// sent (the reader is always waiting); the WebSocket lesson's frames are all there.
#[test]
fn websocket_transcript_shows_the_handshake_and_heartbeat_30_ms_apart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ws.toml"), WS).unwrap();
    let out = realtime_lab(
        &[
            "trace",
            "ws.toml",
            "--strategy",
            "websocket",
            "--client",
            "2",
            "--until",
            "3",
        ],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("ws · websocket · client 2 · first 3.000 s"),
        "{text}"
    );
    let l = lines(&text);
    let whats: Vec<&str> = l.iter().map(|(_, _, w)| w.as_str()).collect();
    for expected in [
        "TCP handshake, connection #1",
        "GET /events?client=2 · Upgrade: websocket",
        "101 Switching Protocols · Sec-WebSocket-Accept",
        "ping",
        "pong, masked",
    ] {
        assert!(whats.contains(&expected), "no {expected:?} in\n{text}");
    }
    assert!(
        whats
            .iter()
            .any(|w| w.starts_with("text frame 100 B · event ")),
        "{text}"
    );
    let timed: Vec<_> = l.iter().filter(|(_, a, _)| a.is_some()).collect();
    assert!(timed.len() >= 6, "{text}");
    for (sent, arrived, what) in timed {
        assert_eq!(arrived.unwrap() - sent, 30, "{what}: one-way delay\n{text}");
    }
    // nothing sent at or after --until
    assert!(l.iter().all(|(sent, _, _)| *sent < 3_000), "{text}");
}

/// An event stream that the server ends every 2 s: the client waits its `retry:` time (3 s)
/// and reconnects with the id of the last event it received as `Last-Event-ID` (WHATWG HTML
/// §9.2, "last event ID string"); the server then replays every event created for it since.
#[test]
fn sse_reconnects_with_the_last_id_it_received_and_gets_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ws.toml"), WS).unwrap();
    let out = realtime_lab(
        &["trace", "ws.toml", "--strategy", "sse", "--until", "16"],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids_in = |what: &str| -> Vec<String> {
        what.split("id: ")
            .skip(1)
            .map(|rest| rest.chars().take_while(|c| c.is_ascii_digit()).collect())
            .collect()
    };
    let mut last_id: Option<String> = None;
    let mut missed = 0; // events created since the stream ended
    let mut streaming = true;
    let mut reconnections = 0;
    let mut expect_replay = None;
    let mut replays = 0;
    for (_, _, what) in lines(&text) {
        if what.starts_with("event ") && what.contains(" created ") {
            if !streaming {
                missed += 1;
            }
            continue;
        }
        if what == "end of stream (last chunk)" {
            streaming = false;
            missed = 0;
        }
        if let Some((_, id)) = what.split_once("Last-Event-ID: ") {
            reconnections += 1;
            assert_eq!(Some(id.to_string()), last_id, "{what}\n{text}");
            streaming = true;
            expect_replay = Some(missed);
        }
        if let Some(n) = expect_replay {
            // `N SSE records: first … last`, or up to 3 joined by ` + `
            let count = match what.split(" SSE records").next().map(str::parse::<usize>) {
                Some(Ok(n)) => Some(n),
                _ if what.starts_with("retry: ") => Some(what.split(" + ").count()),
                _ => None,
            };
            if let Some(count) = count {
                // the replay: `retry:` and every missed event in one write
                assert_eq!(count, n + 1, "{what}\n{text}");
                expect_replay = None;
                replays += 1;
            }
        }
        if let Some(id) = ids_in(&what).pop() {
            last_id = Some(id);
        }
    }
    assert!(
        reconnections >= 2,
        "{reconnections} reconnections in\n{text}"
    );
    assert!(
        replays >= 2,
        "{replays} replays of 4 or more events checked in\n{text}"
    );
}

#[test]
fn trace_refuses_bad_arguments_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ws.toml"), WS).unwrap();
    for (args, words) in [
        (
            vec!["--strategy", "websocket", "--client", "4"],
            vec!["--client 4", "0 to 3"],
        ),
        (vec!["--strategy", "pigeon"], vec!["pigeon", "websocket"]),
        (vec!["--strategy", "sse", "--until", "0"], vec!["--until 0"]),
        (
            vec!["--strategy", "sse", "--until", "1e9"],
            vec!["--until", "at most"],
        ),
    ] {
        let mut all = vec!["trace", "ws.toml"];
        all.extend(&args);
        let out = realtime_lab(&all, dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        for w in words {
            assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
        }
    }
    let out = realtime_lab(&["run", "ws.toml", "--trace-client", "9"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trace-client 9"));
    assert!(!dir.path().join("output").exists(), "nothing written");
}

/// `run --trace-client K` draws client K's exchange; its rows include the close handshake
/// the WebSocket server starts when the run ends (RFC 6455 §5.5.1: the peer echoes the code).
#[test]
fn run_traces_the_chosen_client_and_draws_one_diagram_per_strategy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ws.toml"), WS).unwrap();
    let out = realtime_lab(
        &["run", "ws.toml", "--trace-client", "3", "-q", "--out", "o"],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let folder = dir.path().join("o/ws");
    for s in ["websocket", "sse"] {
        for ext in ["svg", "png"] {
            let f = folder.join(format!("sequence-{s}.{ext}"));
            assert!(
                std::fs::metadata(&f).unwrap().len() > 1000,
                "{}",
                f.display()
            );
        }
    }
    let mut r = csv::Reader::from_path(folder.join("sequence.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    assert!(rows.iter().all(|r| &r[1] == "3"), "every row is client 3's");
    let ws: Vec<&str> = rows
        .iter()
        .filter(|r| &r[0] == "websocket")
        .map(|r| r.get(10).unwrap())
        .collect();
    assert!(ws.len() <= realtime_lab::trace::sequence::ROWS);
    assert!(
        ws.contains(&"close 1000") && ws.contains(&"close 1000, masked"),
        "{ws:?}"
    );
    assert!(
        ws.contains(&"ping") && ws.contains(&"pong, masked"),
        "{ws:?}"
    );
}
