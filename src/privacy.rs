//! Theory of stored addresses: what calling clients back at a stored address costs, in lost
//! and misdelivered events, unreachable clients and address·seconds (docs/addresses.md has
//! the derivations; `model.csv` and `run --check` compare them with the simulation).
//!
//! The setting: N clients, each with events at rate λ; each changes address at rate r
//! (Poisson); the addresses come from a pool of P, handed out least recently released first
//! after resting u; each client registers again every R (a residual S ~ U(0, R) after a
//! change); a share f of clients cannot be reached (NAT, firewalls); the server gives up a
//! callback connect after τ and drops the events waiting for that address.
//!
//! After client c changes address at t, the server keeps calling its old address A until c
//! registers again, S later:
//! - A is handed to another client T after the change. With F = P − N free addresses queued
//!   ahead of it and acquisitions at rate k = N·r, T ≈ max(u, F/k) (the mean of a
//!   Gamma(F, k) wait: F is large, so its spread is small);
//! - before T nobody answers at A: each callback waits τ and drops what waits, so at T the
//!   server is still waiting with probability λτ/(1 + λτ), for a further U(0, τ): call that B;
//! - from T + B until S, c's events reach A's new holder — a **misdelivery** if that holder
//!   can be reached (1 − f), for as long as it keeps A (it leaves at rate r); when it leaves,
//!   A rests T again and goes to a next holder: A is held z after T with probability
//!   h(z) = e^{−rz} + r·(z − T)⁺·e^{−r(z−T)}.
//!
//! So the misdeliveries expected per change are λ(1 − f)·E[∫_{B}^{S−T} h(z) dz]⁺, and
//! every event of a reachable client between its change and its next registration is lost
//! (to nobody, or to somebody else): λ·E[S] = λR/2 per change, plus what arrives while a
//! callback waits out τ past S. Changes near the end of the run are cut short by it; the
//! expectations integrate over when the change happens. Left out: the spread of T (a
//! Gamma(F, k) wait around F/k), a third holder within one period, and the server's waits on
//! an address whose holder is unreachable; they matter when r·R approaches 1.

use crate::scenario::Scenario;

/// The settings of server-callback the theory needs.
#[derive(Debug, Clone, Copy)]
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

/// What theory expects of a server-callback run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expected {
    /// Address changes in the run.
    pub changes: f64,
    /// T, seconds: how long a released address stays unused.
    pub reuse_delay_s: f64,
    /// Events delivered to the wrong client.
    pub misdelivered: f64,
    /// Events lost (never delivered to their client), misdelivered ones included.
    pub lost: f64,
}

/// The address changes expected in a run: each client changes at rate r from its start until
/// the events end.
pub fn expected_changes(s: &Scenario) -> f64 {
    let n = s.clients.count as f64;
    let r = s.clients.address_change_per_hour / 3600.0;
    // clients start evenly over connect_over_s: on average half of it late
    n * r * (s.duration_s - s.clients.connect_over_s / 2.0)
}

/// T: how long an address rests unused after its client leaves it: max(u, F/k), with F the
/// free addresses ahead of it and k the acquisitions per second. `None` without changes.
pub fn reuse_delay_s(s: &Scenario) -> Option<f64> {
    let c = &s.clients;
    let n = c.count as f64;
    let r = c.address_change_per_hour / 3600.0;
    if r <= 0.0 {
        return None;
    }
    let pool = c
        .address_pool
        .unwrap_or_else(|| crate::scenario::default_address_pool(c)) as f64;
    // the clients online hold theirs; absences add acquisitions (each return takes one)
    let (online, returns) = match (c.online_s, c.offline_s) {
        (Some(on), Some(off)) => (n * on / (on + off), n / (on + off)),
        _ => (n, 0.0),
    };
    let free = (pool - online).max(0.0);
    Some(c.address_reuse_after_s.max(free / (online * r + returns)))
}

