//! The command line as a user meets it: exit codes, messages, files.

use std::path::Path;
use std::process::{Command, Output};

fn realtime_lab(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_realtime-lab"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the binary runs")
}

const GOOD: &str = "name = \"tiny\"\nseed = 4\nduration_s = 10\nwarmup_s = 2\n\
                    [clients]\ncount = 20\n[events]\nrate_per_client_per_s = 0.5\n";

/// (what is wrong, file text, words the message must contain)
const BAD: &[(&str, &str, &[&str])] = &[
    ("TOML syntax", "name = \"x\nseed = 1\n", &["not valid TOML", "line 1"]),
    ("unknown top-level key", "name = \"x\"\nclinets = 3\n[events]\nrate_per_s = 1\n", &["`clinets`", "line 2", "unknown field"]),
    ("unknown nested key", "name = \"x\"\n[clients]\ncout = 3\n[events]\nrate_per_s = 1\n", &["`clients.cout`", "line 3", "count"]),
    ("wrong type", "name = \"x\"\nseed = \"seven\"\n[events]\nrate_per_s = 1\n", &["`seed`", "line 2", "invalid type"]),
    ("warmup not shorter than duration", "name = \"x\"\nduration_s = 10\nwarmup_s = 10\n[events]\nrate_per_s = 1\n", &["`warmup_s`", "shorter than duration_s"]),
    ("zero clients", "name = \"x\"\n[clients]\ncount = 0\n[events]\nrate_per_s = 1\n", &["`clients.count`", "1 to 200000"]),
    ("absurd client count", "name = \"x\"\n[clients]\ncount = 1000000000\n[events]\nrate_per_s = 1\n", &["`clients.count`", "1000000000"]),
    ("unknown strategy", "name = \"x\"\nstrategies = [\"carrier-pigeon\"]\n[events]\nrate_per_s = 1\n", &["carrier-pigeon", "short-polling"]),
    ("both event rates", "name = \"x\"\n[events]\nrate_per_s = 1\nrate_per_client_per_s = 1\n", &["not both"]),
    ("no event rate", "name = \"x\"\n", &["`events`", "rate_per_client_per_s"]),
    ("name with capitals", "name = \"Quick Start\"\n[events]\nrate_per_s = 1\n", &["`name`", "lowercase"]),
    ("latency range upside down", "name = \"x\"\n[network]\nlatency_ms = { min = 90, max = 10 }\n[events]\nrate_per_s = 1\n", &["`network.latency_ms`", "must not exceed"]),
    ("payload too small", "name = \"x\"\n[events]\nrate_per_s = 1\npayload_bytes = 8\n", &["`events.payload_bytes`", "60"]),
    ("poll interval zero", "name = \"x\"\n[events]\nrate_per_s = 1\n[short-polling]\ninterval_s = 0\n", &["`short-polling.interval_s`", "line 5"]),
    ("unknown timer", "name = \"x\"\n[events]\nrate_per_s = 1\n[short-polling]\ntimer = \"sometimes\"\n", &["`short-polling.timer`", "fixed-rate"]),
    ("unknown header profile", "name = \"x\"\n[events]\nrate_per_s = 1\n[http]\nheaders = \"fancy\"\n", &["`http.headers`", "browser"]),
    ("fan-out without a global stream", "name = \"x\"\n[events]\nrate_per_client_per_s = 1\nfanout = \"all\"\n", &["`events.fanout`"]),
    ("too many deliveries", "name = \"x\"\nduration_s = 3600\n[clients]\ncount = 100000\n[events]\nrate_per_s = 10\nfanout = \"all\"\n", &["deliveries", "limit"]),
    ("too few pool hosts for the clients", "name = \"x\"\n[clients]\ncount = 100000\n[events]\nrate_per_s = 1\n[simulation]\npool_hosts = 4\n", &["`simulation.pool_hosts`", "at least 13"]),
    ("traced client beyond the clients", "name = \"x\"\n[clients]\ncount = 3\n[events]\nrate_per_s = 1\n[simulation]\ntrace_client = 3\n", &["`simulation.trace_client`", "0 to 2"]),
    ("a fault after the run", "name = \"x\"\nduration_s = 30\n[events]\nrate_per_s = 1\n[[faults]]\nkind = \"server-restart\"\nat_s = 40\ndown_s = 5\n", &["`faults[0].at_s`", "line 7", "not inside the run"]),
    ("overlapping restarts", "name = \"x\"\n[events]\nrate_per_s = 1\n[[faults]]\nkind = \"server-restart\"\nat_s = 10\ndown_s = 5\n[[faults]]\nkind = \"server-restart\"\nat_s = 12\ndown_s = 5\n", &["`faults[1].at_s`", "line 10", "overlaps faults[0]"]),
    ("an outage's share above 1", "name = \"x\"\n[events]\nrate_per_s = 1\n[[faults]]\nkind = \"outage\"\nat_s = 10\nfor_s = 5\nclients = 1.5\n", &["`faults[0].clients`", "line 8", "at most 1"]),
    ("a negative fault time", "name = \"x\"\n[events]\nrate_per_s = 1\n[[faults]]\nkind = \"outage\"\nat_s = -3\nfor_s = 5\n", &["`faults[0].at_s`", "line 6", "-3"]),
    ("an unknown fault", "name = \"x\"\n[events]\nrate_per_s = 1\n[[faults]]\nkind = \"meteor\"\nat_s = 3\n", &["`faults[0].kind`", "line 5", "server-restart"]),
    ("faults as one table", "name = \"x\"\n[events]\nrate_per_s = 1\n[faults]\nkind = \"outage\"\n", &["`faults`", "line 4", "[[faults]]"]),
    ("loss of 1", "name = \"x\"\n[events]\nrate_per_s = 1\n[network]\nloss = 1.0\n", &["`network.loss`", "line 5", "below 0.5"]),
    ("an unknown reconnect policy", "name = \"x\"\n[events]\nrate_per_s = 1\n[reconnect]\npolicy = \"exponential\"\n", &["`reconnect.policy`", "line 5", "socket.io"]),
    ("a negative backoff", "name = \"x\"\n[events]\nrate_per_s = 1\n[reconnect]\npolicy = { initial_ms = -5 }\n", &["`reconnect.policy`", "initial_ms", "-5"]),
    ("an unknown policy for one strategy", "name = \"x\"\n[events]\nrate_per_s = 1\n[websocket]\nreconnect = \"sometimes\"\n", &["`websocket.reconnect`", "line 5", "signalr"]),
    ("a proxy faster than a round trip", "name = \"x\"\n[events]\nrate_per_s = 1\n[proxy]\nidle_timeout_s = 0.05\n", &["`proxy.idle_timeout_s`", "line 5", "round trip"]),
    ("a WebSocket client timeout under the ping", "name = \"x\"\n[events]\nrate_per_s = 1\n[websocket]\nclient_timeout_s = 10\n", &["`websocket.client_timeout_s`", "line 5", "ping interval"]),
    ("churn with one of its two times", "name = \"x\"\n[events]\nrate_per_s = 1\n[clients]\ncount = 10\nonline_s = 60\n", &["`clients.online_s`", "line 6", "offline_s"]),
    ("address changes beyond one a second", "name = \"x\"\n[events]\nrate_per_s = 1\n[clients]\naddress_change_per_hour = 5000\n", &["`clients.address_change_per_hour`", "line 5", "0 to 3600"]),
    ("a negative address change rate", "name = \"x\"\n[events]\nrate_per_s = 1\n[clients]\naddress_change_per_hour = -1\n", &["`clients.address_change_per_hour`", "line 5", "-1"]),
    ("a pool smaller than the clients", "name = \"x\"\n[events]\nrate_per_s = 1\n[clients]\ncount = 100\naddress_pool = 50\n", &["`clients.address_pool`", "line 6", "an address for every client (100"]),
    ("a pool smaller than the clients, with churn", "name = \"x\"\n[events]\nrate_per_s = 1\n[clients]\ncount = 100\nonline_s = 30\noffline_s = 10\naddress_pool = 70\n", &["`clients.address_pool`", "everyone is online"]),
    ("too many changes to plan", "name = \"x\"\nduration_s = 3600\n[events]\nrate_per_s = 1\n[clients]\ncount = 30000\naddress_change_per_hour = 3600\n", &["`clients.address_change_per_hour`", "changes to plan", "at most"]),
    ("a default pool too large", "name = \"x\"\n[events]\nrate_per_s = 1\n[clients]\ncount = 2000\naddress_change_per_hour = 3600\naddress_reuse_after_s = 86400\n", &["`clients.address_reuse_after_s`", "default pool", "address_pool"]),
    ("a reuse delay that is not finite", "name = \"x\"\n[events]\nrate_per_s = 1\n[clients]\naddress_reuse_after_s = inf\n", &["`clients.address_reuse_after_s`", "line 5", "out of range"]),
    ("an unknown kind of client", "name = \"x\"\n[events]\nrate_per_s = 1\n[clients]\nkind = \"phone\"\n", &["`clients.kind`", "line 5", "browser"]),
    ("a NAT share above 1", "name = \"x\"\n[events]\nrate_per_s = 1\n[server-callback]\nnat_fraction = 1.5\n", &["nat_fraction", "line 5", "0 to 1"]),
    ("a registration period of zero", "name = \"x\"\n[events]\nrate_per_s = 1\n[server-callback]\nregister_every_s = 0\n", &["register_every_s", "line 5", "0.1 to 86400"]),
    ("a negative log retention", "name = \"x\"\n[events]\nrate_per_s = 1\n[privacy]\nretention_days = -3\n", &["`privacy.retention_days`", "line 5", "0 to 3650"]),
    ("padded head too small", "name = \"x\"\n[events]\nrate_per_s = 1\n[http]\nheaders = { request_bytes = 10, response_bytes = 200 }\n", &["request_bytes", "256"]),
];

