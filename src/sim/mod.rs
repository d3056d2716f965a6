//! The harness: one turmoil simulation per (scenario, strategy) run.
//!
//! ```text
//!   server host ── strategy.server(ServerCtx) ◄── publisher (Poisson events → Feed)
//!   pool-0 … pool-K hosts ── N × strategy.client(ClientCtx), as tasks
//!   every TCP stream metered ──► Recorder ──► RunResult
//! ```
//!
//! Rules from measurements (see `docs/sources.md`, "The turmoil simulator"):
//! - clients are tasks on a few pool hosts, not a host each: turmoil's per-tick cost grows
//!   steeply with the number of hosts;
//! - the RNG seed and the epoch are fixed, the tick is 1 ms, `tcp_capacity` (also the accept
//!   backlog) is at least the client count;
//! - the run is driven with `step()` so the recorder can close each simulated second.

mod ctx;
pub(crate) mod faults;
mod feed;
pub(crate) mod log;
mod meter;
pub(crate) mod net;
mod settings;
mod strategy;
pub(crate) mod wire;

use std::rc::Rc;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context as _};

pub use crate::server::Work;
pub(crate) use ctx::Closing;
pub use ctx::{
    gave_up, AddressHold, ClientCtx, GaveUp, Parked, RegistryEntry, Run, ServerCtx, StreamHold,
    WorkDone, REFUSED_RETRY,
};
pub use feed::{Event, Feed};
pub use meter::{Listener, Metered};
pub use settings::{check_seconds, Settings, SettingsError};
pub use strategy::{LocalBoxFuture, Strategy, StrategyResult};

use crate::metrics::{Recorder, SecondRow, SummaryRow};
use crate::scenario::Scenario;

/// The simulation's fixed epoch: 2024-01-01T00:00:00Z (never "now").
pub const EPOCH_UNIX_S: u64 = 1_704_067_200;

/// What one (scenario, strategy) run measured.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Strategy id.
    pub strategy: String,
    /// The `summary.csv` row.
    pub summary: SummaryRow,
    /// One row per simulated second, from 0.
    pub seconds: Vec<SecondRow>,
    /// `latency[ms]` = events created in the window that took `ms` to arrive.
    pub latency: Vec<u64>,
    /// Deliveries per event type, in the order of the scenario's `events.types`.
    pub delivered_by_type: Vec<(String, u64)>,
    /// Simulated milliseconds the run lasted (events, delivery of the last ones, closing).
    pub simulated_ms: u64,
    /// The traced client's exchange (`[simulation] trace_client`), every connection.
    pub trace: crate::trace::Trace,
}

/// How many client pool hosts to spread `clients` over.
///
/// Default: one per 1,000 clients, 1 to 10 — but never fewer than keep every host under
/// [`PORTS_PER_HOST`] connections at two per client (a poll or stream connection and an
/// upstream one): turmoil gives each host 16,384 ephemeral ports.
pub fn pool_hosts(scenario: &Scenario) -> usize {
    let n = scenario.clients.count as usize;
    let for_ports = (2 * n).div_ceil(PORTS_PER_HOST);
    scenario
        .simulation
        .pool_hosts
        .map(|k| k as usize)
        .unwrap_or_else(|| n.div_ceil(1000).clamp(1, 10).max(for_ports))
        .min(n)
}

/// Check what the simulator needs of a scenario beyond its own ranges: `(field path,
/// message)` on failure.
pub(crate) fn check(s: &Scenario) -> Result<(), (Vec<&'static str>, String)> {
    if let Some(k) = s.simulation.pool_hosts {
        let needed = (2 * s.clients.count).div_ceil(PORTS_PER_HOST as u64);
        if k < needed {
            return Err((
                vec!["simulation", "pool_hosts"],
                format!(
                    "{k} pool hosts cannot hold {} clients (a simulated host has 16,384 ports, two connections per client); use at least {needed}",
                    s.clients.count
                ),
            ));
        }
    }
    Ok(())
}

