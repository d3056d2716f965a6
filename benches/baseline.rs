//! The yardstick: a plain turmoil program doing realtime-lab's work the naive way, with no
//! recording (see `benches/common/baseline_impl.rs`). `cargo bench --bench scale --
//! --baseline` runs it beside realtime-lab on the same workloads and reports the ratio.
//!
//! ```text
//! cargo bench --bench baseline -- --strategy short-polling --clients 10000 --duration 60
//! cargo bench --bench baseline -- --strategy websocket --clients 10000 --duration 60
//! ```
//!
//! Prints `wall_s peak_rss_kb events bytes_written`.

#[path = "common/baseline_impl.rs"]
mod baseline_impl;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |flag: &str, default: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
            .unwrap_or_else(|| default.to_string())
    };
    let websocket = get("--strategy", "short-polling") == "websocket";
    let n: usize = get("--clients", "10000").parse().expect("--clients N");
    let secs: u64 = get("--duration", "60").parse().expect("--duration S");
    baseline_impl::run(websocket, n, secs);
}
