//! Hostile input: every reproduction a hostile user found gives exit 2 with a message naming
//! the file, the field or column, and the line — quickly, with nothing written — and an
//! interrupted write leaves every result folder all-old or all-new.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn realtime_lab(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_realtime-lab"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

const SMALL: &str =
    "name = \"r\"\nseed = 1\nduration_s = 6\nstrategies = [\"short-polling\", \"sse\"]\n\
    [clients]\ncount = 10\n[events]\nrate_per_client_per_s = 1\n";

/// Every file of a folder, by name (sorted).
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[track_caller]
fn exits_2(o: &Output, words: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    for w in words {
        assert!(err.contains(w), "missing {w:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// `chart` used to spin forever on `inf` or 1.6e308 in summary.csv, after overwriting some
/// charts; now it refuses within a second, naming file, line and column, and the folder is
/// untouched.
#[test]
fn chart_refuses_absurd_numbers_without_touching_the_folder() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("s.toml"), SMALL).unwrap();
    let o = realtime_lab(&["run", "-q", "s.toml", "--out", "out"], root.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = root.path().join("out/r");
    let summary = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let column = summary
        .lines()
        .next()
        .unwrap()
        .split(',')
        .position(|c| c == "bytes_per_event")
        .unwrap();
    for bad in ["inf", "1.6e308", "NaN", "-3"] {
        let mut lines: Vec<String> = summary.lines().map(str::to_string).collect();
        let mut fields: Vec<String> = lines[2].split(',').map(str::to_string).collect();
        fields[column] = bad.to_string();
        lines[2] = fields.join(",");
        std::fs::write(dir.join("summary.csv"), lines.join("\n") + "\n").unwrap();
        let before = snapshot(&dir);
        let started = Instant::now();
        let o = realtime_lab(&["chart", dir.to_str().unwrap()], root.path());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{bad}: took {:?}",
            started.elapsed()
        );
        exits_2(&o, &["summary.csv", "line 3", "bytes_per_event", bad]);
        assert!(snapshot(&dir) == before, "{bad}: the folder changed");
    }
    assert_eq!(
        entries(&root.path().join("out")),
        ["r"],
        "temporary folders left behind"
    );
}

/// Shards must come from one sweep, all of them, once each; a failed merge writes nothing.
#[test]
fn merge_refuses_gaps_mixtures_and_absurd_numbers() {
    let root = tempfile::tempdir().unwrap();
    let sweep = |seed: u64| {
        format!(
            "name = \"m\"\nseed = {seed}\nduration_s = 5\nstrategies = [\"websocket\"]\n[clients]\ncount = 4\n\
             [events]\nrate_per_client_per_s = 1\n[sweep]\nclients = [2, 3, 4]\n"
        )
    };
    std::fs::write(root.path().join("a.toml"), sweep(1)).unwrap();
    std::fs::write(root.path().join("b.toml"), sweep(2)).unwrap();
    for (file, out, shard) in [
        ("a.toml", "a0", "0/3"),
        ("a.toml", "a1", "1/3"),
        ("a.toml", "a2", "2/3"),
        ("b.toml", "b2", "2/3"),
    ] {
        let o = realtime_lab(
            &["run", "-q", file, "--out", out, "--shard", shard],
            root.path(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let merge = |shards: &[&str]| {
        let mut args = vec!["merge", "--out", "merged"];
        args.extend(shards);
        realtime_lab(&args, root.path())
    };
    exits_2(&merge(&["a0/m", "a1/m"]), &["shard 2/3", "missing"]);
    exits_2(
        &merge(&["a0/m", "a1/m", "b2/m"]),
        &["b2/m", "merge the shards of one"],
    );
    exits_2(&merge(&["a0/m", "a0/m", "a1/m"]), &["given twice"]);
    assert!(
        !root.path().join("merged").exists(),
        "a failed merge wrote something"
    );
    // a hand-edited shard
    let path = root.path().join("a1/m/sweep.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let bad = text.replacen(",0,0,", ",inf,0,", 1);
    assert_ne!(bad, text);
    std::fs::write(&path, bad).unwrap();
    exits_2(
        &merge(&["a0/m", "a1/m", "a2/m"]),
        &["a1/m/sweep.csv", "line 2", "inf"],
    );
    std::fs::write(&path, text).unwrap();
    let o = merge(&["a2/m", "a0/m", "a1/m"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(root.path().join("merged/sweep.csv"))
            .unwrap()
            .lines()
            .count(),
        1 + 3
    );
}

/// Scenario files that used to be accepted and then fail, hang or lose everything.
#[test]
fn certain_failures_are_refused_before_anything_runs() {
    let root = tempfile::tempdir().unwrap();
    let base = "name = \"c\"\nduration_s = 20\n[clients]\ncount = 10\n[events]\nrate_per_client_per_s = 0.5\n";
    let keys64: String = (0..64)
        .map(|i| format!("\"events.payload_bytes{i}\" = [100, 200]\n"))
        .collect();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("{base}[sweep]\n{keys64}"),
            vec!["`sweep` (line 7)", "points", "limit is 2000"],
        ),
        (
            format!("{base}[sweep]\nclients = [1, 2]\n\"clients.count\" = [3, 4]\n"),
            vec!["(line 9)", "swept twice"],
        ),
        (
            format!("{base}[sweep]\nseed = [1]\nseeds = [1, 2]\n"),
            vec!["`sweep.seeds` (line 9)", "given too"],
        ),
        (
            format!("{base}[network]\nlatency_ms = 100\n[websocket]\npong_timeout_s = 0.15\n"),
            vec!["`websocket.pong_timeout_s` (line 10)", "round trip"],
        ),
        (
            format!("{base}[network]\nlatency_ms = 60000\n"),
            vec!["`network.latency_ms` (line 8)", "10000"],
        ),
        (
            format!("{base}[network]\nlatency_ms = {{ min = 0, max = 10000 }}\n"),
            vec!["`network.latency_ms` (line 8)", "measured window"],
        ),
        (
            format!("{base}[network]\nlatency_ms = 500\n[simulation]\ngrace_s = 0.5\n"),
            vec!["`simulation.grace_s` (line 10)", "round trip"],
        ),
        (
            "name = \"c\"\nstrategies = [\"sse\",\n  \"websockets\"]\n[events]\nrate_per_s = 1\n"
                .to_string(),
            vec!["`strategies.1` (line 3)", "unknown strategy \"websockets\""],
        ),
        (
            "name = \"c\"\n[events]\nrate_per_s = 1\n[sweep]\nclients = [1, inf]\n".to_string(),
            vec!["`sweep.clients` (line 5)", "finite"],
        ),
    ];
    for (text, words) in &cases {
        std::fs::write(root.path().join("c.toml"), text).unwrap();
        for cmd in ["validate", "run"] {
            let args: &[&str] = if cmd == "run" {
                &["run", "-q", "c.toml"]
            } else {
                &["validate", "c.toml"]
            };
            exits_2(&realtime_lab(args, root.path()), words);
        }
        assert!(
            !root.path().join("output").exists(),
            "{text}: something was written"
        );
    }
    // --seed on a sweep would be silently ignored: refused
    std::fs::write(
        root.path().join("c.toml"),
        format!("{base}[sweep]\nclients = [1, 2]\n"),
    )
    .unwrap();
    exits_2(
        &realtime_lab(&["run", "--seed", "4", "c.toml"], root.path()),
        &["--seed", "sweep"],
    );
}

/// Runs that would exhaust the machine are refused with the estimate and the limit (here
/// the limit comes from `ulimit -v`, so the test does not depend on the machine's memory);
/// `--force` overrides, `validate` prints the estimate.
#[test]
fn absurd_sizes_are_refused_with_the_estimate() {
    let root = tempfile::tempdir().unwrap();
    let cases = [
        ("name = \"a\"\nduration_s = 60\nstrategies = [\"websocket\"]\n[clients]\ncount = 200000\n[events]\nrate_per_client_per_s = 0.01\n", "of memory"),
        ("name = \"a\"\nduration_s = 60\n[clients]\ncount = 2000\n[events]\nrate_per_s = 1\nfanout = \"all\"\npayload_bytes = 1048576\n", "of memory"),
        ("name = \"a\"\nduration_s = 40\n[clients]\ncount = 1\n[events]\nrate_per_s = 1000000\npayload_bytes = 1048576\n", "of memory"),
        ("name = \"a\"\nduration_s = 60\nstrategies = [\"short-polling\"]\n[clients]\ncount = 200000\n[events]\nrate_per_client_per_s = 0.01\n[short-polling]\ninterval_s = 0.001\n", "about 56 h of wall time"),
    ];
    let bin = env!("CARGO_BIN_EXE_realtime-lab");
    for (text, words) in cases {
        std::fs::write(root.path().join("a.toml"), text).unwrap();
        for cmd in ["validate a.toml", "run -q a.toml"] {
            let o = Command::new("sh")
                .arg("-c")
                .arg(format!("ulimit -v 4000000 && exec {bin} {cmd}"))
                .current_dir(root.path())
                .output()
                .unwrap();
            exits_2(&o, &[words, "estimate:", "--force"]);
        }
    }
    assert!(!root.path().join("output").exists());
    std::fs::write(root.path().join("ok.toml"), SMALL).unwrap();
    let o = realtime_lab(&["validate", "ok.toml"], root.path());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("estimate: 2 simulations"),
        "{out}"
    );
}

/// An endless file is not read to the end; `-` reads standard input; a huge `--jobs` is
/// clamped; control characters from the input never reach the terminal raw.
#[test]
fn endless_files_stdin_jobs_and_escape_sequences() {
    let root = tempfile::tempdir().unwrap();
    exits_2(
        &realtime_lab(&["validate", "/dev/zero"], root.path()),
        &["/dev/zero", "larger than"],
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_realtime-lab"))
        .args(["validate", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), SMALL.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("ok (r:"));
    std::fs::write(root.path().join("s.toml"), SMALL).unwrap();
    let o = realtime_lab(&["run", "-q", "--jobs", "100000000", "s.toml"], root.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // a name with a terminal escape (valid TOML: \u001b)
    std::fs::write(
        root.path().join("e.toml"),
        "name = \"\\u001b]0;pwned\\u0007\\u001b[2J\"\n[events]\nrate_per_s = 1\n",
    )
    .unwrap();
    let o = realtime_lab(&["validate", "e.toml"], root.path());
    let err = exits_2(&o, &["`name` (line 1)", "\\u{1b}"]);
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{7}'),
        "raw control characters: {err:?}"
    );
}

/// Interrupted after the k-th file of the write phase, for every k: the folder holds the old
/// set, byte for byte, and no temporary folder is left; uninterrupted, the whole new set.
#[test]
fn an_interrupted_write_leaves_the_old_folder_whole() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("s.toml"), SMALL).unwrap();
    let o = realtime_lab(&["run", "-q", "s.toml", "--out", "out"], root.path());
    assert!(o.status.success());
    let dir = root.path().join("out/r");
    let old = snapshot(&dir);
    assert_eq!(
        old.len(),
        20,
        "6 CSV, conditions.txt, 8 charts, 2 sequence diagrams × 2, the .realtime-lab marker"
    );
    for k in 0..old.len() - 1 {
        let o = Command::new(env!("CARGO_BIN_EXE_realtime-lab"))
            .args(["run", "-q", "s.toml", "--out", "out", "--seed", "2"])
            .env("REALTIME_LAB_TEST_STOP_AFTER_FILES", k.to_string())
            .current_dir(root.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(130), "k = {k}");
        assert!(
            snapshot(&dir) == old,
            "interrupted after {k} files: the folder changed"
        );
        assert_eq!(
            entries(&root.path().join("out")),
            ["r"],
            "k = {k}: temporaries left"
        );
    }
    let o = realtime_lab(
        &["run", "-q", "s.toml", "--out", "out", "--seed", "2"],
        root.path(),
    );
    assert!(o.status.success());
    let new = snapshot(&dir);
    assert_eq!(new.len(), old.len());
    for ((name, a), (_, b)) in old.iter().zip(&new) {
        if name != "model.csv" && name != ".realtime-lab" {
            assert!(a != b, "{name} was not rewritten");
        }
    }
}

/// Ctrl-C during the simulation exits 130 and leaves nothing behind.
#[cfg(unix)]
#[test]
fn sigint_exits_130_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("long.toml"),
        "name = \"l\"\nduration_s = 3000\nstrategies = [\"short-polling\"]\n[clients]\ncount = 2000\n[events]\nrate_per_client_per_s = 0.1\n",
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_realtime-lab"))
        .args(["run", "-q", "long.toml", "--out", "out"])
        .current_dir(root.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!root.path().join("out").exists() || entries(&root.path().join("out")).is_empty());
}

/// Ctrl-C at many moments of the write phase (a real SIGINT, sent 0 to 60 ms after the
/// temporary folder appears): whatever the moment, the folder is the whole old set or the
/// whole new one, and no temporary or set-aside folder is left.
#[cfg(unix)]
#[test]
fn sigint_during_the_write_phase_never_tears_the_folder() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("s.toml"), SMALL).unwrap();
    let o = realtime_lab(&["run", "-q", "s.toml", "--out", "out"], root.path());
    assert!(o.status.success());
    let dir = root.path().join("out/r");
    let old = snapshot(&dir);
    let mut interrupted = 0;
    for (k, delay_ms) in (0..=60).step_by(6).enumerate() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_realtime-lab"))
            .args(["run", "-q", "s.toml", "--out", "out", "--seed"])
            .arg((10 + k).to_string())
            .current_dir(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !entries(&root.path().join("out"))
            .iter()
            .any(|e| e.starts_with(".r.tmp"))
            && started.elapsed() < Duration::from_secs(10)
            && child.try_wait().unwrap().is_none()
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        assert!(matches!(status.code(), Some(0) | Some(130)), "{status:?}");
        assert_eq!(
            entries(&root.path().join("out")),
            ["r"],
            "delay {delay_ms} ms: leftovers"
        );
        let now = snapshot(&dir);
        let names = |s: &[(String, Vec<u8>)]| s.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&now),
            names(&old),
            "delay {delay_ms} ms: a partial set"
        );
        if status.code() == Some(130) {
            assert!(
                now == old,
                "delay {delay_ms} ms: interrupted, yet the folder changed"
            );
            interrupted += 1;
        }
    }
    // the write phase (charts of two strategies) lasts long enough to be hit
    assert!(
        interrupted >= 3,
        "only {interrupted} of 11 runs were interrupted"
    );
}

