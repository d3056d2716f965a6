//! `[reconnect]`: how a client waits before trying to connect again, as real client libraries
//! do (sources in `docs/sources.md`, "Real-system defaults" and "Backoff and jitter").
//!
//! A client waits as its policy says after a connection breaks (a reset, a proxy's cut, a
//! liveness timeout) and after every failed attempt (a refusal: `[server] max_connections`,
//! `accept_backlog`, or a server that is down). The policy is the strategy's own
//! (`reconnect = ...` in its table), else `[reconnect]`, else the strategy's default
//! ([`crate::Strategy::reconnect`]: fixed 1 s; SSE: `"eventsource"`). Attempt n (0 for the
//! first retry after a success) waits:
//!
//! | policy | wait before retry n | source |
//! |---|---|---|
//! | `"fixed"` (default) | 1 s | RFC 6298's initial retransmission timeout |
//! | `"immediate"` | 0 | — |
//! | `"eventsource"` | the server's `retry:`, 3 s until it says | Chromium's `EventSource` default reconnection time |
//! | `"socket.io"` | 1 s·2ⁿ ± 50 % (uniform), then capped at 5 s | socket.io-client `reconnectionDelay`, `randomizationFactor`, `reconnectionDelayMax` |
//! | `"signalr"` | 0, 2, 10, 30 s, then it gives up | `withAutomaticReconnect()` |
//! | `"centrifugo"` | min(20 s, 0.5 s + U[0, min(20 s, 0.5 s·2ⁿ)]) | centrifuge-js `minReconnectDelay`, `maxReconnectDelay` |
//! | `{ initial_ms, max_ms, multiplier, jitter }` | b = min(max, initial·multiplierⁿ), then `jitter` | AWS, "Exponential Backoff And Jitter" |
//!
//! Custom `jitter`: `"none"` waits b; `"full"` U[0, b]; `"equal"` b/2 + U[0, b/2];
//! `"decorrelated"` min(max, U[initial, 3 × the previous wait]) (the first: `initial`).
//! A custom table's defaults: `initial_ms = 1000`, `max_ms = 30000`, `multiplier = 2`,
//! `jitter = "full"`. Waits are drawn from the client's own seeded stream.

use std::time::Duration;

use rand::Rng;

/// How a client waits between connection attempts.
#[derive(Debug, Clone, PartialEq)]
pub enum Reconnect {
    /// Every wait is `ms` (`"fixed"`: 1,000; `"immediate"`: 0).
    Fixed {
        /// The wait, ms.
        ms: u64,
    },
    /// A browser's `EventSource`: every wait is the reconnection time, `ms` (3,000, Chromium's
    /// default) until the server's `retry:` field sets another.
    EventSource {
        /// The reconnection time, ms.
        ms: u64,
    },
    /// socket.io-client: 1 s·2ⁿ with ±50 % uniform jitter, capped at 5 s.
    SocketIo,
    /// SignalR's default automatic reconnect: 0, 2, 10 and 30 s, then give up.
    SignalR,
    /// centrifuge-js: min(20 s, 0.5 s + U\[0, min(20 s, 0.5 s·2ⁿ)\]).
    Centrifugo,
    /// Exponential backoff with one of the AWS jitter variants.
    Custom {
        /// The first wait's base, ms.
        initial_ms: u64,
        /// The cap, ms.
        max_ms: u64,
        /// Growth per attempt (1 = constant).
        multiplier: f64,
        /// How the wait is randomised.
        jitter: Jitter,
    },
}

/// The jitter variants of "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Wait the backoff itself.
    None,
    /// U\[0, backoff\].
    Full,
    /// backoff/2 + U\[0, backoff/2\].
    Equal,
    /// min(cap, U\[initial, 3 × previous wait\]).
    Decorrelated,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect::Fixed { ms: 1000 }
    }
}

/// The preset names, for messages.
pub const PRESETS: &str =
    "\"fixed\", \"immediate\", \"eventsource\", \"socket.io\", \"signalr\", \"centrifugo\"";

