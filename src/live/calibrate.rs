//! `realtime-lab calibrate`: what a request, a connection, a WebSocket frame, an SSE record and
//! an open connection cost on this machine, over real sockets — the `[server.cost]` and
//! `[server.memory]` of a scenario, measured instead of assumed.
//!
//! Each measurement runs one strategy's server (the simulator's strategy code) alone in a
//! child process (`realtime-lab calibrate-server`), so that its CPU time (`/proc/PID/schedstat`,
//! nanoseconds on a CPU) and resident memory (`/proc/PID/status`, `VmRSS`) are the server's
//! only; this process drives it with the strategy's own clients, or raw connections.
//!
//! - `request_us`: CPU per poll answered, 100 short-polling clients polling every 20 ms;
//! - `connect_us`: CPU per connection that carries one request, less `request_us`;
//! - `frame_us`, `sse_record_us`: CPU per event pushed (publishing it included), 100 clients
//!   receiving 40 events a second each;
//! - `connection_bytes`: resident memory per idle kept-alive HTTP connection (2,000 of them);
//! - `stream_bytes`: per WebSocket session and per SSE stream, beyond their connection;
//! - `parked_request_bytes`: per parked long poll, beyond its connection.
//!
//! Resident memory is user space only: a socket's kernel buffers are not in it (an idle
//! socket holds little there). `byte_ns` and `ping_us` are not measured: the defaults stay.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::lab::Lab;
use crate::output::table::thousands;
use crate::scenario::Scenario;

/// One measured figure, with what it was measured over.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Its key in `[server.cost]` or `[server.memory]`.
    pub key: &'static str,
    /// The value (µs, or bytes).
    pub value: f64,
    /// How it was measured.
    pub how: String,
}

/// What `calibrate` measured.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// `[server.cost]` figures.
    pub cost: Vec<Figure>,
    /// `[server.memory]` figures.
    pub memory: Vec<Figure>,
}

impl Calibration {
    /// The TOML a scenario includes with `[server] calibration = "FILE"`.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# Measured by `realtime-lab calibrate` on this machine, over real loopback sockets.\n\
             # A scenario uses it with:  [server]  calibration = \"calibration.toml\"\n\
             # (keys the scenario sets itself win). See docs/live.md for how each is measured.\n",
        );
        for (table, figures) in [("server.cost", &self.cost), ("server.memory", &self.memory)] {
            out.push_str(&format!("\n[{table}]\n"));
            for f in figures {
                let v = if table == "server.memory" {
                    format!("{}", f.value.round() as u64)
                } else {
                    format!("{:.2}", f.value)
                };
                out.push_str(&format!("{} = {v:<10} # {}\n", f.key, f.how));
            }
        }
        out
    }
}

/// A server process of one strategy, driven from here.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(exe: &Path, scenario_file: &Path, strategy: &str) -> anyhow::Result<ServerProcess> {
        let mut child = Command::new(exe)
            .arg("calibrate-server")
            .arg(scenario_file)
            .arg(strategy)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the calibration server")?;
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("piped"))
            .read_line(&mut line)
            .context("reading the calibration server's address")?;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("the calibration server said {line:?}"))?;
        Ok(ServerProcess { child, addr })
    }

    /// Nanoseconds the server process has run on a CPU.
    fn cpu_ns(&self) -> anyhow::Result<u64> {
        let pid = self.child.id();
        let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
            .context("reading /proc/PID/schedstat (calibrate needs Linux)")?;
        text.split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .context("an unexpected /proc/PID/schedstat")
    }

    /// Resident bytes of the server process.
    fn rss(&self) -> anyhow::Result<u64> {
        rss_of(self.child.id())
    }

    /// Stop it; what its server counted: `(requests, events generated)`.
    fn stop(mut self) -> anyhow::Result<(u64, u64)> {
        drop(self.child.stdin.take());
        let mut out = String::new();
        self.child
            .stdout
            .as_mut()
            .expect("piped")
            .read_to_string(&mut out)?;
        self.child.wait()?;
        let field = |k: &str| -> Option<u64> {
            out.split_whitespace()
                .find_map(|w| w.strip_prefix(k)?.parse().ok())
        };
        match (field("requests="), field("generated=")) {
            (Some(r), Some(g)) => Ok((r, g)),
            _ => bail!("the calibration server reported {out:?}"),
        }
    }
}

/// Resident bytes of process `pid` (`VmRSS`).
fn rss_of(pid: u32) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading /proc/PID/status (calibrate needs Linux)")?;
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")?;
    Ok(kb * 1024)
}

