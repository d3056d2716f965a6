//! Sweeps: every point × strategy as an independent simulation (run by [`crate::runner`]),
//! `sweep.csv`, sharding across machines and merging shard outputs.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::metrics::SummaryRow;
use crate::runner::{run_all, Job, Progress};
use crate::scenario::sweep::{SweepPlan, SweepPoint};
use crate::scenario::Scenario;
use crate::sim::{RunResult, Strategy};

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

/// Run every (point, strategy) of `plan` (only `shard`'s points if given) on `jobs` threads;
/// `strategies_of` resolves a point's strategy ids (the [`crate::Lab`]'s registry).
pub(crate) fn run(
    plan: &SweepPlan,
    shard: Option<Shard>,
    jobs: usize,
    progress: &dyn Progress,
    strategies_of: &dyn Fn(&Scenario) -> anyhow::Result<Vec<&'static dyn Strategy>>,
) -> anyhow::Result<SweepOutcome> {
    let points: Vec<&SweepPoint> = plan
        .points
        .iter()
        .filter(|p| shard.is_none_or(|s| p.index % s.count == s.index))
        .collect();
    let mut runs = Vec::new();
    let mut per_point = Vec::new();
    for p in &points {
        let strategies = strategies_of(&p.scenario)?;
        per_point.push(strategies.len());
        for strategy in strategies {
            runs.push(Job {
                label: format!("point {} {}", p.index, strategy.id()),
                scenario: &p.scenario,
                strategy,
            });
        }
    }
    let mut results = run_all(&runs, jobs, progress).into_iter();
    let mut out = Vec::new();
    for (p, n) in points.into_iter().zip(per_point) {
        let results: anyhow::Result<Vec<RunResult>> = results.by_ref().take(n).collect();
        out.push((p.clone(), results?));
    }
    Ok(SweepOutcome { points: out })
}

/// `sweep.csv`: `point`, one column per swept key, `seed`, then the `summary.csv` columns.
pub fn render_csv(plan: &SweepPlan, outcome: &SweepOutcome) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let mut header = vec!["point".to_string()];
    header.extend(plan.keys.iter().cloned());
    header.push("seed".into());
    // the summary columns are the row type's fields, in declaration order
    header.extend(
        serde_aux::serde_introspection::serde_introspect::<SummaryRow>()
            .iter()
            .map(|f| f.to_string()),
    );
    w.write_record(&header)?;
    for (point, results) in &outcome.points {
        for r in results {
            w.write_field(point.index.to_string())?;
            for v in &point.values {
                w.write_field(v.to_string())?;
            }
            w.write_field(point.seed.to_string())?;
            w.serialize(&r.summary)?; // the rest of the record
        }
    }
    Ok(w.into_inner()?)
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