impl Reconnect {
    /// The wait before retry `attempt` (0 = the first retry), given the previous wait; `None`
    /// when the policy gives up.
    pub fn delay(&self, attempt: u32, previous: Duration, rng: &mut impl Rng) -> Option<Duration> {
        let ms = |v: f64| Duration::from_millis(v.max(0.0).round() as u64);
        let pow2 = |n: u32| 2f64.powi(n.min(40) as i32);
        Some(match *self {
            Reconnect::Fixed { ms: m } | Reconnect::EventSource { ms: m } => {
                Duration::from_millis(m)
            }
            Reconnect::SocketIo => {
                // backo2: ms = 1000·2ⁿ; deviation = ⌊r·0.5·ms⌋, subtracted or added by a coin
                // drawn from the same r; then capped at 5,000
                let base = 1000.0 * pow2(attempt);
                let r: f64 = rng.random();
                let deviation = (r * 0.5 * base).floor();
                let jittered = if ((r * 10.0).floor() as u64) & 1 == 0 {
                    base - deviation
                } else {
                    base + deviation
                };
                ms(jittered.min(5000.0))
            }
            Reconnect::SignalR => {
                let steps = [0, 2000, 10000, 30000];
                Duration::from_millis(*steps.get(attempt as usize)?)
            }
            Reconnect::Centrifugo => {
                let interval = (500.0 * pow2(attempt)).min(20_000.0);
                let u = rng.random_range(0.0..=interval);
                ms((500.0 + u).min(20_000.0))
            }
            Reconnect::Custom {
                initial_ms,
                max_ms,
                multiplier,
                jitter,
            } => {
                let (initial, cap) = (initial_ms as f64, max_ms as f64);
                let backoff = (initial * multiplier.powi(attempt.min(1000) as i32)).min(cap);
                match jitter {
                    Jitter::None => ms(backoff),
                    Jitter::Full => ms(rng.random_range(0.0..=backoff)),
                    Jitter::Equal => ms(backoff / 2.0 + rng.random_range(0.0..=backoff / 2.0)),
                    Jitter::Decorrelated => {
                        if attempt == 0 {
                            ms(initial.min(cap))
                        } else {
                            let hi = (3.0 * previous.as_millis() as f64).max(initial);
                            ms(rng.random_range(initial..=hi).min(cap))
                        }
                    }
                }
            }
        })
    }

    /// A short description for chart titles (`immediate`, `full jitter 1–30 s`).
    pub fn describe(&self) -> String {
        let secs = |ms: u64| {
            if ms % 1000 == 0 {
                format!("{} s", ms / 1000)
            } else {
                format!("{ms} ms")
            }
        };
        match *self {
            Reconnect::Fixed { ms: 0 } => "immediate".into(),
            Reconnect::Fixed { ms } => format!("every {}", secs(ms)),
            Reconnect::EventSource { ms } => format!("EventSource {}", secs(ms)),
            Reconnect::SocketIo => "Socket.IO".into(),
            Reconnect::SignalR => "SignalR".into(),
            Reconnect::Centrifugo => "Centrifugo".into(),
            Reconnect::Custom { initial_ms: 0, .. } => "immediate".into(),
            Reconnect::Custom {
                initial_ms,
                max_ms,
                multiplier,
                jitter,
            } => {
                let j = match jitter {
                    Jitter::None => "backoff",
                    Jitter::Full => "full-jitter backoff",
                    Jitter::Equal => "equal-jitter backoff",
                    Jitter::Decorrelated => "decorrelated backoff",
                };
                let growth = if multiplier == 2.0 {
                    String::new()
                } else {
                    format!(" ×{multiplier}")
                };
                format!("{j} {}–{}{growth}", secs(initial_ms), secs(max_ms))
            }
        }
    }