/// The child's side: serve `strategy` under the scenario in `file` on a free loopback port,
/// print `listening ADDR`, and stop when standard input closes, printing what it counted.
pub fn server_process(lab: &Lab, file: &Path, strategy: &str) -> anyhow::Result<()> {
    let s = lab.load(file)?;
    let st = lab
        .find(strategy)
        .with_context(|| format!("unknown strategy {strategy}"))?;
    let s = super::run::real_scenario(&s, strategy)?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let addr = listener.local_addr()?;
    let world = crate::sim::net::World::Real(std::rc::Rc::new(crate::sim::net::RealNet {
        listener: std::cell::Cell::new(Some(listener)),
        server: addr,
        latency: None,
    }));
    let made = crate::sim::parts(&s, st, world);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let _clock = crate::metrics::start_real_clock(std::time::Instant::now());
    // standard input closing is the signal to stop (read on a thread of its own)
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        let _ = tx.send(());
    });
    local.block_on(&rt, async {
        let ctx = made.server_ctx.clone();
        tokio::task::spawn_local(crate::sim::feed_publisher(&ctx));
        tokio::task::spawn_local(st.server(ctx));
        // the parent may be gone (Ctrl-C): a closed pipe is no reason to fail
        let mut out = std::io::stdout();
        let _ = writeln!(out, "listening {addr}").and_then(|()| out.flush());
        let _ = rx.await;
    });
    let r = made.rec.borrow();
    let _ = writeln!(
        std::io::stdout(),
        "requests={} generated={}",
        r.total_requests(),
        r.generated()
    );
    Ok(())
}

/// The calibration scenarios: `clients` clients, `rate` events per client per second.
fn scenario_text(clients: u64, rate: f64, extra: &str) -> String {
    format!(
        "name = \"calibrate\"\nseed = 1\nduration_s = 3600\nwarmup_s = 0\n\
         [clients]\ncount = {clients}\nconnect_over_s = 1\n\
         [events]\nrate_per_client_per_s = {rate}\npayload_bytes = 100\n\
         [simulation]\ngrace_s = 0.2\n{extra}"
    )
}

struct Phase<'a> {
    lab: &'a Lab,
    dir: &'a Path,
    exe: &'a Path,
}

impl Phase<'_> {
    fn scenario(&self, name: &str, text: &str) -> anyhow::Result<(std::path::PathBuf, Scenario)> {
        let file = self.dir.join(format!("{name}.toml"));
        std::fs::write(&file, text)?;
        let s = self.lab.load(&file)?;
        Ok((file, s))
    }

    /// Run `strategy`'s clients for `seconds` against a server process; the server's CPU
    /// nanoseconds over the run and what it counted.
    fn cpu(
        &self,
        name: &str,
        strategy: &str,
        text: &str,
        seconds: f64,
    ) -> anyhow::Result<(f64, u64, u64)> {
        let (file, mut s) = self.scenario(name, text)?;
        let server = ServerProcess::start(self.exe, &file, strategy)?;
        s.duration_s = seconds;
        let real = super::run::real_scenario(&s, strategy)?;
        let st = self.lab.find(strategy).expect("a built-in strategy");
        let before = server.cpu_ns()?;
        super::run::run_clients(&real, st, server.addr)?;
        let used = server.cpu_ns()? - before;
        let (requests, generated) = server.stop()?;
        Ok((used as f64, requests, generated))
    }

    /// Resident bytes the server process gained holding `strategy`'s clients (idle).
    fn memory(&self, name: &str, strategy: &str, text: &str) -> anyhow::Result<(f64, u64)> {
        let (file, mut s) = self.scenario(name, text)?;
        let server = ServerProcess::start(self.exe, &file, strategy)?;
        std::thread::sleep(Duration::from_millis(200));
        let before = server.rss()?;
        // the clients connect over 1 s, then hold their connections
        s.duration_s = 3.0;
        let real = super::run::real_scenario(&s, strategy)?;
        let st = self.lab.find(strategy).expect("a built-in strategy");
        let addr = server.addr;
        let measured = std::sync::Arc::new(std::sync::Mutex::new(0u64));
        let (m, pid) = (measured.clone(), server.child.id());
        let probe = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2_500));
            if let Ok(bytes) = rss_of(pid) {
                *m.lock().expect("no panic while held") = bytes;
            }
        });
        super::run::run_clients(&real, st, addr)?;
        let _ = probe.join();
        server.stop()?;
        let after = *measured.lock().expect("no panic while held");
        Ok((after.saturating_sub(before) as f64, s.clients.count))
    }
}

