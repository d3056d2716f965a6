//! Your own strategy, with the whole command line: short polling that backs off while the
//! answers are empty.
//!
//! ```text
//! cargo run --release --example adaptive_polling -- list
//! cargo run --release --example adaptive_polling -- run examples/adaptive.toml
//! cargo run --release --example adaptive_polling -- validate examples/adaptive.toml
//! ```
//!
//! The strategy is the `AdaptivePolling` type below: the polling server of the built-ins
//! (answering at once) and a client that doubles its interval after each empty answer, up to
//! `max_s`, and drops back to `min_s` when events arrive — fewer requests than short polling
//! when events are rare, at the price of latency after a quiet spell. Its settings live in the
//! scenario's `[adaptive-polling]` table, checked before anything runs; `main` is the three
//! lines at the bottom.

use std::time::Duration;

use realtime_lab::strategies::{http, polling};
use realtime_lab::{
    check_seconds, ClientCtx, Lab, LocalBoxFuture, Scenario, ServerCtx, Settings, SettingsError,
    Strategy, StrategyResult,
};
use serde::Deserialize;

/// Short polling with exponential back-off on empty answers.
pub struct AdaptivePolling;

/// `[adaptive-polling]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveSettings {
    /// Interval after an answer with events, seconds.
    #[serde(default = "default_min")]
    pub min_s: f64,
    /// Longest interval, seconds.
    #[serde(default = "default_max")]
    pub max_s: f64,
}

fn default_min() -> f64 {
    1.0
}
fn default_max() -> f64 {
    16.0
}

impl Strategy for AdaptivePolling {
    fn id(&self) -> &'static str {
        "adaptive-polling"
    }

    fn summary(&self) -> &'static str {
        "short polling that doubles its interval after each empty answer"
    }

    fn check(&self, settings: &Settings, _: &Scenario) -> Result<(), SettingsError> {
        let s: AdaptiveSettings = settings.parse()?;
        check_seconds("min_s", s.min_s, 0.001, 3600.0)?;
        check_seconds("max_s", s.max_s, s.min_s, 3600.0)
    }

    fn longest_period(&self, settings: &Settings) -> Duration {
        settings
            .parse::<AdaptiveSettings>()
            .map_or(Duration::ZERO, |s| Duration::from_secs_f64(s.max_s))
    }

    fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<StrategyResult> {
        // the polling server of the built-ins: answers at once (no hold)
        Box::pin(polling::serve(ctx, Duration::ZERO))
    }

    fn client(&self, ctx: ClientCtx) -> LocalBoxFuture<StrategyResult> {
        Box::pin(async move {
            let s: AdaptiveSettings = ctx.settings().parse()?;
            let (min, max) = (
                Duration::from_secs_f64(s.min_s),
                Duration::from_secs_f64(s.max_s),
            );
            let mut poller = polling::Poller::connect(ctx.clone()).await?;
            http::spawn_upstream(&ctx); // the scenario's [upstream] messages, as POSTs
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

#[allow(dead_code)] // tests/external.rs includes this file for the strategy alone
fn main() -> std::process::ExitCode {
    realtime_lab::cli::main_with(Lab::builtin().with(&AdaptivePolling))
}
