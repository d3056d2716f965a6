//! # realtime-lab
//!
//! See how the classic ways of getting data from a server to its clients in real time behave —
//! short polling, long polling, WebSockets, Server-Sent Events, and a server that stores every
//! client's address and calls it back — inside a deterministic network simulator
//! ([turmoil](https://github.com/tokio-rs/turmoil)), with real protocol bytes on the simulated
//! wire, and compare them with numbers: server load, delivery latency, traffic, privacy
//! exposure — and with theory.
//!
//! # Your own strategy, as a peer of the built-ins
//! A strategy is a type implementing [`Strategy`]; a [`Lab`] is the set of strategies the
//! scenario parser, the runner, `model.csv`, the charts and the command line know. This one
//! polls with a random pause, reusing the polling building blocks of the built-ins, and reads
//! its own `[jittered-polling]` table:
//!
//! ```
//! use std::time::Duration;
//! use realtime_lab::strategies::polling::{self, Poller};
//! use realtime_lab::{
//!     check_seconds, ClientCtx, Lab, LocalBoxFuture, Scenario, ServerCtx, Settings,
//!     SettingsError, Source, Strategy, StrategyResult,
//! };
//! use realtime_lab::deps::rand::Rng;
//!
//! struct JitteredPolling;
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Knobs {
//!     #[serde(default = "two_seconds")] // every setting needs a default: see `Strategy::check`
//!     max_pause_s: f64,
//! }
//! fn two_seconds() -> f64 { 2.0 }
//!
//! impl Strategy for JitteredPolling {
//!     fn id(&self) -> &'static str { "jittered-polling" }
//!     fn summary(&self) -> &'static str { "polls after a random pause" }
//!     fn check(&self, settings: &Settings, _: &Scenario) -> Result<(), SettingsError> {
//!         let k: Knobs = settings.parse()?;
//!         check_seconds("max_pause_s", k.max_pause_s, 0.001, 60.0)
//!     }
//!     fn longest_period(&self, settings: &Settings) -> Duration {
//!         settings.parse::<Knobs>().map_or(Duration::ZERO, |k| Duration::from_secs_f64(k.max_pause_s))
//!     }
//!     fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<StrategyResult> {
//!         Box::pin(polling::serve(ctx, Duration::ZERO)) // answer at once
//!     }
//!     fn client(&self, ctx: ClientCtx) -> LocalBoxFuture<StrategyResult> {
//!         Box::pin(async move {
//!             let max_ms = (ctx.settings().parse::<Knobs>()?.max_pause_s * 1000.0) as u64;
//!             let mut rng = ctx.rng();
//!             let poller = Poller::connect(ctx).await?;
//!             poller
//!                 .run_until_closing(move || {
//!                     let pause = Duration::from_millis(rng.random_range(0..=max_ms));
//!                     Some(tokio::time::sleep(pause))
//!                 })
//!                 .await?;
//!             Ok(())
//!         })
//!     }
//! }
//!
//! let lab = Lab::builtin().with(&JitteredPolling);
//! let scenario = lab.parse(&Source {
//!     label: "doc example".into(),
//!     text: r#"
//!         name = "tiny"
//!         duration_s = 10
//!         strategies = ["short-polling", "jittered-polling"]
//!         [clients]
//!         count = 20
//!         [events]
//!         rate_per_client_per_s = 0.5
//!         [jittered-polling]
//!         max_pause_s = 2
//!     "#,
//! })?;
//! let results = lab.simulate(&scenario, 1)?;
//! for r in &results {
//!     assert_eq!(r.summary.events_lost, 0);
//!     assert_eq!(r.summary.events_delivered, r.summary.events_generated);
//! }
//! // A misspelled key is refused with the file, field and line:
//! let bad = lab.parse(&Source {
//!     label: "bad.toml".into(),
//!     text: "name = \"x\"\n[events]\nrate_per_s = 1\n[jittered-polling]\nmax_pause = 2\n",
//! });
//! assert!(bad.unwrap_err().to_string().contains("`jittered-polling.max_pause` (line 5)"));
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! A binary with every subcommand for that lab is
//! `fn main() -> ExitCode { realtime_lab::cli::main_with(Lab::builtin().with(&JitteredPolling)) }`
//! (see `examples/adaptive_polling.rs`).
//!
//! # Where to look
//! | concept | where |
//! |---|---|
//! | the registry value | [`Lab`] (`src/lab.rs`) |
//! | the extension trait, its contexts | [`Strategy`], [`ServerCtx`], [`ClientCtx`] (`src/sim/strategy.rs`, `src/sim/ctx.rs`) |
//! | the built-in strategies, each with its closed form | [`strategies`] (`src/strategy/*.rs`) |
//! | scenario files, defaults, validation | [`scenario`] |
//! | the simulation harness, publisher, metering, wire model | `src/sim/` |
//! | shared maths of the closed forms | [`model`] |
//! | payload, HTTP header profiles, the SSE encoder/parser | [`protocol`] |
//! | the command line | [`cli`] |
//! | running, sweeps, shards, merge | `src/runner.rs`, `src/sweep.rs` |
//! | CSV files, charts, terminal tables | `src/output/` |
//! | helpers for the lecture notebooks | [`notebook`] |

#![warn(missing_docs)]

/// plotters, for notebooks that draw their own charts (feature `notebook`).
#[cfg(feature = "notebook")]
pub use plotters;

pub mod addresses;
pub mod capacity;
pub mod check;
pub mod cli;
pub mod estimate;
mod lab;
pub mod live;
mod metrics;
pub mod model;
pub mod notebook;
mod output;
pub mod privacy;
mod progress;
pub mod protocol;
pub mod resilience;
mod runner;
pub mod scenario;
mod server;
mod sim;
mod strategy;
mod style;
mod sweep;
pub mod trace;

/// The built-in strategies, and the building blocks they share (public, so a strategy written
/// outside this crate can use them).
pub mod strategies {
    pub use crate::strategy::http;
    pub use crate::strategy::polling;
    pub use crate::strategy::{LongPolling, ServerCallback, ShortPolling, Sse, WebSocket};
}

/// The crates a strategy is written with, re-exported so that a strategy defined outside this
/// crate (a notebook, an example) uses exactly the versions the simulator runs.
///
/// `serde`'s derive macros look for a crate named `serde`: add it to your own `Cargo.toml`
/// (`serde = { version = "1", features = ["derive"] }`) to derive a settings type.
pub mod deps {
    pub use bytes;
    pub use http;
    pub use http_body_util;
    pub use hyper;
    pub use rand;
    pub use rand_chacha;
    pub use serde;
    pub use tokio;
}

pub use lab::Lab;
pub use metrics::{now_ms, SecondRow, SummaryRow};
pub use runner::Written;
pub use scenario::{Scenario, ScenarioError, Source};
pub use sim::{
    check_seconds, AddressHold, ClientCtx, Event, Feed, Listener, LocalBoxFuture, Metered, Parked,
    RegistryEntry, Run, RunResult, ServerCtx, Settings, SettingsError, Strategy, StrategyResult,
    StreamHold, Work, WorkDone, REFUSED_RETRY,
};
pub use sim::{gave_up, GaveUp};
pub use style::{okabe_ito, Dash, Look};
pub use sweep::Shard;
