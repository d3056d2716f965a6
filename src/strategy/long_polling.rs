//! # Long polling (`long-polling`)
//!
//! ## What it is
//! The client sends a `GET`; the server holds it open until there is an event for that client
//! (`200` with every pending event) or `timeout_s` passes (`204`). The client re-requests at
//! once, so there is almost always a request waiting at the server.
//!
//! ## How it works
//! ```text
//! client                         server
//!   |── GET /events?after=0 ──────►|   nothing pending: park the request
//!   |                              |   … up to timeout_s …
//!   |                              |   event 1 created → answer now
//!   |◄──── 200 (event 1 as NDJSON) ─|
//!   |── GET /events?after=1 ──────►|   (re-request at once; acknowledges event 1)
//!   |                              |   … timeout_s passes, nothing came …
//!   |◄──────────── 204 No Content ─|
//!   |── GET /events?after=1 ──────►|
//! ```
//!
//! ## Trade-offs
//! Near-push latency (one transit, d) with plain HTTP, and far fewer requests than short
//! polling when events are rare. But every client holds a connection and a parked request
//! (server memory), an event that arrives while the next request is on its way waits up to a
//! round trip (2d), and when events come faster than 1/(2d) it degenerates into polling with
//! batches. Proxies' idle timeouts (often 60 s) bound `timeout_s` (RFC 6202 suggests 30 s).
//!
//! ## What to watch in the charts
//! Parked requests ≈ N; requests/s ≈ N / (2d + mean wait), far below short polling's N/I for
//! rare events and rising towards N/(2d) as events get frequent; latency mostly d, with a tail
//! up to 3d (d + 2d re-request gap).

use std::time::Duration;

use serde::Deserialize;

use super::polling::{serve, Poller};
use super::{
    check_seconds, ClientCtx, LocalBoxFuture, Scenario, ServerCtx, Settings, SettingsError,
    Strategy,
};

/// Long polling: the server holds each `GET` until an event or `timeout_s`.
pub struct LongPolling;

/// `[long-polling]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongPollingSettings {
    /// Longest time the server holds a request before answering `204`.
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
}

fn default_timeout() -> f64 {
    30.0
}

impl Strategy for LongPolling {
    fn id(&self) -> &'static str {
        "long-polling"
    }

    fn summary(&self) -> &'static str {
        "server holds each GET until an event (200) or timeout (204); the client re-requests at once"
    }

    fn check(&self, settings: &Settings, _: &Scenario) -> Result<(), SettingsError> {
        let s: LongPollingSettings = settings.parse()?;
        check_seconds("timeout_s", s.timeout_s, 0.001, 3600.0)
    }

    fn longest_period(&self, settings: &Settings) -> Duration {
        settings
            .parse::<LongPollingSettings>()
            .map_or(Duration::ZERO, |s| Duration::from_secs_f64(s.timeout_s))
    }

    fn model(&self, scenario: &Scenario, settings: &Settings) -> Option<crate::model::Prediction> {
        let s: LongPollingSettings = settings.parse().ok()?;
        Some(crate::model::long_polling(scenario, s.timeout_s))
    }

    fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<turmoil::Result> {
        Box::pin(async move {
            let s: LongPollingSettings = ctx.settings().parse().map_err(|e| e.message)?;
            serve(
                ctx,
                Duration::from_millis((s.timeout_s * 1000.0).round() as u64),
            )
            .await
        })
    }

    fn client(&self, ctx: ClientCtx) -> LocalBoxFuture<turmoil::Result> {
        Box::pin(async move {
            let poller = Poller::connect(ctx).await?;
            poller.run_until_closing(|| None).await?;
            Ok(())
        })
    }
}
