//! `recovery`: what faults do (drawn when the folder has `faults.csv`): connected clients and
//! connection attempts per second over time, each fault's window shaded, then the events
//! each strategy lost and how long its clients took to be connected again.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{self, err, font};
use super::{Area, ChartData};

/// The shade of a fault's window.
const SHADE: RGBColor = RGBColor(255, 214, 214);

pub fn draw<DB: DrawingBackend>(root: &Area<'_, DB>, data: &ChartData) -> anyhow::Result<()> {
    let body = draw::titled(root, &format!("Faults and recovery — {}", data.name), data)?;
    let body = draw::legend(&body, data)?;
    let (top, bottom) = body.split_vertically(body.dim_in_pixel().1 * 55 / 100);
    let (top_left, top_right) = top.split_horizontally(top.dim_in_pixel().0 / 2);
    // a gauge read at the end of its second is drawn there (a count per second, mid-second)
    let connected: Vec<(String, Vec<(f64, f64)>)> =
        draw::time_series(data, |r| r.connected_clients as f64)
            .into_iter()
            .map(|(id, pts)| (id, pts.into_iter().map(|(x, y)| (x + 0.5, y)).collect()))
            .collect();
    let caption = if data.faults.is_empty() {
        "Connected clients (a dead connection does not count)"
    } else {
        "Connected clients (shaded: faults)"
    };
    shaded_panel(&top_left, data, caption, "clients", &connected)?;
    let attempts = draw::time_series(data, |r| r.connect_attempts as f64);
    shaded_panel(
        &top_right,
        data,
        "Connection attempts per second",
        "attempts/s",
        &attempts,
    )?;
    let (bottom_left, bottom_right) = bottom.split_horizontally(bottom.dim_in_pixel().0 / 2);
    bars(
        &bottom_left,
        data,
        "Events lost",
        "events lost",
        &|r| r.events_lost as f64,
        &|r| {
            let share = if r.events_generated == 0 {
                0.0
            } else {
                100.0 * r.events_lost as f64 / r.events_generated as f64
            };
            format!(
                "{} ({share:.1} %)",
                draw::fmt_count(&(r.events_lost as f64))
            )
        },
    )?;
    if data.faults.is_empty() && data.summary.iter().any(|r| r.stale_s > 0.0) {
        // a silent cut: nobody is told, so nobody reconnects — the cost is the time clients
        // spend on connections that are already dead
        return bars(
            &bottom_right,
            data,
            "Client time on dead connections",
            "client-hours",
            &|r| r.stale_s / 3600.0,
            &|r| format!("{} h", draw::fmt_small(r.stale_s / 3600.0)),
        );
    }
    if data.faults.is_empty() {
        // a proxy or a lossy link acts all run long: no fault to recover from, only cuts
        return bars(
            &bottom_right,
            data,
            "Disconnects (connections that broke)",
            "disconnects",
            &|r| r.disconnects as f64,
            &|r| draw::fmt_count(&(r.disconnects as f64)),
        );
    }
    bars(
        &bottom_right,
        data,
        "Recovery: after each fault, until 99 % reconnected",
        "seconds (worst fault)",
        &|r| r.recovery_s.max(0.0),
        &|r| {
            if r.recovery_s < 0.0 {
                "never".to_string()
            } else {
                format!("{} s", draw::fmt_small(r.recovery_s))
            }
        },
    )
}

/// A time panel whose fault windows are shaded under the lines.
fn shaded_panel<DB: DrawingBackend>(
    area: &Area<'_, DB>,
    data: &ChartData,
    caption: &str,
    y_desc: &str,
    lines: &[(String, Vec<(f64, f64)>)],
) -> anyhow::Result<()> {
    let (from, to) = draw::time_range(data);
    let y_max = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .fold(0.0, f64::max);
    let y = draw::y_range(y_max, 1.0);
    let mut chart = draw::frame(area, caption, from..to, y.clone())?;
    for w in &data.faults {
        let (a, b) = (w.start_s.max(from), w.end_s.min(to));
        if b > a {
            chart
                .draw_series([Rectangle::new([(a, y.start), (b, y.end)], SHADE.filled())])
                .map_err(err)?;
        }
    }
    draw::mesh(
        &mut chart,
        draw::time_axis(data),
        y_desc,
        &draw::fmt_seconds,
        &draw::fmt_count,
    )?;
    for (i, (id, pts)) in lines.iter().enumerate() {
        draw::series(&mut chart, pts.clone(), data.looks.get(id, i), 3)?;
    }
    draw::label_lines(&mut chart, lines, &data.looks)
}

