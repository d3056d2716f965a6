//! Theory of stored addresses: what calling clients back at a stored address costs, in lost
//! and misdelivered events, unreachable clients and address·seconds (docs/addresses.md has
//! the derivations; `model.csv` and `run --check` compare them with the simulation).
//!
//! The setting: N clients, each with events at rate λ; each changes address at rate r
//! (Poisson); the addresses come from a pool of P, handed out least recently released first
//! after resting u; each client registers again every R; a share f of clients cannot be
//! reached (NAT, firewalls); the server gives up a callback connect after τ and drops the
//! events waiting for that address.
//!
//! Until a client registers again, the server calls the address A it had at its last
//! registration, so only the first change of each registration period matters; it comes x
//! into the period with density r·e^{−rx} and leaves A stale for R − x:
//! - A is handed to another client T after the change. With F = P − N free addresses queued
//!   ahead of it and hand-outs at rate k = N·r, T ≈ max(u, F/k) (the mean of a Gamma(F, k)
//!   wait: F is large, so its spread is small). With F < 1 the mover gets A back;
//! - before T nobody answers at A: each callback waits τ and drops what waits, so at T the
//!   server is still waiting with probability λτ/(1 + λτ), for a further U(0, τ): call that B;
//! - from T + B until the period ends, the client's events reach A's holder — a
//!   **misdelivery** if that holder can be reached (1 − f), for as long as it keeps A (it
//!   leaves at rate r); when it leaves, A rests T again and goes to a next holder: A is held
//!   z after T with probability h(z) = e^{−rz} + r·(z − T)⁺·e^{−r(z−T)}.
//!
//! So each period is expected to misdeliver λ(1 − f)·∫_0^R r·e^{−rx}·𝔼\[∫_B^{R−x−T} h(z) dz\]⁺ dx,
//! and a reachable client loses every event from the change to the period's end (to nobody,
//! or to somebody else): λ·∫_0^R r·e^{−rx}(R − x) dx, plus what arrives while a callback still
//! waits out τ past the registration. The run's end cuts the last periods short. Left out:
//! the spread of T, a third holder within one period, and the server's waits on an address
//! whose holder is unreachable; they matter when T approaches R or r·R approaches 1.

use crate::scenario::Scenario;

pub use crate::model::Callback;

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

/// The free addresses queued ahead of a released one, F, and the hand-outs per second, k.
fn pool_flow(s: &Scenario) -> (f64, f64) {
    let c = &s.clients;
    let n = c.count as f64;
    let r = c.address_change_per_hour / 3600.0;
    let pool = c
        .address_pool
        .unwrap_or_else(|| crate::scenario::default_address_pool(c)) as f64;
    // the clients online hold theirs; absences add hand-outs (each return takes one)
    let (online, returns) = match (c.online_s, c.offline_s) {
        (Some(on), Some(off)) => (n * on / (on + off), n / (on + off)),
        _ => (n, 0.0),
    };
    ((pool - online).max(0.0), online * r + returns)
}

/// T: how long an address rests unused after its client leaves it: max(u, F/k), with F the
/// free addresses ahead of it and k the hand-outs per second. `None` without changes, or when
/// no address is free (F < 1: a client that changes gets its own address back).
pub fn reuse_delay_s(s: &Scenario) -> Option<f64> {
    let (free, k) = pool_flow(s);
    if s.clients.address_change_per_hour <= 0.0 || free < 1.0 {
        return None;
    }
    Some(s.clients.address_reuse_after_s.max(free / k))
}

