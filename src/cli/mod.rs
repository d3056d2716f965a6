//! The command line, as a library function: [`main_with`] gives a binary every subcommand
//! (`run`, `validate`, `list`, `chart`, `merge`; sweeps, shards, `--check`) for the strategies
//! of the [`Lab`] it is handed. realtime-lab's own `main.rs` is
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     realtime_lab::cli::main_with(realtime_lab::Lab::builtin())
//! }
//! ```
//!
//! and a binary with a strategy of your own adds `.with(&MyStrategy)`.
//!
//! Exit codes: 0 success, 1 a run failed (or `--check` found a difference beyond tolerance),
//! 2 bad input (a scenario, an argument, a results folder).

mod args;

use std::process::ExitCode;

use clap::Parser;

use crate::lab::Lab;
use crate::output::table;
use crate::scenario::Scenario;
use anyhow::Context as _;
use args::{Cli, Command, LoadArgs, RunArgs, ServeArgs};

/// Most simulations run at once, whatever `--jobs` says.
const MAX_JOBS: usize = 256;

/// Why the program failed, which decides the exit code.
enum Failure {
    /// Bad input: exit 2.
    Input(anyhow::Error),
    /// A run failed: exit 1.
    Run(anyhow::Error),
}

/// Parse the process's arguments and run the command with `lab`'s strategies; errors are
/// printed on stderr (`error: …`, with their causes), never as a panic.
///
/// Ctrl-C (SIGINT) and SIGTERM remove the temporary folder of a result set being written and
/// exit with 130; a folder being swapped in is finished first (see `src/output/folder.rs`).
pub fn main_with(lab: Lab) -> ExitCode {
    // fails only if a handler is already set (a program calling this twice): keep that one
    let _ = ctrlc::set_handler(|| {
        use std::sync::atomic::Ordering;
        // a running `serve` shuts down gracefully; a second Ctrl-C quits at once
        if crate::live::SERVING.load(Ordering::SeqCst) {
            if !crate::live::STOP.swap(true, Ordering::SeqCst) {
                return;
            }
            crate::output::folder::interrupted(130, "interrupted: the server stopped at once");
        }
        crate::output::folder::interrupted(
            130,
            "interrupted: no result folder was changed by the unfinished write",
        )
    });
    ExitCode::from(run_with(lab, std::env::args_os()))
}

/// [`main_with`] for given arguments (the first is the program name); returns the exit
/// status (0, 1 or 2).
pub fn run_with<I, T>(lab: Lab, args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 }; // 0: --help, --version
        }
    };
    match dispatch(&lab, cli.command) {
        Ok(()) => 0,
        Err(Failure::Input(e)) => {
            eprintln!("error: {}", printable(&format!("{e:#}")));
            2
        }
        Err(Failure::Run(e)) => {
            eprintln!("error: {}", printable(&format!("{e:#}")));
            1
        }
    }
}

