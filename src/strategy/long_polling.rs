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
use crate::scenario::Scenario;
use crate::sim::{
    check_seconds, ClientCtx, LocalBoxFuture, ServerCtx, Settings, SettingsError, Strategy,
    StrategyResult,
};
use crate::style::{okabe_ito, Dash, Look};

/// Long polling: the server holds each `GET` until an event or `timeout_s`.
pub struct LongPolling;

/// `[long-polling]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongPollingSettings {
    /// Longest time the server holds a request before answering `204`.
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
    /// If set, a client whose poll has no answer after this long takes the connection for
    /// dead and reconnects (it must exceed `timeout_s` plus a round trip). `fetch` has no
    /// such timeout by default.
    pub client_timeout_s: Option<f64>,
}

fn default_timeout() -> f64 {
    30.0
}

impl Strategy for LongPolling {
    fn id(&self) -> &'static str {
        "long-polling"
    }

    fn look(&self) -> Option<Look> {
        // sky blue, long dashes
        Some(Look {
            color: okabe_ito::SKY_BLUE,
            dash: Dash::Long,
        })
    }

    fn summary(&self) -> &'static str {
        "server holds each GET until an event (200) or timeout (204); the client re-requests at once"
    }

    fn check(&self, settings: &Settings, scenario: &Scenario) -> Result<(), SettingsError> {
        let s: LongPollingSettings = settings.parse()?;
        check_seconds("timeout_s", s.timeout_s, 0.001, 3600.0)?;
        if let Some(t) = s.client_timeout_s {
            check_seconds("client_timeout_s", t, 0.001, 3600.0)?;
            let least = s.timeout_s + 2.0 * scenario.network.latency_ms.max_ms as f64 / 1000.0;
            if t <= least {
                return Err(SettingsError {
                    field: "client_timeout_s".into(),
                    message: format!(
                        "{t} s is not longer than the hold ({} s) plus a round trip: every quiet poll would be abandoned just before its 204; use more than {least} s",
                        s.timeout_s
                    ),
                });
            }
        }
        Ok(())
    }

    fn longest_period(&self, settings: &Settings) -> Duration {
        settings
            .parse::<LongPollingSettings>()
            .map_or(Duration::ZERO, |s| Duration::from_secs_f64(s.timeout_s))
    }

    fn model(&self, scenario: &Scenario, settings: &Settings) -> Option<Prediction> {
        let s: LongPollingSettings = settings.parse().ok()?;
        let mut p = long_polling(scenario, s.timeout_s);
        // an event that finds no request waits at the server for the next one
        let held = p.latency_mean_ms.unwrap_or(0.0) - crate::model::OneWay::of(scenario).mean();
        p.events_lost = crate::resilience::restart_losses(scenario, held);
        let policy = crate::resilience::policy_for(scenario, self.id(), self.reconnect());
        p.attempts_peak_per_s = crate::resilience::attempts_peak(scenario, &policy);
        if scenario.network.loss > 0.0 {
            // a late request or answer lengthens the cycle: no closed form
            (p.latency_mean_ms, p.latency_p50_ms, p.latency_p99_ms) = (None, None, None);
            (p.latency_max_ms, p.requests_per_s, p.app_bytes_per_s) = (None, None, None);
            p.empty_fraction = None;
            p.parked_requests = None;
            p.load = None;
        }
        Some(p)
    }

    fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<StrategyResult> {
        Box::pin(async move {
            let s: LongPollingSettings = ctx.settings().parse().map_err(|e| e.message)?;
            serve(
                ctx,
                Duration::from_millis((s.timeout_s * 1000.0).round() as u64),
            )
            .await
        })
    }

    fn client(&self, ctx: ClientCtx) -> LocalBoxFuture<StrategyResult> {
        Box::pin(async move {
            let s: LongPollingSettings = ctx.settings().parse().map_err(|e| e.message)?;
            let timeout = s
                .client_timeout_s
                .map(|t| Duration::from_millis((t * 1000.0).round() as u64));
            let poller = Poller::connect(ctx).await?.with_timeout(timeout);
            poller.run_until_closing(|| None).await?;
            Ok(())
        })
    }
}

