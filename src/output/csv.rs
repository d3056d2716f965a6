//! The CSV files of a run, rendered in memory (written as one set by
//! [`crate::output::folder`]).
//!
//! - `summary.csv`: one row per strategy ([`crate::metrics::SummaryRow`]).
//! - `timeseries.csv`: one row per strategy per simulated second.
//! - `latency.csv`: `strategy,latency_ms,count`, 1 ms buckets (only non-empty ones).
//! - `events_by_type.csv`: `strategy,event_type,delivered`.

use serde::Serialize;

use crate::metrics::SecondRow;
use crate::RunResult;

/// Names of the files [`render`] renders.
pub const FILES: [&str; 4] = [
    "summary.csv",
    "timeseries.csv",
    "latency.csv",
    "events_by_type.csv",
];

/// A row of `timeseries.csv` (the csv crate cannot flatten, so the columns are spelled out).
#[derive(Serialize)]
struct TimeseriesRow<'a> {
    strategy: &'a str,
    t_s: u64,
    requests: u64,
    responses: u64,
    empty_responses: u64,
    open_connections: u64,
    parked_requests: u64,
    events_delivered: u64,
    app_bytes_up: u64,
    app_bytes_down: u64,
    server_cpu_ms: f64,
    server_memory_bytes: u64,
    connect_attempts: u64,
    connected_clients: u64,
}

impl<'a> TimeseriesRow<'a> {
    fn new(strategy: &'a str, t_s: u64, r: &SecondRow) -> Self {
        TimeseriesRow {
            strategy,
            t_s,
            requests: r.requests,
            responses: r.responses,
            empty_responses: r.empty_responses,
            open_connections: r.open_connections,
            parked_requests: r.parked_requests,
            events_delivered: r.events_delivered,
            app_bytes_up: r.app_bytes_up,
            app_bytes_down: r.app_bytes_down,
            server_cpu_ms: r.server_cpu_ms,
            server_memory_bytes: r.server_memory_bytes,
            connect_attempts: r.connect_attempts,
            connected_clients: r.connected_clients,
        }
    }
}

#[derive(Serialize)]
struct TypeRow<'a> {
    strategy: &'a str,
    event_type: &'a str,
    delivered: u64,
}

#[derive(Serialize)]
struct LatencyRow<'a> {
    strategy: &'a str,
    latency_ms: u64,
    count: u64,
}

/// A row of `model.csv`: the `summary.csv` columns the model predicts (others empty), then
/// model-only columns.
#[derive(Serialize)]
struct ModelRow<'a> {
    strategy: &'a str,
    clients: u64,
    duration_s: f64,
    events_generated: Option<f64>,
    events_delivered: Option<f64>,
    events_lost: Option<f64>,
    duplicates: Option<f64>,
    requests: Option<f64>,
    requests_per_s: Option<f64>,
    empty_responses: Option<f64>,
    connections_opened: Option<f64>,
    peak_open_connections: Option<f64>,
    latency_mean_ms: Option<f64>,
    latency_p50_ms: Option<f64>,
    latency_p95_ms: Option<f64>,
    latency_p99_ms: Option<f64>,
    latency_max_ms: Option<f64>,
    app_bytes_up: Option<f64>,
    app_bytes_down: Option<f64>,
    payload_bytes: Option<f64>,
    overhead_bytes: Option<f64>,
    bytes_per_event: Option<f64>,
    upstream_messages: Option<f64>,
    upstream_latency_mean_ms: Option<f64>,
    parked_requests_mean: Option<f64>,
    empty_fraction: Option<f64>,
    events_per_response: Option<f64>,
    app_bytes_per_s: Option<f64>,
    server_cpu_s: Option<f64>,
    server_cores_needed_mean: Option<f64>,
    server_memory_mean_bytes: Option<f64>,
    server_queue_delay_mean_ms: Option<f64>,
    /// CPU the load asks for ÷ the server's cores (`[server] cores`): 1 or more is saturated.
    server_utilisation: Option<f64>,
    /// Clients at which the server's cores are all busy (`[server] cores`).
    saturation_clients: Option<f64>,
    /// Clients one core can serve.
    clients_per_core: Option<f64>,
    misdelivered: Option<f64>,
    address_seconds_in_memory: Option<f64>,
    address_seconds_stored: Option<f64>,
    clients_unreachable: Option<f64>,
}

