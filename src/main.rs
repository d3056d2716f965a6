//! The `realtime-lab` binary: parse the command line, call the library, report errors.
//! Exit codes: 0 success, 1 a run failed, 2 bad input (a scenario or an argument).

mod cli;

use std::process::ExitCode;

use clap::Parser;
use realtime_lab::output::table;
use realtime_lab::runner;
use realtime_lab::scenario::Scenario;
use realtime_lab::strategy;

use cli::{Cli, Command};

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
        Command::Run {
            scenarios,
            out,
            strategies,
            seed,
            quiet,
            check,
        } => {
            // Check every input before simulating anything: a bad file writes nothing.
            let mut loaded = Vec::new();
            if scenarios.is_empty() {
                loaded.push(Scenario::quickstart());
            }
            for path in &scenarios {
                loaded.push(Scenario::from_file(path).map_err(|e| Failure::Input(e.into()))?);
            }
            for id in &strategies {
                if strategy::find(id).is_none() {
                    let known: Vec<_> = strategy::ALL.iter().map(|s| s.id()).collect();
                    return Err(Failure::Input(anyhow::anyhow!(
                        "--strategy {id}: unknown strategy; known strategies: {}",
                        known.join(", ")
                    )));
                }
            }
            for s in &mut loaded {
                if !strategies.is_empty() {
                    s.strategies = strategies.clone();
                }
                if let Some(seed) = seed {
                    s.seed = seed;
                }
            }
            let mut failed_checks = 0;
            for s in &loaded {
                let outcome = runner::run_and_write(s, &out, |msg| {
                    if !quiet {
                        eprintln!("{msg}");
                    }
                })
                .map_err(Failure::Run)?;
                println!(
                    "{} — {} clients, {} s (measured from {} s), seed {}",
                    s.name, s.clients.count, s.duration_s, s.warmup_s, s.seed
                );
                let rows: Vec<_> = outcome.results.iter().map(|r| r.summary.clone()).collect();
                print!("{}", table::render(&rows));
                println!("wrote {}", outcome.dir.display());
                if check {
                    let blocks = outcome.check(s);
                    println!("\nsimulation vs closed-form model ({}):", s.name);
                    print!("{}", realtime_lab::check::render(&blocks));
                    let flagged = blocks.iter().flat_map(|(_, r)| r).filter(|r| !r.ok).count();
                    if flagged > 0 {
                        failed_checks += flagged;
                    }
                }
            }
            if failed_checks > 0 {
                return Err(Failure::Run(anyhow::anyhow!(
                    "{failed_checks} quantities differ from the model beyond tolerance"
                )));
            }
            Ok(())
        }
    }
}