/// One bar per strategy, its value written on top.
pub(super) fn bars<DB: DrawingBackend>(
    area: &Area<'_, DB>,
    data: &ChartData,
    caption: &str,
    y_desc: &str,
    value: &dyn Fn(&crate::metrics::SummaryRow) -> f64,
    label: &dyn Fn(&crate::metrics::SummaryRow) -> String,
) -> anyhow::Result<()> {
    let n = data.summary.len() as f64;
    let top = data.summary.iter().map(value).fold(0.0, f64::max);
    // room above the tallest bar for its label, in two rows if need be
    // (a little more than a round number, so the top tick label stays clear of the caption)
    let y_top = if top > 0.0 { top * 1.45 } else { 1.08 };
    // the caption in its own strip, clear of the top tick label
    let (strip, area) = area.split_vertically(44);
    strip
        .draw_text(
            caption,
            &font(draw::CAPTION).pos(Pos::new(HPos::Center, VPos::Top)),
            (strip.dim_in_pixel().0 as i32 / 2, 4),
        )
        .map_err(err)?;
    let area = &area;
    let mut chart = ChartBuilder::on(area)
        .margin(14)
        .margin_right(44)
        .x_label_area_size(64)
        .y_label_area_size(130)
        .build_cartesian_2d(0.0..n, 0.0..y_top)
        .map_err(err)?;
    let fmt = |v: &f64| draw::fmt_small(*v);
    draw::bar_mesh(area, &mut chart, data, y_desc, &fmt)?;
    // labels wider than a bar's slot go in two staggered rows
    let (x_px, _) = chart.plotting_area().get_pixel_range();
    let measure = font(draw::TICKS);
    // each label sits on its bar; one that would overlap a label already placed moves up a
    // row (26 px) until it is clear (labels of low bars stay low)
    let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
    for (i, row) in data.summary.iter().enumerate() {
        let c = data.looks.get(&row.strategy, i).color;
        let v = value(row);
        let (x0, x1) = (i as f64 + 0.2, i as f64 + 0.8);
        chart
            .draw_series([Rectangle::new([(x0, 0.0), (x1, v)], c.filled())])
            .map_err(err)?;
        let style = font(draw::TICKS).pos(Pos::new(HPos::Center, VPos::Bottom));
        let style = if row.events_lost > 0 && caption == "Events lost" {
            style.color(&draw::LOSS)
        } else {
            style
        };
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, v));
        let (ax, ay) = area.get_base_pixel();
        // centred over its bar, but never past the panel's edges
        let text = label(row);
        let (w, h) = area
            .estimate_text_size(&text, &measure)
            .map_or((0, 0), |s| (s.0 as i32, s.1 as i32));
        let half = w / 2;
        // within the plot (left: clear of the y tick labels) and the panel (right)
        let w_area = area.dim_in_pixel().0 as i32;
        let x = (x - ax)
            .min(w_area - half - 4)
            .max(x_px.start - ax + half + 2);
        let mut bottom = y - ay;
        let clash = |b: i32, placed: &[(i32, i32, i32, i32)]| {
            placed
                .iter()
                .any(|p| x - half < p.1 + 6 && p.0 < x + half + 6 && b - h < p.3 && p.2 < b)
        };
        for _ in 0..3 {
            if !clash(bottom, &placed) {
                break;
            }
            bottom -= 26;
        }
        placed.push((x - half, x + half, bottom - h, bottom));
        area.draw(&Text::new(text, (x, bottom), style))
            .map_err(err)?;
    }
    Ok(())
}
