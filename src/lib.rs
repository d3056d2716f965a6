//! # realtime-lab
//!
//! See how the classic ways of getting data from a server to its clients in real time behave —
//! short polling, long polling, WebSockets, Server-Sent Events, and a server that stores every
//! client's address and calls it back — inside a deterministic network simulator ([turmoil]),
//! with real protocol bytes on the simulated wire, and compare them with numbers: server load,
//! delivery latency, traffic, privacy exposure — and with theory.
//!
//! ```
//! use realtime_lab::{run, Scenario, Source};
//!
//! let scenario = Scenario::from_toml(&Source {
//!     label: "doc example".into(),
//!     text: r#"
//!         name = "tiny"
//!         seed = 7
//!         duration_s = 5
//!         strategies = ["short-polling"]
//!         [clients]
//!         count = 10
//!         [events]
//!         rate_per_client_per_s = 1.0
//!     "#,
//! })?;
//! let strategy = realtime_lab::strategy::find("short-polling").unwrap();
//! let result = run(&scenario, strategy)?;
//! assert_eq!(result.summary.events_lost, 0);
//! assert_eq!(result.summary.events_delivered, result.summary.events_generated);
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! # Layout
//! | concept | module |
//! |---|---|
//! | scenario files, defaults, validation | [`scenario`] |
//! | the simulation harness, publisher, metering | [`sim`] |
//! | the `Strategy` trait and the registry | [`strategy`] |
//! | payload, HTTP header profiles, the SSE encoder/parser | [`protocol`] |
//! | counters, latencies, summary rows | [`metrics`] |
//! | closed-form predictions (theory beside simulation) | [`model`] |
//! | simulation vs theory, tolerances | [`check`] |
//! | CSV files, charts, palette, terminal tables | [`output`] |
//! | running a scenario end to end | [`runner`] |
//! | sweeps: parallel runs, shards, merge | [`sweep`] |
//! | progress bars | [`progress`] |
//! | helpers for the lecture notebooks | [`notebook`] |
//!
//! # Adding a strategy
//! See [`strategy`]: one file, one type implementing [`Strategy`], one entry in
//! [`strategy::ALL`]. A strategy defined outside the crate runs through [`run`] as well.

#![warn(missing_docs)]

/// plotters, for notebooks that draw their own charts (feature `notebook`).
#[cfg(feature = "notebook")]
pub use plotters;

pub mod check;
pub mod metrics;
pub mod model;
pub mod notebook;
pub mod output;
pub mod progress;
pub mod protocol;
pub mod runner;
pub mod scenario;
pub mod sim;
pub mod strategy;
pub mod sweep;

/// The crates a strategy is written with, re-exported so that a strategy defined outside this
/// crate (a notebook, an example) uses exactly the versions the simulator runs.
pub mod deps {
    pub use rand;
    pub use tokio;
    pub use turmoil;
}

pub use metrics::{Recorder, SummaryRow};
pub use scenario::{Scenario, ScenarioError, Source};
pub use sim::{run, RunResult};
pub use strategy::Strategy;
