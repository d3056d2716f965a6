//! The command-line arguments (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// See how short polling, long polling, WebSockets and Server-Sent Events behave, in a
/// deterministic network simulator.
#[derive(Debug, Parser)]
#[command(name = "realtime-lab", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate scenario files and write CSV results and charts (with no file: the built-in
    /// quickstart).
    Run(RunArgs),
    /// Join the sweep.csv of shard output folders into one sweep.csv (and its charts).
    Merge {
        /// The shard folders (each a `<out>/<scenario name>` written by `run --shard`).
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Folder to write the merged sweep.csv and charts to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Redraw the charts of a results folder from its CSV files, without simulating.
    Chart {
        /// A folder `run` wrote (e.g. output/quickstart).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// List the strategies, with a one-line summary each.
    List,
    /// Print one client's exchange with the server as a timestamped transcript: every
    /// request, response, frame and SSE record on every connection it has, with when it was
    /// sent and when the other end read it.
    Trace {
        /// A scenario file (TOML); `-` reads it from standard input.
        scenario: PathBuf,
        /// The strategy to trace.
        #[arg(long = "strategy", value_name = "ID")]
        strategy: String,
        /// The client to follow (0-based).
        #[arg(long, default_value_t = 0)]
        client: u64,
        /// Simulated seconds to show (the simulation stops there).
        #[arg(long, value_name = "S", default_value_t = 10.0)]
        until: f64,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Serve the strategies live on 127.0.0.1 for a browser: the scenario's publisher in real
    /// time, every strategy's server, and a page at `/` with one live panel per strategy.
    Serve(ServeArgs),
    /// Measure what a request, a connection, a WebSocket frame, an SSE record and an open
    /// connection cost on this machine (real sockets), and write them as a `[server.cost]` /
    /// `[server.memory]` table a scenario can include (`[server] calibration = "FILE"`).
    Calibrate {
        /// The file to write.
        #[arg(long, default_value = "calibration.toml")]
        out: PathBuf,
    },
    /// The server process `calibrate` measures (not for direct use).
    #[command(hide = true)]
    CalibrateServer {
        /// The scenario file.
        scenario: PathBuf,
        /// The strategy to serve.
        strategy: String,
    },
    /// Run a scenario's strategies for real: their server and N clients over real sockets on
    /// 127.0.0.1, in real time, the same strategy code as the simulation. Writes the same
    /// CSV and charts as `run`, to `<out>/<name>-real`, for `compare`.
    Load(LoadArgs),
    /// Print a simulated and a real results folder side by side (`run` then `load` of one
    /// scenario): events, requests and bytes per event, latency.
    Compare {
        /// The simulation's results folder (e.g. output/quickstart).
        sim: PathBuf,
        /// The real run's results folder (e.g. output/quickstart-real).
        real: PathBuf,
    },
    /// Check scenario files without running them.
    Validate {
        /// Scenario files (TOML); `-` reads one from standard input.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
}

/// `realtime-lab run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files (TOML); `-` reads one from standard input. None: the quickstart
    /// scenario built into the binary.
    pub scenarios: Vec<PathBuf>,
    /// Folder the results go to, one sub-folder per scenario name.
    #[arg(long, default_value = "output")]
    pub out: PathBuf,
    /// Run only this strategy (repeat for several); overrides the scenario's list.
    #[arg(long = "strategy", value_name = "ID")]
    pub strategies: Vec<String>,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print no progress messages.
    #[arg(long, short)]
    pub quiet: bool,
    /// Compare every quantity with its closed-form prediction; exit 1 if any is beyond
    /// tolerance.
    #[arg(long)]
    pub check: bool,
    /// Simulations to run at once (each uses one core); default: every core.
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Run even if the estimate says the runs need more memory or time than this machine
    /// allows (see `realtime-lab validate`).
    #[arg(long)]
    pub force: bool,
    /// For a sweep: run only every N-th point starting at K (0-based), e.g. `--shard 0/4`;
    /// join the shards' outputs with `realtime-lab merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::sweep::Shard>,
    /// The client whose exchange the sequence diagrams (`sequence-<strategy>.svg/.png`)
    /// show; overrides `[simulation] trace_client` (default 0).
    #[arg(long, value_name = "K")]
    pub trace_client: Option<u64>,
}

/// `realtime-lab load` arguments.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// A scenario file (TOML); none: the built-in quickstart.
    pub scenario: Option<PathBuf>,
    /// Folder the results go to, as `<name>-real`.
    #[arg(long, default_value = "output")]
    pub out: PathBuf,
    /// Run only this strategy (repeat for several); overrides the scenario's list.
    #[arg(long = "strategy", value_name = "ID")]
    pub strategies: Vec<String>,
    /// Real seconds of events per strategy (overrides `duration_s`; the strategies run one
    /// after the other, each for this long plus the time to deliver and close).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// Override the number of clients.
    #[arg(long, value_name = "N")]
    pub clients: Option<u64>,
    /// Bare loopback: do not add the scenario's `[network] latency_ms` to every read (by
    /// default both ends hand over what they read one one-way delay late, as `tc netem`
    /// would).
    #[arg(long)]
    pub no_latency: bool,
    /// Print no progress messages.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `realtime-lab serve` arguments.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A scenario file (TOML); none: the built-in quickstart.
    pub scenario: Option<PathBuf>,
    /// Port of the page and every strategy (0: any free port).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Listen on this address instead of 127.0.0.1 (e.g. 0.0.0.0 for a lecture hall's
    /// network); anyone who can reach it can use the server.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<std::net::IpAddr>,
    /// Serve only this strategy (repeat for several); overrides the scenario's list.
    #[arg(long = "strategy", value_name = "ID")]
    pub strategies: Vec<String>,
    /// Events per client per second (overrides the scenario's rate; a lively demo: 1).
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Override the number of clients (each page that opens takes the next client id).
    #[arg(long, value_name = "N")]
    pub clients: Option<u64>,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// A host name the server answers to besides `localhost` and IP addresses (repeat for
    /// several; with `--bind`, the name a lecture hall's machines use). Requests naming any
    /// other host are refused, so a web page elsewhere cannot reach the server by DNS
    /// rebinding.
    #[arg(long, value_name = "NAME")]
    pub allow_host: Vec<String>,
    /// Print no log lines.
    #[arg(long, short)]
    pub quiet: bool,
}
