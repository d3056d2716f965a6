//! What the charts draw, read back from a run's CSV files (so `realtime-lab chart DIR` can
//! redraw without simulating).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::bail;
use serde::Deserialize;

use crate::metrics::SummaryRow;

/// One row of `timeseries.csv`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TimeRow {
    /// Strategy id.
    pub strategy: String,
    /// Simulated second.
    pub t_s: u64,
    /// Requests received in that second.
    pub requests: u64,
    /// Responses sent.
    pub responses: u64,
    /// Empty responses sent.
    pub empty_responses: u64,
    /// Connections open at the end of the second.
    pub open_connections: u64,
    /// Parked requests at the end of the second.
    pub parked_requests: u64,
    /// Events delivered in that second.
    pub events_delivered: u64,
    /// Bytes client → server.
    pub app_bytes_up: u64,
    /// Bytes server → client.
    pub app_bytes_down: u64,
    /// Server CPU ms spent in that second (absent in folders written before the cost model).
    #[serde(default)]
    pub server_cpu_ms: f64,
    /// Server memory at the end of the second, bytes.
    #[serde(default)]
    pub server_memory_bytes: u64,
    /// Connection attempts in that second (absent in folders written before faults).
    #[serde(default)]
    pub connect_attempts: u64,
    /// Clients connected at the end of the second.
    #[serde(default)]
    pub connected_clients: u64,
}

#[derive(Debug, Clone, Deserialize)]
struct LatencyRow {
    strategy: String,
    latency_ms: u64,
    count: u64,
}

/// Everything one set of charts needs.
#[derive(Debug, Clone)]
pub struct ChartData {
    /// Scenario name.
    pub name: String,
    /// One line describing the conditions (clients, event rate, latency), or empty.
    pub conditions: String,
    /// `summary.csv`, one row per strategy, in run order.
    pub summary: Vec<SummaryRow>,
    /// `timeseries.csv` rows per strategy.
    pub series: BTreeMap<String, Vec<TimeRow>>,
    /// `latency.csv` buckets per strategy: `(ms, count)`.
    pub latency: BTreeMap<String, Vec<(u64, u64)>>,
    /// Colour and pattern of each strategy.
    pub looks: crate::output::palette::Looks,
    /// `model.csv` rows per strategy, if the folder has one (predictions drawn dashed/hollow).
    pub model: BTreeMap<String, ModelRow>,
    /// The measured window `[warmup, duration)` in seconds, from the summary.
    pub window: Option<(f64, f64)>,
    /// The server's cores (`[server] cores`), if it has a limit.
    pub cores: Option<u64>,
    /// Whether the folder has `faults.csv` (a scenario with faults): the recovery chart.
    pub has_faults: bool,
    /// The timed faults of `faults.csv`, shaded on the recovery chart.
    pub faults: Vec<FaultWindow>,
}

/// A row of `faults.csv`: one timed fault.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FaultWindow {
    /// Its position in the scenario's `[[faults]]`.
    pub fault: u64,
    /// `server-restart` or `outage`.
    pub kind: String,
    /// When it starts, s.
    pub start_s: f64,
    /// When it ends, s.
    pub end_s: f64,
    /// The share of clients it hits.
    pub clients: f64,
}

/// The predictions of `model.csv` the charts draw.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ModelRow {
    /// Strategy id.
    pub strategy: String,
    /// Length of the measured window, s.
    pub duration_s: f64,
    /// Predicted requests per second.
    pub requests_per_s: Option<f64>,
    /// Predicted median latency.
    pub latency_p50_ms: Option<f64>,
    /// Predicted 99th percentile.
    pub latency_p99_ms: Option<f64>,
    /// Predicted bytes per event.
    pub bytes_per_event: Option<f64>,
}

impl ChartData {
    /// Whether theory predicts a latency (p50 or p99) for any strategy: the CDF then has
    /// hollow theory markers to explain.
    pub fn has_latency_theory(&self) -> bool {
        self.model
            .values()
            .any(|m| m.latency_p50_ms.is_some() || m.latency_p99_ms.is_some())
    }

    /// Whether the folder has the server's CPU and memory (written since the cost model: every
    /// run then holds some memory, its connections).
    pub fn has_server_costs(&self) -> bool {
        self.summary
            .iter()
            .any(|r| r.server_memory_peak_bytes > 0 || r.server_cpu_s > 0.0)
    }

    /// The strategies in run order.
    pub fn strategies(&self) -> Vec<&str> {
        self.summary.iter().map(|r| r.strategy.as_str()).collect()
    }

    /// Read `summary.csv`, `timeseries.csv`, `latency.csv` (and `model.csv` if present) from
    /// `dir`. `conditions` is the text of `conditions.txt`: a line describing the scenario,
    /// then optionally `measured window: W–D s`.
    pub fn read(
        dir: &Path,
        name: &str,
        conditions: &str,
        looks: &crate::output::palette::Looks,
    ) -> anyhow::Result<ChartData> {
        let mut lines = conditions.lines();
        let conditions = lines.next().unwrap_or("").trim();
        let window = lines.next().and_then(|l| {
            let range = l.strip_prefix("measured window: ")?.strip_suffix(" s")?;
            let (a, b) = range.split_once('–')?;
            let (a, b): (f64, f64) = (a.parse().ok()?, b.parse().ok()?);
            // a hand-edited window outside what a run can have is ignored, not drawn
            (a.is_finite() && b.is_finite() && 0.0 <= a && a < b && b <= 1e6).then_some((a, b))
        });
        let summary: Vec<SummaryRow> = crate::output::read::rows(&dir.join("summary.csv"))?;
        if summary.is_empty() {
            bail!("{}: no rows", dir.join("summary.csv").display());
        }
        let mut series: BTreeMap<String, Vec<TimeRow>> = BTreeMap::new();
        for row in crate::output::read::rows::<TimeRow>(&dir.join("timeseries.csv"))? {
            series.entry(row.strategy.clone()).or_default().push(row);
        }
        let mut latency: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
        for row in crate::output::read::rows::<LatencyRow>(&dir.join("latency.csv"))? {
            latency
                .entry(row.strategy)
                .or_default()
                .push((row.latency_ms, row.count));
        }
        for r in &summary {
            if !series.contains_key(&r.strategy) {
                bail!(
                    "{}: no rows for strategy {} (it is in summary.csv)",
                    dir.join("timeseries.csv").display(),
                    r.strategy
                );
            }
        }
        let mut model = BTreeMap::new();
        let model_file = dir.join("model.csv");
        if model_file.exists() {
            for row in crate::output::read::rows::<ModelRow>(&model_file)? {
                model.insert(row.strategy.clone(), row);
            }
        }
        let cores = summary.iter().map(|r| r.server_cores).find(|&k| k > 0);
        let faults_file = dir.join(crate::output::csv::FAULTS_FILE);
        let has_faults = faults_file.exists();
        let faults = if has_faults {
            let rows: Vec<FaultWindow> = crate::output::read::rows(&faults_file)?;
            for r in &rows {
                if !(r.start_s.is_finite() && r.end_s.is_finite() && r.start_s <= r.end_s) {
                    bail!(
                        "{}: fault {} has the window {}–{} s; a start before its end is needed",
                        faults_file.display(),
                        r.fault,
                        r.start_s,
                        r.end_s
                    );
                }
            }
            rows
        } else {
            Vec::new()
        };
        Ok(ChartData {
            looks: looks.clone(),
            name: name.to_string(),
            conditions: conditions.to_string(),
            cores,
            has_faults,
            faults,
            summary,
            series,
            latency,
            model,
            window,
        })
    }
}
