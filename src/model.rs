//! Closed-form predictions: what theory says each built-in strategy should measure.
//!
//! Sources: the closed forms written out in `docs/theory.md`, RFC 6202 for long polling,
//! RFC 6455 §5.2 for WebSocket frame sizes, WHATWG HTML §9.2 for the event-stream format.
//!
//! Common assumptions: N clients, each with Poisson events of rate λ (a global stream of rate R
//! to one random client is λ = R/N; to all clients, λ = R), payload P, no loss, zero server
//! time, kept-alive connections, every client connected before the measured window starts,
//! no upstream messages. One-way delay d is constant, or turmoil's distribution for a range
//! (see [`OneWay`]); G = 2d is a round trip.
//!
//! Every `Prediction` field is `None` where the theory does not say (the model is silent rather
//! than guessing): `model.csv` leaves those cells empty and `run --check` skips them.

use serde::Serialize;

use http::StatusCode;

use crate::protocol::http_heads;
use crate::scenario::{Fanout, Scenario};

/// The distribution of one message's one-way delay, in whole milliseconds.
///
/// turmoil draws `min + floor((max − min)·X)` with X ~ Exp(5), capped at `max` (turmoil 0.7.2,
/// `Topology::delay`), so P(k) = e^(−5k/R) − e^(−5(k+1)/R) for k < R = max − min, and the
/// remaining e^(−5) sits on `max`.
#[derive(Debug, Clone, PartialEq)]
pub struct OneWay {
    /// `(delay ms, probability)`, increasing delay.
    pub points: Vec<(f64, f64)>,
}

impl OneWay {
    /// The delay distribution of a scenario's network.
    pub fn of(s: &Scenario) -> OneWay {
        let lat = s.network.latency_ms;
        let range = lat.max_ms - lat.min_ms;
        if range == 0 {
            return OneWay {
                points: vec![(lat.min_ms as f64, 1.0)],
            };
        }
        let r = range as f64;
        let mut points: Vec<(f64, f64)> = (0..range)
            .map(|k| {
                let k = k as f64;
                let p = (-5.0 * k / r).exp() - (-5.0 * (k + 1.0) / r).exp();
                (lat.min_ms as f64 + k, p)
            })
            .collect();
        points.push((lat.max_ms as f64, (-5.0_f64).exp()));
        OneWay { points }
    }

    /// E\[d\].
    pub fn mean(&self) -> f64 {
        self.points.iter().map(|(d, p)| d * p).sum()
    }

    /// E\[d²\].
    pub fn mean_square(&self) -> f64 {
        self.points.iter().map(|(d, p)| d * d * p).sum()
    }

    /// The largest delay.
    pub fn max(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.0)
    }

    /// The p-quantile (nearest rank).
    pub fn quantile(&self, q: f64) -> f64 {
        let mut seen = 0.0;
        for &(d, p) in &self.points {
            seen += p;
            if seen >= q - 1e-12 {
                return d;
            }
        }
        self.max()
    }
}

/// What theory predicts for one strategy under one scenario. Rates are per second of the
/// measured window; latencies in ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Prediction {
    /// Requests the server receives per second.
    pub requests_per_s: Option<f64>,
    /// Share of responses that carry no event.
    pub empty_fraction: Option<f64>,
    /// Events per non-empty response.
    pub events_per_response: Option<f64>,
    /// Requests held at the server on average.
    pub parked_requests: Option<f64>,
    /// Mean delivery latency.
    pub latency_mean_ms: Option<f64>,
    /// Median delivery latency.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile.
    pub latency_p99_ms: Option<f64>,
    /// Largest possible latency.
    pub latency_max_ms: Option<f64>,
    /// Application bytes per event, both directions.
    pub bytes_per_event: Option<f64>,
    /// Application bytes per second, both directions.
    pub app_bytes_per_s: Option<f64>,
    /// Probability density of the latency at its p99, per ms; `None` when the p99 sits on an
    /// atom (a constant latency). Tells how precisely a finite run can estimate the p99:
    /// standard error ≈ √(0.99·0.01/n) / density.
    pub p99_density: Option<f64>,
    /// Probability density of the latency at its median, per ms (`None` on an atom): the
    /// median of n samples has a standard error ≈ √(0.5·0.5/n) / density.
    pub p50_density: Option<f64>,
    /// Coefficient of variation of one client's request cycle (0 for a fixed-rate timer):
    /// how noisy a finite run's requests/s is, ≈ cv/√(requests).
    pub cycle_cv: Option<f64>,
    /// What the server does per second and holds, for the cost model
    /// ([`crate::capacity::predict`]); `None`: no prediction of CPU and memory.
    #[serde(skip)]
    pub load: Option<crate::capacity::Load>,
    /// Events lost to the scenario's faults (`Some(0.0)` where nothing should be lost;
    /// `None` where theory has no closed form for them).
    pub events_lost: Option<f64>,
    /// The busiest second's connection attempts while a restarted server is down, as a
    /// `(low, high)` range ([`crate::resilience::attempts_peak`]).
    #[serde(skip)]
    pub attempts_peak_per_s: Option<(f64, f64)>,
    /// Events delivered to the wrong client ([`crate::privacy`]; `None`: 0 is expected).
    #[serde(default)]
    pub misdelivered: Option<f64>,
    /// Address·seconds held in memory over the window ([`crate::privacy`]).
    #[serde(default)]
    pub address_seconds_in_memory: Option<f64>,
    /// Address·seconds stored beyond a connection over the window.
    #[serde(default)]
    pub address_seconds_stored: Option<f64>,
    /// Share of clients the server cannot open a connection to.
    #[serde(default)]
    pub unreachable_share: Option<f64>,
    /// The address changes `misdelivered` assumes ([`crate::privacy::expected_changes`]):
    /// `--check` predicts again for the changes the run drew.
    #[serde(skip)]
    pub address_changes: Option<f64>,
    /// The server-callback settings of `misdelivered` and `events_lost`, for `--check` to
    /// predict again with the changes and unreachable clients the run drew.
    #[serde(skip)]
    pub callback: Option<Callback>,
}

