//! `server_load`: requests/s (top) and open connections with parked requests (bottom), over
//! simulated time, sharing the time axis.

use plotters::prelude::*;

use super::draw::{self, err};
use super::{Area, ChartData};

pub fn draw<DB: DrawingBackend>(root: &Area<'_, DB>, data: &ChartData) -> anyhow::Result<()> {
    let body = draw::titled(root, &format!("Server load — {}", data.name), data)?;
    let body = draw::legend(&body, data)?;
    let (top, bottom) = body.split_vertically(body.dim_in_pixel().1 / 2);
    requests(&top, data)?;
    connections(
        &bottom,
        data,
        "Open connections (thick) and parked requests (thin)",
    )
}

/// Requests per second over time, with the model's prediction as a thin dashed line over the
/// measured window.
pub fn requests<DB: DrawingBackend>(area: &Area<'_, DB>, data: &ChartData) -> anyhow::Result<()> {
    let lines = draw::time_series(data, |r| r.requests as f64);
    let caption = if data.model.is_empty() {
        "Requests received per second"
    } else {
        "Requests received per second (thin dashed: theory)"
    };
    let mut chart = draw::time_panel(area, data, caption, "requests/s", &lines, &draw::fmt_count)?;
    let (from, to) = draw::time_range(data);
    for id in data.strategies() {
        let Some(rate) = data.model.get(id).and_then(|m| m.requests_per_s) else {
            continue;
        };
        if rate <= 0.0 {
            continue;
        }
        chart
            .draw_series(DashedLineSeries::new(
                vec![(from, rate), (to, rate)],
                10,
                6,
                BLACK.mix(0.8).stroke_width(1),
            ))
            .map_err(err)?;
    }
    Ok(())
}

/// Open connections (thick) and parked requests (thin, where any) over time.
pub fn connections<DB: DrawingBackend>(
    area: &Area<'_, DB>,
    data: &ChartData,
    caption: &str,
) -> anyhow::Result<()> {
    let open = draw::time_series(data, |r| r.open_connections as f64);
    let parked = draw::time_series(data, |r| r.parked_requests as f64);
    let (from, to) = draw::time_range(data);
    let y_max = open
        .iter()
        .chain(&parked)
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .fold(0.0, f64::max);
    let y = draw::y_range(y_max, 1.0);
    let mut chart = draw::frame(area, caption, from..to, y.clone())?;
    draw::mesh(
        &mut chart,
        draw::TIME_AXIS,
        "connections",
        &draw::fmt_seconds,
        &draw::fmt_count,
    )?;
    for (i, (id, pts)) in open.iter().enumerate() {
        draw::series(&mut chart, pts.clone(), data.looks.get(id, i), 4)?;
    }
    draw::label_lines(&mut chart, &open, &data.looks)?;
    for (i, (id, pts)) in parked.iter().enumerate() {
        if pts.iter().any(|p| p.1 > 0.0) {
            let color = data.looks.get(id, i).color;
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(1)))
                .map_err(err)?;
        }
    }
    Ok(())
}
