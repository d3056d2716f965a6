//! `server_load`: requests/s (top), open connections and — where a strategy parks requests —
//! the requests held at the server (bottom), over simulated time.

use plotters::prelude::*;

use super::draw::{self, err};
use super::{Area, ChartData};

pub fn draw<DB: DrawingBackend>(root: &Area<'_, DB>, data: &ChartData) -> anyhow::Result<()> {
    let body = draw::titled(root, &format!("Server load — {}", data.name), data)?;
    let body = draw::legend(&body, data)?;
    let (top, bottom) = body.split_vertically(body.dim_in_pixel().1 / 2);
    let parked = draw::time_series(data, |r| r.parked_requests as f64);
    if !data.has_server_costs() {
        // a folder written before the server had costs: nothing to draw for them
        requests(&top, data)?;
        return if parked.iter().any(|(_, p)| p.iter().any(|q| q.1 > 0.0)) {
            let (left, right) = bottom.split_horizontally(bottom.dim_in_pixel().0 / 2);
            connections(&left, data, "Open connections")?;
            parked_requests(&right, data, &parked)
        } else {
            connections(&bottom, data, "Open connections")
        };
    }
    let (top_left, top_right) = top.split_horizontally(top.dim_in_pixel().0 / 2);
    requests(&top_left, data)?;
    cpu(&top_right, data)?;
    if parked.iter().any(|(_, p)| p.iter().any(|q| q.1 > 0.0)) {
        // a parked request is also an open connection: in one panel the two lines lie on
        // top of each other, so they get a panel each
        let third = bottom.dim_in_pixel().0 / 3;
        let (left, rest) = bottom.split_horizontally(third);
        let (middle, right) = rest.split_horizontally(third);
        connections(&left, data, "Open connections")?;
        parked_requests(&middle, data, &parked)?;
        memory(&right, data)
    } else {
        let (left, right) = bottom.split_horizontally(bottom.dim_in_pixel().0 / 2);
        connections(&left, data, "Open connections")?;
        memory(&right, data)
    }
}

/// CPU cores the server's work needs, second by second (`[server.cost]`).
fn cpu<DB: DrawingBackend>(area: &Area<'_, DB>, data: &ChartData) -> anyhow::Result<()> {
    let lines = draw::time_series(data, |r| r.server_cpu_ms / 1000.0);
    let caption = match data.cores {
        Some(k) => format!("Server CPU: cores busy (of {k})"),
        None => "Server CPU: cores needed".to_string(),
    };
    // the axis reaches the server's cores, so the load reads as a share of them
    let top = data.cores.map_or(0.0, |k| k as f64);
    let mut chart = draw::time_panel_to(area, data, &caption, "cores", &lines, &fmt_cores, top)?;
    if let Some(k) = data.cores {
        let (from, to) = draw::time_range(data);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(from, k as f64), (to, k as f64)],
                10,
                6,
                BLACK.mix(0.8).stroke_width(2),
            ))
            .map_err(err)?;
    }
    Ok(())
}

/// Server memory over time (`[server.memory]`).
fn memory<DB: DrawingBackend>(area: &Area<'_, DB>, data: &ChartData) -> anyhow::Result<()> {
    let lines = draw::time_series(data, |r| r.server_memory_bytes as f64);
    draw::time_panel(
        area,
        data,
        "Server memory",
        "bytes",
        &lines,
        &draw::fmt_bytes,
    )?;
    Ok(())
}

/// Cores with as many decimals as small loads need.
fn fmt_cores(v: &f64) -> String {
    draw::fmt_small(*v)
}

/// Requests held at the server (parked long polls) over time, for the strategies that park.
fn parked_requests<DB: DrawingBackend>(
    area: &Area<'_, DB>,
    data: &ChartData,
    parked: &[(String, Vec<(f64, f64)>)],
) -> anyhow::Result<()> {
    let lines: Vec<(String, Vec<(f64, f64)>)> = parked
        .iter()
        .filter(|(_, p)| p.iter().any(|q| q.1 > 0.0))
        .cloned()
        .collect();
    draw::time_panel(
        area,
        data,
        "Requests held at the server (parked)",
        "parked requests",
        &lines,
        &draw::fmt_count,
    )?;
    Ok(())
}

/// Requests per second over time, with the model's prediction as a thin dashed line over the
/// measured window.
pub fn requests<DB: DrawingBackend>(area: &Area<'_, DB>, data: &ChartData) -> anyhow::Result<()> {
    let lines = draw::time_series(data, |r| r.requests as f64);
    let caption = if !data
        .model
        .values()
        .any(|m| m.requests_per_s.is_some_and(|r| r > 0.0))
    {
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

/// Open connections over time.
pub fn connections<DB: DrawingBackend>(
    area: &Area<'_, DB>,
    data: &ChartData,
    caption: &str,
) -> anyhow::Result<()> {
    let open = draw::time_series(data, |r| r.open_connections as f64);
    let (from, to) = draw::time_range(data);
    let y_max = open
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .fold(0.0, f64::max);
    let y = draw::y_range(y_max, 1.0);
    let mut chart = draw::frame(area, caption, from..to, y.clone())?;
    draw::mesh(
        &mut chart,
        draw::time_axis(data),
        "connections",
        &draw::fmt_seconds,
        &draw::fmt_count,
    )?;
    for (i, (id, pts)) in open.iter().enumerate() {
        draw::series(&mut chart, pts.clone(), data.looks.get(id, i), 4)?;
    }
    draw::label_lines(&mut chart, &open, &data.looks)
}
