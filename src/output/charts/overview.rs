//! `overview`: the one picture for a slide — requests/s, latency CDF, open connections and
//! bytes per event, 2×2.

use plotters::prelude::*;

use super::draw;
use super::{latency, load, traffic, Area, ChartData};

pub fn draw<DB: DrawingBackend>(root: &Area<'_, DB>, data: &ChartData) -> anyhow::Result<()> {
    let body = draw::titled(root, &format!("realtime-lab — {}", data.name), data)?;
    let body = draw::legend(&body, data)?;
    let panels = body.split_evenly((2, 2));
    load::requests(&panels[0], data)?;
    let caption = if !data.has_latency_theory() {
        "Latency: share delivered within"
    } else {
        "Latency: share delivered within (○ theory)"
    };
    latency::cdf(&panels[1], data, caption)?;
    load::connections(&panels[2], data, "Open connections")?;
    traffic::per_event_bars(&panels[3], data)
}
