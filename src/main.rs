//! The `realtime-lab` binary: parse the command line, call the library, report errors.
//! Exit codes: 0 success, 1 a run failed, 2 bad input (a scenario or an argument).

mod cli;

use std::process::ExitCode;

use clap::Parser;
use realtime_lab::output::table;
use realtime_lab::runner;
use realtime_lab::scenario::Scenario;
use realtime_lab::strategy;

use cli::{Cli, Command, RunArgs};

/// Why the program failed, which decides the exit code.
enum Failure {
    /// Bad input: exit 2.
    Input(anyhow::Error),
    /// A run failed: exit 1.
    Run(anyhow::Error),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: RunArgs) -> Result<(), Failure> {
    // Check every input before simulating anything: a bad file writes nothing.
    let mut loaded = Vec::new();
    if args.scenarios.is_empty() {
        loaded.push(Scenario::quickstart());
    }
    for path in &args.scenarios {
        loaded.push(Scenario::from_file(path).map_err(|e| Failure::Input(e.into()))?);
    }
    for id in &args.strategies {
        if strategy::find(id).is_none() {
            let known: Vec<_> = strategy::ALL.iter().map(|s| s.id()).collect();
            return Err(Failure::Input(anyhow::anyhow!(
                "--strategy {id}: unknown strategy; known strategies: {}",
                known.join(", ")
            )));
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
    for s in &mut loaded {
        override_scenario(s, &args.strategies, args.seed);
        if let Some(plan) = &mut s.sweep {
            for p in &mut plan.points {
                override_scenario(&mut p.scenario, &args.strategies, None);
            }
        }
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let visible = !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut failed_checks = 0;
    for s in &loaded {
        if let Some(plan) = &s.sweep {
            run_sweep(s, plan, &args, jobs, visible)?;
            continue;
        }
        let bars = realtime_lab::progress::Bars::new(s.strategies.len(), jobs, visible);
        let results = runner::simulate_parallel(s, jobs, &bars).map_err(Failure::Run)?;
        bars.finish();
        let outcome = runner::write_results(s, &args.out, results).map_err(Failure::Run)?;
        println!(
            "{} — {} clients, {} s (measured from {} s), seed {}",
            s.name, s.clients.count, s.duration_s, s.warmup_s, s.seed
        );
        let rows: Vec<_> = outcome.results.iter().map(|r| r.summary.clone()).collect();
        print!("{}", table::render(&rows));
        println!("wrote {}", outcome.dir.display());
        if args.check {
            let blocks = outcome.check(s);
            println!("\nsimulation vs closed-form model ({}):", s.name);
            print!("{}", realtime_lab::check::render(&blocks));
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

fn override_scenario(s: &mut Scenario, strategies: &[String], seed: Option<u64>) {
    if !strategies.is_empty() {
        s.strategies = strategies.to_vec();
    }
    if let Some(seed) = seed {
        s.seed = seed;
    }
}

fn run_sweep(
    s: &Scenario,
    plan: &realtime_lab::scenario::sweep::SweepPlan,
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
    let bars = realtime_lab::progress::Bars::new(runs, jobs, visible);
    let outcome = realtime_lab::sweep::run(plan, args.shard, jobs, &bars).map_err(Failure::Run)?;
    bars.finish();
    let csv = realtime_lab::sweep::render_csv(plan, &outcome).map_err(Failure::Run)?;
    let dir = realtime_lab::sweep::dir_of(&args.out, s);
    let files = runner::write_sweep(&dir, &s.name, csv).map_err(Failure::Run)?;
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
    println!(
        "wrote {} ({} files)",
        dir.join("sweep.csv").display(),
        files.len()
    );
    Ok(())
}

fn dispatch(command: Command) -> Result<(), Failure> {
    match command {
        Command::List => {
            for s in strategy::ALL {
                println!("{:<16} {}", s.id(), s.summary());
            }
            Ok(())
        }
        Command::Chart { dirs } => {
            for dir in &dirs {
                if !dir.is_dir() {
                    return Err(Failure::Input(anyhow::anyhow!(
                        "{}: not a folder of results (run `realtime-lab run` first)",
                        dir.display()
                    )));
                }
                let name = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "results".into());
                let files = runner::draw_charts(dir, &name).map_err(Failure::Input)?;
                println!("{}: drew {} files", dir.display(), files.len());
            }
            Ok(())
        }
        Command::Validate { scenarios } => {
            for path in &scenarios {
                let s = Scenario::from_file(path).map_err(|e| Failure::Input(e.into()))?;
                println!(
                    "{}: ok ({}: {} clients, {} s, strategies {})",
                    path.display(),
                    s.name,
                    s.clients.count,
                    s.duration_s,
                    s.strategies.join(", ")
                );
            }
            Ok(())
        }
        Command::Run(args) => run(args),
        Command::Merge { shards, out } => {
            let csv = realtime_lab::sweep::merge(&shards).map_err(Failure::Input)?;
            let title = out
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let files = runner::write_sweep(&out, &title, csv).map_err(Failure::Run)?;
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
