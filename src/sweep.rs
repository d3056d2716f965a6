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

/// The identity of a shard's output (`shard.txt`): which sweep, which shard of how many.
/// A whole sweep is shard 0 of 1.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardInfo {
    /// The scenario's name.
    pub scenario: String,
    /// A fingerprint of everything that decides the sweep's rows: every point's complete
    /// scenario (values, seeds, strategies, settings) and the realtime-lab version.
    pub fingerprint: String,
    /// This shard, `0..shards`.
    pub shard: usize,
    /// How many shards the sweep was split into.
    pub shards: usize,
    /// Points in the whole sweep.
    pub points: usize,
    /// The strategies of every point, in order (one row each per point).
    #[serde(default)]
    pub strategies: Vec<String>,
}

/// File holding a shard's [`ShardInfo`].
pub const SHARD_FILE: &str = "shard.txt";

impl ShardInfo {
    /// The identity of `shard` (or of the whole sweep) of `plan`.
    pub fn of(name: &str, plan: &SweepPlan, shard: Option<Shard>) -> ShardInfo {
        let shard = shard.unwrap_or(Shard { index: 0, count: 1 });
        ShardInfo {
            scenario: name.to_string(),
            fingerprint: fingerprint(plan),
            shard: shard.index,
            shards: shard.count,
            points: plan.points.len(),
            strategies: plan
                .points
                .first()
                .map(|p| p.scenario.strategies.clone())
                .unwrap_or_default(),
        }
    }

    /// `shard.txt`'s contents (TOML).
    pub fn render(&self) -> Vec<u8> {
        let mut text = String::from(
            "# which sweep, and which shard of it, this folder holds (`realtime-lab merge` checks it)\n",
        );
        text.push_str(&toml::to_string(self).unwrap_or_default());
        text.into_bytes()
    }
}

/// FNV-1a (64 bit) over the plan's points as the program sees them, and the version: two
/// shards with the same fingerprint were cut from the same sweep by the same program.
fn fingerprint(plan: &SweepPlan) -> String {
    let text = format!("{} {:?}", env!("CARGO_PKG_VERSION"), plan);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn read_info(dir: &Path) -> anyhow::Result<ShardInfo> {
    let path = dir.join(SHARD_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {} (shards are the folders `run --shard K/N` writes)",
            path.display()
        )
    })?;
    let info: ShardInfo = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}",
            path.display(),
            crate::scenario::shown(e.to_string().trim())
        )
    })?;
    if info.points == 0
        || info.points > crate::scenario::sweep::MAX_POINTS
        || info.shards == 0
        || info.shards > info.points
        || info.shard >= info.shards
    {
        bail!(
            "{}: shard {} of {} over {} points is not what `run --shard` writes (0 ≤ shard < shards ≤ points ≤ {})",
            path.display(),
            info.shard,
            info.shards,
            info.points,
            crate::scenario::sweep::MAX_POINTS
        );
    }
    Ok(info)
}

/// What must agree between the shards of one sweep.
fn identity(i: &ShardInfo) -> (&str, &str, usize, usize, &[String]) {
    (
        &i.scenario,
        &i.fingerprint,
        i.shards,
        i.points,
        &i.strategies,
    )
}

