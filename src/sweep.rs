//! Running sweeps: every point × strategy as an independent simulation, spread over worker
//! threads (each turmoil simulation is single-threaded), with results identical whatever the
//! thread count; `sweep.csv`; sharding across machines and merging shard outputs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context};

use crate::runner::strategies_of;
use crate::scenario::sweep::{SweepPlan, SweepPoint};
use crate::scenario::Scenario;
use crate::sim::{self, RunResult};

/// Reports progress of a sweep or a run; called from worker threads.
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

/// `K/N`: this machine runs every N-th point starting at K (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s}: use K/N with 0 ≤ K < N, e.g. 0/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) =
            (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The results of the points a sweep ran.
#[derive(Debug)]
pub struct SweepOutcome {
    /// `(point, one result per strategy)`, in point order.
    pub points: Vec<(SweepPoint, Vec<RunResult>)>,
}

/// Run every (point, strategy) of `plan` (only `shard`'s points if given) on `jobs` threads.
pub fn run(
    plan: &SweepPlan,
    shard: Option<Shard>,
    jobs: usize,
    progress: &dyn Progress,
) -> anyhow::Result<SweepOutcome> {
    let points: Vec<&SweepPoint> = plan
        .points
        .iter()
        .filter(|p| shard.is_none_or(|s| p.index % s.count == s.index))
        .collect();
    let runs: Vec<(usize, usize)> = points
        .iter()
        .enumerate()
        .flat_map(|(i, p)| (0..strategies_of(&p.scenario).len()).map(move |k| (i, k)))
        .collect();
    let results: Mutex<Vec<Option<anyhow::Result<RunResult>>>> =
        Mutex::new((0..runs.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for worker in 0..jobs.max(1).min(runs.len().max(1)) {
            let (runs, points, results, next) = (&runs, &points, &results, &next);
            scope.spawn(move || loop {
                let r = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(i, k)) = runs.get(r) else { break };
                let scenario = &points[i].scenario;
                let strategy = strategies_of(scenario)[k];
                let label = if points.len() == 1 {
                    format!("{} {}", scenario.name, strategy.id())
                } else {
                    format!("point {} {}", points[i].index, strategy.id())
                };
                let end = (scenario.duration_s * 1000.0) as u64;
                progress.start(worker, &label, end);
                let result =
                    sim::run_observed(scenario, strategy, &mut |now, _| progress.tick(worker, now))
                        .with_context(|| format!("simulating {label}"));
                progress.done(worker);
                results
                    .lock()
                    .expect("no worker panics while holding the lock")[r] = Some(result);
            });
        }
    });
    let mut results = results.into_inner().expect("workers finished");
    let mut out = Vec::new();
    let mut r = 0;
    for p in points {
        let mut per_point = Vec::new();
        for _ in strategies_of(&p.scenario) {
            per_point.push(results[r].take().expect("every run ran")?);
            r += 1;
        }
        out.push((p.clone(), per_point));
    }
    Ok(SweepOutcome { points: out })
}

/// `sweep.csv`: `point`, one column per swept key, `seed`, then the `summary.csv` columns.
pub fn render_csv(plan: &SweepPlan, outcome: &SweepOutcome) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let summary_header = summary_columns()?;
    let mut header = vec!["point".to_string()];
    header.extend(plan.keys.iter().cloned());
    header.push("seed".into());
    header.extend(summary_header);
    w.write_record(&header)?;
    for (point, results) in &outcome.points {
        for r in results {
            let mut row = vec![point.index.to_string()];
            row.extend(point.values.iter().map(|v| v.to_string()));
            row.push(point.seed.to_string());
            row.extend(summary_fields(&r.summary)?);
            w.write_record(&row)?;
        }
    }
    Ok(w.into_inner()?)
}

fn summary_columns() -> anyhow::Result<Vec<String>> {
    let text =
        crate::output::csv::to_csv([crate::metrics::Recorder::new(0, 0, 1, &[]).summary("x", 0)])?;
    let text = String::from_utf8(text)?;
    Ok(text
        .lines()
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect())
}

fn summary_fields(row: &crate::SummaryRow) -> anyhow::Result<Vec<String>> {
    let text = String::from_utf8(crate::output::csv::to_csv([row])?)?;
    let line = text.lines().nth(1).unwrap_or("");
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes());
    let rec = r.records().next().context("empty summary row")??;
    Ok(rec.iter().map(str::to_string).collect())
}

/// Join the `sweep.csv` of shard folders into one, ordered by point as an unsharded run
/// writes it. Fails if two shards hold the same point or the headers differ.
pub fn merge(shard_dirs: &[PathBuf]) -> anyhow::Result<Vec<u8>> {
    let mut header: Option<csv::StringRecord> = None;
    let mut rows: Vec<(usize, usize, csv::StringRecord)> = Vec::new();
    let mut seen_points = std::collections::BTreeMap::new();
    for (d, dir) in shard_dirs.iter().enumerate() {
        let path = dir.join("sweep.csv");
        let mut r = csv::Reader::from_path(&path).with_context(|| {
            format!(
                "cannot read {} (is it a shard's output folder?)",
                path.display()
            )
        })?;
        let h = r.headers()?.clone();
        if h.get(0) != Some("point") {
            bail!("{}: not a sweep.csv (no `point` column)", path.display());
        }
        match &header {
            None => header = Some(h),
            Some(first) if *first != h => bail!(
                "{}: its columns differ from the first shard's",
                path.display()
            ),
            _ => {}
        }
        for (line, rec) in r.records().enumerate() {
            let rec = rec.with_context(|| format!("{}: line {}", path.display(), line + 2))?;
            let point: usize = rec.get(0).and_then(|p| p.parse().ok()).with_context(|| {
                format!("{}: line {}: bad point number", path.display(), line + 2)
            })?;
            if let Some(other) = seen_points.insert(point, d) {
                if other != d {
                    bail!(
                        "point {point} is in two shards: {} and {}",
                        shard_dirs[other].display(),
                        dir.display()
                    );
                }
            }
            rows.push((point, line, rec));
        }
    }
    rows.sort_by_key(|(point, line, _)| (*point, *line));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header.as_ref().context("no shard folders given")?)?;
    for (_, _, rec) in rows {
        w.write_record(&rec)?;
    }
    Ok(w.into_inner()?)
}

/// Where a sweep's files go.
pub fn dir_of(out: &Path, scenario: &Scenario) -> PathBuf {
    out.join(&scenario.name)
}