    /// Parse `[reconnect] policy`: a preset name or a table; the error is the message.
    pub(crate) fn parse(value: &toml::Value) -> Result<Reconnect, String> {
        match value {
            toml::Value::String(name) => match name.as_str() {
                "fixed" => Ok(Reconnect::Fixed { ms: 1000 }),
                "immediate" => Ok(Reconnect::Fixed { ms: 0 }),
                "eventsource" => Ok(Reconnect::EventSource { ms: 3000 }),
                "socket.io" => Ok(Reconnect::SocketIo),
                "signalr" => Ok(Reconnect::SignalR),
                "centrifugo" => Ok(Reconnect::Centrifugo),
                other => Err(format!(
                    "{} is not a policy; use one of {PRESETS}, or a table {{ initial_ms, max_ms, multiplier, jitter }}",
                    quoted(other)
                )),
            },
            toml::Value::Table(t) => {
                for key in t.keys() {
                    if !["initial_ms", "max_ms", "multiplier", "jitter"].contains(&key.as_str()) {
                        return Err(format!(
                            "unknown key {}; a custom policy has initial_ms, max_ms, multiplier and jitter",
                            quoted(key)
                        ));
                    }
                }
                let int = |key: &str, default: u64| -> Result<u64, String> {
                    match t.get(key) {
                        None => Ok(default),
                        Some(toml::Value::Integer(v)) if (0..=3_600_000).contains(v) => {
                            Ok(*v as u64)
                        }
                        Some(v) => Err(format!(
                            "`{key}` = {v} is not allowed; use whole milliseconds from 0 to 3600000"
                        )),
                    }
                };
                let initial_ms = int("initial_ms", 1000)?;
                let max_ms = int("max_ms", 30_000)?;
                if max_ms < initial_ms {
                    return Err(format!(
                        "`max_ms` ({max_ms}) is below `initial_ms` ({initial_ms}); the cap must be at least the first wait"
                    ));
                }
                let multiplier = match t.get("multiplier") {
                    None => 2.0,
                    Some(v) => match v.as_float().or(v.as_integer().map(|i| i as f64)) {
                        Some(m) if m.is_finite() && (1.0..=10.0).contains(&m) => m,
                        _ => {
                            return Err(format!(
                                "`multiplier` = {v} is not allowed; use 1 (constant) to 10"
                            ))
                        }
                    },
                };
                let jitter = match t.get("jitter").map(|v| v.as_str()) {
                    None => Jitter::Full,
                    Some(Some("none")) => Jitter::None,
                    Some(Some("full")) => Jitter::Full,
                    Some(Some("equal")) => Jitter::Equal,
                    Some(Some("decorrelated")) => Jitter::Decorrelated,
                    Some(_) => {
                        return Err(format!(
                            "`jitter` = {} is not allowed; use \"none\", \"full\", \"equal\" or \"decorrelated\"",
                            t["jitter"]
                        ))
                    }
                };
                Ok(Reconnect::Custom {
                    initial_ms,
                    max_ms,
                    multiplier,
                    jitter,
                })
            }
            other => Err(format!(
                "{other} is not a policy; use one of {PRESETS}, or a table {{ initial_ms, max_ms, multiplier, jitter }}"
            )),
        }
    }
}