// ---- closed form ----------------------------------------------------------------------

use crate::model::{
    connections_per_client, lambda, long_poll_cycle_cv, poll_bytes, upstream_posts_per_s, OneWay,
    Prediction,
};

/// Long polling with hold T and immediate re-request (docs/theory.md, RFC 6202):
/// E\[park\] = e^(−λG)(1 − e^(−λT))/λ; E\[cycle\] = G + E\[park\]; requests/s = N/E\[cycle\];
/// empty responses e^(−λ(G+T)); parked N·E\[park\]/E\[cycle\]; latency = d with probability
/// 1 − G/E\[cycle\], else d + U(0, G): mean d + E\[G²\]/(2·E\[cycle\]), max d + G.
///
/// With a latency range G varies per cycle; the formulas use E\[G\] and E\[G²\] (the delays of
/// request and response are independent), which is exact for the mean of a renewal process
/// but only approximate for the quantiles.
pub(crate) fn long_polling(s: &Scenario, timeout_s: f64) -> Prediction {
    let one_way = OneWay::of(s);
    let (n, l) = (s.clients.count as f64, lambda(s));
    let d = one_way.mean() / 1000.0;
    let g = 2.0 * d;
    // E[G²] = 2E[d²] + 2E[d]² for the sum of two independent one-way delays
    let g2 = (2.0 * one_way.mean_square() + 2.0 * one_way.mean().powi(2)) / 1e6;
    let park = (-l * g).exp() * (1.0 - (-l * timeout_s).exp()) / l;
    let cycle = g + park;
    let empty = (-l * (g + timeout_s)).exp();
    let gap_share = g / cycle;
    // constant d: the latency CDF is a jump of 1 − G/E[cycle] at d, then linear up to d + G
    let constant = one_way.points.len() == 1;
    let quantile = |q: f64| {
        if q <= 1.0 - gap_share {
            one_way.mean()
        } else {
            one_way.mean() + g * 1000.0 * (q - (1.0 - gap_share)) / gap_share
        }
    };
    let (bytes_per_event, app_bytes_per_s) = poll_bytes(s, n / cycle, empty);
    let latency_mean = one_way.mean() + g2 * 1000.0 / (2.0 * cycle);
    let load = crate::capacity::Load {
        requests_per_s: n / cycle + upstream_posts_per_s(s),
        bytes_per_s: app_bytes_per_s.unwrap_or(0.0),
        open_connections: n * connections_per_client(s),
        parked_requests: n * park / cycle,
        // an event waits for a request, then one round trip until the next acknowledges it
        stored_events: l * n * (latency_mean + one_way.mean()) / 1000.0,
        closed_loop: true,
        // a request follows the answer to the last one, which follows an event (Poisson)
        poisson_arrivals: true,
        ..Default::default()
    };
    Prediction {
        requests_per_s: Some(n / cycle + upstream_posts_per_s(s)),
        empty_fraction: Some(empty),
        events_per_response: Some(l * cycle / (1.0 - empty)),
        parked_requests: Some(n * park / cycle),
        latency_mean_ms: Some(latency_mean),
        latency_p50_ms: constant.then(|| quantile(0.5)),
        latency_p99_ms: constant.then(|| quantile(0.99)),
        latency_max_ms: Some(3.0 * one_way.max()),
        bytes_per_event,
        app_bytes_per_s,
        p99_density: (gap_share > 0.01).then(|| gap_share / (g * 1000.0)),
        // the median sits on the atom at d (most events find a parked request)
        p50_density: None,
        cycle_cv: Some(long_poll_cycle_cv(l, g, timeout_s)),
        load: Some(load),
        ..crate::model::Prediction::connection_based(s)
    }
}
