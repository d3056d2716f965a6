//! A strategy defined outside the crate: short polling that backs off while answers are empty.
//!
//! It runs through the same harness and writes the same CSV and charts as the built-ins:
//!
//! ```text
//! cargo run --release --example adaptive_polling            # writes output/adaptive/
//! ```
//!
//! The whole strategy is the `AdaptivePolling` type below: a server (the shared polling
//! server, answering at once) and a client that doubles its interval after an empty answer
//! (up to `max_s`) and drops back to `min_s` when events arrive — fewer requests than short
//! polling when events are rare, at the price of latency after a quiet spell.

use std::time::Duration;

use realtime_lab::strategy::polling::{self, Poller};
use realtime_lab::strategy::{ClientCtx, LocalBoxFuture, ServerCtx, Settings, Strategy};

/// Short polling with exponential back-off on empty answers.
pub struct AdaptivePolling {
    /// Interval after an answer with events, seconds.
    pub min_s: f64,
    /// Longest interval, seconds.
    pub max_s: f64,
}

impl Strategy for AdaptivePolling {
    fn id(&self) -> &'static str {
        "adaptive-polling"
    }

    fn summary(&self) -> &'static str {
        "short polling that doubles its interval after each empty answer"
    }

    fn longest_period(&self, _: &Settings) -> Duration {
        Duration::from_secs_f64(self.max_s)
    }

    fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<turmoil::Result> {
        // the polling server of the built-ins: answers at once (no hold)
        Box::pin(polling::serve(ctx, Duration::ZERO))
    }

    fn client(&self, ctx: ClientCtx) -> LocalBoxFuture<turmoil::Result> {
        let (min, max) = (
            Duration::from_secs_f64(self.min_s),
            Duration::from_secs_f64(self.max_s),
        );
        Box::pin(async move {
            let mut poller = Poller::connect(ctx.clone()).await?;
            let mut interval = min;
            loop {
                let events = tokio::select! {
                    biased; // determinism: never let tokio pick a branch at random
                    _ = ctx.closing() => return Ok(()),
                    r = poller.poll() => r?,
                };
                interval = if events > 0 {
                    min
                } else {
                    (interval * 2).min(max)
                };
                tokio::select! {
                    biased;
                    _ = ctx.closing() => return Ok(()),
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        })
    }
}

/// The example's scenario: rare events, where backing off pays.
pub const SCENARIO: &str = r#"
name = "adaptive"
description = "adaptive polling (an out-of-crate strategy) against short polling"
seed = 5
duration_s = 120
warmup_s = 20
strategies = ["short-polling"]
[clients]
count = 500
connect_over_s = 5
[events]
rate_per_client_per_s = 0.02
[network]
latency_ms = 50
[short-polling]
interval_s = 1.0
"#;

#[allow(dead_code)] // the tests include this file for the strategy alone
fn main() -> anyhow::Result<()> {
    let scenario = realtime_lab::Scenario::from_toml(&realtime_lab::Source {
        label: "examples/adaptive_polling.rs".into(),
        text: SCENARIO,
    })?;
    let adaptive = AdaptivePolling {
        min_s: 1.0,
        max_s: 16.0,
    };
    let mut results = Vec::new();
    for built_in in realtime_lab::runner::strategies_of(&scenario) {
        results.push(realtime_lab::run(&scenario, built_in)?);
    }
    results.push(realtime_lab::run(&scenario, &adaptive)?);
    let outcome =
        realtime_lab::runner::write_results(&scenario, std::path::Path::new("output"), results)?;
    let rows: Vec<_> = outcome.results.iter().map(|r| r.summary.clone()).collect();
    print!("{}", realtime_lab::output::table::render(&rows));
    println!("wrote {}", outcome.dir.display());
    Ok(())
}
