//! Theory for runs where things go wrong (docs/theory.md, "When things go wrong"): where a
//! closed form exists, the built-in strategies' models add it to their [`Prediction`].
//!
//! - **Loss, push strategies**: an event is one segment; it is lost k times with probability
//!   p^k(1 − p) and then arrives RTO·(2^k − 1) late (the RTO doubles per retry). The latency is
//!   the one-way delay plus that extra: a mixture whose quantiles and mean follow
//!   ([`lossy_one_way`]); the mean extra is RTO·p/(1 − 2p). Head-of-line blocking is left out:
//!   it adds to the tail only when events follow each other within an RTO on one connection.
//! - **Server restart, state not durable**: what a client misses is what the server never
//!   had — events created while it was down, D·λ·N per restart — and what it held at the
//!   crash without having sent it, λ·N·h (h: the mean time an event waits at the server).
//!   A WebSocket without resume also drops what came while its client was reconnecting (not
//!   predicted: it depends on the reconnect timing).
//! - **Reconnect storm**: while the server is down every client retries on its policy's
//!   schedule. With a constant latency every client learns of the crash at the same instant;
//!   a fixed wait F then makes them retry in lockstep, one attempt per F + RTT each, and the
//!   busiest second holds N × (attempts per client in it). With full jitter the expected
//!   attempts per second follow from the renewal sums of the waits ([`attempts_peak`]).

use crate::model::{OneWay, Prediction};
use crate::scenario::reconnect::{Jitter, Reconnect};
use crate::scenario::{Fault, Scenario};

