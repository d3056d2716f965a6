//! Scale benchmark: wall time and peak memory of single runs, as clients grow.
//!
//! ```text
//! cargo bench --bench scale                                   # 1k and 10k clients × 60 s, every strategy
//! cargo bench --bench scale -- --clients 10000 --duration 600 # the 10k × 600 s target
//! cargo bench --bench scale -- --clients 1000,10000,100000 --duration 60 --strategy websocket
//! ```
//!
//! `--baseline` instead runs the naive turmoil program (`benches/common/baseline_impl.rs`) and
//! realtime-lab on its workload — 10 pool hosts, latency 0–100 ms, 1 event per client per
//! second, short polling every 1 s after the response, WebSocket pushes — alternating, twice
//! each, and reports the ratio of wall times (realtime-lab ÷ baseline):
//!
//! ```text
//! cargo bench --bench scale -- --baseline --clients 10000 --duration 60
//! ```
//!
//! `--idle` measures memory per idle client instead: N WebSocket clients connected and sent
//! nothing for `--duration` seconds (one event per 1,000 s across all of them), peak resident
//! memory at each client count, and the memory per client between consecutive counts (the
//! process's fixed memory cancels out):
//!
//! ```text
//! cargo bench --bench scale -- --idle --clients 10000,100000 --duration 60
//! ```
//!
//! Each point runs in a fresh child process (this binary, re-executed), so its peak resident
//! memory (`VmHWM`) is its own. Events: 1 per client per 5 s, 50 ms latency, minimal heads;
//! every client reachable by server-callback (`nat_fraction = 0`), so it does the same work.
//! Prints a Markdown table: strategy, clients, simulated s, wall s, × real time, peak RSS MB,
//! µs per event. Wall times on a 2-core machine vary ±20 % run to run.

use std::process::Command;
use std::time::Instant;

#[path = "common/baseline_impl.rs"]
#[allow(dead_code)]
mod baseline_impl;

/// The baseline program's workload, as a realtime-lab scenario.
fn baseline_scenario(clients: u64, duration: u64, strategy: &str) -> String {
    format!(
        "name = \"bench\"\nseed = 1\nduration_s = {duration}\nwarmup_s = 5\nstrategies = [\"{strategy}\"]\n\
         [clients]\ncount = {clients}\nconnect_over_s = 5\n\
         [events]\nrate_per_client_per_s = 1\npayload_bytes = 100\n\
         [network]\nlatency_ms = {{ min = 0, max = 100 }}\n[simulation]\npool_hosts = 10\n\
         [short-polling]\ninterval_s = 1.0\ntimer = \"after-response\"\n"
    )
}

/// One run in a child process: `(wall s, peak RSS KB, events)`.
fn measure(args: &[String]) -> Option<(f64, f64, f64)> {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .output()
        .ok()?;
    let f: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    (f.len() >= 3).then(|| (f[0], f[1], f[2]))
}

