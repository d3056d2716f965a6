//! Running scenarios end to end: every strategy of a scenario, then the files.
//!
//! Validation of every input happens before the first simulation starts, so a bad file
//! writes nothing.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::scenario::Scenario;
use crate::strategy::{self, Strategy};
use crate::{output, RunResult};

/// What a scenario run produced.
#[derive(Debug)]
pub struct ScenarioOutcome {
    /// One result per strategy, in the scenario's order.
    pub results: Vec<RunResult>,
    /// The folder the files went to.
    pub dir: PathBuf,
    /// The files written.
    pub files: Vec<PathBuf>,
}

/// The strategies a scenario names, looked up in the registry.
pub fn strategies_of(scenario: &Scenario) -> Vec<&'static dyn Strategy> {
    scenario
        .strategies
        .iter()
        .filter_map(|id| strategy::find(id))
        .collect()
}

/// Run every strategy of `scenario` (reporting progress through `progress`) and return the
/// results, without writing anything.
pub fn simulate(
    scenario: &Scenario,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<Vec<RunResult>> {
    let mut results = Vec::new();
    for strategy in strategies_of(scenario) {
        progress(&format!(
            "{}: simulating {} ({} clients, {} s)…",
            scenario.name,
            strategy.id(),
            scenario.clients.count,
            scenario.duration_s
        ));
        let started = Instant::now();
        let result = crate::sim::run(scenario, strategy)?;
        progress(&format!(
            "{}: {} done: {:.1} s simulated in {:.1} s",
            scenario.name,
            strategy.id(),
            result.simulated_ms as f64 / 1000.0,
            started.elapsed().as_secs_f64()
        ));
        results.push(result);
    }
    Ok(results)
}

/// Simulate `scenario` and write its CSV files under `out/<name>/`.
pub fn run_and_write(
    scenario: &Scenario,
    out: &Path,
    progress: impl FnMut(&str),
) -> anyhow::Result<ScenarioOutcome> {
    let results = simulate(scenario, progress)?;
    let dir = out.join(&scenario.name);
    let files = output::csv::render(&results)?;
    let files = output::csv::write_all(&dir, &files)
        .with_context(|| format!("writing the results of {}", scenario.name))?;
    Ok(ScenarioOutcome {
        results,
        dir,
        files,
    })
}
