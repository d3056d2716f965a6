//! `addresses`: "why not store every client's address and call it?" answered per strategy
//! (drawn when a run calls clients back, keeps a registry or an access log, or clients change
//! address). Top row, privacy: address·hours the server holds in memory (any open
//! connection of a client, a request, a registration), address·hours stored beyond any
//! connection (the callback registry, access logs), and events that reached the wrong client
//! (and their share of what arrived). Bottom row, reach and scale: the clients the server
//! cannot call, the events lost, and the registry it keeps (entries, and how many point at an
//! address their client no longer has). Connections per event are in `summary.csv` and the
//! sweep's `privacy` chart.

use plotters::prelude::*;

use super::draw::{self};
use super::recovery::bars;
use super::{Area, ChartData};
use crate::metrics::SummaryRow;

/// Whether the folder's runs have something to show here.
pub fn applies(data: &ChartData) -> bool {
    data.summary.iter().any(|r| {
        r.strategy == "server-callback"
            || r.registry_entries_peak > 0
            || r.address_changes > 0
            || r.access_log_lines > 0
            || r.misdelivered > 0
    })
}

fn hours(s: f64) -> f64 {
    s / 3600.0
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

pub fn draw<DB: DrawingBackend>(root: &Area<'_, DB>, data: &ChartData) -> anyhow::Result<()> {
    let body = draw::titled(root, &format!("Stored addresses — {}", data.name), data)?;
    let body = draw::legend(&body, data)?;
    let rows = body.split_evenly((2, 3));
    let logged = data.summary.iter().any(|r| r.address_seconds_logged > 0.0);
    bars(
        &rows[0],
        data,
        "Held in memory (address·h)",
        "address-hours",
        &|r| hours(r.address_seconds_in_memory),
        &|r| draw::fmt_small(hours(r.address_seconds_in_memory)),
    )?;
    let stored = |r: &SummaryRow| hours(r.address_seconds_stored);
    bars(
        &rows[1],
        data,
        if logged {
            "Stored: registry + logs"
        } else {
            "Stored beyond connections"
        },
        "address-hours",
        &stored,
        &|r| draw::fmt_small(stored(r)),
    )?;
    bars(
        &rows[2],
        data,
        "Events to the wrong client",
        "events misdelivered",
        &|r| r.misdelivered as f64,
        &|r| {
            if r.misdelivered == 0 {
                "0".to_string()
            } else {
                // of the events that reached anyone, the share that reached a stranger
                format!(
                    "{} ({:.0} % of arrivals)",
                    draw::fmt_count(&(r.misdelivered as f64)),
                    share(r.misdelivered, r.events_delivered + r.misdelivered)
                )
            }
        },
    )?;
    bars(
        &rows[3],
        data,
        "Clients it cannot call",
        "% of clients",
        &|r| share(r.clients_unreachable, r.clients),
        &|r| format!("{:.0} %", share(r.clients_unreachable, r.clients)),
    )?;
    bars(
        &rows[4],
        data,
        "Events lost",
        "% of events",
        &|r| share(r.events_lost, r.events_generated),
        &|r| format!("{:.0} %", share(r.events_lost, r.events_generated)),
    )?;
    bars(
        &rows[5],
        data,
        "Registry entries (stale)",
        "entries, peak",
        &|r| r.registry_entries_peak as f64,
        &|r| {
            if r.registry_entries_peak == 0 {
                "0".to_string()
            } else {
                format!(
                    "{} ({} stale)",
                    draw::fmt_count(&(r.registry_entries_peak as f64)),
                    draw::fmt_count(&(r.stale_registry_entries_peak as f64))
                )
            }
        },
    )
}