/// A message with every control character but newline and tab escaped: input echoed in an
/// error (a scenario name with terminal escape sequences, say) must not act on the terminal.
fn printable(message: &str) -> String {
    message
        .chars()
        .flat_map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Warn on stderr about runs that lost or misdelivered events.
fn warn_losses(label: &str, results: &[crate::RunResult]) {
    for r in results {
        let s = &r.summary;
        if s.events_lost > 0 {
            let share = 100.0 * s.events_lost as f64 / s.events_generated.max(1) as f64;
            eprintln!(
                "warning: {label}{}: {} of {} events lost ({share:.1} %)",
                s.strategy, s.events_lost, s.events_generated
            );
        }
        if s.misdelivered > 0 {
            eprintln!(
                "warning: {label}{}: {} events reached the wrong client",
                s.strategy, s.misdelivered
            );
        }
    }
}

fn dispatch(lab: &Lab, command: Command) -> Result<(), Failure> {
    match command {
        Command::List => {
            let width = lab.ids().iter().map(|id| id.len()).max().unwrap_or(0);
            for s in lab.strategies() {
                println!("{:<width$}  {}", s.id(), s.summary());
            }
            Ok(())
        }
        Command::Chart { dirs } => {
            // read, check and draw every folder before writing any: all or nothing
            let mut drawn = Vec::new();
            for dir in &dirs {
                if !dir.is_dir() {
                    return Err(Failure::Input(anyhow::anyhow!(
                        "{}: not a folder of results (run `realtime-lab run` first)",
                        dir.display()
                    )));
                }
                let charts =
                    crate::sweep::charts_of_folder(dir, &lab.looks()).map_err(Failure::Input)?;
                drawn.push((dir, charts));
            }
            for (dir, charts) in drawn {
                let files = crate::runner::replace_charts(dir, &charts).map_err(Failure::Run)?;
                println!("{}: drew {} files", dir.display(), files.len());
            }
            Ok(())
        }
        Command::Validate { scenarios } => {
            let budget = crate::estimate::Budget::of_machine();
            for path in &scenarios {
                let s = lab.load(path).map_err(|e| Failure::Input(e.into()))?;
                for w in s.warnings() {
                    eprintln!("warning: {w}");
                }
                let plan = lab.estimate(&s, None, default_jobs());
                plan.check(&budget).map_err(|e| {
                    Failure::Input(anyhow::anyhow!(
                        "{}: {e}",
                        crate::scenario::escape(&path.display().to_string())
                    ))
                })?;
                println!(
                    "{}: ok ({}: {} clients, {} s, strategies {})\n  {}",
                    crate::scenario::escape(&path.display().to_string()),
                    s.name,
                    s.clients.count,
                    s.duration_s,
                    s.strategies.join(", "),
                    plan.describe()
                );
            }
            Ok(())
        }
        Command::Run(args) => run(lab, args),
        Command::Load(args) => load(lab, args),
        Command::Serve(args) => serve(lab, args),
        Command::CalibrateServer { scenario, strategy } => {
            crate::live::calibrate::server_process(lab, &scenario, &strategy).map_err(Failure::Run)
        }
        Command::Calibrate { out } => {
            // a file we can write, checked before half a minute of measuring
            if out.is_dir() {
                return Err(Failure::Input(anyhow::anyhow!(
                    "--out {}: a folder; give a file name (e.g. calibration.toml)",
                    out.display()
                )));
            }
            let parent = out
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            if !parent.is_dir() {
                return Err(Failure::Input(anyhow::anyhow!(
                    "--out {}: the folder {} does not exist",
                    out.display(),
                    parent.display()
                )));
            }
            let exe = std::env::current_exe()
                .context("finding this program to start its servers")
                .map_err(Failure::Run)?;
            let c = crate::live::calibrate::calibrate(lab, &exe, &mut |what| {
                eprintln!("calibrating {what}")
            })
            .map_err(Failure::Run)?;
            let text = c.to_toml();
            let tmp = parent.join(format!(
                ".{}.tmp-{}",
                out.file_name().unwrap_or_default().to_string_lossy(),
                std::process::id()
            ));
            std::fs::write(&tmp, &text)
                .and_then(|()| std::fs::rename(&tmp, &out))
                .inspect_err(|_| {
                    let _ = std::fs::remove_file(&tmp);
                })
                .with_context(|| format!("writing {}", out.display()))
                .map_err(Failure::Run)?;
            print!("{text}");
            println!("wrote {}", out.display());
            Ok(())
        }
        Command::Compare { sim, real } => {
            let (table, off) = crate::live::compare(&sim, &real).map_err(Failure::Input)?;
            print!("{table}");
            if off > 0 {
                return Err(Failure::Run(anyhow::anyhow!(
                    "{off} quantities differ between the worlds beyond tolerance"
                )));
            }
            Ok(())
        }
        Command::Trace {
            scenario,
            strategy,
            client,
            until,
            seed,
        } => trace(lab, &scenario, &strategy, client, until, seed),
        Command::Merge { shards, out } => {
            let (csv, info) = crate::sweep::merge(&shards).map_err(Failure::Input)?;
            let extra = [(crate::sweep::SHARD_FILE.to_string(), info.render())];
            let files = crate::runner::write_sweep(&out, &info.scenario, csv, &extra, &lab.looks())
                .map_err(Failure::Input)?;
            println!(
                "merged {} shards into {} ({} files)",
                shards.len(),
                out.display(),
                files.len()
            );
            Ok(())
        }
    }
}

fn serve(lab: &Lab, args: ServeArgs) -> Result<(), Failure> {
    check_strategy_args(lab, &args.strategies)?;
    let input = |e: anyhow::Error| Failure::Input(e);
    let mut s = match &args.scenario {
        None => lab.quickstart(),
        Some(path) => lab.load(path),
    }
    .map_err(|e| Failure::Input(e.into()))?;
    if args.strategies.is_empty() {
        // the page has no way to be called back: leave server-callback out unless asked
        s.strategies.retain(|id| id != "server-callback");
    }
    override_scenario(&mut s, &args.strategies, None);
    if let Some(r) = args.rate {
        if !(r.is_finite() && r > 0.0 && r <= 100.0) {
            return Err(input(anyhow::anyhow!(
                "--rate {r}: give events per client per second, above 0 and at most 100"
            )));
        }
        s.events.rate_per_client_per_s = Some(r);
        s.events.rate_per_s = None;
    }
    if let Some(n) = args.clients {
        if !(1..=crate::live::MAX_LOAD_CLIENTS).contains(&n) {
            return Err(input(anyhow::anyhow!(
                "--clients {n}: give 1 to {}",
                crate::live::MAX_LOAD_CLIENTS
            )));
        }
        s.clients.count = n;
    }
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0 && d <= 86_400.0) {
            return Err(input(anyhow::anyhow!(
                "--duration {d}: give seconds above 0 and at most 86400"
            )));
        }
    }
    let (rate, _) = s.event_rate();
    if rate > crate::live::SERVE_MAX_EVENTS_PER_S {
        return Err(input(anyhow::anyhow!(
            "{}: {:.0} events a second ({} clients × {} per client): serve publishes at most {:.0} a second (one core); lower --rate or --clients",
            s.name,
            rate,
            s.clients.count,
            rate / s.clients.count.max(1) as f64,
            crate::live::SERVE_MAX_EVENTS_PER_S
        )));
    }
    lab.check_again(&s).map_err(input)?;
    let mut strategies = Vec::new();
    for st in lab.strategies_of(&s).map_err(input)? {
        let real = crate::live::real_scenario(&s, st.id()).map_err(|e| input(e.into()))?;
        s = real;
        let color = lab
            .look(st.id())
            .map(|l| l.hex())
            .unwrap_or_else(|| "#000000".into());
        strategies.push((st, color));
    }
    let bind = args
        .bind
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    if !bind.is_loopback() {
        eprintln!(
            "warning: --bind {bind}: the server is open to every machine that can reach this address; it has limits (connections, sizes, rates) but no authentication"
        );
    }
    crate::live::log::set_quiet(args.quiet);
    let opts = crate::live::ServeOptions {
        bind,
        port: args.port,
        duration_s: args.duration,
        limits: crate::live::guard::Limits::default(),
        stop: None,
        names: args.allow_host.clone(),
    };
    // every front connection and its pass-through to a strategy's server, both ends
    let mut need = s.clone();
    need.clients.count = opts.limits.max_connections as u64;
    crate::live::fit_open_files(&need).map_err(Failure::Run)?;
    let ids: Vec<&str> = strategies.iter().map(|(st, _)| st.id()).collect();
    let served = crate::live::serve(&s, &strategies, &opts, &mut |url| {
        println!("serving {} ({}) at {url}", s.name, ids.join(", "));
        println!("open it in a browser; Ctrl-C stops the server gracefully");
    })
    .map_err(Failure::Run)?;
    println!(
        "stopped after {:.1} s; events published per strategy: {}",
        served.seconds,
        served
            .published
            .iter()
            .map(|(id, n)| format!("{id} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// `--strategy` values: known, and each once.
fn check_strategy_args(lab: &Lab, ids: &[String]) -> Result<(), Failure> {
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(Failure::Input(anyhow::anyhow!(
                "--strategy {}: given twice",
                crate::scenario::shown(id)
            )));
        }
        if lab.find(id).is_none() {
            return Err(Failure::Input(anyhow::anyhow!(
                "--strategy {}: unknown strategy; known strategies: {}",
                crate::scenario::escape(id),
                lab.ids().join(", ")
            )));
        }
    }
    Ok(())
}

fn load(lab: &Lab, args: LoadArgs) -> Result<(), Failure> {
    check_strategy_args(lab, &args.strategies)?;
    let input = |e: anyhow::Error| Failure::Input(e);
    let mut s = match &args.scenario {
        None => lab.quickstart(),
        Some(path) => lab.load(path),
    }
    .map_err(|e| Failure::Input(e.into()))?;
    override_scenario(&mut s, &args.strategies, None);
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > s.warmup_s && d <= 3_600.0) {
            return Err(input(anyhow::anyhow!(
                "--duration {d}: give seconds above the scenario's warmup_s ({} s) and at most 3600",
                s.warmup_s
            )));
        }
        s.duration_s = d;
    }
    if let Some(n) = args.clients {
        if !(1..=crate::live::MAX_LOAD_CLIENTS).contains(&n) {
            return Err(input(anyhow::anyhow!(
                "--clients {n}: give 1 to {} (each client holds real sockets and file descriptors)",
                crate::live::MAX_LOAD_CLIENTS
            )));
        }
        s.clients.count = n;
    }
    if args.strategies.is_empty() && s.strategies.iter().any(|id| id == "server-callback") {
        // the scenario's list: what can only be simulated is left out, and said so
        s.strategies.retain(|id| id != "server-callback");
        if !args.quiet {
            eprintln!("note: server-callback left out: it needs the simulator's addresses and NAT");
        }
    }
    lab.check_again(&s).map_err(input)?;
    let strategies = lab.strategies_of(&s).map_err(input)?;
    let mut real = Vec::new();
    for st in &strategies {
        real.push(crate::live::real_scenario(&s, st.id()).map_err(|e| input(e.into()))?);
    }
    crate::live::fit_open_files(&s).map_err(input)?;
    let visible = !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    if !args.quiet {
        eprintln!(
            "{}: {} strategies × {} clients over 127.0.0.1, {} s of events each (real time)",
            s.name,
            strategies.len(),
            s.clients.count,
            s.duration_s
        );
    }
    let bars = crate::progress::Bars::new(strategies.len(), 1, visible);
    let mut results = Vec::new();
    for (st, rs) in strategies.iter().zip(&real) {
        use crate::runner::Progress as _;
        bars.start(
            0,
            &format!("{} {} (real)", s.name, st.id()),
            (s.duration_s * 1000.0) as u64,
        );
        let r = crate::live::run(rs, *st, !args.no_latency, &mut |now, _| bars.tick(0, now))
            .with_context(|| format!("running {} for real", st.id()))
            .map_err(Failure::Run)?;
        bars.done(0);
        results.push(r);
    }
    bars.finish();
    let written = lab
        .write_real(&s, &args.out, results, !args.no_latency)
        .map_err(Failure::Run)?;
    println!(
        "{} for real — {} clients over 127.0.0.1, {} s (measured from {} s)",
        s.name, s.clients.count, s.duration_s, s.warmup_s
    );
    let rows: Vec<_> = written.results.iter().map(|r| r.summary.clone()).collect();
    print!("{}", table::render(&rows));
    println!("wrote {}", written.dir.display());
    warn_losses("", &written.results);
    Ok(())
}

