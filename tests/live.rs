//! The same strategy code on real sockets of this machine (127.0.0.1): exactly-once delivery,
//! the same events as the simulation, and `load`/`compare` on the command line. Bounded: a few
//! dozen clients for a few seconds, on ephemeral ports.

mod common;

use common::scenario;
use realtime_lab::{live, Lab, Scenario};

fn small(clients: u64, extra: &str) -> Scenario {
    scenario(&format!(
        "name = \"real\"\nseed = 11\nduration_s = 3\nwarmup_s = 0\n\
         [clients]\ncount = {clients}\nconnect_over_s = 0.5\n\
         [events]\nrate_per_client_per_s = 2\npayload_bytes = 100\n\
         [network]\nlatency_ms = 10\n\
         [short-polling]\ninterval_s = 0.25\n[long-polling]\ntimeout_s = 2\n{extra}"
    ))
}

/// Every event the real publisher created reaches its client exactly once, and the publisher
/// created exactly the simulation's events: one seeded Poisson process in both worlds.
fn exactly_once(id: &str) {
    let lab = Lab::builtin();
    let s = small(30, "");
    let strategy = lab.find(id).unwrap();
    let real = live::real_scenario(&s, id).unwrap();
    let r = live::run(&real, strategy, true, &mut |_, _| {}).unwrap();
    let sim = common::run(&s, id);
    let x = &r.summary;
    assert!(
        x.events_generated > 100,
        "{id}: {} events",
        x.events_generated
    );
    assert_eq!(
        x.events_generated, sim.summary.events_generated,
        "{id}: the same events"
    );
    assert_eq!(
        x.events_delivered, x.events_generated,
        "{id}: every event delivered"
    );
    assert_eq!(
        (x.events_lost, x.duplicates, x.misdelivered),
        (0, 0, 0),
        "{id}"
    );
    assert_eq!(x.connections_opened, 30, "{id}: one connection per client");
    // the scenario's 10 ms were added to every read: a push takes at least one transit
    if id == "websocket" || id == "sse" {
        assert!(x.latency_p50_ms >= 10, "{id}: p50 {} ms", x.latency_p50_ms);
    }
}

#[test]
fn short_polling_delivers_exactly_once_over_real_sockets() {
    exactly_once("short-polling");
}

#[test]
fn long_polling_delivers_exactly_once_over_real_sockets() {
    exactly_once("long-polling");
}

#[test]
fn websocket_delivers_exactly_once_over_real_sockets() {
    exactly_once("websocket");
}

#[test]
fn sse_delivers_exactly_once_over_real_sockets() {
    exactly_once("sse");
}

/// Short polling at a fixed rate sends one poll per client per interval whatever the network:
/// 20 clients × 3 s / 0.25 s = 240 polls, in either world (±1 per client at
/// the window's edges).
#[test]
fn short_polling_polls_at_its_interval_for_real() {
    let lab = Lab::builtin();
    let s = small(20, "");
    let real = live::real_scenario(&s, "short-polling").unwrap();
    let r = live::run(
        &real,
        lab.find("short-polling").unwrap(),
        true,
        &mut |_, _| {},
    )
    .unwrap();
    let polls = r.summary.requests as i64;
    assert!(
        (220..=260).contains(&polls),
        "{polls} polls, expected 240 ± 20"
    );
}

fn cli(args: &[&str]) -> u8 {
    realtime_lab::cli::run_with(Lab::builtin(), args.iter().copied())
}

