//! `realtime-lab serve`: a scenario's publisher in real time, every selected strategy's server
//! (the strategy code the simulator runs, on a loopback port of its own), and the front door
//! with the lecture page (see [`super::front`]).
//!
//! Each strategy gets its own publisher with the scenario's seed, so every panel of the page
//! receives the same events at the same moments: the strategies differ only in how the events
//! travel. Ctrl-C shuts down gracefully: the servers close as at the end of a simulated run
//! (long polls answered, event streams ended, WebSockets closed with 1001), then the front
//! door closes what is left.

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::front::{self, Backend, Front};
use super::guard::Limits;
use crate::scenario::Scenario;
use crate::sim::log;
use crate::sim::net::{RealNet, World};
use crate::sim::Strategy;

/// Set by Ctrl-C while `serve` runs (see [`crate::cli`]).
pub(crate) static STOP: AtomicBool = AtomicBool::new(false);
/// Whether `serve` is running (Ctrl-C then asks it to stop instead of exiting).
pub(crate) static SERVING: AtomicBool = AtomicBool::new(false);

/// After Ctrl-C, how long the servers go on answering (an `EventSource` reconnecting after
/// the usual 3 s is told `204`, which stops it) …
const SHUTDOWN_ANSWER_MS: u64 = 3_500;
/// … and the most a shutdown waits for connections to close.
const SHUTDOWN_MAX_MS: u64 = 5_000;

/// Events a server keeps per client at most (nobody reads most clients' mailboxes: only the
/// pages that are open).
pub const SERVE_HISTORY: usize = 100;

/// The most events per second `serve` publishes (all clients): beyond, one core cannot keep up.
pub const SERVE_MAX_EVENTS_PER_S: f64 = 5_000.0;

/// How `serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address of the front door (127.0.0.1 unless asked otherwise).
    pub bind: IpAddr,
    /// Its port (0: any free port).
    pub port: u16,
    /// Stop after this many seconds (`None`: until Ctrl-C).
    pub duration_s: Option<f64>,
    /// The limits the front door enforces.
    pub limits: Limits,
    /// Stop when this is set (besides Ctrl-C under the command line).
    pub stop: Option<std::sync::Arc<AtomicBool>>,
    /// Host names the front door answers to besides loopback names and IP addresses (a
    /// request naming any other host is refused: DNS rebinding).
    pub names: Vec<String>,
}

/// What a `serve` did, when it stopped.
#[derive(Debug)]
pub struct Served {
    /// Seconds it ran.
    pub seconds: f64,
    /// Per strategy: events published (deliveries, all clients).
    pub published: Vec<(String, u64)>,
}

/// Run `strategies` under `scenario` (already checked with [`super::real_scenario`]) behind
/// one front door; `ready(url)` is called once it listens. Returns on Ctrl-C or after the
/// duration.
pub fn serve(
    scenario: &Scenario,
    strategies: &[(&'static dyn Strategy, String)],
    opts: &ServeOptions,
    ready: &mut dyn FnMut(&str),
) -> anyhow::Result<Served> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let local = tokio::task::LocalSet::new();
    let front_listener = std::net::TcpListener::bind(SocketAddr::new(opts.bind, opts.port))
        .with_context(|| format!("cannot listen on {}:{}", opts.bind, opts.port))?;
    front_listener.set_nonblocking(true)?;
    let front_addr = front_listener.local_addr()?;
    let mut s = scenario.clone();
    // a server runs until stopped: events for a day unless told otherwise
    s.duration_s = opts.duration_s.unwrap_or(86_400.0);
    s.warmup_s = 0.0;
    let mut parts = Vec::new();
    let mut backends = Vec::new();
    for (st, color) in strategies {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let world = World::Real(Rc::new(RealNet {
            listener: Cell::new(Some(listener)),
            server: addr,
            latency: None,
        }));
        let made = crate::sim::parts_bounded(&s, *st, world, Some(SERVE_HISTORY));
        let interval_s = s
            .strategy_table(st.id())
            .get("interval_s")
            .and_then(|v| v.as_float().or(v.as_integer().map(|i| i as f64)))
            .or((st.id() == "short-polling").then_some(1.0));
        backends.push(Backend {
            id: st.id(),
            summary: st.summary(),
            addr,
            rec: made.rec.clone(),
            interval_s,
            color: color.clone(),
        });
        parts.push(made);
    }
    let front = Front::new(
        backends,
        opts.limits,
        s.clients.count as usize,
        s.events.types.clone(),
        s.name.clone(),
        opts.bind,
        opts.names.clone(),
    );
    if opts.stop.is_none() {
        // the command line's server: Ctrl-C stops it gracefully
        STOP.store(false, Ordering::SeqCst);
        SERVING.store(true, Ordering::SeqCst);
    }
    let clock = crate::metrics::start_real_clock(Instant::now());
    let url = format!("http://{front_addr}/");
    let result = local.block_on(&rt, async {
        for (made, (st, _)) in parts.iter().zip(strategies) {
            let ctx = made.server_ctx.clone();
            tokio::task::spawn_local(crate::sim::feed_publisher(&ctx));
            let server = st.server(ctx);
            let id = st.id();
            tokio::task::spawn_local(async move {
                if let Err(e) = server.await {
                    log::line(format_args!("the {id} server stopped: {e}"));
                }
            });
        }
        let listener = tokio::net::TcpListener::from_std(front_listener)?;
        let acceptor = tokio::task::spawn_local(front::accept_loop(front.clone(), listener));
        ready(&url);
        let stop_at = opts.duration_s.map(|d| (d * 1000.0) as u64);
        let mut tick = tokio::time::interval(Duration::from_millis(5));
        let mut next_second = 1;
        loop {
            tick.tick().await;
            let now = crate::metrics::now_ms();
            while now >= next_second * 1000 {
                for m in &parts {
                    m.rec.borrow_mut().end_second(next_second - 1);
                }
                next_second += 1;
            }
            let asked = opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
            if asked || STOP.load(Ordering::SeqCst) || stop_at.is_some_and(|t| now >= t) {
                break;
            }
        }
        // graceful shutdown: each server closes as at a run's end, and goes on answering for
        // a while: an EventSource that reconnects after its 3 s retry time is told `204`
        // (stop) instead of finding nobody there and retrying for ever
        log::line(format_args!(
            "shutting down: answering polls, ending streams, closing WebSockets (1001)"
        ));
        for m in &parts {
            m.rec.borrow_mut().closing();
            m.closing.raise_going_away();
        }
        let since = crate::metrics::now_ms();
        loop {
            tick.tick().await;
            let open: u64 = parts
                .iter()
                .map(|m| m.rec.borrow().open_connection_count())
                .sum();
            let now = crate::metrics::now_ms();
            if (open == 0 && now >= since + SHUTDOWN_ANSWER_MS) || now >= since + SHUTDOWN_MAX_MS {
                break;
            }
        }
        acceptor.abort();
        front.close_all();
        // let aborted tasks drop their sockets
        tokio::time::sleep(Duration::from_millis(20)).await;
        anyhow::Ok(crate::metrics::now_ms())
    });
    if opts.stop.is_none() {
        SERVING.store(false, Ordering::SeqCst);
    }
    let now = result?;
    let published = parts
        .iter()
        .zip(strategies)
        .map(|(m, (st, _))| (st.id().to_string(), m.rec.borrow().generated()))
        .collect();
    drop(clock);
    drop(local);
    drop(rt);
    Ok(Served {
        seconds: now as f64 / 1000.0,
        published,
    })
}