fn run(lab: &Lab, args: RunArgs) -> Result<(), Failure> {
    // Check every input before simulating anything: a bad file writes nothing.
    let mut loaded = Vec::new();
    if args.scenarios.is_empty() {
        loaded.push(lab.quickstart().map_err(|e| Failure::Input(e.into()))?);
    }
    for path in &args.scenarios {
        loaded.push(lab.load(path).map_err(|e| Failure::Input(e.into()))?);
    }
    for s in &loaded {
        for w in s.warnings() {
            eprintln!("warning: {w}");
        }
    }
    check_strategy_args(lab, &args.strategies)?;
    for (i, s) in loaded.iter().enumerate() {
        if loaded[..i].iter().any(|o| o.name == s.name) {
            return Err(Failure::Input(anyhow::anyhow!(
                "two scenarios are named `{}`: both would write {}; give one another name",
                s.name,
                args.out.join(&s.name).display()
            )));
        }
        if let (Some(plan), Some(shard)) = (&s.sweep, args.shard) {
            if shard.count > plan.points.len() {
                return Err(Failure::Input(anyhow::anyhow!(
                    "--shard {}/{}: {} has {} points, so at most {} shards (some shard would have no point)",
                    shard.index,
                    shard.count,
                    s.name,
                    plan.points.len(),
                    plan.points.len()
                )));
            }
        }
    }
    if args.shard.is_some() && loaded.iter().any(|s| s.sweep.is_none()) {
        return Err(Failure::Input(anyhow::anyhow!(
            "--shard splits the points of a sweep; a scenario without [sweep] has one point"
        )));
    }
    if args.jobs == Some(0) {
        return Err(Failure::Input(anyhow::anyhow!("--jobs 0: use at least 1")));
    }
    if args.seed.is_some() && loaded.iter().any(|s| s.sweep.is_some()) {
        return Err(Failure::Input(anyhow::anyhow!(
            "--seed sets the seed of a single run; a sweep takes its seeds from the file (`seed`, or `seeds = [...]` in [sweep]): change them there"
        )));
    }
    if let Some(k) = args.trace_client {
        for s in &loaded {
            check_client("--trace-client", k, s)?;
        }
    }
    for s in &mut loaded {
        override_scenario(s, &args.strategies, args.seed);
        if let Some(k) = args.trace_client {
            s.simulation.trace_client = Some(k);
            if let Some(plan) = &mut s.sweep {
                for p in &mut plan.points {
                    p.scenario.simulation.trace_client = Some(k);
                }
            }
        }
        if let Some(plan) = &mut s.sweep {
            for p in &mut plan.points {
                override_scenario(&mut p.scenario, &args.strategies, None);
            }
        }
    }
    // one simulation per job and core: more jobs than runs (or a silly number) would only
    // start idle threads and progress bars
    let jobs = args.jobs.unwrap_or_else(default_jobs).min(MAX_JOBS);
    let visible = !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    // refuse what would exhaust the machine before anything runs
    let budget = crate::estimate::Budget::of_machine();
    for s in &loaded {
        let plan = lab.estimate(s, args.shard, jobs);
        if !args.quiet {
            eprintln!("{}: {}", s.name, plan.describe());
        }
        if !args.force {
            plan.check(&budget)
                .map_err(|e| Failure::Input(anyhow::anyhow!("{}: {e}", s.name)))?;
        }
    }
    let mut failed_checks = 0;
    for s in &loaded {
        if let Some(plan) = &s.sweep {
            run_sweep(lab, s, plan, &args, jobs, visible)?;
            continue;
        }
        let strategies = lab.strategies_of(s).map_err(Failure::Input)?;
        let jobs = jobs.min(strategies.len());
        let bars = crate::progress::Bars::new(strategies.len(), jobs, visible);
        let results = crate::runner::simulate(s, &strategies, jobs, &bars).map_err(Failure::Run)?;
        bars.finish();
        let written = lab.write(s, &args.out, results).map_err(Failure::Run)?;
        println!(
            "{} — {} clients, {} s (measured from {} s), seed {}",
            s.name, s.clients.count, s.duration_s, s.warmup_s, s.seed
        );
        let rows: Vec<_> = written.results.iter().map(|r| r.summary.clone()).collect();
        print!("{}", table::render(&rows));
        println!("wrote {}", written.dir.display());
        warn_losses("", &written.results);
        if args.check {
            let blocks = written.check(s);
            println!("\nsimulation vs closed-form model ({}):", s.name);
            print!("{}", crate::check::render(&blocks));
            failed_checks += blocks.iter().flat_map(|(_, r)| r).filter(|r| !r.ok).count();
        }
    }
    if failed_checks > 0 {
        return Err(Failure::Run(anyhow::anyhow!(
            "{failed_checks} quantities differ from the model beyond tolerance"
        )));
    }
    Ok(())
}