/// The expectations of server-callback under address changes (no churn: `None` with
/// `online_s`, where absences and the registry's expiry interact without a closed form here).
pub fn callback(s: &Scenario, cb: Callback) -> Option<Expected> {
    if s.clients.online_s.is_some() || cb.ttl_s < cb.register_every_s {
        return None;
    }
    let n = s.clients.count as f64;
    let l = crate::model::lambda(s);
    let f = cb.unreachable;
    // events for unreachable clients never arrive
    let base_lost = f * l * n * s.duration_s;
    let Some(t_reuse) = reuse_delay_s(s) else {
        return Some(Expected {
            changes: 0.0,
            reuse_delay_s: f64::INFINITY,
            misdelivered: 0.0,
            lost: base_lost,
        });
    };
    let r = s.clients.address_change_per_hour / 3600.0;
    let big_r = cb.register_every_s;
    let tau = cb.connect_timeout_s;
    let changes = expected_changes(s);
    // B: 0 with probability 1/(1 + λτ), else U(0, τ)
    let p_wait = l * tau / (1.0 + l * tau);
    // when the change happens: uniform over the clients' time before the events end
    let from = s.clients.connect_over_s / 2.0;
    let span = s.duration_s - from;
    const STEPS: usize = 120;
    let (mut mis, mut lost) = (0.0, 0.0);
    for i in 0..STEPS {
        let left = span - span * (i as f64 + 0.5) / STEPS as f64; // D − t
        for j in 0..STEPS {
            let stale = big_r * (j as f64 + 0.5) / STEPS as f64; // S
            let until = stale.min(left);
            // misdelivered: ∫_{T+B}^{until} P(A is held at x) dx, averaged over B
            let window = |b: f64| held(r, t_reuse, b, until - t_reuse);
            let mut w = (1.0 - p_wait) * window(0.0);
            for k in 0..STEPS {
                w += p_wait * window(tau * (k as f64 + 0.5) / STEPS as f64) / STEPS as f64;
            }
            mis += w;
            // lost: everything up to the new registration, and, if the server is still
            // waiting out τ on the unused address then, what arrives before it gives up
            let overrun = if stale < t_reuse {
                p_wait * tau / 2.0
            } else {
                0.0
            };
            lost += (until + overrun).min(left);
        }
    }
    let per = (STEPS * STEPS) as f64;
    Some(Expected {
        changes,
        reuse_delay_s: t_reuse,
        misdelivered: changes * l * (1.0 - f) * mis / per,
        lost: base_lost + changes * (1.0 - f) * l * lost / per,
    })
}

/// ∫_{z0}^{z1} P(the address is held z after its first reassignment) dz. The first holder
/// keeps it for an Exp(r) time; the address then rests T and goes to a second holder, who
/// keeps it Exp(r) too (a third holder within one registration period is left out):
/// P(held at z) = e^{−rz} + r·(z − T)⁺·e^{−r(z − T)}.
fn held(r: f64, t: f64, z0: f64, z1: f64) -> f64 {
    if z1 <= z0 {
        return 0.0;
    }
    if r <= 0.0 {
        return z1 - z0;
    }
    let first = ((-r * z0).exp() - (-r * z1).exp()) / r;
    // ∫ r·w·e^{−rw} dw = G(w) = −w·e^{−rw} − e^{−rw}/r, over w = z − T
    let g = |w: f64| -w * (-r * w).exp() - (-r * w).exp() / r;
    let (w0, w1) = ((z0 - t).max(0.0), (z1 - t).max(0.0));
    first + g(w1) - g(w0)
}

