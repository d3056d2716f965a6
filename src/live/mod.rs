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
pub mod log;
mod run;
mod serve;

pub use serve::{serve, ServeOptions, Served};
pub(crate) use serve::{SERVING, STOP};

pub use run::{real_scenario, run, RealError};
mod compare;

pub use compare::{compare, TOLERANCE};

/// The tag a real run's conditions line (and so every chart title) carries.
pub const WORLD_TAG: &str = "world = real";

/// The conditions label of a real run: with the scenario's latency added, or bare loopback.
pub fn world_label(latency: bool) -> &'static str {
    if latency {
        "world = real (127.0.0.1, scenario latency added)"
    } else {
        "world = real (bare 127.0.0.1)"
    }
}

/// The most clients `load` runs in one process (four file descriptors each: two connections,
/// both ends).
pub const MAX_LOAD_CLIENTS: u64 = 10_000;

/// Make sure this process may open the sockets `scenario` needs (both ends of up to two
/// connections per client), raising the soft limit on open files up to the hard one.
pub fn fit_open_files(scenario: &crate::scenario::Scenario) -> anyhow::Result<()> {
    let need = 4 * scenario.clients.count + 256;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Ok(()); // cannot tell: let the run say if it runs out
    }
    if lim.rlim_cur >= need {
        return Ok(());
    }
    if lim.rlim_max < need {
        anyhow::bail!(
            "{} clients need about {need} open files (sockets); this shell allows {} (`ulimit -Hn`): use fewer clients or raise the limit",
            scenario.clients.count,
            lim.rlim_max
        );
    }
    lim.rlim_cur = need;
    // SAFETY: setrlimit reads the struct we own
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        anyhow::bail!("could not raise the open-file limit to {need}");
    }
    Ok(())
}