/// The expectations of server-callback under address changes (no churn: `None` with
/// `online_s`, where absences and the registry's expiry interact without a closed form here).
///
/// Only the first change of each registration period matters: until the client registers
/// again the server calls the address it had *at* registration; a second change releases an
/// address nobody stored. Periods start at each client's registration, every R; the first
/// change comes x into a period with density r·e^{−rx}, and the stale window lasts R − x.
pub fn callback(s: &Scenario, cb: Callback) -> Option<Expected> {
    if s.clients.online_s.is_some() || cb.ttl_s < cb.register_every_s {
        return None;
    }
    let n = s.clients.count as f64;
    let l = crate::model::lambda(s);
    let f = cb.unreachable;
    let d = s.duration_s;
    // events for unreachable clients never arrive
    let base_lost = f * l * n * d;
    let changes = expected_changes(s);
    let Some(t_reuse) = reuse_delay_s(s) else {
        // no changes, or each mover gets its own address back: nothing goes stale
        return Some(Expected {
            changes,
            reuse_delay_s: f64::INFINITY,
            misdelivered: 0.0,
            lost: base_lost,
        });
    };
    let r = s.clients.address_change_per_hour / 3600.0;
    let big_r = cb.register_every_s;
    let tau = cb.connect_timeout_s;
    // B: 0 with probability 1/(1 + λτ), else U(0, τ)
    let p_wait = l * tau / (1.0 + l * tau);
    const STEPS: usize = 200;
    let dx = big_r / STEPS as f64;
    let (mut mis, mut lost) = (0.0, 0.0);
    // registration periods from the clients' (average) start
    let mut start = s.clients.connect_over_s / 2.0;
    while start < d {
        for j in 0..STEPS {
            let x = dx * (j as f64 + 0.5);
            let at = start + x;
            if at >= d {
                break; // no change after the events end
            }
            let weight = r * (-r * x).exp() * dx;
            let stale = big_r - x; // until the next registration
            let until = stale.min(d - at);
            // misdelivered: ∫ P(A is held) over [T + B, until], averaged over B
            let window = |b: f64| held(r, t_reuse, b, until - t_reuse);
            let mut w = (1.0 - p_wait) * window(0.0);
            for k in 0..STEPS {
                w += p_wait * window(tau * (k as f64 + 0.5) / STEPS as f64) / STEPS as f64;
            }
            mis += weight * w;
            // lost: everything up to the new registration, and, if the server is still
            // waiting out τ on the unused address then, what arrives before it gives up
            let overrun = if stale < t_reuse {
                p_wait * tau / 2.0
            } else {
                0.0
            };
            lost += weight * (until + overrun).min(d - at);
        }
        start += big_r;
    }
    Some(Expected {
        changes,
        reuse_delay_s: t_reuse,
        misdelivered: n * l * (1.0 - f) * mis,
        lost: base_lost + n * (1.0 - f) * l * lost,
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
    /// no misdelivery, and a reachable client loses its events from the first change of a
    /// registration period to the period's end. 1,000 clients, D = 600 s, R = 60 s (ten whole
    /// periods from t = 0), one change an hour (r = 1/3600 s⁻¹), λ = 0.1, τ → 0:
    /// per period ∫_0^R r·e^{−rx}·(R − x) dx = R − (1 − e^{−rR})/r = 0.495869 s, so
    /// lost = 1000 × 0.1 × 10 × 0.495869 = 495.87.
    #[test]
    fn with_a_long_rest_nothing_is_misdelivered_and_a_change_costs_the_rest_of_a_period() {
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
        let r: f64 = 1.0 / 3600.0;
        let per_period = 60.0 - (1.0 - (-r * 60.0).exp()) / r;
        let expected = 1000.0 * 0.1 * 10.0 * per_period;
        assert!(
            (e.lost - expected).abs() < 0.002 * expected,
            "{} vs {expected}",
            e.lost
        );
        // a quarter of the clients unreachable: they lose everything, the rest a quarter less
        let e2 = callback(
            &s,
            Callback {
                unreachable: 0.25,
                ..cb
            },
        )
        .unwrap();
        let all = 0.25 * 0.1 * 1000.0 * 600.0;
        assert!((e2.lost - (all + 0.75 * expected)).abs() < 0.002 * e2.lost);
    }

    /// A pool with no spare address (P = N) and no rest: the only free address when a client
    /// moves is the one it just left, so it gets it back — nothing goes stale.
    #[test]
    fn with_no_spare_address_a_mover_keeps_its_own() {
        let s = scenario(
            "address_change_per_hour = 30\naddress_pool = 1000\naddress_reuse_after_s = 0",
        );
        assert_eq!(reuse_delay_s(&s), None);
        let cb = Callback {
            unreachable: 0.0,
            register_every_s: 60.0,
            ttl_s: 3600.0,
            connect_timeout_s: 1.0,
        };
        let e = callback(&s, cb).unwrap();
        assert_eq!((e.misdelivered, e.lost), (0.0, 0.0));
    }
}