fn trace(
    lab: &Lab,
    path: &std::path::Path,
    id: &str,
    client: u64,
    until: f64,
    seed: Option<u64>,
) -> Result<(), Failure> {
    let mut s = lab.load(path).map_err(|e| Failure::Input(e.into()))?;
    let strategy = lab.find(id).ok_or_else(|| {
        Failure::Input(anyhow::anyhow!(
            "--strategy {}: unknown strategy; known strategies: {}",
            crate::scenario::escape(id),
            lab.ids().join(", ")
        ))
    })?;
    check_client("--client", client, &s)?;
    let most = s.duration_s + 60.0;
    if !(until.is_finite() && until > 0.0 && until <= most) {
        return Err(Failure::Input(anyhow::anyhow!(
            "--until {until}: use more than 0 and at most {most} simulated seconds (the scenario's duration_s plus 60 s of grace and closing)"
        )));
    }
    if let Some(seed) = seed {
        s.seed = seed;
    }
    s.simulation.trace_client = Some(client);
    let until_ms = (until * 1000.0).round() as u64;
    let trace = crate::sim::trace(&s, strategy, until_ms).map_err(Failure::Run)?;
    println!(
        "{} · {} · client {client} · first {} of simulated time · seed {}",
        s.name,
        strategy.id(),
        crate::trace::seconds(until_ms),
        s.seed
    );
    print!("{}", trace.transcript(until_ms));
    Ok(())
}