/// The delay of a segment sent over a lossy link: the one-way delay plus RTO·(2^k − 1) with
/// probability p^k(1 − p) (k = 0, 1, … until the remaining probability is below 10⁻¹²).
pub fn lossy_one_way(s: &Scenario) -> OneWay {
    let base = OneWay::of(s);
    let (p, rto) = (s.network.loss, s.network.rto_ms as f64);
    if p <= 0.0 {
        return base;
    }
    let mut points: Vec<(f64, f64)> = Vec::new();
    let (mut k, mut weight) = (0, 1.0 - p);
    while weight > 1e-12 && k < 40 {
        let extra = rto * (2f64.powi(k) - 1.0);
        points.extend(base.points.iter().map(|(d, q)| (d + extra, q * weight)));
        k += 1;
        weight *= p;
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for (d, q) in points {
        match merged.last_mut() {
            Some(last) if last.0 == d => last.1 += q,
            _ => merged.push((d, q)),
        }
    }
    OneWay { points: merged }
}

/// A push strategy's latency over a lossy link (see [`lossy_one_way`]); the largest latency
/// has no bound.
pub(crate) fn push_under_loss(p: &mut Prediction, s: &Scenario) {
    if s.network.loss <= 0.0 {
        return;
    }
    let lossy = lossy_one_way(s);
    p.latency_mean_ms = Some(lossy.mean());
    p.latency_p50_ms = Some(lossy.quantile(0.5));
    p.latency_p99_ms = Some(lossy.quantile(0.99));
    p.latency_max_ms = None;
    let density = |q: f64| {
        let v = lossy.quantile(q);
        lossy.points.iter().find(|pt| pt.0 == v).map(|pt| pt.1)
    };
    // a quantile on an atom (a constant latency, shifted) has no density
    let atoms = OneWay::of(s).points.len() == 1;
    p.p50_density = if atoms { None } else { density(0.5) };
    p.p99_density = if atoms { None } else { density(0.99) };
}

/// Whether the only faults are server restarts (the case the closed forms cover).
fn only_restarts(s: &Scenario) -> bool {
    s.network.loss == 0.0
        && !s.has_churn()
        && s.proxy.idle_timeout_s.is_none()
        && !s.faults.is_empty()
        && s.faults
            .iter()
            .all(|f| matches!(f, Fault::ServerRestart { .. }))
}

/// Events lost to server restarts when the server's state is not durable: λ·N per second
/// down, plus λ·N·`held_ms` at each crash (what the server held unsent). `None` when the
/// state is durable (then nothing is lost by a strategy that resumes) or other faults act.
pub fn restart_losses(s: &Scenario, held_ms: f64) -> Option<f64> {
    if !only_restarts(s) {
        return None;
    }
    if s.server.durable {
        return Some(0.0);
    }
    let n = s.clients.count as f64;
    let lost: f64 = s
        .faults
        .iter()
        .map(|f| {
            let (from, to) = f.window_ms();
            // events of the down time, within the run's event window
            let end = to.min((s.duration_s * 1000.0) as u64);
            (end.saturating_sub(from) as f64 + held_ms) / 1000.0
        })
        .sum();
    Some(crate::model::lambda(s) * n * lost)
}

/// The most connection attempts in one second of the window while a restarted server is
/// down, as `(low, high)`: clients that hold a read open learn of the crash one transit
/// after it and retry on `policy`'s schedule; every attempt fails after a round trip until
/// the server is back. Only for a constant latency and the policies with a closed form: a
/// fixed wait (lockstep: exact up to where the second boundaries fall) and custom full or no
/// jitter (expected attempts from the renewal sums).
pub fn attempts_peak(s: &Scenario, policy: &Reconnect) -> Option<(f64, f64)> {
    if !only_restarts(s) || !s.network.latency_ms.is_constant() {
        return None;
    }
    let d = s.network.latency_ms.min_ms as f64;
    let rtt = 2.0 * d;
    let n = s.clients.count as f64;
    let (w0, w1) = (s.warmup_s * 1000.0, s.duration_s * 1000.0);
    let mut best: f64 = 0.0;
    for f in &s.faults {
        let (crash, back) = f.window_ms();
        let (crash, back) = (crash as f64, back as f64);
        // every client must be connected when the server crashes (the last starts at
        // connect_over_s and needs a few round trips)
        if crash < s.clients.connect_over_s * 1000.0 + 1_000.0 {
            return None;
        }
        let learn = crash + d;
        // waits before retry k = 0, 1, …: fixed, or uniform on [0, b_k]
        let waits: Box<dyn Fn(u32) -> (f64, f64)> = match *policy {
            Reconnect::Fixed { ms } | Reconnect::EventSource { ms } => {
                Box::new(move |_| (ms as f64, ms as f64))
            }
            Reconnect::Custom {
                initial_ms,
                max_ms,
                multiplier,
                jitter: j @ (Jitter::Full | Jitter::None),
            } => Box::new(move |k| {
                let b =
                    (initial_ms as f64 * multiplier.powi(k.min(1000) as i32)).min(max_ms as f64);
                if j == Jitter::Full {
                    (0.0, b)
                } else {
                    (b, b)
                }
            }),
            _ => return None,
        };
        // attempts per calendar second: `(second, expected attempts per client)`
        let mut per_second: std::collections::BTreeMap<i64, f64> = Default::default();
        if waits(0).0 == waits(0).1 && waits(1).0 == waits(1).1 {
            // no jitter: one schedule for every client, attempt by attempt
            let mut at = learn;
            for k in 0.. {
                at += waits(k).0 + if k == 0 { 0.0 } else { rtt };
                *per_second.entry((at / 1000.0).floor() as i64).or_default() += 1.0;
                if at >= back {
                    break; // this one succeeds
                }
            }
        } else {
            // with jitter the busiest second is among the first ones: look at up to 2 minutes
            let span = (back - learn).clamp(0.0, 120_000.0);
            let horizon = (span + 2_000.0) as usize;
            let mut per_ms = vec![0.0; horizon];
            let mut dens = vec![0.0; horizon];
            dens[0] = 1.0; // the moment the client learns
            for k in 0..10_000u32 {
                let (lo, hi) = waits(k);
                let shift = if k == 0 { 0 } else { rtt as usize };
                let (lo, hi) = (lo.round() as usize, hi.round() as usize);
                let width = hi - lo + 1;
                // attempt = previous attempt (+ a round trip to be refused) + wait
                let mut prefix = vec![0.0; horizon + 1];
                for t in 0..horizon {
                    prefix[t + 1] = prefix[t] + dens[t];
                }
                let mut alive = 0.0;
                for t in 0..horizon {
                    let top = t as i64 - (shift + lo) as i64;
                    let v = if top < 0 {
                        0.0
                    } else {
                        let bottom = (top - width as i64 + 1).max(0) as usize;
                        (prefix[top as usize + 1] - prefix[bottom]) / width as f64
                    };
                    per_ms[t] += v;
                    // attempts before the server is back fail and lead to another
                    dens[t] = if learn + (t as f64) < back { v } else { 0.0 };
                    alive += dens[t];
                }
                if alive < 1e-9 {
                    break;
                }
            }
            for (t, v) in per_ms.iter().enumerate() {
                *per_second
                    .entry(((learn + t as f64) / 1000.0).floor() as i64)
                    .or_default() += v;
            }
        }
        for (sec, count) in per_second {
            let (a, b) = (sec as f64 * 1000.0, (sec + 1) as f64 * 1000.0);
            if a >= w0 && b <= w1 {
                best = best.max(count);
            }
        }
    }
    let lockstep = matches!(
        policy,
        Reconnect::Fixed { .. } | Reconnect::EventSource { .. }
    ) || matches!(
        policy,
        Reconnect::Custom {
            jitter: Jitter::None,
            ..
        }
    );
    let peak = n * best;
    Some(if lockstep {
        // the grid counts are exact; where an attempt falls on a second's boundary is a
        // tick's rounding away
        (n * best.floor(), n * best.ceil())
    } else {
        let sd = peak.sqrt();
        (peak - 3.0 * sd, peak + 3.0 * sd)
    })
}

/// The reconnect policy a strategy's clients use under `s`: the strategy's own override,
/// `[reconnect]`, or the strategy's default.
pub fn policy_for(s: &Scenario, id: &str, default: Reconnect) -> Reconnect {
    s.strategy_reconnect
        .get(id)
        .or(s.reconnect.as_ref())
        .cloned()
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str) -> Scenario {
        Scenario::from_toml(&crate::scenario::Source {
            label: "t".into(),
            text: &format!(
                "name = \"t\"\nduration_s = 60\nwarmup_s = 10\n[clients]\ncount = 100\n[events]\nrate_per_client_per_s = 1\n[network]\nlatency_ms = 50\n{extra}"
            ),
        })
        .unwrap()
    }

    /// One segment, p = 0.1, RTO 200 ms on a 50 ms link: 90 % at 50 ms, 9 % at 250 ms, 0.9 %
    /// at 650 ms: the p99 is 650 ms (90 + 9 = 99 % is reached at 250 ms exactly: the
    /// nearest-rank p99 sits there), the mean 50 + 200·0.1/0.8 = 75 ms.
    #[test]
    fn loss_makes_a_mixture_of_shifted_delays() {
        let s = scenario("loss = 0.1\n");
        let w = lossy_one_way(&s);
        assert!((w.mean() - 75.0).abs() < 1e-6, "{}", w.mean());
        assert_eq!(w.points[0], (50.0, 0.9));
        assert!((w.points[1].1 - 0.09).abs() < 1e-12);
        assert_eq!(w.points[1].0, 250.0);
        assert_eq!(w.quantile(0.5), 50.0);
        assert_eq!(w.quantile(0.995), 650.0);
    }

    /// 100 clients, 1 event/s each, a 10 s restart: 1,000 events of the down time.
    #[test]
    fn a_restart_loses_the_events_of_its_down_time() {
        let s = scenario("[[faults]]\nkind = \"server-restart\"\nat_s = 20\ndown_s = 10\n");
        assert_eq!(restart_losses(&s, 0.0), Some(1000.0));
        assert_eq!(restart_losses(&s, 500.0), Some(1050.0));
        let durable = scenario(
            "[server]\ndurable = true\n[[faults]]\nkind = \"server-restart\"\nat_s = 20\ndown_s = 10\n",
        );
        assert_eq!(restart_losses(&durable, 0.0), Some(0.0));
    }

    /// Immediate retries on a 50 ms link: one attempt per 100 ms round trip, 10 per second
    /// per client; a fixed 1 s wait: one per 1.1 s, so at most one per second.
    #[test]
    fn lockstep_retries_fill_a_second_with_one_attempt_per_cycle() {
        let s = scenario("[[faults]]\nkind = \"server-restart\"\nat_s = 20\ndown_s = 10\n");
        assert_eq!(
            attempts_peak(&s, &Reconnect::Fixed { ms: 0 }),
            Some((1000.0, 1000.0))
        );
        assert_eq!(
            attempts_peak(&s, &Reconnect::Fixed { ms: 1000 }),
            Some((100.0, 100.0))
        );
    }

    /// Full jitter from 1 s: in the first second after learning (at 20.05 s, so 950 ms of
    /// that calendar second), a client's first retry falls with probability 0.95, its second
    /// (after a 100 ms refusal and a U[0, 2 s] wait) with P(U₁ + U₂ < 0.85) = 0.85²/4 = 0.1806.
    #[test]
    fn full_jitter_spreads_the_first_second() {
        let s = scenario("[[faults]]\nkind = \"server-restart\"\nat_s = 20\ndown_s = 10\n");
        let p = Reconnect::Custom {
            initial_ms: 1000,
            max_ms: 30_000,
            multiplier: 2.0,
            jitter: Jitter::Full,
        };
        let (lo, hi) = attempts_peak(&s, &p).unwrap();
        let peak = (lo + hi) / 2.0;
        let expected = 100.0 * (0.95 + 0.85 * 0.85 / 4.0);
        assert!((peak - expected).abs() < 1.5, "{peak} vs {expected}");
    }
}
