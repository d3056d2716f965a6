//! Sweeps: expansion, validation, parallel runs identical to serial ones, sharding + merge.

use std::path::Path;
use std::process::Command;

mod common;

const SWEEP: &str = "name = \"sw\"\nduration_s = 12\nwarmup_s = 2\n\
    [clients]\ncount = 10\n[events]\nrate_per_client_per_s = 0.5\n\
    [long-polling]\ntimeout_s = 5\n\
    [sweep]\nclients = [5, 20]\n\"long-polling.timeout_s\" = [1, 4]\nseeds = [1, 2]\n";

fn realtime_lab(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_realtime-lab"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[test]
fn a_sweep_is_the_product_of_its_lists_in_a_fixed_order() {
    let s = common::scenario(SWEEP);
    let plan = s.sweep.expect("a sweep");
    assert_eq!(plan.keys, ["clients.count", "long-polling.timeout_s"]);
    assert_eq!(plan.points.len(), 8);
    let order: Vec<(f64, f64, u64)> = plan
        .points
        .iter()
        .map(|p| (p.values[0], p.values[1], p.seed))
        .collect();
    assert_eq!(
        order[..4],
        [(5.0, 1.0, 1), (5.0, 1.0, 2), (5.0, 4.0, 1), (5.0, 4.0, 2)]
    );
    let last = &plan.points[7];
    assert_eq!((last.scenario.clients.count, last.scenario.seed), (20, 2));
    assert_eq!(
        last.scenario.strategy_table("long-polling")["timeout_s"].as_integer(),
        Some(4)
    );
}

/// Keys keep the order of the file, not the alphabet: the first key written is the one the
/// charts put on the x axis (the TOML map used to sort them, so `clients` came first here).
#[test]
fn sweep_keys_keep_the_order_of_the_file() {
    let s = common::scenario(
        "name = \"sw\"\n[events]\nrate_per_client_per_s = 0.5\n\
         [sweep]\n\"events.rate_per_client_per_s\" = [0.1, 1]\nclients = [5, 20]\n",
    );
    let plan = s.sweep.expect("a sweep");
    assert_eq!(plan.keys, ["events.rate_per_client_per_s", "clients.count"]);
    // the first key varies slowest
    let first: Vec<f64> = plan.points.iter().map(|p| p.values[0]).collect();
    assert_eq!(first, [0.1, 0.1, 1.0, 1.0]);
}

#[test]
fn a_bad_sweep_exits_2_naming_the_key_or_point() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[sweep]\nclients = [5, 0]\n", "clients.count"),
        ("[sweep]\n\"clients.colour\" = [1, 2]\n", "colour"),
        ("[sweep]\nclients = \"many\"\n", "sweep.clients"),
        ("[sweep]\nclients = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nseeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]\n\"events.payload_bytes\" = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]\n", "limit"),
    ];
    for (sweep, words) in cases {
        let text = format!("name = \"sw\"\n[events]\nrate_per_s = 1\n{sweep}");
        std::fs::write(dir.path().join("s.toml"), text).unwrap();
        let o = realtime_lab(&["run", "s.toml"], dir.path());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{sweep}: {err}");
        assert!(err.contains(words), "{sweep}: {err}");
        assert!(!dir.path().join("output").exists());
    }
    std::fs::write(
        dir.path().join("one.toml"),
        "name = \"one\"\n[events]\nrate_per_s = 1\n",
    )
    .unwrap();
    let o = realtime_lab(&["run", "one.toml", "--shard", "0/2"], dir.path());
    assert_eq!(o.status.code(), Some(2), "--shard without a sweep");
    let o = realtime_lab(&["run", "one.toml", "--shard", "2/2"], dir.path());
    assert_eq!(o.status.code(), Some(2), "--shard K must be below N");
}

/// Results do not depend on the number of threads, and shards merged equal the whole sweep.
#[test]
fn jobs_do_not_change_results_and_merged_shards_equal_the_whole_sweep() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.toml"), SWEEP).unwrap();
    let read = |p: &str| std::fs::read(dir.path().join(p)).unwrap();
    for (jobs, out) in [("1", "one"), ("2", "two")] {
        let o = realtime_lab(
            &["run", "-q", "s.toml", "--jobs", jobs, "--out", out],
            dir.path(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let whole = read("one/sw/sweep.csv");
    assert!(
        whole == read("two/sw/sweep.csv"),
        "--jobs 1 and --jobs 2 differ"
    );
    assert_eq!(
        String::from_utf8_lossy(&whole).lines().count(),
        1 + 8 * realtime_lab::Lab::builtin().strategies().len()
    );
    for k in 0..3 {
        let out = format!("shard{k}");
        let o = realtime_lab(
            &[
                "run",
                "-q",
                "s.toml",
                "--shard",
                &format!("{k}/3"),
                "--out",
                &out,
            ],
            dir.path(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = realtime_lab(
        &[
            "merge",
            "shard0/sw",
            "shard1/sw",
            "shard2/sw",
            "--out",
            "merged",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        read("merged/sweep.csv") == whole,
        "merged shards differ from the unsharded sweep"
    );
    for chart in ["sweep_requests_per_s.png", "sweep_latency_p99_ms.svg"] {
        assert!(
            dir.path()
                .join("merged")
                .join(
                    chart
                        .replace(".png", "__long-polling.timeout_s=1.png")
                        .replace(".svg", "__long-polling.timeout_s=4.svg")
                )
                .exists(),
            "{chart}"
        );
    }
    // a shard given twice is refused
    let o = realtime_lab(
        &["merge", "shard0/sw", "shard0/sw", "--out", "m2"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("shard 0/3 is given twice"));
}
