//! The real world: the same strategies on real sockets of this machine.
//!
//! The strategies' code is the simulator's: their contexts hand them streams and listeners
//! over real tokio sockets (see `sim::net`), and the clock is the real one. What this module
//! adds is the harness around them:
//!
//! - [`run`]: a scenario's server and clients in one process over 127.0.0.1 (`realtime-lab
//!   load`), with the same recorder, CSV and charts as a simulation;
//! - `serve`: the publisher and every strategy's server, behind one front door with a web page
//!   whose panels use the browser's own `fetch`, `WebSocket` and `EventSource`;
//! - `calibrate`: the machine's CPU and memory cost per request, frame, record and connection.

pub mod calibrate;
mod front;
pub mod guard;
mod run;
mod serve;

pub use serve::{serve, ServeOptions, Served, SERVE_HISTORY, SERVE_MAX_EVENTS_PER_S};
pub(crate) use serve::{SERVING, STOP};

pub use run::{fit_open_files, real_scenario, run, RealError, MAX_LOAD_CLIENTS};
mod compare;

/// One-line log messages of a real run or `serve`.
pub mod log {
    pub use crate::sim::log::{line, set_quiet};
}

pub use compare::{compare, TOLERANCE};

pub use crate::runner::{world_label, WORLD_TAG};