/// User text in a message: at most 80 characters, quoted, control characters escaped.
fn quoted(text: &str) -> String {
    format!("{:?}", text.chars().take(80).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn waits(p: &Reconnect, n: u32, seed: u64) -> Vec<Option<u64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut prev = Duration::ZERO;
        (0..n)
            .map(|a| {
                let d = p.delay(a, prev, &mut rng)?;
                prev = d;
                Some(d.as_millis() as u64)
            })
            .collect()
    }

    /// SignalR's documented schedule: 0, 2, 10, 30 s, then it stops.
    #[test]
    fn signalr_waits_0_2_10_30_then_gives_up() {
        assert_eq!(
            waits(&Reconnect::SignalR, 6, 1),
            [Some(0), Some(2000), Some(10000), Some(30000), None, None]
        );
    }

    /// socket.io: attempt n lies in [0.5, 1.5] × 1 s·2ⁿ, capped at 5 s; from the 4th retry
    /// (base 8 s, at least 4 s) the cap decides almost always, and from the 5th (at least 8 s)
    /// always.
    #[test]
    fn socket_io_doubles_with_half_jitter_up_to_5_s() {
        for seed in 0..200 {
            let w = waits(&Reconnect::SocketIo, 7, seed);
            for (n, ms) in w.iter().enumerate() {
                let ms = ms.unwrap() as f64;
                let base = 1000.0 * 2f64.powi(n as i32);
                assert!(ms >= (0.5 * base).min(5000.0) - 1.0, "n={n}: {ms}");
                assert!(ms <= (1.5 * base).min(5000.0) + 1.0, "n={n}: {ms}");
            }
            assert_eq!(w[4], Some(5000));
            assert_eq!(w[6], Some(5000));
        }
    }

    /// centrifuge-js: 0.5 s + U[0, min(20 s, 0.5 s·2ⁿ)], capped at 20 s: the mean of the first
    /// wait is 0.5 + 0.25 = 0.75 s, and every wait from n = 6 (32 s > 20 s) is 20 s at most.
    #[test]
    fn centrifugo_uses_full_jitter_above_half_a_second() {
        let n = 4000;
        let mean: f64 = (0..n)
            .map(|s| waits(&Reconnect::Centrifugo, 1, s)[0].unwrap() as f64)
            .sum::<f64>()
            / n as f64;
        assert!((mean - 750.0).abs() < 10.0, "{mean}");
        for s in 0..100 {
            for (k, w) in waits(&Reconnect::Centrifugo, 8, s).iter().enumerate() {
                let w = w.unwrap();
                assert!((500..=20_000).contains(&w), "n={k}: {w}");
            }
        }
    }

    /// The AWS variants with base 100 ms, cap 10 s, multiplier 2, at attempt 3 (backoff
    /// 800 ms): none = 800; full ∈ [0, 800] with mean 400; equal ∈ [400, 800] with mean 600;
    /// decorrelated ∈ [100, 3 × previous], capped.
    #[test]
    fn aws_jitter_variants_follow_their_formulas() {
        let custom = |jitter| Reconnect::Custom {
            initial_ms: 100,
            max_ms: 10_000,
            multiplier: 2.0,
            jitter,
        };
        assert_eq!(
            waits(&custom(Jitter::None), 4, 1),
            [Some(100), Some(200), Some(400), Some(800)]
        );
        let at3 = |j, seed| waits(&custom(j), 4, seed)[3].unwrap() as f64;
        let n = 4000;
        let full: Vec<f64> = (0..n).map(|s| at3(Jitter::Full, s)).collect();
        let equal: Vec<f64> = (0..n).map(|s| at3(Jitter::Equal, s)).collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(full.iter().all(|&w| (0.0..=800.0).contains(&w)));
        assert!((mean(&full) - 400.0).abs() < 10.0, "{}", mean(&full));
        assert!(equal.iter().all(|&w| (400.0..=800.0).contains(&w)));
        assert!((mean(&equal) - 600.0).abs() < 6.0, "{}", mean(&equal));
        for s in 0..200 {
            let w = waits(&custom(Jitter::Decorrelated), 8, s);
            assert_eq!(w[0], Some(100));
            for k in 1..8 {
                let (prev, cur) = (w[k - 1].unwrap(), w[k].unwrap());
                assert!(
                    (100..=(3 * prev).clamp(100, 10_000)).contains(&cur),
                    "{w:?}"
                );
            }
        }
    }

    #[test]
    fn policies_parse_and_bad_ones_say_what_is_allowed() {
        let v = |s: &str| -> toml::Value {
            toml::from_str::<toml::Table>(&format!("p = {s}")).unwrap()["p"].clone()
        };
        assert_eq!(
            Reconnect::parse(&v("\"socket.io\"")),
            Ok(Reconnect::SocketIo)
        );
        assert_eq!(
            Reconnect::parse(&v("{ initial_ms = 50, max_ms = 800, jitter = \"equal\" }")),
            Ok(Reconnect::Custom {
                initial_ms: 50,
                max_ms: 800,
                multiplier: 2.0,
                jitter: Jitter::Equal
            })
        );
        for (bad, says) in [
            ("\"socketio\"", "\"socket.io\""),
            ("{ initial_ms = -1 }", "0 to 3600000"),
            ("{ initial_ms = 500, max_ms = 100 }", "cap"),
            ("{ multiplier = 0.5 }", "1 (constant) to 10"),
            ("{ jitter = \"half\" }", "decorrelated"),
            ("{ base = 1 }", "unknown key \"base\""),
            ("3", "not a policy"),
        ] {
            let e = Reconnect::parse(&v(bad)).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
