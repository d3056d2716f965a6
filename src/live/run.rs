//! One scenario's server and clients over real sockets on 127.0.0.1, in one process, with the
//! simulator's recorder: `realtime-lab load` (and the real-socket tests).
//!
//! It mirrors the simulated harness (`sim::run`): the same contexts, feed, publisher and
//! recorder; the server listens on a free loopback port the harness binds first, so the
//! clients know where to connect. A driver task closes each real second, as the simulator
//! closes each simulated one, and raises the end-of-run signal under the same rules (every
//! event delivered, or the grace period over), then gives the strategies the same time to
//! close their connections.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::scenario::Scenario;
use crate::sim::net::{RealNet, World};
use crate::sim::{RunResult, Strategy};

/// Why a scenario cannot run on real sockets.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RealError(pub String);

/// The scenario a real run of `strategy` uses: `scenario` without the modelled server (the real
/// machine is the server), or why it cannot run on real sockets.
pub fn real_scenario(scenario: &Scenario, strategy: &str) -> Result<Scenario, RealError> {
    if strategy == "server-callback" {
        return Err(RealError(
            "server-callback needs the simulator: on real sockets every client is on 127.0.0.1, \
             so addresses, NAT and their changes (its whole lesson) cannot happen; leave it out \
             with --strategy"
                .into(),
        ));
    }
    let mut why = Vec::new();
    if !scenario.faults.is_empty() {
        why.push("[[faults]]");
    }
    if scenario.proxy.idle_timeout_s.is_some() {
        why.push("[proxy] idle_timeout_s");
    }
    if scenario.network.loss > 0.0 {
        why.push("[network] loss");
    }
    if scenario.clients.online_s.is_some() {
        why.push("[clients] online_s");
    }
    if scenario.clients.address_change_per_hour > 0.0 {
        why.push("[clients] address_change_per_hour");
    }
    if !why.is_empty() {
        return Err(RealError(format!(
            "{}: {} {} made by the simulator; real sockets on one machine have none of them \
             (remove {} to run it for real)",
            scenario.name,
            why.join(", "),
            if why.len() == 1 { "is" } else { "are" },
            if why.len() == 1 { "it" } else { "them" },
        )));
    }
    if scenario.sweep.is_some() {
        return Err(RealError(format!(
            "{}: a sweep runs many simulations; run one of its points for real (a file without [sweep])",
            scenario.name
        )));
    }
    let mut s = scenario.clone();
    // the real machine's cores and limits are the server's: no modelled queue in front of them
    s.server.cores = None;
    s.server.max_connections = None;
    s.server.accept_backlog = None;
    Ok(s)
}

/// Run `strategy`'s server and `scenario`'s clients over real loopback sockets, in real time;
/// `progress(now_ms, duration_ms)` is called once a second. `scenario` must come from
/// [`real_scenario`].
/// `latency`: add the scenario's one-way latency to every read of both ends (see
/// `DelayLine` in `sim::net`); `false`: bare loopback (~0.1 ms).
pub fn run(
    scenario: &Scenario,
    strategy: &dyn Strategy,
    latency: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<RunResult> {
    run_inner(scenario, strategy, latency, None, progress)
}

/// Only the clients of a real run, against a server already listening at `server` (another
/// process: `calibrate` measures that one alone). What the result says of the server side
/// (events generated, requests) is empty: it is the other process's.
pub(crate) fn run_clients(
    scenario: &Scenario,
    strategy: &dyn Strategy,
    server: std::net::SocketAddr,
) -> anyhow::Result<RunResult> {
    run_inner(scenario, strategy, false, Some(server), &mut |_, _| {})
}

fn run_inner(
    scenario: &Scenario,
    strategy: &dyn Strategy,
    latency: bool,
    target: Option<std::net::SocketAddr>,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<RunResult> {
    let (listener, server) = match target {
        Some(addr) => (None, addr),
        None => {
            let l = std::net::TcpListener::bind(("127.0.0.1", 0))
                .context("binding a loopback port for the server")?;
            let addr = l.local_addr()?;
            (Some(l), addr)
        }
    };
    let world = World::Real(Rc::new(RealNet {
        listener: Cell::new(listener),
        server,
        latency: latency.then_some(scenario.network.latency_ms),
    }));
    let made = crate::sim::parts(scenario, strategy, world);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let local = tokio::task::LocalSet::new();
    let clock = crate::metrics::start_real_clock(Instant::now());
    let rec = made.rec.clone();
    let now = local.block_on(&rt, async {
        if target.is_none() {
            let ctx = made.server_ctx.clone();
            tokio::task::spawn_local(crate::sim::feed_publisher(&ctx));
            let server = strategy.server(ctx);
            let failed = rec.clone();
            tokio::task::spawn_local(async move {
                if let Err(e) = server.await {
                    failed
                        .borrow_mut()
                        .client_failed(format!("the server failed: {e}"));
                }
            });
        }
        let connect_over_ms = (scenario.clients.connect_over_s * 1000.0) as u64;
        let host: Rc<str> = Rc::from("localhost");
        for id in 0..made.n {
            let client = strategy.client(made.client(id, 0, host.clone()));
            let start = Duration::from_millis(connect_over_ms * id as u64 / made.n as u64);
            let rec = rec.clone();
            tokio::task::spawn_local(async move {
                tokio::time::sleep(start).await;
                if let Err(e) = client.await {
                    if crate::sim::gave_up(e.as_ref()) {
                        rec.borrow_mut().client_gave_up();
                    } else {
                        rec.borrow_mut().client_failed(e.to_string());
                    }
                }
            });
        }
        drive(&made, progress).await
    });
    rec.borrow_mut().ended(now);
    drop(clock);
    drop(local);
    drop(rt);
    crate::sim::result_of(&rec, strategy.id(), made.n, now)
}

/// Close each real second and end the run as the simulated harness does; returns when.
async fn drive(made: &crate::sim::Parts, progress: &mut dyn FnMut(u64, u64)) -> u64 {
    let rec = &made.rec;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_second = 1;
    let mut closing_since = None;
    loop {
        tick.tick().await;
        let now = crate::metrics::now_ms();
        while now >= next_second * 1000 {
            rec.borrow_mut().end_second(next_second - 1);
            progress(next_second * 1000, made.duration_ms);
            next_second += 1;
        }
        match closing_since {
            None => {
                let done = now >= made.duration_ms && rec.borrow().all_delivered();
                if done || now >= made.end_ms {
                    closing_since = Some(now);
                    rec.borrow_mut().closing();
                    made.closing.raise();
                }
            }
            Some(since) => {
                if rec.borrow().open_connection_count() == 0 || now >= since + made.close_for_ms {
                    if now > (next_second - 1) * 1000 {
                        rec.borrow_mut().end_second(next_second - 1);
                    }
                    return now;
                }
            }
        }
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
