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
use crate::scenario::Scenario;
use crate::sim::{
    check_seconds, ClientCtx, LocalBoxFuture, ServerCtx, Settings, SettingsError, Strategy,
    StrategyResult,
};
use crate::style::{okabe_ito, Dash, Look};

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

    fn look(&self) -> Option<Look> {
        // orange, solid
        Some(Look {
            color: okabe_ito::ORANGE,
            dash: Dash::Solid,
        })
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

    fn model(&self, scenario: &Scenario, settings: &Settings) -> Option<Prediction> {
        let s: ShortPollingSettings = settings.parse().ok()?;
        let after_response = s.timer == Timer::AfterResponse;
        let mut p = short_polling(scenario, s.interval_s, after_response);
        // an event waits at the server for the next poll: lost with the server's memory
        let held = p.latency_mean_ms.unwrap_or(0.0) - crate::model::OneWay::of(scenario).mean();
        p.events_lost = crate::resilience::restart_losses(scenario, held);
        if scenario.network.loss > 0.0 {
            // late answers shift the latency by whole RTOs: no closed form here
            (p.latency_mean_ms, p.latency_p50_ms, p.latency_p99_ms) = (None, None, None);
            p.latency_max_ms = None;
            // a fixed-rate timer keeps its rate unless answers come later than the
            // interval (then slots are skipped): no closed form either
            p.requests_per_s = None;
            p.app_bytes_per_s = None;
            p.empty_fraction = None;
            p.load = None;
        }
        Some(p)
    }

    fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<StrategyResult> {
        Box::pin(serve(ctx, Duration::ZERO))
    }

    fn client(&self, ctx: ClientCtx) -> LocalBoxFuture<StrategyResult> {
        Box::pin(async move {
            let s: ShortPollingSettings = ctx.settings().parse().map_err(|e| e.message)?;
            let interval = Duration::from_millis((s.interval_s * 1000.0).round() as u64);
            let poller = Poller::connect(ctx).await?;
            match s.timer {
                Timer::FixedRate => {
                    // poll k goes out at start + k·I; a slot 1 ms or more past is skipped
                    // (on a real clock a few microseconds always pass: that is not a miss;
                    // in the simulation, late means at least one 1 ms tick)
                    let start = Instant::now();
                    let mut k = 0u32;
                    poller
                        .run_until_closing(move || {
                            let now = Instant::now();
                            let mut at = start + interval * k;
                            while at + Duration::from_millis(1) <= now {
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

// ---- closed form ----------------------------------------------------------------------

use crate::model::{
    connections_per_client, lambda, poll_bytes, poll_gaps, quantile_delay_plus_wait,
    upstream_posts_per_s, OneWay, Prediction, Wait,
};

/// Short polling with cycle C (`fixed-rate`: C = I; `after-response`: C = I + E\[G\]).
///
/// requests/s = N/C; empty responses e^(−λC); events per non-empty response
/// λC/(1 − e^(−λC)); latency = d + U(0, C): mean E\[d\] + C/2, max d_max + C (docs/theory.md).
///
/// On a latency range the gap between two polls *at the server* varies around C (variance
/// 2·Var(d)), so an event waits on average E\[gap²\]/(2·E\[gap\]) (a length-biased gap), and at
/// most C + (d_max − d_min) (fixed rate) or I + 2·d_max (after response) before its transit.
pub(crate) fn short_polling(s: &Scenario, interval_s: f64, after_response: bool) -> Prediction {
    let one_way = OneWay::of(s);
    let i_ms = interval_s * 1000.0;
    let var_d = one_way.mean_square() - one_way.mean().powi(2);
    let spread = one_way.max() - one_way.points[0].0;
    let (c_ms, max_gap) = if after_response {
        (i_ms + 2.0 * one_way.mean(), i_ms + 2.0 * one_way.max())
    } else {
        (i_ms, i_ms + spread)
    };
    let c = c_ms / 1000.0;
    let (n, l) = (s.clients.count as f64, lambda(s));
    let empty = (-l * c).exp();
    let mean_wait = (c_ms * c_ms + 2.0 * var_d) / (2.0 * c_ms);
    let wait = Wait::new(&poll_gaps(&one_way, i_ms, after_response));
    let (bytes_per_event, app_bytes_per_s) = poll_bytes(s, n / c, empty);
    let rtt_sd = (2.0 * var_d).sqrt();
    let latency_mean = one_way.mean() + mean_wait;
    let load = crate::capacity::Load {
        requests_per_s: n / c + upstream_posts_per_s(s),
        bytes_per_s: app_bytes_per_s.unwrap_or(0.0),
        open_connections: n * connections_per_client(s),
        // an event waits for a poll, then until the next poll acknowledges it
        stored_events: l * n * (latency_mean - one_way.mean() + c_ms) / 1000.0,
        closed_loop: true,
        ..Default::default()
    };
    Prediction {
        requests_per_s: Some(n / c + upstream_posts_per_s(s)),
        empty_fraction: Some(empty),
        events_per_response: Some(l * c / (1.0 - empty)),
        parked_requests: Some(0.0),
        latency_mean_ms: Some(one_way.mean() + mean_wait),
        latency_p50_ms: Some(quantile_delay_plus_wait(&one_way, &wait, 0.5)),
        latency_p99_ms: Some(quantile_delay_plus_wait(&one_way, &wait, 0.99)),
        latency_max_ms: Some(one_way.max() + max_gap),
        bytes_per_event,
        app_bytes_per_s,
        p99_density: Some(1.0 / c_ms),
        // the wait is uniform over the cycle: density 1/C everywhere inside it
        p50_density: Some(1.0 / c_ms),
        cycle_cv: Some(if after_response { rtt_sd / c_ms } else { 0.0 }),
        load: Some(load),
        ..crate::model::Prediction::connection_based(s)
    }
}