/// The settings of server-callback the theory needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Callback {
    /// Share of clients that cannot be reached (1 for browsers).
    pub unreachable: f64,
    /// R, seconds.
    pub register_every_s: f64,
    /// The registry's time to live, seconds.
    pub ttl_s: f64,
    /// τ, seconds.
    pub connect_timeout_s: f64,
}

impl Prediction {
    /// The rows every strategy whose clients open the connections shares: nobody is
    /// unreachable or misdelivered, nothing is stored beyond a connection (an access log has
    /// no closed form here), and the address·seconds held in memory where they are predicted
    /// ([`in_memory_predicted`]). The rest is empty, for a strategy to fill in.
    pub fn connection_based(s: &Scenario) -> Prediction {
        Prediction {
            address_seconds_in_memory: in_memory_predicted(s),
            address_seconds_stored: (!s.privacy.access_log).then_some(0.0),
            unreachable_share: Some(0.0),
            ..Prediction::default()
        }
    }
}

/// The per-client event rate λ of a scenario.
pub fn lambda(s: &Scenario) -> f64 {
    let (rate, fanout) = s.event_rate();
    match (s.events.rate_per_client_per_s, fanout) {
        (Some(l), _) => l,
        (None, Fanout::All) => rate,
        (None, Fanout::One) => rate / s.clients.count as f64,
    }
}

/// The wait of an event at the server until the next poll arrives, when polls arrive with
/// gaps X (a renewal process): an event lands in a gap with probability proportional to its
/// length, so the wait W has density P(X > w)/E\[X\]. X is discrete (whole ms).
pub(crate) struct Wait {
    /// `survival[j]` = P(X > j).
    survival: Vec<f64>,
    /// `area[j]` = Σ_{i<j} P(X > i).
    area: Vec<f64>,
    mean_gap: f64,
}

impl Wait {
    pub(crate) fn new(gaps: &[(f64, f64)]) -> Wait {
        let top = gaps.iter().map(|g| g.0).fold(0.0, f64::max) as usize + 1;
        let survival: Vec<f64> = (0..=top)
            .map(|j| gaps.iter().filter(|g| g.0 > j as f64).map(|g| g.1).sum())
            .collect();
        let mut area = vec![0.0];
        for sj in &survival {
            area.push(area.last().unwrap() + sj);
        }
        let mean_gap = gaps.iter().map(|g| g.0 * g.1).sum();
        Wait {
            survival,
            area,
            mean_gap,
        }
    }

    /// P(W ≤ w).
    pub(crate) fn cdf(&self, w: f64) -> f64 {
        if w <= 0.0 {
            return 0.0;
        }
        let j = (w.floor() as usize).min(self.survival.len() - 1);
        let part = self.area[j] + (w - j as f64) * self.survival[j];
        (part / self.mean_gap).min(1.0)
    }
}