/// `model.csv`: one row per strategy that has a closed form.
pub fn render_model(
    scenario: &crate::Scenario,
    predictions: &[(String, crate::model::Prediction)],
) -> anyhow::Result<Vec<u8>> {
    let window = scenario.duration_s - scenario.warmup_s;
    let r3 = |v: Option<f64>| v.map(crate::metrics::round3);
    let r6 = |v: Option<f64>| v.map(crate::metrics::round6);
    to_csv(predictions.iter().map(|(id, p)| {
        let events = scenario.expected_deliveries();
        let cap = p
            .load
            .as_ref()
            .map(|l| crate::capacity::predict(scenario, l));
        // past saturation, polling clients slow down to what the cores can answer
        let slowdown = cap.as_ref().map_or(1.0, |c| c.slowdown);
        let requests_per_s = p.requests_per_s.map(|r| r / slowdown);
        let requests = requests_per_s.map(|r| r * window);
        // a strategy's own loss (unreachable clients) holds with or without faults; without
        // either, nothing is lost
        let lost = p.events_lost.or((!scenario.has_faults()).then_some(0.0));
        // clients that come and go, or move, never reach the steady state the closed forms
        // describe: only the address rows are predicted then (and no theory marks drawn)
        let steady = |v: Option<f64>| v.filter(|_| !scenario.has_churn());
        ModelRow {
            strategy: id,
            clients: scenario.clients.count,
            duration_s: window,
            events_generated: r3(Some(events)),
            events_delivered: r3(lost.map(|l| events - l)),
            events_lost: r3(lost),
            duplicates: Some(0.0),
            requests: steady(r3(requests)),
            requests_per_s: steady(r3(requests_per_s)),
            empty_responses: steady(r3(requests.zip(p.empty_fraction).map(|(r, e)| r * e))),
            connections_opened: None,
            peak_open_connections: None,
            latency_mean_ms: steady(r3(p.latency_mean_ms)),
            latency_p50_ms: steady(r3(p.latency_p50_ms)),
            latency_p95_ms: None,
            latency_p99_ms: steady(r3(p.latency_p99_ms)),
            latency_max_ms: steady(r3(p.latency_max_ms)),
            app_bytes_up: None,
            app_bytes_down: None,
            payload_bytes: None,
            overhead_bytes: None,
            bytes_per_event: steady(r3(p.bytes_per_event)),
            upstream_messages: None,
            upstream_latency_mean_ms: None,
            parked_requests_mean: steady(r3(p.parked_requests)),
            empty_fraction: steady(r3(p.empty_fraction.map(|e| e * 1000.0)).map(|e| e / 1000.0)),
            events_per_response: steady(r3(p.events_per_response)),
            app_bytes_per_s: steady(r3(p.app_bytes_per_s)),
            server_cpu_s: steady(r6(cap.as_ref().map(|c| c.cores_needed * window))),
            server_cores_needed_mean: steady(r6(cap.as_ref().map(|c| c.cores_needed))),
            server_memory_mean_bytes: steady(cap.as_ref().map(|c| c.memory_bytes.round())),
            server_queue_delay_mean_ms: steady(r6(cap
                .as_ref()
                .and_then(|c| c.queue_delay_mean_ms))),
            server_utilisation: steady(r6(cap.as_ref().and_then(|c| c.utilisation))),
            saturation_clients: steady(
                cap.as_ref()
                    .and_then(|c| c.saturation_clients)
                    .map(f64::round),
            ),
            clients_per_core: steady(
                cap.as_ref()
                    .map(|c| c.clients_per_core)
                    .filter(|v| v.is_finite())
                    .map(f64::round),
            ),
            misdelivered: r3(Some(p.misdelivered.unwrap_or(0.0))),
            address_seconds_in_memory: r3(p.address_seconds_in_memory),
            address_seconds_stored: r3(p.address_seconds_stored),
            clients_unreachable: r3(p
                .unreachable_share
                .map(|u| u * scenario.clients.count as f64)),
        }
    }))
}

/// Serialize `rows` as CSV with a header row.
pub fn to_csv<T: Serialize>(rows: impl IntoIterator<Item = T>) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.serialize(row)?;
    }
    Ok(w.into_inner()?)
}

/// The three CSV files for `results`, as `(file name, bytes)`.
pub fn render(results: &[RunResult]) -> anyhow::Result<Vec<(&'static str, Vec<u8>)>> {
    let summary = to_csv(results.iter().map(|r| &r.summary))?;
    let timeseries = to_csv(results.iter().flat_map(|r| {
        r.seconds
            .iter()
            .enumerate()
            .map(|(t, row)| TimeseriesRow::new(&r.strategy, t as u64, row))
    }))?;
    let latency = to_csv(results.iter().flat_map(|r| {
        r.latency
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(ms, &count)| LatencyRow {
                strategy: &r.strategy,
                latency_ms: ms as u64,
                count,
            })
    }))?;
    let by_type = to_csv(results.iter().flat_map(|r| {
        r.delivered_by_type.iter().map(|(t, n)| TypeRow {
            strategy: &r.strategy,
            event_type: t,
            delivered: *n,
        })
    }))?;
    Ok(vec![
        (FILES[0], summary),
        (FILES[1], timeseries),
        (FILES[2], latency),
        (FILES[3], by_type),
    ])
}

/// The faults of a run, for the recovery chart: written when the scenario has any.
pub const FAULTS_FILE: &str = "faults.csv";

/// `faults.csv`: one row per timed fault (`[[faults]]`); only the header when the faults are
/// a proxy or a lossy network, which last the whole run.
pub fn render_faults(s: &crate::scenario::Scenario) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["fault", "kind", "start_s", "end_s", "clients"])?;
    for (i, f) in s.faults.iter().enumerate() {
        let (from, to) = f.window_ms();
        let share = match f {
            crate::scenario::Fault::Outage { clients, .. } => *clients,
            crate::scenario::Fault::ServerRestart { .. } => 1.0,
        };
        w.write_record([
            i.to_string(),
            f.kind().to_string(),
            (from as f64 / 1000.0).to_string(),
            (to as f64 / 1000.0).to_string(),
            share.to_string(),
        ])?;
    }
    Ok(w.into_inner()?)
}