/// Address·seconds the callback registry stores over the window: every client registered
/// from before it (entries renewed before they expire: `ttl ≥ R`), N·W; without churn only.
pub fn address_seconds_stored(s: &Scenario, cb: Callback) -> Option<f64> {
    (s.clients.online_s.is_none() && cb.ttl_s >= cb.register_every_s)
        .then_some(s.clients.count as f64 * (s.duration_s - s.warmup_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str) -> Scenario {
        Scenario::from_toml(&crate::scenario::Source {
            label: "t".into(),
            text: &format!(
                "name = \"t\"\nduration_s = 600\nwarmup_s = 0\n[clients]\ncount = 1000\n{extra}\n\
                 [events]\nrate_per_client_per_s = 0.1\n"
            ),
        })
        .unwrap()
    }

    /// Hand calculation: 1,000 clients, 1,250 addresses (F = 250 free), one change an hour
    /// each: k = 1000/3600 per second, F/k = 900 s > u = 120 s, so T = 900 s. The default
    /// pool adds the addresses resting, ⌈k·u⌉ = ⌈33.3⌉ = 34, to the same: F = 284, T = 1,022.4 s.
    #[test]
    fn an_address_rests_until_the_free_ones_ahead_are_taken() {
        let s = scenario("address_change_per_hour = 1\naddress_pool = 1250");
        assert!((reuse_delay_s(&s).unwrap() - 900.0).abs() < 1e-9);
        let s = scenario("address_change_per_hour = 1");
        assert!((reuse_delay_s(&s).unwrap() - 284.0 * 3.6).abs() < 1e-9);
        let tight = scenario("address_change_per_hour = 1\naddress_pool = 1010");
        // F/k = 10 / (1000/3600) = 36 s < u = 120 s: the rest is what limits
        assert_eq!(reuse_delay_s(&tight), Some(120.0));
        assert_eq!(reuse_delay_s(&scenario("")), None);
    }

    /// With T beyond R no stale address is ever reused before its client registers again:
    /// no misdelivery, and each change loses λ·R/2 of a reachable client's events (all
    /// reachable; τ tiny). 600 s, changes at 1/h, R = 60 s: changes = 1000·600/3600 ≈ 166.7,
    /// lost ≈ 166.7 × 0.1 × 30 = 500, less the changes whose window the end cuts short.
    #[test]
    fn with_a_long_rest_nothing_is_misdelivered_and_a_change_costs_half_a_period() {
        let s = scenario("address_change_per_hour = 1");
        let cb = Callback {
            unreachable: 0.0,
            register_every_s: 60.0,
            ttl_s: 3600.0,
            connect_timeout_s: 0.001,
        };
        let e = callback(&s, cb).unwrap();
        assert_eq!(e.misdelivered, 0.0);
        assert!((e.changes - 1000.0 * 600.0 / 3600.0).abs() < 1e-9);
        // exactly: changes × λ × E[min(S, L)], S ~ U(0, 60), L = D − t ~ U(0, 600):
        // E[min(S, L)] = 30 for L ≥ 60 and L − L²/120 below, so the mean is
        // (540 × 30 + ∫_0^60 (L − L²/120) dL) / 600 = (16,200 + 1,800 − 600) / 600 = 29
        let cut: f64 = (60.0 * 60.0 / 2.0 - 60.0f64.powi(3) / 360.0) / 600.0;
        let expected = e.changes * 0.1 * (30.0 * 540.0 / 600.0 + cut);
        assert!(
            (e.lost - expected).abs() < 0.01 * expected,
            "{} vs {expected}",
            e.lost
        );
    }

    /// u = 0 and a pool with no spare address (T = 0), every callback answered at once
    /// (τ → 0, nobody unreachable, nobody leaving: r·R small is the formula's domain): a
    /// change misdelivers everything until the next registration, λ·R/2.
    #[test]
    fn with_immediate_reuse_a_change_misdelivers_half_a_period() {
        let s = scenario(
            "address_change_per_hour = 0.01\naddress_pool = 1000\naddress_reuse_after_s = 0",
        );
        let cb = Callback {
            unreachable: 0.0,
            register_every_s: 10.0,
            ttl_s: 3600.0,
            connect_timeout_s: 0.001,
        };
        let e = callback(&s, cb).unwrap();
        assert_eq!(e.reuse_delay_s, 0.0);
        let per_change = e.misdelivered / (e.changes * 0.1);
        assert!((per_change - 5.0).abs() < 0.05, "{per_change}");
        // a quarter of the holders unreachable: a quarter fewer misdeliveries
        let e2 = callback(
            &s,
            Callback {
                unreachable: 0.25,
                ..cb
            },
        )
        .unwrap();
        assert!((e2.misdelivered / e.misdelivered - 0.75).abs() < 1e-9);
    }
}