/// Connections one pool host may hold: turmoil's 16,384 ephemeral ports, less a margin.
pub const PORTS_PER_HOST: usize = 16_000;

/// Run `strategy` under `scenario`: build the simulation, step it to the end, collect results.
pub fn run(scenario: &Scenario, strategy: &dyn Strategy) -> anyhow::Result<RunResult> {
    run_observed(scenario, strategy, &mut |_, _| {})
}

/// [`run`], calling `progress(simulated_ms, expected_end_ms)` once per simulated second.
pub fn run_observed(
    scenario: &Scenario,
    strategy: &dyn Strategy,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<RunResult> {
    run_inner(scenario, strategy, progress, None)
}

/// The exchange of `[simulation] trace_client` under `strategy`, simulating only until
/// `until_ms` (what `realtime-lab trace` prints).
pub fn trace(
    scenario: &Scenario,
    strategy: &dyn Strategy,
    until_ms: u64,
) -> anyhow::Result<crate::trace::Trace> {
    // a little longer, so that what was sent before `until_ms` has arrived
    let stop = until_ms + 2 * scenario.network.latency_ms.max_ms + 1_000;
    Ok(run_inner(scenario, strategy, &mut |_, _| {}, Some(stop))?.trace)
}

/// What a run of either world is made of: the recorder, the shared run, the server's context
/// and the run's timing.
pub(crate) struct Parts {
    pub(crate) rec: crate::metrics::RecorderHandle,
    pub(crate) run: Rc<ctx::Run>,
    pub(crate) server_ctx: ServerCtx,
    pub(crate) closing: Rc<Closing>,
    pub(crate) faults: Option<Rc<faults::Faults>>,
    pub(crate) n: usize,
    pub(crate) duration_ms: u64,
    pub(crate) end_ms: u64,
    pub(crate) close_for_ms: u64,
}

/// Build the parts of a run of `strategy` under `scenario` in `world`.
pub(crate) fn parts(scenario: &Scenario, strategy: &dyn Strategy, world: net::World) -> Parts {
    parts_bounded(scenario, strategy, world, None)
}

/// [`parts`] whose mailboxes keep at most `history` events per client, if the strategy keeps
/// more (a server nobody reads most mailboxes of: `serve`).
pub(crate) fn parts_bounded(
    scenario: &Scenario,
    strategy: &dyn Strategy,
    world: net::World,
    history: Option<usize>,
) -> Parts {
    let settings = Rc::new(Settings::new(
        strategy.id(),
        scenario.strategy_table(strategy.id()),
    ));
    let n = scenario.clients.count as usize;
    let duration_ms = (scenario.duration_s * 1000.0) as u64;
    let warmup_ms = (scenario.warmup_s * 1000.0) as u64;
    let grace_ms = match scenario.simulation.grace_s {
        Some(g) => (g * 1000.0) as u64,
        None => strategy.longest_period(&settings).as_millis() as u64 + 10_000,
    };
    let end_ms = duration_ms + grace_ms;
    let lat = scenario.network.latency_ms;
    // after closing, time for the strategies to close their connections cleanly
    let close_for_ms =
        1_000 + 4 * lat.max_ms + strategy.longest_period(&settings).as_millis() as u64;

    let faults = faults::Faults::of(scenario);
    let policy = scenario
        .strategy_reconnect
        .get(strategy.id())
        .or(scenario.reconnect.as_ref())
        .cloned()
        .unwrap_or_else(|| strategy.reconnect());
    let rec = Recorder::new(n, warmup_ms, duration_ms, &scenario.events.types).shared();
    rec.borrow_mut()
        .set_registry_entry_bytes(scenario.privacy.store_addresses.entry_bytes());
    rec.borrow_mut().set_server(scenario);
    rec.borrow_mut().set_access_log(
        scenario
            .privacy
            .access_log
            .then_some(scenario.privacy.retention_days * 86_400.0),
    );
    if let Some(plan) = faults.as_ref().and_then(|f| f.plan.clone()) {
        rec.borrow_mut().set_address_plan(plan);
    }
    rec.borrow_mut()
        .trace_client(scenario.simulation.trace_client.unwrap_or(0) as usize);
    let closing = Rc::new(Closing::default());

    if let Some(f) = &faults {
        let mut r = rec.borrow_mut();
        for &(from, to) in &f.restarts {
            r.watch_fault(from, to, None, false);
        }
        for o in &f.outages {
            r.watch_fault(o.from, o.to, Some(Rc::new(o.affected.clone())), true);
        }
    }
    let run = Rc::new(ctx::Run {
        scenario: Rc::new(scenario.clone()),
        settings: settings.clone(),
        closing: closing.clone(),
        faults: faults.clone(),
        policy,
        pool_hosts: pool_hosts(scenario),
        world,
    });
    let server_ctx = ServerCtx {
        feed: Feed::new(
            scenario,
            match (strategy.history(&settings), history) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            rec.clone(),
        ),
        rec: rec.clone(),
        run: run.clone(),
    };
    Parts {
        rec,
        run,
        server_ctx,
        closing,
        faults,
        n,
        duration_ms,
        end_ms,
        close_for_ms,
    }
}

impl Parts {
    /// The context of client `id`, running on pool host `host`.
    pub(crate) fn client(&self, id: usize, slot: u16, host: Rc<str>) -> ClientCtx {
        ClientCtx {
            host,
            slot,
            id,
            rec: self.rec.clone(),
            run: self.run.clone(),
            harness_rng: Rc::new(std::cell::RefCell::new(ctx::harness_stream(
                self.run.scenario.seed,
                id,
            ))),
            backoff: Rc::default(),
        }
    }
}

fn run_inner(
    scenario: &Scenario,
    strategy: &dyn Strategy,
    progress: &mut dyn FnMut(u64, u64),
    stop_at_ms: Option<u64>,
) -> anyhow::Result<RunResult> {
    let made = parts(scenario, strategy, net::World::Sim);
    let (rec, run, server_ctx, closing, faults) = (
        made.rec.clone(),
        made.run.clone(),
        made.server_ctx.clone(),
        made.closing.clone(),
        made.faults.clone(),
    );
    let (n, duration_ms, end_ms, close_for_ms) =
        (made.n, made.duration_ms, made.end_ms, made.close_for_ms);
    let lat = scenario.network.latency_ms;
    let mut sim = turmoil::Builder::new()
        .rng_seed(scenario.seed)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_UNIX_S))
        .tick_duration(Duration::from_millis(1))
        .simulation_duration(Duration::from_millis(end_ms + close_for_ms + 1_000))
        // after a fault every client may reconnect both its connections in one tick
        .tcp_capacity(if faults.is_some() {
            2 * n + 64
        } else {
            n.max(64) + 64
        })
        .min_message_latency(Duration::from_millis(lat.min_ms))
        .max_message_latency(Duration::from_millis(lat.max_ms))
        .build();

    let scenario = run.scenario.clone();
    let feed = server_ctx.feed.clone();
    let publisher_state = feed::Publisher::new(scenario.seed);
    sim.host("server", move || {
        let ctx = server_ctx.clone();
        let publisher = feed::publish(
            ctx.feed.clone(),
            ctx.scenario.clone(),
            ctx.rec.clone(),
            publisher_state.clone(),
            ctx.faults.clone(),
        );
        let server = strategy.server(ctx);
        async move {
            tokio::task::spawn_local(publisher);
            server.await
        }
    });

    let k = pool_hosts(&scenario);
    let connect_over_ms = (scenario.clients.connect_over_s * 1000.0) as u64;
    for pool in 0..k {
        let mut clients = Vec::new();
        let host: Rc<str> = Rc::from(format!("pool-{pool}"));
        for (slot, id) in (pool..n).step_by(k).enumerate() {
            let ctx = made.client(id, slot as u16, host.clone());
            let start = Duration::from_millis(connect_over_ms * id as u64 / n as u64);
            clients.push((start, strategy.client(ctx)));
        }
        let rec = rec.clone();
        sim.client(format!("pool-{pool}"), async move {
            for (start, client) in clients {
                let rec = rec.clone();
                tokio::task::spawn_local(async move {
                    tokio::time::sleep(start).await;
                    if let Err(e) = client.await {
                        if ctx::gave_up(e.as_ref()) {
                            rec.borrow_mut().client_gave_up();
                        } else {
                            rec.borrow_mut().client_failed(e.to_string());
                        }
                    }
                });
            }
            std::future::pending::<()>().await;
            Ok(())
        });
    }

    // Run until every event is delivered (or the grace period ends), then signal closing and
    // give the strategies a little simulated time to close connections cleanly.
    let mut closing_since = None;
    let now = loop {
        sim.step()
            .map_err(|e| anyhow!("{e}"))
            .with_context(|| format!("the {} simulation stopped with an error", strategy.id()))?;
        let now = sim.elapsed().as_millis() as u64;
        if stop_at_ms.is_some_and(|stop| now >= stop) {
            break now;
        }
        if let Some(f) = &faults {
            for &(crash, back) in &f.restarts {
                if now == crash {
                    feed.crash(f.durable);
                    rec.borrow_mut().server.crash(now);
                    sim.crash("server");
                } else if now == back {
                    sim.bounce("server");
                }
            }
            if f.outages.iter().any(|o| o.to == now) {
                // who is connected the moment the network is back has recovered
                rec.borrow_mut().faults_ended(now);
            }
        }
        if now % 1000 == 0 {
            rec.borrow_mut().end_second(now / 1000 - 1);
            progress(now, duration_ms);
        }
        match closing_since {
            None => {
                let done = now >= duration_ms && rec.borrow().all_delivered();
                if done || now >= end_ms {
                    closing_since = Some(now);
                    rec.borrow_mut().closing();
                    if let Some(t) = rec.borrow_mut().tracer() {
                        t.closing(now);
                    }
                    closing.raise();
                }
            }
            Some(since) => {
                if rec.borrow().open_connection_count() == 0 || now >= since + close_for_ms {
                    break now;
                }
            }
        }
    };
    if now % 1000 != 0 {
        rec.borrow_mut().end_second(now / 1000);
    }
    rec.borrow_mut().ended(now);
    drop(sim);
    result_of(&rec, strategy.id(), n, now)
}

/// The publisher of a run's events, on the server's side.
pub(crate) fn feed_publisher(ctx: &ServerCtx) -> impl std::future::Future<Output = ()> {
    feed::publish(
        ctx.feed.clone(),
        ctx.scenario.clone(),
        ctx.rec.clone(),
        feed::Publisher::new(ctx.scenario.seed),
        ctx.faults.clone(),
    )
}

/// What a finished run measured, or the first failure of one of its clients.
pub(crate) fn result_of(
    rec: &crate::metrics::RecorderHandle,
    strategy: &str,
    n: usize,
    now: u64,
) -> anyhow::Result<RunResult> {
    let rec = rec.borrow();
    if let Some(failure) = rec.first_client_failure() {
        return Err(anyhow!(
            "{} client(s) of {} failed; the first: {failure}",
            rec.client_failures(),
            strategy
        ));
    }
    Ok(RunResult {
        strategy: strategy.to_string(),
        summary: rec.summary(strategy, n as u64),
        seconds: rec.seconds().to_vec(),
        latency: rec.latency_counts().to_vec(),
        delivered_by_type: rec.delivered_by_type(),
        simulated_ms: now,
        trace: rec.trace(),
    })
}
