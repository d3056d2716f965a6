//! Scenario values that take more than one shape (a number *or* a table, a name *or* a table),
//! with hand-written visitors so that a wrong shape gets a message saying which shapes work,
//! instead of serde's "data did not match any variant".

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// One-way network latency: `latency_ms = 50` or `latency_ms = { min = 20, max = 80 }`.
///
/// A range uses turmoil's latency model: `min + (max - min) * X` with X drawn from an
/// exponential distribution of rate 5, capped at `max`, rounded to whole ticks (1 ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// Smallest one-way delay, ms.
    pub min_ms: u64,
    /// Largest one-way delay, ms (equal to `min_ms` for a constant latency).
    pub max_ms: u64,
}

impl Latency {
    /// Whether every message takes exactly the same time.
    pub fn is_constant(&self) -> bool {
        self.min_ms == self.max_ms
    }
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            min_ms: 50,
            max_ms: 50,
        }
    }
}

/// The longest one-way delay a link may have: 10 s (a geostationary satellite hop is about
/// 0.27 s one way).
pub const MAX_LATENCY_MS: u64 = 10_000;

const LATENCY_SHAPES: &str = "a whole number of milliseconds (latency_ms = 50) or a table \
                              latency_ms = { min = 20, max = 80 }";

fn whole_ms<E: de::Error>(v: f64) -> Result<u64, E> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= MAX_LATENCY_MS as f64 {
        Ok(v as u64)
    } else {
        Err(E::custom(format!(
            "{v} is not a whole number of milliseconds from 0 to {MAX_LATENCY_MS} (the simulation ticks every 1 ms; a one-way delay of seconds is an outage, not a link)"
        )))
    }
}

impl<'de> Deserialize<'de> for Latency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Latency;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(LATENCY_SHAPES)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Latency, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Latency, E> {
                self.visit_f64(v as f64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Latency, E> {
                let ms = whole_ms(v)?;
                Ok(Latency {
                    min_ms: ms,
                    max_ms: ms,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Latency, A::Error> {
                let (mut min, mut max) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    let value: f64 = map.next_value()?;
                    match key.as_str() {
                        "min" => min = Some(whole_ms::<A::Error>(value)?),
                        "max" => max = Some(whole_ms::<A::Error>(value)?),
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown key `{other}` in latency_ms; allowed: `min`, `max`"
                            )))
                        }
                    }
                }
                match (min, max) {
                    (Some(min_ms), Some(max_ms)) if min_ms <= max_ms => {
                        Ok(Latency { min_ms, max_ms })
                    }
                    (Some(min), Some(max)) => Err(de::Error::custom(format!(
                        "min ({min}) must not exceed max ({max})"
                    ))),
                    _ => Err(de::Error::custom(
                        "a latency range needs both `min` and `max`",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}

pub use crate::protocol::http_heads::HeaderProfile;

const HEADER_SHAPES: &str = "\"minimal\", \"browser\", or a table \
                             headers = { request_bytes = 700, response_bytes = 200 }";

impl<'de> Deserialize<'de> for HeaderProfile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HeaderProfile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(HEADER_SHAPES)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HeaderProfile, E> {
                match v {
                    "minimal" => Ok(HeaderProfile::Minimal),
                    "browser" => Ok(HeaderProfile::Browser),
                    other => Err(E::custom(format!(
                        "unknown header profile \"{other}\"; allowed: {HEADER_SHAPES}"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeaderProfile, A::Error> {
                let (mut req, mut resp) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    let value: u64 = map.next_value()?;
                    match key.as_str() {
                        "request_bytes" => req = Some(value),
                        "response_bytes" => resp = Some(value),
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown key `{other}` in headers; allowed: `request_bytes`, `response_bytes`"
                            )))
                        }
                    }
                }
                match (req, resp) {
                    (Some(request_bytes), Some(response_bytes)) => Ok(HeaderProfile::Padded {
                        request_bytes,
                        response_bytes,
                    }),
                    _ => Err(de::Error::custom(
                        "padded headers need both `request_bytes` and `response_bytes`",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}
