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
    /// What theory predicts, for the strategies that have a closed form.
    pub predictions: Vec<(String, crate::model::Prediction)>,
}

impl ScenarioOutcome {
    /// Simulation against theory, per strategy with a closed form (see [`crate::check`]).
    pub fn check(&self, scenario: &Scenario) -> Vec<(String, Vec<crate::check::CheckRow>)> {
        self.predictions
            .iter()
            .filter_map(|(id, p)| {
                let r = self.results.iter().find(|r| &r.strategy == id)?;
                let rows = crate::check::compare(r, p, scenario);
                Some((id.clone(), rows))
            })
            .collect()
    }
}

/// The closed-form predictions of every strategy of `scenario` that has one.
pub fn predictions(scenario: &Scenario) -> Vec<(String, crate::model::Prediction)> {
    strategies_of(scenario)
        .into_iter()
        .filter_map(|s| {
            let settings = strategy::Settings::new(s.id(), scenario.strategy_table(s.id()));
            Some((s.id().to_string(), s.model(scenario, &settings)?))
        })
        .collect()
}

/// The strategies a scenario names, looked up in the registry.
pub fn strategies_of(scenario: &Scenario) -> Vec<&'static dyn Strategy> {
    scenario
        .strategies
        .iter()
        .filter_map(|id| strategy::find(id))
        .collect()
}

/// Run every strategy of `scenario` on up to `jobs` threads (one simulation each) and return
/// the results in the scenario's order, without writing anything. The results do not depend
/// on `jobs`.
pub fn simulate_parallel(
    scenario: &Scenario,
    jobs: usize,
    progress: &dyn crate::sweep::Progress,
) -> anyhow::Result<Vec<RunResult>> {
    let plan = crate::scenario::sweep::SweepPlan {
        keys: Vec::new(),
        points: vec![crate::scenario::sweep::SweepPoint {
            index: 0,
            values: Vec::new(),
            seed: scenario.seed,
            scenario: scenario.clone(),
        }],
    };
    let mut outcome = crate::sweep::run(&plan, None, jobs, progress)?;
    Ok(outcome.points.pop().map(|p| p.1).unwrap_or_default())
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

/// The one-line description of a scenario's conditions that chart titles carry.
pub fn conditions(s: &Scenario) -> String {
    let (rate, fanout) = s.event_rate();
    let events = match (s.events.rate_per_client_per_s, fanout) {
        (Some(r), _) => format!("{r} events/client/s"),
        (None, crate::scenario::Fanout::All) => format!("{rate} events/s to all"),
        (None, crate::scenario::Fanout::One) => format!("{rate} events/s"),
    };
    let lat = s.network.latency_ms;
    let latency = if lat.is_constant() {
        format!("{} ms one-way", lat.min_ms)
    } else {
        format!("{}–{} ms one-way", lat.min_ms, lat.max_ms)
    };
    let headers = match s.http.headers {
        crate::scenario::HeaderProfile::Minimal => "minimal headers".to_string(),
        crate::scenario::HeaderProfile::Browser => "browser headers".to_string(),
        crate::scenario::HeaderProfile::Padded {
            request_bytes,
            response_bytes,
        } => {
            format!("{request_bytes}/{response_bytes} B heads")
        }
    };
    format!(
        "{} clients · {events} · {} B payload · {latency} · {headers} · seed {}",
        output::table::thousands(s.clients.count),
        s.events.payload_bytes,
        s.seed
    )
}

/// File holding [`conditions`], read back by `realtime-lab chart`.
pub const CONDITIONS_FILE: &str = "conditions.txt";

/// Simulate `scenario` and write its CSV files and charts under `out/<name>/`.
pub fn run_and_write(
    scenario: &Scenario,
    out: &Path,
    progress: impl FnMut(&str),
) -> anyhow::Result<ScenarioOutcome> {
    let results = simulate(scenario, progress)?;
    write_results(scenario, out, results)
}

/// Write the files of already simulated `results` of `scenario` under `out/<name>/`.
pub fn write_results(
    scenario: &Scenario,
    out: &Path,
    results: Vec<RunResult>,
) -> anyhow::Result<ScenarioOutcome> {
    let dir = out.join(&scenario.name);
    let predictions = predictions(scenario);
    let mut files = output::csv::render(&results)?;
    files.push((
        "model.csv",
        output::csv::render_model(scenario, &predictions)?,
    ));
    files.push((
        CONDITIONS_FILE,
        format!(
            "{}\nmeasured window: {}–{} s\n",
            conditions(scenario),
            scenario.warmup_s,
            scenario.duration_s
        )
        .into_bytes(),
    ));
    let mut files = output::csv::write_all(&dir, &files)
        .with_context(|| format!("writing the results of {}", scenario.name))?;
    files.extend(draw_charts(&dir, &scenario.name)?);
    Ok(ScenarioOutcome {
        results,
        dir,
        files,
        predictions,
    })
}

/// (Re)draw the charts of a results folder from its CSV files.
pub fn draw_charts(dir: &Path, name: &str) -> anyhow::Result<Vec<PathBuf>> {
    let conditions = std::fs::read_to_string(dir.join(CONDITIONS_FILE)).unwrap_or_default();
    let data = output::charts::ChartData::read(dir, name, &conditions)?;
    output::charts::write_all(dir, &data).with_context(|| format!("drawing the charts of {name}"))
}

/// Write a sweep's `sweep.csv` and `sweep_*` charts into `dir`.
pub fn write_sweep(dir: &Path, title: &str, csv: Vec<u8>) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = output::csv::write_all(dir, &[("sweep.csv", csv)])?;
    let data = output::charts::sweep::SweepData::read(&dir.join("sweep.csv"))?;
    files.extend(output::charts::sweep::write_all(dir, &data, title)?);
    Ok(files)
}