/// Measure the cost table, starting each server as `exe calibrate-server …` (this program:
/// `std::env::current_exe()`); `progress(what)` is told each step.
pub fn calibrate(
    lab: &Lab,
    exe: &Path,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Calibration> {
    if !Path::new("/proc/self/schedstat").exists() {
        bail!("calibrate reads a process's CPU time and memory from /proc: it needs Linux");
    }
    let mut big = lab.quickstart()?;
    big.clients.count = 2_000;
    super::run::fit_open_files(&big)?;
    let dir = tempfile::tempdir()?;
    // Ctrl-C exits from its handler: the scratch scenarios go with it
    let _scratch = crate::output::folder::remove_on_interrupt(dir.path());
    let p = Phase {
        lab,
        dir: dir.path(),
        exe,
    };
    let mut cost = Vec::new();
    let mut memory = Vec::new();

    progress("requests: 100 short-polling clients, a poll every 20 ms, 4 s");
    let text = scenario_text(100, 0.01, "[short-polling]\ninterval_s = 0.02\n");
    let (ns, requests, _) = p.cpu("requests", "short-polling", &text, 4.0)?;
    let request_us = ns / 1e3 / requests.max(1) as f64;

    progress("connections: 3,000 connections of one request each");
    let (file, _) = p.scenario("connect", &scenario_text(100, 0.01, ""))?;
    let server = ServerProcess::start(exe, &file, "short-polling")?;
    let before = server.cpu_ns()?;
    let n = 3_000;
    for i in 0..n {
        let mut s = std::net::TcpStream::connect(server.addr)?;
        write!(
            s,
            "GET /events?client={}&after=0 HTTP/1.1\r\nhost: calibrate\r\nconnection: close\r\n\r\n",
            i % 100
        )?;
        let _ = s.read_to_end(&mut Vec::new());
    }
    let ns = server.cpu_ns()? - before;
    server.stop()?;
    let per = ns as f64 / 1e3 / n as f64;
    cost.push(Figure {
        key: "connect_us",
        value: (per - request_us).max(0.0),
        how: format!(
            "per connection accepted and closed: {per:.1} µs for a connection with one request, less request_us ({} connections)",
            thousands(n)
        ),
    });
    cost.push(Figure {
        key: "request_us",
        value: request_us,
        how: format!(
            "per HTTP request parsed and answered ({} polls, mostly 204)",
            thousands(requests)
        ),
    });

    for (id, key, what) in [
        ("websocket", "frame_us", "WebSocket frame"),
        ("sse", "sse_record_us", "SSE record"),
    ] {
        progress(&format!(
            "{what}s: 100 {id} clients, 40 events a second each, 4 s"
        ));
        let (ns, _, generated) = p.cpu(key, id, &scenario_text(100, 40.0, ""), 4.0)?;
        cost.push(Figure {
            key,
            value: ns / 1e3 / generated.max(1) as f64,
            how: format!(
                "per {what} written, publishing the event included ({} events)",
                thousands(generated)
            ),
        });
    }

    progress("memory: 2,000 idle kept-alive HTTP connections");
    let idle = 1e-6;
    let (bytes, n) = p.memory(
        "conn",
        "short-polling",
        &scenario_text(2_000, idle, "[short-polling]\ninterval_s = 3600\n"),
    )?;
    let connection = bytes / n as f64;
    memory.push(Figure {
        key: "connection_bytes",
        value: connection,
        how: format!(
            "resident memory per idle kept-alive HTTP connection, user space ({} connections)",
            thousands(n)
        ),
    });
    let mut streams = Vec::new();
    for id in ["websocket", "sse"] {
        progress(&format!("memory: 2,000 idle {id} clients"));
        let (bytes, n) = p.memory(id, id, &scenario_text(2_000, idle, ""))?;
        streams.push(bytes / n as f64);
    }
    // the model charges connection_bytes + stream_bytes per stream: the mean of the two, less
    // a connection (a WebSocket session holds no HTTP connection's buffers: it may be less)
    let mean = (streams[0] + streams[1]) / 2.0;
    memory.push(Figure {
        key: "stream_bytes",
        value: (mean - connection).max(0.0),
        how: format!(
            "per stream beyond a connection: WebSocket session {:.0} B and SSE stream {:.0} B in all (2,000 each), their mean less connection_bytes",
            streams[0], streams[1]
        ),
    });
    progress("memory: 2,000 parked long polls");
    let (bytes, n) = p.memory(
        "parked",
        "long-polling",
        &scenario_text(2_000, idle, "[long-polling]\ntimeout_s = 60\n"),
    )?;
    memory.push(Figure {
        key: "parked_request_bytes",
        value: (bytes / n as f64 - connection).max(0.0),
        how: format!(
            "per parked long poll beyond its connection ({} polls)",
            thousands(n)
        ),
    });
    Ok(Calibration { cost, memory })
}