/// A hand-edited `shard.txt` or a truncated shard is refused (no abort, nothing written); a
/// shard that would have no point is refused before running; a sweep folder can be redrawn.
#[test]
fn shards_are_checked_and_sweep_folders_redrawn() {
    let root = tempfile::tempdir().unwrap();
    let sweep = "name = \"m\"\nduration_s = 5\nstrategies = [\"websocket\", \"sse\"]\n[clients]\ncount = 4\n\
                 [events]\nrate_per_client_per_s = 1\n[sweep]\nclients = [2, 3, 4]\n";
    std::fs::write(root.path().join("a.toml"), sweep).unwrap();
    exits_2(
        &realtime_lab(&["run", "-q", "a.toml", "--shard", "3/4"], root.path()),
        &["--shard 3/4", "3 points"],
    );
    for (out, shard) in [("a0", "0/2"), ("a1", "1/2")] {
        let o = realtime_lab(
            &["run", "-q", "a.toml", "--out", out, "--shard", shard],
            root.path(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let info = root.path().join("a1/m/shard.txt");
    let text = std::fs::read_to_string(&info).unwrap();
    std::fs::write(&info, text.replace("shards = 2", "shards = 1000000000000")).unwrap();
    exits_2(
        &realtime_lab(&["merge", "a0/m", "a1/m", "--out", "x"], root.path()),
        &["shard.txt", "points"],
    );
    std::fs::write(&info, &text).unwrap();
    let csv = root.path().join("a1/m/sweep.csv");
    let rows = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&csv, rows.lines().next().unwrap().to_string() + "\n").unwrap();
    exits_2(
        &realtime_lab(&["merge", "a0/m", "a1/m", "--out", "x"], root.path()),
        &["a1/m/sweep.csv", "rows are missing"],
    );
    std::fs::write(&csv, rows.replacen(",sse,", ",websocket,", 1)).unwrap();
    exits_2(
        &realtime_lab(&["merge", "a0/m", "a1/m", "--out", "x"], root.path()),
        &["there twice"],
    );
    assert!(!root.path().join("x").exists());
    std::fs::write(&csv, &rows).unwrap();
    let o = realtime_lab(&["merge", "a0/m", "a1/m", "--out", "x"], root.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = realtime_lab(&["chart", "x"], root.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    exits_2(
        &realtime_lab(
            &[
                "run",
                "-q",
                "a.toml",
                "--strategy",
                "sse",
                "--strategy",
                "sse",
            ],
            root.path(),
        ),
        &["given twice"],
    );
    exits_2(
        &realtime_lab(&["run", "-q", "a.toml", "a.toml"], root.path()),
        &["two scenarios are named `m`"],
    );
}

/// A run that loses events says so on stderr (it used to exit 0 in silence).
#[test]
fn a_run_that_loses_events_warns() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("nat.toml"),
        "name = \"nat\"\nduration_s = 10\nstrategies = [\"websocket\", \"server-callback\"]\n\
         [clients]\ncount = 20\n[events]\nrate_per_client_per_s = 1\n\
         [server-callback]\nnat_fraction = 0.5\n",
    )
    .unwrap();
    let o = realtime_lab(&["run", "-q", "nat.toml"], root.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning: server-callback:") && err.contains("events lost"),
        "{err}"
    );
    assert!(!err.contains("warning: websocket"), "{err}");
}

/// `[server]` values outside what a server can be: exit 2 naming file, field, line and what
/// is allowed, with nothing written (issue 14).
#[test]
fn impossible_servers_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let base = "name = \"s\"\nduration_s = 20\n[clients]\ncount = 10\n[events]\nrate_per_client_per_s = 0.5\n";
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("{base}[server]\ncores = 0\n"),
            vec!["s.toml", "`server.cores` (line 8)", "1 to 1024"],
        ),
        (
            format!("{base}[server]\nmax_connections = 0\n"),
            vec!["`server.max_connections` (line 8)", "no limit"],
        ),
        (
            format!("{base}[server]\ncores = 2\n[server.cost]\nrequest_us = -1\n"),
            vec!["`server.cost.request_us` (line 10)", "0 to"],
        ),
        (
            format!("{base}[server.cost]\nbyte_ns = inf\n"),
            vec!["`server.cost.byte_ns` (line 8)", "nanoseconds per byte"],
        ),
        (
            format!("{base}[server.memory]\nconnection_bytes = -4\n"),
            vec!["server.memory.connection_bytes", "line 8"],
        ),
        (
            format!("{base}[server]\ncore = 2\n"),
            vec!["`server.core`", "line 8", "cores"],
        ),
        (
            format!("{base}[server]\ncost = [1000000, 0, 1000000]\n"),
            vec!["`server.cost` (line 8)", "table of named values"],
        ),
        (
            format!("{base}[reconnect]\npolicy = \"socketio\"\n"),
            vec!["`reconnect.policy` (line 8)", "\"socket.io\"", "initial_ms"],
        ),
        (
            format!("{base}[reconnect]\npolicy = {{ initial_ms = 500, max_ms = 100 }}\n"),
            vec!["`reconnect.policy` (line 8)", "cap"],
        ),
        (
            format!("{base}[reconnect]\npolcy = \"fixed\"\n"),
            vec!["`reconnect.polcy` (line 8)", "unknown key", "`policy`"],
        ),
    ];
    for (text, words) in &cases {
        std::fs::write(root.path().join("s.toml"), text).unwrap();
        for args in [&["validate", "s.toml"][..], &["run", "-q", "s.toml"][..]] {
            exits_2(&realtime_lab(args, root.path()), words);
        }
        assert!(!root.path().join("output").exists(), "{text}: written");
    }
}