/// `client` must be one of the scenario's (of every point of a sweep).
fn check_client(flag: &str, client: u64, s: &Scenario) -> Result<(), Failure> {
    let fewest = s
        .sweep
        .as_ref()
        .and_then(|p| p.points.iter().map(|p| p.scenario.clients.count).min())
        .map_or(s.clients.count, |m| m.min(s.clients.count));
    if client >= fewest {
        return Err(Failure::Input(anyhow::anyhow!(
            "{flag} {client}: {} has {fewest} clients (at its smallest); use 0 to {}",
            s.name,
            fewest - 1
        )));
    }
    Ok(())
}

/// One simulation per core.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn override_scenario(s: &mut Scenario, strategies: &[String], seed: Option<u64>) {
    if !strategies.is_empty() {
        s.strategies = strategies.to_vec();
    }
    if let Some(seed) = seed {
        s.seed = seed;
    }
}

/// What a sweep point's charts say of it: its swept values, unless they are all the
/// reconnect policy that the conditions line describes already.
fn point_label(
    s: &Scenario,
    point: &crate::scenario::sweep::SweepPoint,
    keys: &[String],
) -> String {
    if s.reconnect.is_some() && keys.iter().all(|k| k.starts_with("reconnect.")) {
        String::new()
    } else {
        point.values_label(keys)
    }
}

