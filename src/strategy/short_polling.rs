//! # Short polling (`short-polling`)
//!
//! ## What it is
//! The client asks "anything new?" with an HTTP `GET` at a fixed interval, over one kept-alive
//! connection. Most answers are `204 No Content`.
//!
//! ## How it works
//! ```text
//! client                         server
//!   |── GET /events?after=0 ──────►|   nothing pending
//!   |◄──────────── 204 No Content ─|
//!   |        … interval I …        |   event 1 created
//!   |── GET /events?after=0 ──────►|
//!   |◄──── 200 (event 1 as NDJSON) ─|
//!   |        … interval I …        |
//!   |── GET /events?after=1 ──────►|   (after=1 acknowledges event 1)
//! ```
//! `timer = "fixed-rate"` sends a poll every `interval_s` (cycle C = I);
//! `timer = "after-response"` sleeps `interval_s` after each answer (cycle C = I + 2d).
//!
//! ## Trade-offs
//! Simple, works through every proxy, stateless between requests. But the server answers N/C
//! requests per second whatever the event rate, most of them empty (a fraction e^(−λC)), and an
//! event waits on average half a cycle: latency ≈ d + Uniform(0, C).
//!
//! ## What to watch in the charts
//! Requests/s is flat at N/C; empty responses dominate when λC ≪ 1; latency is spread evenly
//! between d and d + C; bytes per event balloon as events get rarer (each empty poll still pays
//! a request and a response head).

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::polling::{serve, Poller};
use super::{
    check_seconds, ClientCtx, LocalBoxFuture, Scenario, ServerCtx, Settings, SettingsError,
    Strategy,
};

/// Short polling: a `GET` every `interval_s`.
pub struct ShortPolling;

/// `[short-polling]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShortPollingSettings {
    /// Seconds between polls.
    #[serde(default = "default_interval")]
    pub interval_s: f64,
    /// How the interval is timed.
    #[serde(default)]
    pub timer: Timer,
}

/// When the next poll goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Timer {
    /// Every `interval_s`, whatever the response time (a missed slot is skipped).
    #[default]
    FixedRate,
    /// `interval_s` after each response arrives.
    AfterResponse,
}

fn default_interval() -> f64 {
    1.0
}

impl Strategy for ShortPolling {
    fn id(&self) -> &'static str {
        "short-polling"
    }

    fn summary(&self) -> &'static str {
        "client sends GET every interval; the server answers at once, mostly 204 No Content"
    }

    fn check(&self, settings: &Settings, _: &Scenario) -> Result<(), SettingsError> {
        let s: ShortPollingSettings = settings.parse()?;
        check_seconds("interval_s", s.interval_s, 0.001, 3600.0)
    }

    fn longest_period(&self, settings: &Settings) -> Duration {
        settings
            .parse::<ShortPollingSettings>()
            .map_or(Duration::ZERO, |s| Duration::from_secs_f64(s.interval_s))
    }

    fn model(&self, scenario: &Scenario, settings: &Settings) -> Option<crate::model::Prediction> {
        let s: ShortPollingSettings = settings.parse().ok()?;
        Some(crate::model::short_polling(
            scenario,
            s.interval_s,
            s.timer == Timer::AfterResponse,
        ))
    }

    fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<turmoil::Result> {
        Box::pin(serve(ctx, Duration::ZERO))
    }

    fn client(&self, ctx: ClientCtx) -> LocalBoxFuture<turmoil::Result> {
        Box::pin(async move {
            let s: ShortPollingSettings = ctx.settings().parse().map_err(|e| e.message)?;
            let interval = Duration::from_millis((s.interval_s * 1000.0).round() as u64);
            let poller = Poller::connect(ctx).await?;
            match s.timer {
                Timer::FixedRate => {
                    // poll k goes out at start + k·I; a slot already past is skipped
                    let start = Instant::now();
                    let mut k = 0u32;
                    poller
                        .run_until_closing(move || {
                            let now = Instant::now();
                            let mut at = start + interval * k;
                            while at < now {
                                k += 1;
                                at = start + interval * k;
                            }
                            k += 1;
                            (at > now).then(|| tokio::time::sleep_until(at))
                        })
                        .await?
                }
                Timer::AfterResponse => {
                    let mut first = true;
                    poller
                        .run_until_closing(move || {
                            (!std::mem::take(&mut first)).then(|| tokio::time::sleep(interval))
                        })
                        .await?
                }
            }
            Ok(())
        })
    }
}