#[test]
fn every_malformed_scenario_exits_2_with_a_message_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (what, text, words)) in BAD.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        for cmd in ["validate", "run"] {
            let out = realtime_lab(
                &[cmd, file.to_str().unwrap(), "--out", "out"][..if cmd == "run" { 4 } else { 2 }],
                dir.path(),
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{what} ({cmd}): exit code; stderr: {stderr}"
            );
            assert!(
                stderr.contains(&format!("bad{i}.toml")),
                "{what}: message does not name the file: {stderr}"
            );
            for w in *words {
                assert!(stderr.contains(w), "{what}: message lacks {w:?}: {stderr}");
            }
            assert!(!stderr.contains("panicked"), "{what}: panicked: {stderr}");
            assert!(!dir.path().join("out").exists(), "{what}: output written");
        }
    }
    assert!(BAD.len() >= 10);
}

/// A fault that leaves nothing deliverable is allowed, with a warning.
#[test]
fn faults_covering_the_whole_run_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dark.toml");
    std::fs::write(
        &file,
        "name = \"dark\"\nduration_s = 20\n[events]\nrate_per_s = 1\n\
         [[faults]]\nkind = \"server-restart\"\nat_s = 0\ndown_s = 30\n",
    )
    .unwrap();
    let out = realtime_lab(&["validate", file.to_str().unwrap()], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: dark: the faults cover the whole event window"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_or_unknown_strategy_flag_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = realtime_lab(&["run", "nope.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
    std::fs::write(dir.path().join("good.toml"), GOOD).unwrap();
    let out = realtime_lab(
        &["run", "good.toml", "--strategy", "smoke-signals"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("smoke-signals"));
    assert!(!dir.path().join("output").exists());
}

#[test]
fn run_writes_the_csv_files_and_charts_and_prints_a_table() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.toml"), GOOD).unwrap();
    let out = realtime_lab(&["run", "good.toml", "--out", "res"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("short-polling") && stdout.contains("long-polling"),
        "{stdout}"
    );
    assert!(stdout.contains("req/s"));
    for f in [
        "summary.csv",
        "timeseries.csv",
        "latency.csv",
        "events_by_type.csv",
    ] {
        let text = std::fs::read_to_string(dir.path().join("res/tiny").join(f)).unwrap();
        assert!(text.lines().count() > 2, "{f} has no rows");
    }
    let summary = std::fs::read_to_string(dir.path().join("res/tiny/summary.csv")).unwrap();
    assert!(summary.starts_with("strategy,clients,duration_s,events_generated,events_delivered,events_lost,duplicates,requests,requests_per_s,empty_responses,connections_opened,peak_open_connections,latency_mean_ms,latency_p50_ms,latency_p95_ms,latency_p99_ms,latency_max_ms,app_bytes_up,app_bytes_down,payload_bytes,overhead_bytes,bytes_per_event"));
    // no temporary files left behind
    let names: Vec<String> = std::fs::read_dir(dir.path().join("res/tiny"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with('.') || n == ".realtime-lab"),
        "temporary files left: {names:?}"
    );
    assert_eq!(
        names.len(),
        6 + 1 + 10 + 10 + 1,
        "6 CSV (with model.csv, sequence.csv), conditions.txt, 5 charts × PNG/SVG (with server-callback: addresses), 5 sequence diagrams × PNG/SVG, the marker: {names:?}"
    );
}

#[test]
fn strategy_and_seed_flags_override_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.toml"), GOOD).unwrap();
    let out = realtime_lab(
        &[
            "run",
            "good.toml",
            "-q",
            "--strategy",
            "long-polling",
            "--seed",
            "99",
        ],
        dir.path(),
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("seed 99") && !stdout.contains("short-polling"),
        "{stdout}"
    );
}

#[test]
fn list_names_every_strategy() {
    let out = realtime_lab(&["list"], Path::new("."));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for s in realtime_lab::Lab::builtin().strategies() {
        assert!(stdout.contains(s.id()));
    }
}

#[test]
fn every_shipped_scenario_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        let s = realtime_lab::Lab::builtin()
            .load(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !s.description.is_empty(),
            "{}: no description",
            path.display()
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with('#'),
            "{}: no comment header",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 3, "fewer than three scenarios ship");
    realtime_lab::Lab::builtin().quickstart().unwrap();
}