fn baseline_table(clients: u64, duration: u64) {
    println!("| strategy | program | run | wall s | peak RSS MB | µs per event |");
    println!("|---|---|---:|---:|---:|---:|");
    for strategy in ["short-polling", "websocket"] {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for run in 1..=2 {
            for program in ["baseline", "realtime-lab"] {
                let kind = if program == "baseline" {
                    "--baseline-child"
                } else {
                    "--child-workload"
                };
                let args: Vec<String> = vec![
                    kind.into(),
                    clients.to_string(),
                    duration.to_string(),
                    strategy.into(),
                ];
                let Some((wall, rss, events)) = measure(&args) else {
                    println!("| {strategy} | {program} | {run} | failed | | |");
                    continue;
                };
                println!(
                    "| {strategy} | {program} | {run} | {wall:.1} | {:.0} | {:.1} |",
                    rss / 1024.0,
                    wall * 1e6 / events.max(1.0)
                );
                if program == "baseline" {
                    theirs.push(wall)
                } else {
                    ours.push(wall)
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        println!(
            "\n{strategy}: realtime-lab ÷ baseline = {:.2} (means of {} and {} runs)\n",
            mean(&ours) / mean(&theirs),
            ours.len(),
            theirs.len()
        );
    }
}

fn idle_table(clients: &[u64], duration: u64) {
    println!(
        "tungstenite's `WebSocketStream` over a turmoil stream: {} bytes at each end, plus its \
         read buffers: the client keeps its 4 KiB handshake buffer, the server reads in \
         512-byte chunks\n",
        std::mem::size_of::<tokio_tungstenite::WebSocketStream<turmoil::net::TcpStream>>()
    );
    println!(
        "| idle WebSocket clients | wall s | peak RSS MB | KB per client since the previous row |"
    );
    println!("|---:|---:|---:|---:|");
    let mut previous: Option<(u64, f64)> = None;
    for &n in clients {
        let args = vec![
            "--child-idle".to_string(),
            n.to_string(),
            duration.to_string(),
            "websocket".to_string(),
        ];
        let Some((wall, rss_kb, _)) = measure(&args) else {
            println!("| {n} | failed | | |");
            continue;
        };
        let per_client = previous
            .filter(|&(m, _)| n > m)
            .map(|(m, kb)| format!("{:.2}", (rss_kb - kb) / (n - m) as f64))
            .unwrap_or_default();
        println!(
            "| {n} | {wall:.1} | {:.0} | {per_client} |",
            rss_kb / 1024.0
        );
        previous = Some((n, rss_kb));
    }
}

fn scenario(clients: u64, duration: u64, strategy: &str) -> String {
    format!(
        "name = \"bench\"\nseed = 1\nduration_s = {duration}\nwarmup_s = 5\nstrategies = [\"{strategy}\"]\n\
         [clients]\ncount = {clients}\nconnect_over_s = 5\n\
         [events]\nrate_per_client_per_s = 0.2\n[network]\nlatency_ms = 50\n\
         [server-callback]\nnat_fraction = 0\n"
    )
}

/// Idle clients: connected, and (nearly) nothing to send them.
fn idle_scenario(clients: u64, duration: u64, strategy: &str) -> String {
    format!(
        "name = \"bench\"\nseed = 1\nduration_s = {duration}\nwarmup_s = 5\nstrategies = [\"{strategy}\"]\n\
         [clients]\ncount = {clients}\nconnect_over_s = 5\n\
         [events]\nrate_per_s = 0.001\n[network]\nlatency_ms = 50\n"
    )
}

/// Which scenario a child runs.
#[derive(Clone, Copy)]
enum Workload {
    /// `scenario`: the scale table's.
    Scale,
    /// `baseline_scenario`: the naive program's workload.
    Baseline,
    /// `idle_scenario`.
    Idle,
}

fn child(clients: u64, duration: u64, strategy: &str, workload: Workload) {
    let text = match workload {
        Workload::Baseline => baseline_scenario(clients, duration, strategy),
        Workload::Scale => scenario(clients, duration, strategy),
        Workload::Idle => idle_scenario(clients, duration, strategy),
    };
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
    let hwm_kb = baseline_impl::peak_rss_kb();
    println!(
        "{wall} {hwm_kb} {} {}",
        r.summary.events_generated, r.simulated_ms
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    for (flag, workload) in [
        ("--child", Workload::Scale),
        ("--child-workload", Workload::Baseline),
        ("--child-idle", Workload::Idle),
    ] {
        if let Some(i) = args.iter().position(|a| a == flag) {
            let clients = args[i + 1].parse().unwrap();
            let duration = args[i + 2].parse().unwrap();
            child(clients, duration, &args[i + 3], workload);
            return;
        }
    }
    if let Some(i) = args.iter().position(|a| a == "--baseline-child") {
        let clients = args[i + 1].parse().unwrap();
        let duration = args[i + 2].parse().unwrap();
        baseline_impl::run(args[i + 3] == "websocket", clients, duration);
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
    if args.iter().any(|a| a == "--baseline") {
        baseline_table(*clients.first().unwrap_or(&10_000), duration);
        return;
    }
    if args.iter().any(|a| a == "--idle") {
        idle_table(&clients, duration);
        return;
    }
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