/// Join the `sweep.csv` of shard folders into one, ordered by point as an unsharded run
/// writes it, with the merged [`ShardInfo`]. Refuses shards of different sweeps, a missing or
/// repeated shard, a point in the wrong shard, a missing or repeated row, a cell that is not a
/// number, and differing columns.
pub fn merge(shard_dirs: &[PathBuf]) -> anyhow::Result<(Vec<u8>, ShardInfo)> {
    let mut first: Option<ShardInfo> = None;
    let mut seen_shards = std::collections::BTreeMap::new();
    for dir in shard_dirs {
        let info = read_info(dir)?;
        if let Some(f) = &first {
            if identity(f) != identity(&info) {
                bail!(
                    "{} holds shard {}/{} of a sweep of {} points (scenario `{}`, fingerprint {}), but {} is a shard of {} of {} points (scenario `{}`, fingerprint {}): merge the shards of one `run --shard` only",
                    dir.display(),
                    info.shard,
                    info.shards,
                    info.points,
                    crate::scenario::shown(&info.scenario),
                    crate::scenario::shown(&info.fingerprint),
                    shard_dirs[0].display(),
                    f.shards,
                    f.points,
                    crate::scenario::shown(&f.scenario),
                    crate::scenario::shown(&f.fingerprint)
                );
            }
        }
        if let Some(other) = seen_shards.insert(info.shard, dir.clone()) {
            bail!(
                "shard {}/{} is given twice: {} and {}",
                info.shard,
                info.shards,
                other.display(),
                dir.display()
            );
        }
        first.get_or_insert(info);
    }
    let info = first.context("no shard folders given")?;
    let missing: Vec<String> = (0..info.shards)
        .filter(|k| !seen_shards.contains_key(k))
        .take(10)
        .map(|k| format!("{k}/{}", info.shards))
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard{} {} of the sweep {} missing; merge needs all {}",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            if missing.len() > 1 { "are" } else { "is" },
            info.shards
        );
    }
    let mut header: Option<csv::StringRecord> = None;
    let mut rows: Vec<(usize, usize, csv::StringRecord)> = Vec::new();
    for (&k, dir) in &seen_shards {
        let path = dir.join("sweep.csv");
        let (h, records) = crate::output::read::records(&path)?;
        let strategy_col = h
            .iter()
            .position(|c| c == "strategy")
            .filter(|_| h.get(0) == Some("point"))
            .with_context(|| {
                format!(
                    "{}: line 1: not a sweep.csv (`point` first, a `strategy` column)",
                    path.display()
                )
            })?;
        match &header {
            None => header = Some(h.clone()),
            Some(first) if *first != h => bail!(
                "{}: line 1: its columns differ from the other shards'",
                path.display()
            ),
            _ => {}
        }
        let mut seen = std::collections::BTreeSet::new();
        for (line, rec) in records {
            for (value, column) in rec.iter().zip(h.iter()) {
                if column != "strategy" && value.trim().parse::<f64>().is_err() {
                    bail!(
                        "{}: line {line}, column `{}`: \"{}\" is not a number",
                        path.display(),
                        crate::scenario::shown(column),
                        crate::scenario::shown(value)
                    );
                }
            }
            let strategy = rec.get(strategy_col).unwrap_or("").to_string();
            if !info.strategies.is_empty() && !info.strategies.contains(&strategy) {
                bail!(
                    "{}: line {line}: strategy `{}` is not one of the sweep's ({})",
                    path.display(),
                    crate::scenario::shown(&strategy),
                    info.strategies.join(", ")
                );
            }
            let point: usize = rec
                .get(0)
                .and_then(|p| p.parse().ok())
                .filter(|&p| p < info.points && p % info.shards == k)
                .with_context(|| {
                    format!(
                        "{}: line {line}: point {} does not belong to shard {k}/{} of {} points",
                        path.display(),
                        crate::scenario::shown(rec.get(0).unwrap_or("")),
                        info.shards,
                        info.points
                    )
                })?;
            if !seen.insert((point, strategy.clone())) {
                bail!(
                    "{}: line {line}: point {point} of `{}` is there twice",
                    path.display(),
                    crate::scenario::shown(&strategy)
                );
            }
            rows.push((point, line, rec));
        }
        // every point of this shard, with every strategy
        if !info.strategies.is_empty() {
            let expected =
                (0..info.points).filter(|p| p % info.shards == k).count() * info.strategies.len();
            if seen.len() != expected {
                bail!(
                    "{}: {} rows, but shard {k}/{} of {} points × {} strategies has {expected}: rows are missing",
                    path.display(),
                    seen.len(),
                    info.shards,
                    info.points,
                    info.strategies.len()
                );
            }
        }
    }
    rows.sort_by_key(|(point, line, _)| (*point, *line));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header.as_ref().context("no shard folders given")?)?;
    for (_, _, rec) in rows {
        w.write_record(&rec)?;
    }
    let merged = ShardInfo {
        shard: 0,
        shards: 1,
        ..info
    };
    Ok((w.into_inner()?, merged))
}

/// The charts of a results folder, drawn (in memory) from its CSV files: a run's
/// (`summary.csv` …) or a sweep's (`sweep.csv`).
pub(crate) fn charts_of_folder(
    dir: &Path,
    looks: &crate::output::palette::Looks,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results".into());
    if dir.join("sweep.csv").is_file() && !dir.join("summary.csv").exists() {
        let title = std::fs::read_to_string(dir.join(SHARD_FILE))
            .ok()
            .and_then(|t| toml::from_str::<ShardInfo>(&t).ok())
            .map_or(folder, |i| i.scenario);
        let data = crate::output::charts::sweep::SweepData::read(&dir.join("sweep.csv"), looks)?;
        return crate::output::charts::sweep::render_all(&data, &title);
    }
    crate::runner::charts_of(dir, &folder, looks)
}

/// Where a sweep's files go.
pub fn dir_of(out: &Path, scenario: &Scenario) -> PathBuf {
    out.join(&scenario.name)
}
