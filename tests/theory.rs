//! Simulation against the closed forms of `docs/theory.md`: N clients,
//! constant one-way delay d (G = 2d), per-client Poisson events of rate λ, no loss.
//!
//! Tolerances are the ones the foundation issue sets; seeds are fixed, so a failure means the
//! behaviour changed, not bad luck. Each scenario measures after every client has connected.

mod common;

use common::{assert_close, run, scenario};

fn polling(n: u64, lambda: f64, d: u64, interval: f64, timer: &str) -> realtime_lab::SummaryRow {
    let s = scenario(&format!(
        "name = \"sp\"\nseed = 5\nduration_s = 70\nwarmup_s = 10\n\
         [clients]\ncount = {n}\nconnect_over_s = 2\n\
         [events]\nrate_per_client_per_s = {lambda}\n[network]\nlatency_ms = {d}\n\
         [short-polling]\ninterval_s = {interval}\ntimer = \"{timer}\"\n"
    ));
    run(&s, "short-polling").summary
}

/// Short polling, cycle C: requests/s = N/C, latency ~ d + U(0, C), empty fraction e^(−λC).
fn check_short_polling(timer: &str, cycle: f64, sum: &realtime_lab::SummaryRow) {
    let (n, lambda, d) = (200.0, 0.5, 50.0);
    assert_close(
        &format!("{timer} requests/s"),
        sum.requests_per_s,
        n / cycle,
        0.01,
    );
    assert_close(
        &format!("{timer} mean latency"),
        sum.latency_mean_ms,
        d + cycle * 1000.0 / 2.0,
        0.02,
    );
    let max = d + cycle * 1000.0 + 2.0;
    assert!(
        sum.latency_max_ms as f64 <= max,
        "{timer}: max latency {} > d + C + 2 ms = {max}",
        sum.latency_max_ms
    );
    let empty = sum.empty_responses as f64 / sum.requests as f64;
    let predicted = (-lambda * cycle).exp();
    assert!(
        (empty - predicted).abs() <= 0.02,
        "{timer}: empty fraction {empty:.4}, predicted e^(−λC) = {predicted:.4}"
    );
}

#[test]
fn fixed_rate_short_polling_matches_the_closed_form() {
    // C = I
    check_short_polling("fixed-rate", 1.0, &polling(200, 0.5, 50, 1.0, "fixed-rate"));
}

#[test]
fn after_response_short_polling_matches_the_closed_form() {
    // C = I + 2d: the interval starts when the answer arrives
    check_short_polling(
        "after-response",
        1.1,
        &polling(200, 0.5, 50, 1.0, "after-response"),
    );
}

struct LongPoll {
    requests_per_s: f64,
    latency_mean_ms: f64,
    empty_fraction: f64,
}

/// docs/theory.md: E[park] = e^(−λG)(1 − e^(−λT))/λ; E[cycle] = G + E[park];
/// requests/s = N/E[cycle]; latency mean d + G²/(2·E[cycle]); empty e^(−λ(G+T)).
fn long_polling_model(n: f64, lambda: f64, d_s: f64, t: f64) -> LongPoll {
    let g = 2.0 * d_s;
    let park = (-lambda * g).exp() * (1.0 - (-lambda * t).exp()) / lambda;
    let cycle = g + park;
    LongPoll {
        requests_per_s: n / cycle,
        latency_mean_ms: (d_s + g * g / (2.0 * cycle)) * 1000.0,
        empty_fraction: (-lambda * (g + t)).exp(),
    }
}

fn long_polling(
    n: u64,
    lambda: f64,
    d: u64,
    timeout: f64,
    duration: u64,
) -> realtime_lab::SummaryRow {
    let s = scenario(&format!(
        "name = \"lp\"\nseed = 9\nduration_s = {duration}\nwarmup_s = 10\n\
         [clients]\ncount = {n}\nconnect_over_s = 2\n\
         [events]\nrate_per_client_per_s = {lambda}\n[network]\nlatency_ms = {d}\n\
         [long-polling]\ntimeout_s = {timeout}\n"
    ));
    run(&s, "long-polling").summary
}

#[test]
fn long_polling_matches_the_closed_form_at_a_moderate_rate() {
    let sum = long_polling(1000, 0.2, 50, 30.0, 110);
    let m = long_polling_model(1000.0, 0.2, 0.05, 30.0);
    assert_close("requests/s", sum.requests_per_s, m.requests_per_s, 0.02);
    assert_close("mean latency", sum.latency_mean_ms, m.latency_mean_ms, 0.02);
    assert!(
        sum.latency_max_ms <= 150,
        "max latency {} > d + G",
        sum.latency_max_ms
    );
    assert_eq!(
        sum.latency_p50_ms, 50,
        "most events take exactly one transit"
    );
}

#[test]
fn long_polling_with_rare_events_times_out_every_t_plus_2d() {
    // λT ≪ 1: almost every request waits the full timeout and gets a 204.
    let sum = long_polling(200, 0.0005, 50, 2.0, 60);
    let m = long_polling_model(200.0, 0.0005, 0.05, 2.0);
    assert_close("requests/s", sum.requests_per_s, m.requests_per_s, 0.02);
    assert_close(
        "requests/s ≈ N/(T + 2d)",
        sum.requests_per_s,
        200.0 / 2.1,
        0.02,
    );
    let empty = sum.empty_responses as f64 / sum.requests as f64;
    assert!(
        (empty - m.empty_fraction).abs() < 0.01,
        "204 fraction {empty:.4}, predicted {:.4}",
        m.empty_fraction
    );
}

#[test]
fn long_polling_with_bursty_events_degenerates_to_polling_with_batches() {
    // λ·2d = 5 ≫ 1: a request almost always finds events waiting, so the cycle is one round
    // trip and latency averages d + G/2, like polling every 2d.
    let sum = long_polling(20, 50.0, 50, 30.0, 30);
    let m = long_polling_model(20.0, 50.0, 0.05, 30.0);
    assert_close("requests/s", sum.requests_per_s, m.requests_per_s, 0.02);
    assert_close("mean latency", sum.latency_mean_ms, m.latency_mean_ms, 0.02);
    assert!(sum.empty_responses == 0);
}