#[test]
fn load_writes_the_files_run_writes_tagged_real_and_compare_reads_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("real.toml");
    std::fs::write(
        &file,
        "name = \"real\"\nseed = 5\nduration_s = 3\nwarmup_s = 0.5\n\
         [clients]\ncount = 10\nconnect_over_s = 0.2\n\
         [events]\nrate_per_client_per_s = 2\n[network]\nlatency_ms = 5\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let (f, o) = (file.to_str().unwrap(), out.to_str().unwrap());
    let ids = ["--strategy", "sse", "--strategy", "long-polling"];
    let mut args = vec!["realtime-lab", "load", f, "--out", o, "-q"];
    args.extend(ids);
    assert_eq!(cli(&args), 0);
    let mut args = vec!["realtime-lab", "run", f, "--out", o, "-q"];
    args.extend(ids);
    assert_eq!(cli(&args), 0);
    let (sim, real) = (out.join("real"), out.join("real-real"));
    let header = |d: &std::path::Path| {
        std::fs::read_to_string(d.join("summary.csv"))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(header(&sim), header(&real), "the same columns");
    let rows = std::fs::read_to_string(real.join("summary.csv")).unwrap();
    assert_eq!(rows.lines().count(), 3, "a header and two strategies");
    let conditions = std::fs::read_to_string(real.join("conditions.txt")).unwrap();
    assert!(conditions.contains("world = real"), "{conditions}");
    for chart in ["overview.png", "latency.png", "traffic.png"] {
        assert!(real.join(chart).is_file(), "{chart}");
    }
    let (table, _) = live::compare(&sim, &real).unwrap();
    for id in ["sse", "long-polling"] {
        let line = table
            .lines()
            .find(|l| l.starts_with(id) && l.contains("events generated"))
            .unwrap_or_else(|| panic!("{table}"));
        assert!(line.ends_with("yes, exactly"), "{line}");
    }
}

#[test]
fn what_only_a_simulation_can_do_is_refused_with_the_field() {
    let s = small(
        5,
        "[[faults]]\nkind = \"server-restart\"\nat_s = 1\ndown_s = 1\n",
    );
    let e = live::real_scenario(&s, "sse").unwrap_err().to_string();
    assert!(e.contains("[[faults]]"), "{e}");
    let e = live::real_scenario(&small(5, ""), "server-callback")
        .unwrap_err()
        .to_string();
    assert!(e.contains("server-callback"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().to_str().unwrap();
    assert_eq!(
        cli(&[
            "realtime-lab",
            "load",
            "--strategy",
            "server-callback",
            "--out",
            o,
            "-q"
        ]),
        2
    );
    assert_eq!(
        cli(&[
            "realtime-lab",
            "load",
            "--duration",
            "0.1",
            "--out",
            o,
            "-q"
        ]),
        2,
        "a duration inside the warmup"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

/// `calibrate` measures every figure it promises, each within what any machine gives (a
/// request costs more than a microsecond and less than 5 ms of CPU; a connection's memory is
/// between 100 bytes and 1 MB), and a scenario includes the table it writes.
#[test]
fn calibrate_writes_a_table_a_scenario_includes() {
    let lab = Lab::builtin();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_realtime-lab"));
    let c = live::calibrate::calibrate(&lab, exe, &mut |_| {}).unwrap();
    let keys: Vec<&str> = c.cost.iter().chain(&c.memory).map(|f| f.key).collect();
    assert_eq!(
        keys,
        [
            "connect_us",
            "request_us",
            "frame_us",
            "sse_record_us",
            "connection_bytes",
            "stream_bytes",
            "parked_request_bytes"
        ]
    );
    for f in &c.cost {
        if f.key != "connect_us" {
            assert!(
                f.value > 1.0 && f.value < 5_000.0,
                "{} = {}",
                f.key,
                f.value
            );
        }
    }
    let conn = c.memory[0].value;
    assert!(conn > 100.0 && conn < 1e6, "connection_bytes = {conn}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("calibration.toml"), c.to_toml()).unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        "name = \"s\"\nduration_s = 5\n[clients]\ncount = 5\n[events]\nrate_per_client_per_s = 1\n\
         [server]\ncores = 1\ncalibration = \"calibration.toml\"\n[server.cost]\nrequest_us = 99\n",
    )
    .unwrap();
    let s = lab.load(&file).unwrap();
    assert_eq!(
        s.server.cost.request_us, 99.0,
        "the scenario's own key wins"
    );
    let frame = c.cost.iter().find(|f| f.key == "frame_us").unwrap().value;
    assert!(
        (s.server.cost.frame_us - frame).abs() < 0.01,
        "the rest comes from the file"
    );
    assert_eq!(s.server.memory.connection_bytes, conn.round() as u64);
}

/// A calibration table that is not one is refused, naming the file and the key: a folder, a
/// FIFO (which would never end), a value that is not a finite number ≥ 0, an unknown key.
#[test]
fn a_bad_calibration_file_is_refused_naming_it() {
    let lab = Lab::builtin();
    let dir = tempfile::tempdir().unwrap();
    let scenario = |target: &str| {
        let file = dir.path().join("s.toml");
        std::fs::write(
            &file,
            format!(
                "name = \"s\"\nduration_s = 5\n[clients]\ncount = 5\n[events]\nrate_per_client_per_s = 1\n\
                 [server]\ncalibration = \"{target}\"\n"
            ),
        )
        .unwrap();
        lab.load(&file).unwrap_err().to_string()
    };
    std::fs::create_dir(dir.path().join("folder")).unwrap();
    let e = scenario("folder");
    assert!(
        e.contains("server.calibration") && e.contains("not a regular file"),
        "{e}"
    );
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let e = scenario("fifo");
    assert!(e.contains("not a regular file"), "{e}");
    for (text, key) in [
        (
            "[server.cost]\nrequest_us = nan\n",
            "server.cost.request_us",
        ),
        (
            "[server.cost]\nrequest_us = -1.0\n",
            "server.cost.request_us",
        ),
        (
            "[server.memory]\nconnection_bytes = \"big\"\n",
            "server.memory.connection_bytes",
        ),
        ("[server.cost]\nfast = 1\n", "server.cost"),
        (
            "[clients]\ncount = 5\n",
            "[server.cost] and [server.memory]",
        ),
    ] {
        std::fs::write(dir.path().join("c.toml"), text).unwrap();
        let e = scenario("c.toml");
        assert!(e.contains("c.toml") && e.contains(key), "{text}: {e}");
    }
}
