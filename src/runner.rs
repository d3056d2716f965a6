//! Running simulations: any list of (scenario, strategy) runs spread over worker threads
//! (each simulation is single-threaded), with results identical whatever the thread count;
//! then the files of a run.
//!
//! Validation of every input happens before the first simulation starts (see
//! [`crate::Lab::parse`]), so a bad file writes nothing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Context;

use crate::model::Prediction;
use crate::output;
use crate::output::palette::Looks;
use crate::scenario::{Fanout, HeaderProfile, Scenario};
use crate::sim::{self, RunResult, Strategy};

/// Reports progress of runs; called from worker threads.
pub trait Progress: Sync {
    /// Worker `worker` starts run `label`, expected to simulate `end_ms`.
    fn start(&self, worker: usize, label: &str, end_ms: u64);
    /// Worker `worker`'s run has simulated `now_ms`.
    fn tick(&self, worker: usize, now_ms: u64);
    /// Worker `worker` finished a run.
    fn done(&self, worker: usize);
}

/// A [`Progress`] that shows nothing.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: usize, _: &str, _: u64) {}
    fn tick(&self, _: usize, _: u64) {}
    fn done(&self, _: usize) {}
}

/// One simulation to run: a label for progress and errors, the scenario and the strategy.
pub(crate) struct Job<'a> {
    pub label: String,
    pub scenario: &'a Scenario,
    pub strategy: &'a dyn Strategy,
}

