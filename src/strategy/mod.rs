//! The built-in strategies, one file each, and their registry.
//!
//! Each file holds one type implementing [`crate::Strategy`], its settings, its closed form
//! ([`crate::Strategy::model`]) and its look, with a module doc in four parts: *What it is*,
//! *How it works* (a sequence diagram), *Trade-offs*, *What to watch in the charts*.
//!
//! # Adding a built-in strategy
//! Write `src/strategy/<name>.rs` and add two lines here: `mod <name>;` and `&<name>::Name` in
//! [`BUILTIN`]. Nothing else in the crate names strategies: the scenario parser, the CLI,
//! `model.csv` and the charts take them from the [`crate::Lab`]. The registry-wide tests
//! (`tests/registry.rs`) then check it. The full guide is `CONTRIBUTING.md`.
//!
//! The building blocks the built-ins share are public in [`crate::strategies`], for
//! strategies written outside the crate.

pub mod http;
mod long_polling;
pub mod polling;
mod remask;
mod server_callback;
mod short_polling;
mod sse;
mod websocket;

use crate::sim::Strategy;

pub use long_polling::LongPolling;
pub use server_callback::ServerCallback;
pub use short_polling::ShortPolling;
pub use sse::Sse;
pub use websocket::WebSocket;

/// Every built-in strategy, in the order tables and charts list them.
pub(crate) const BUILTIN: &[&dyn Strategy] = &[
    &ShortPolling,
    &LongPolling,
    &WebSocket,
    &Sse,
    &ServerCallback,
];
