//! Scale benchmark: wall time and peak memory of single runs, as clients grow.
//!
//! ```text
//! cargo bench --bench scale                                   # 1k and 10k clients × 60 s, every strategy
//! cargo bench --bench scale -- --clients 10000 --duration 600 # the 10k × 600 s target
//! cargo bench --bench scale -- --clients 1000,10000,100000 --duration 60 --strategy websocket
//! ```
//!
//! Each point runs in a fresh child process (this binary, re-executed), so its peak resident
//! memory (`VmHWM`) is its own. Events: 1 per client per 5 s, 50 ms latency, minimal heads;
//! every client reachable by server-callback (`nat_fraction = 0`), so it does the same work.
//! Prints a Markdown table: strategy, clients, simulated s, wall s, × real time, peak RSS MB,
//! µs per event. Wall times on a 2-core machine vary ±20 % run to run.

use std::process::Command;
use std::time::Instant;

fn scenario(clients: u64, duration: u64, strategy: &str) -> String {
    format!(
        "name = \"bench\"\nseed = 1\nduration_s = {duration}\nwarmup_s = 5\nstrategies = [\"{strategy}\"]\n\
         [clients]\ncount = {clients}\nconnect_over_s = 5\n\
         [events]\nrate_per_client_per_s = 0.2\n[network]\nlatency_ms = 50\n\
         [server-callback]\nnat_fraction = 0\n"
    )
}

fn child(clients: u64, duration: u64, strategy: &str) {
    let text = scenario(clients, duration, strategy);
    let lab = realtime_lab::Lab::builtin();
    let s = lab
        .parse(&realtime_lab::Source {
            label: "bench".into(),
            text: &text,
        })
        .expect("valid bench scenario");
    let started = Instant::now();
    let r = lab.run(&s, strategy).expect("run");
    let wall = started.elapsed().as_secs_f64();
    let hwm_kb: u64 = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| {
            st.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0);
    println!(
        "{wall} {hwm_kb} {} {}",
        r.summary.events_generated, r.simulated_ms
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let clients = args[i + 1].parse().unwrap();
        let duration = args[i + 2].parse().unwrap();
        child(clients, duration, &args[i + 3]);
        return;
    }
    let get = |flag: &str, default: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
            .unwrap_or_else(|| default.to_string())
    };
    let clients: Vec<u64> = get("--clients", "1000,10000")
        .split(',')
        .map(|c| c.parse().expect("clients"))
        .collect();
    let duration: u64 = get("--duration", "60").parse().expect("duration");
    let strategies: Vec<String> = match get("--strategy", "all").as_str() {
        "all" => realtime_lab::Lab::builtin()
            .ids()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        list => list.split(',').map(str::to_string).collect(),
    };
    println!(
        "| strategy | clients | simulated s | wall s | × real time | peak RSS MB | µs per event |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for strategy in &strategies {
        for &n in &clients {
            let out = Command::new(std::env::current_exe().unwrap())
                .args(["--child", &n.to_string(), &duration.to_string(), strategy])
                .output()
                .expect("child runs");
            let text = String::from_utf8_lossy(&out.stdout);
            let f: Vec<f64> = text
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            if f.len() < 4 {
                println!(
                    "| {strategy} | {n} | failed: {} |",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                continue;
            }
            let (wall, rss_kb, events, sim_ms) = (f[0], f[1], f[2], f[3]);
            println!(
                "| {strategy} | {n} | {:.0} | {wall:.1} | {:.1} | {:.0} | {:.1} |",
                sim_ms / 1000.0,
                sim_ms / 1000.0 / wall,
                rss_kb / 1024.0,
                wall * 1e6 / events.max(1.0)
            );
        }
    }
}