/// p-quantile of d + W (d from `one_way`, W the wait), by bisection on its CDF.
pub(crate) fn quantile_delay_plus_wait(one_way: &OneWay, wait: &Wait, q: f64) -> f64 {
    let cdf = |x: f64| -> f64 {
        one_way
            .points
            .iter()
            .map(|&(d, p)| p * wait.cdf(x - d))
            .sum()
    };
    let (mut lo, mut hi) = (0.0, one_way.max() + wait.survival.len() as f64);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if cdf(mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The distribution of the gap between two polls arriving at the server.
pub(crate) fn poll_gaps(one_way: &OneWay, i_ms: f64, after_response: bool) -> Vec<(f64, f64)> {
    let mut gaps = std::collections::BTreeMap::new();
    for &(a, pa) in &one_way.points {
        for &(b, pb) in &one_way.points {
            // fixed rate: I + d(next request) − d(this request); after response: I + d(response) + d(next request)
            let x = if after_response {
                i_ms + a + b
            } else {
                i_ms + a - b
            };
            *gaps.entry(x.round() as i64).or_insert(0.0) += pa * pb;
        }
    }
    gaps.into_iter().map(|(x, p)| (x as f64, p)).collect()
}

/// Push (WebSocket, SSE): latency is one transit; bytes per event are the framing plus the
/// share of heartbeat traffic (`beat_bytes` per client every `beat_s`).
pub(crate) fn push(s: &Scenario, framing: f64, beat_bytes: f64, beat_s: f64) -> Prediction {
    let one_way = OneWay::of(s);
    let l = lambda(s);
    let per_event = s.events.payload_bytes as f64 + framing + beat_bytes / (beat_s * l);
    let no_upstream = s.upstream.is_none();
    Prediction {
        requests_per_s: Some(0.0),
        empty_fraction: None,
        events_per_response: None,
        parked_requests: Some(0.0),
        latency_mean_ms: Some(one_way.mean()),
        latency_p50_ms: Some(one_way.quantile(0.5)),
        latency_p99_ms: Some(one_way.quantile(0.99)),
        latency_max_ms: Some(one_way.max()),
        bytes_per_event: no_upstream.then_some(per_event),
        app_bytes_per_s: no_upstream.then_some(per_event * l * s.clients.count as f64),
        p99_density: density_at(&one_way, 0.99),
        p50_density: density_at(&one_way, 0.5),
        cycle_cv: None,
        load: None,
        ..crate::model::Prediction::connection_based(s)
    }
}

/// The probability of the one-way delay's `p` quantile (per ms: the delay is whole ms), or
/// `None` for a constant delay (an atom, no density).
fn density_at(one_way: &OneWay, p: f64) -> Option<f64> {
    (one_way.points.len() > 1).then(|| {
        let q = one_way.quantile(p);
        one_way
            .points
            .iter()
            .find(|pt| pt.0 == q)
            .map_or(0.0, |pt| pt.1)
    })
}

/// Mean number of decimal digits of the event ids created in the measured window (ids count
/// events from the start of the run at the total rate).
pub(crate) fn mean_id_digits(s: &Scenario) -> f64 {
    let (rate, _) = s.event_rate();
    let steps = 200;
    (0..steps)
        .map(|i| {
            let t = s.warmup_s + (s.duration_s - s.warmup_s) * (i as f64 + 0.5) / steps as f64;
            ((rate * t).max(1.0)).log10().floor() + 1.0
        })
        .sum::<f64>()
        / steps as f64
}

/// Traffic of the polling strategies — request heads (`GET /events?client=C&after=A`), `204`
/// or `200` response heads, one payload + newline per event — as (bytes per event, bytes/s).
pub(crate) fn poll_bytes(
    s: &Scenario,
    requests_per_s: f64,
    empty: f64,
) -> (Option<f64>, Option<f64>) {
    if s.upstream.is_some() {
        return (None, None);
    }
    let n = s.clients.count as f64;
    let events_per_s = n * lambda(s);
    let profile = &s.http.headers;
    let client = "1".repeat(mean_digits_below(s.clients.count).round() as usize);
    let base = format!("/events?client={client}&after=");
    let req = http_heads::request(
        profile,
        "GET",
        &base,
        &[("accept", "application/x-ndjson")],
        None,
    );
    // `after` is the id of the last event this client received: its digits are averaged apart
    let req_len = http_heads::head_len("GET ".len() + base.len() + " HTTP/1.1\r\n".len(), &req)
        as f64
        + mean_after_digits(s);
    let no_content = StatusCode::NO_CONTENT;
    let resp_204 = http_heads::response(profile, no_content, &[], None);
    let len_204 = http_heads::head_len(http_heads::status_line_len(no_content), &resp_204);
    let batch =
        (events_per_s / (requests_per_s * (1.0 - empty))) * (s.events.payload_bytes as f64 + 1.0);
    let ok = StatusCode::OK;
    let resp_200 = http_heads::response(
        profile,
        ok,
        &[],
        Some(("application/x-ndjson", batch.round() as usize)),
    );
    let len_200 = http_heads::head_len(http_heads::status_line_len(ok), &resp_200);
    let per_s = requests_per_s
        * (req_len + empty * len_204 as f64 + (1.0 - empty) * len_200 as f64)
        + events_per_s * (s.events.payload_bytes as f64 + 1.0);
    (Some(per_s / events_per_s), Some(per_s))
}

/// Mean digits of the `after=` id a poll carries: the id of the last event the client
/// received (0 before its first), averaged over the window. The last event is on average
/// `age` old (an exponential of rate λ truncated at t), when the global id was R·(t − age).
pub(crate) fn mean_after_digits(s: &Scenario) -> f64 {
    let (rate, _) = s.event_rate();
    let l = lambda(s);
    let steps = 200;
    (0..steps)
        .map(|i| {
            let t = s.warmup_s + (s.duration_s - s.warmup_s) * (i as f64 + 0.5) / steps as f64;
            let none = (-l * t).exp();
            let age = (1.0 - none * (1.0 + l * t)) / (l * (1.0 - none));
            let id = (rate * (t - age)).max(1.0);
            none + (1.0 - none) * (id.log10().floor() + 1.0)
        })
        .sum::<f64>()
        / steps as f64
}

/// cv of a long-poll cycle G + park: park is 0 if an event came during the gap G, else
/// min(Exp(λ), T); E\[min(E, T)²\] = 2(1 − e^(−λT)(1 + λT))/λ² (G taken as constant).
pub(crate) fn long_poll_cycle_cv(l: f64, g: f64, t: f64) -> f64 {
    let waits = (-l * g).exp();
    let m1 = waits * (1.0 - (-l * t).exp()) / l;
    let m2 = waits * 2.0 * (1.0 - (-l * t).exp() * (1.0 + l * t)) / (l * l);
    (m2 - m1 * m1).max(0.0).sqrt() / (g + m1)
}

/// Upstream messages the HTTP strategies send as `POST /messages` requests, per second.
/// Connections each client keeps open: one, plus one for upstream `POST`s if any.
pub(crate) fn connections_per_client(s: &Scenario) -> f64 {
    if s.upstream.is_some() {
        2.0
    } else {
        1.0
    }
}

/// The server load of a push strategy (WebSocket, SSE) whose prediction is `p`: `per_event`
/// jobs per event, `beats` keep-alive jobs per client per second.
pub(crate) fn push_load(s: &Scenario, p: &Prediction) -> crate::capacity::Load {
    let n = s.clients.count as f64;
    crate::capacity::Load {
        requests_per_s: upstream_posts_per_s(s),
        bytes_per_s: p.app_bytes_per_s.unwrap_or(0.0),
        open_connections: n,
        streams: n,
        poisson_arrivals: true,
        ..Default::default()
    }
}

pub(crate) fn upstream_posts_per_s(s: &Scenario) -> f64 {
    s.upstream
        .as_ref()
        .map_or(0.0, |u| u.rate_per_client_per_s * s.clients.count as f64)
}

/// Mean number of digits of the integers 0..n.
pub(crate) fn mean_digits_below(n: u64) -> f64 {
    let total: u64 = (0..n).map(|i| i.to_string().len() as u64).sum();
    total as f64 / n.max(1) as f64
}
/// Address·seconds the server holds in memory over the window, for every strategy: each
/// client connected (or registered) through it, N·W, times the share of time clients are
/// online under churn, on/(on + off).
pub fn address_seconds_in_memory(s: &Scenario) -> f64 {
    let window = s.duration_s - s.warmup_s;
    let online = match (s.clients.online_s, s.clients.offline_s) {
        (Some(on), Some(off)) => on / (on + off),
        _ => 1.0,
    };
    s.clients.count as f64 * window * online
}

/// [`address_seconds_in_memory`] where it is predicted: clients that stay and keep their
/// address, and no fault that breaks connections (each reconnect leaves the server without
/// the client's address for a while, as long as the strategy takes to notice and come back).
pub fn in_memory_predicted(s: &Scenario) -> Option<f64> {
    (s.faults.is_empty()
        && s.proxy.idle_timeout_s.is_none()
        && s.network.loss == 0.0
        && !s.has_churn())
    .then(|| address_seconds_in_memory(s))
}