/// Run every job on up to `threads` worker threads; results in job order.
pub(crate) fn run_all(
    jobs: &[Job<'_>],
    threads: usize,
    progress: &dyn Progress,
) -> Vec<anyhow::Result<RunResult>> {
    let results: Mutex<Vec<Option<anyhow::Result<RunResult>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for worker in 0..threads.max(1).min(jobs.len().max(1)) {
            let (results, next) = (&results, &next);
            scope.spawn(move || loop {
                let r = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(r) else { break };
                let end = (job.scenario.duration_s * 1000.0) as u64;
                progress.start(worker, &job.label, end);
                let result = sim::run_observed(job.scenario, job.strategy, &mut |now, _| {
                    progress.tick(worker, now)
                })
                .with_context(|| format!("simulating {}", job.label));
                progress.done(worker);
                results
                    .lock()
                    .expect("no worker panics while holding the lock")[r] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .expect("workers finished")
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("a run did not finish"))))
        .collect()
}

/// Run `strategies` under `scenario` on up to `threads` threads; results in their order.
pub(crate) fn simulate(
    scenario: &Scenario,
    strategies: &[&'static dyn Strategy],
    threads: usize,
    progress: &dyn Progress,
) -> anyhow::Result<Vec<RunResult>> {
    let jobs: Vec<Job<'_>> = strategies
        .iter()
        .map(|s| Job {
            label: format!("{} {}", scenario.name, s.id()),
            scenario,
            strategy: *s,
        })
        .collect();
    run_all(&jobs, threads, progress).into_iter().collect()
}

/// What writing a scenario's results produced.
#[derive(Debug)]
pub struct Written {
    /// One result per strategy, in the scenario's order.
    pub results: Vec<RunResult>,
    /// The folder the files went to.
    pub dir: PathBuf,
    /// The files written.
    pub files: Vec<PathBuf>,
    /// What theory predicts, for the strategies that have a closed form.
    pub predictions: Vec<(String, Prediction)>,
}

impl Written {
    /// Simulation against theory, per strategy with a closed form (what `run --check` prints).
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

/// The one-line description of a scenario's conditions that chart titles carry.
pub(crate) fn conditions(s: &Scenario) -> String {
    let (rate, fanout) = s.event_rate();
    let noun = |r: f64| if r == 1.0 { "event" } else { "events" };
    let events = match (s.events.rate_per_client_per_s, fanout) {
        (Some(r), _) => format!("{r} {}/client/s", noun(r)),
        (None, Fanout::All) => format!("{rate} {}/s to all", noun(rate)),
        (None, Fanout::One) => format!("{rate} {}/s", noun(rate)),
    };
    let lat = s.network.latency_ms;
    let latency = if lat.is_constant() {
        format!("{} ms one-way", lat.min_ms)
    } else {
        format!("{}–{} ms one-way", lat.min_ms, lat.max_ms)
    };
    // what goes wrong and how clients answer it, when the scenario says
    let mut extra = String::new();
    if s.network.loss > 0.0 {
        extra.push_str(&format!(" · {} % loss", s.network.loss * 100.0));
    }
    if let Some(t) = s.proxy.idle_timeout_s {
        extra.push_str(&format!(" · proxy idle {t} s"));
    }
    if let Some(p) = &s.reconnect {
        extra.push_str(&format!(" · reconnect: {}", p.describe()));
    }
    let headers = match s.http.headers {
        // the default profile makes room for the faults on one line
        HeaderProfile::Minimal if !extra.is_empty() => String::new(),
        HeaderProfile::Minimal => "minimal headers · ".to_string(),
        HeaderProfile::Browser => "browser headers · ".to_string(),
        HeaderProfile::Padded {
            request_bytes,
            response_bytes,
        } => format!("{request_bytes}/{response_bytes} B heads · "),
    };
    format!(
        "{} clients · {events} · {} B payload · {latency} · {headers}seed {}{extra}",
        output::table::thousands(s.clients.count),
        s.events.payload_bytes,
        s.seed
    )
}

pub use crate::output::WORLD_TAG;

/// The conditions label of a real run: with the scenario's latency added, or bare loopback.
pub fn world_label(latency: bool) -> &'static str {
    if latency {
        "world = real (127.0.0.1, scenario latency added)"
    } else {
        "world = real (bare 127.0.0.1)"
    }
}

/// File holding [`conditions`], read back by `realtime-lab chart`.
pub(crate) const CONDITIONS_FILE: &str = "conditions.txt";

/// Write the files of already simulated `results` of `scenario` under `out/<name>/`: the
/// whole set is written aside and swapped in at once (see [`crate::output::folder`]).
pub(crate) fn write_results(
    scenario: &Scenario,
    out: &Path,
    results: Vec<RunResult>,
    predictions: Vec<(String, Prediction)>,
    looks: &Looks,
    point: Option<&str>,
) -> anyhow::Result<Written> {
    let dir = out.join(&scenario.name);
    let mut csv: Vec<(String, Vec<u8>)> = output::csv::render(&results)?
        .into_iter()
        .map(|(n, b)| (n.to_string(), b))
        .collect();
    let sequences: Vec<crate::trace::sequence::Rows> = results
        .iter()
        .map(|r| crate::trace::sequence::Rows {
            strategy: r.strategy.clone(),
            client: r.trace.client,
            steps: crate::trace::sequence::select(&r.trace.steps()),
        })
        .collect();
    csv.push((
        crate::trace::sequence::FILE.into(),
        crate::trace::sequence::render_csv(&sequences)?,
    ));
    csv.push((
        "model.csv".into(),
        output::csv::render_model(scenario, &predictions)?,
    ));
    // the recovery chart: for faults that come and go, and for a proxy that cuts (a lossy
    // link shows in the latency chart)
    if !scenario.faults.is_empty() || scenario.proxy.idle_timeout_s.is_some() {
        csv.push((
            output::csv::FAULTS_FILE.into(),
            output::csv::render_faults(scenario)?,
        ));
    }
    csv.push((
        CONDITIONS_FILE.into(),
        format!(
            "{}{}\nmeasured window: {}–{} s\n",
            conditions(scenario),
            // a sweep point's own folder says which point it is
            point
                .filter(|p| !p.is_empty())
                .map(|p| format!(" · {p}"))
                .unwrap_or_default(),
            scenario.warmup_s,
            scenario.duration_s
        )
        .into_bytes(),
    ));
    let files = output::folder::replace(&dir, false, |stage| {
        stage.write_all(&csv)?;
        let charts = charts_of(stage.dir(), &scenario.name, looks)?;
        stage.write_all(&charts)
    })
    .with_context(|| format!("writing the results of {}", scenario.name))?;
    Ok(Written {
        results,
        dir,
        files,
        predictions,
    })
}

/// The charts of a results folder, drawn from its CSV files (in memory).
pub(crate) fn charts_of(
    dir: &Path,
    name: &str,
    looks: &Looks,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let conditions = std::fs::read_to_string(dir.join(CONDITIONS_FILE)).unwrap_or_default();
    let data = output::charts::ChartData::read(dir, name, &conditions, looks)?;
    let mut charts = output::charts::render_all(&data)
        .with_context(|| format!("drawing the charts of {name}"))?;
    // older result folders have no sequence.csv: they simply get no sequence diagrams
    let rows = dir.join(crate::trace::sequence::FILE);
    if rows.exists() {
        let runs = crate::trace::sequence::read_csv(&rows)?;
        let first_line = conditions.lines().next().unwrap_or("");
        charts.extend(output::charts::render_sequences(&runs, first_line)?);
    }
    Ok(charts)
}

/// Replace the chart files of a results folder (the rest is kept), at once.
pub(crate) fn replace_charts(
    dir: &Path,
    charts: &[(String, Vec<u8>)],
) -> anyhow::Result<Vec<PathBuf>> {
    output::folder::replace(dir, true, |stage| stage.write_all(charts))
}

/// Write a sweep's `sweep.csv`, `sweep_*` charts and `extra` files (the shard's identity)
/// into `dir`, replacing it at once.
pub(crate) fn write_sweep(
    dir: &Path,
    title: &str,
    csv: Vec<u8>,
    extra: &[(String, Vec<u8>)],
    looks: &Looks,
) -> anyhow::Result<Vec<PathBuf>> {
    output::folder::replace(dir, false, |stage| {
        stage.write("sweep.csv", &csv)?;
        stage.write_all(extra)?;
        let data = output::charts::sweep::SweepData::read(&stage.dir().join("sweep.csv"), looks)?;
        stage.write_all(&output::charts::sweep::render_all(&data, title)?)
    })
}