fn run_sweep(
    lab: &Lab,
    s: &Scenario,
    plan: &crate::scenario::sweep::SweepPlan,
    args: &RunArgs,
    jobs: usize,
    visible: bool,
) -> Result<(), Failure> {
    let points = plan
        .points
        .iter()
        .filter(|p| args.shard.is_none_or(|sh| p.index % sh.count == sh.index))
        .count();
    let runs = points * s.strategies.len();
    let jobs = jobs.min(runs.max(1));
    let bars = crate::progress::Bars::new(runs, jobs, visible);
    let outcome = crate::sweep::run(plan, args.shard, jobs, &bars, &|p| lab.strategies_of(p))
        .map_err(Failure::Run)?;
    bars.finish();
    for (point, results) in &outcome.points {
        warn_losses(&format!("point {} ", point.index), results);
    }
    let csv = crate::sweep::render_csv(plan, &outcome).map_err(Failure::Run)?;
    let dir = crate::sweep::dir_of(&args.out, s);
    let info = crate::sweep::ShardInfo::of(&s.name, plan, args.shard);
    let extra = [(crate::sweep::SHARD_FILE.to_string(), info.render())];
    let files = crate::runner::write_sweep(&dir, &s.name, csv, &extra, &lab.looks())
        .map_err(Failure::Run)?;
    // with faults, each point's own charts (recovery over time) are what the sweep is for
    let mut point_dirs = Vec::new();
    if s.has_faults() {
        for (point, results) in &outcome.points {
            let mut ps = point.scenario.clone();
            ps.name = format!("{}-point-{}", s.name, point.index);
            let written = lab
                .write_point(
                    &ps,
                    &args.out,
                    results.clone(),
                    &point_label(&ps, point, &plan.keys),
                )
                .map_err(Failure::Run)?;
            point_dirs.push((point.label(&plan.keys), written.dir));
        }
    }
    let shard = args
        .shard
        .map(|sh| format!(" (shard {}/{})", sh.index, sh.count))
        .unwrap_or_default();
    println!(
        "{} — sweep of {} over {} points{shard}, {} strategies: {runs} simulations",
        s.name,
        if plan.keys.is_empty() {
            "seeds".to_string()
        } else {
            plan.keys.join(", ")
        },
        points,
        s.strategies.len()
    );
    let table: Vec<(String, Vec<crate::SummaryRow>)> = outcome
        .points
        .iter()
        .map(|(p, results)| {
            (
                format!("point {}: {}", p.index, p.label(&plan.keys)),
                results.iter().map(|r| r.summary.clone()).collect(),
            )
        })
        .collect();
    print!("{}", table::render_sweep(&table));
    println!(
        "wrote {} ({} files)",
        dir.join("sweep.csv").display(),
        files.len()
    );
    for (label, d) in point_dirs {
        println!("wrote {} ({label})", d.display());
    }
    Ok(())
}
