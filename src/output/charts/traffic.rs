//! `traffic`: application bytes per second over time, upload and download apart, and bytes
//! per event split into payload and overhead (headers, framing, empty polls, heartbeats).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{self, err, font};
use super::{Area, ChartData};

pub fn draw<DB: DrawingBackend>(root: &Area<'_, DB>, data: &ChartData) -> anyhow::Result<()> {
    let body = draw::titled(root, &format!("Traffic — {}", data.name), data)?;
    let body = draw::legend(&body, data)?;
    let (left, right) = body.split_horizontally(body.dim_in_pixel().0 * 60 / 100);
    // the two directions apart: polling pays on the way up (a request per poll, a POST per
    // upstream message), push mostly on the way down
    let (up, down) = left.split_vertically(left.dim_in_pixel().1 / 2);
    let per_s = |v: &f64| format!("{}/s", draw::bytes(*v));
    let lines = draw::time_series(data, |r| r.app_bytes_up as f64);
    draw::time_panel(
        &up,
        data,
        "Upload: client → server bytes/s",
        "bytes/s",
        &lines,
        &per_s,
    )?;
    let lines = draw::time_series(data, |r| r.app_bytes_down as f64);
    draw::time_panel(
        &down,
        data,
        "Download: server → client bytes/s",
        "bytes/s",
        &lines,
        &per_s,
    )?;
    per_event_bars(&right, data)
}

/// Stacked bars: payload (full colour) and overhead (light) per event, total written on top.
pub fn per_event_bars<DB: DrawingBackend>(
    area: &Area<'_, DB>,
    data: &ChartData,
) -> anyhow::Result<()> {
    let n = data.summary.len() as f64;
    let top = data
        .summary
        .iter()
        .map(|r| r.bytes_per_event)
        .fold(1.0, f64::max);
    let caption = if !data.model.values().any(|m| m.bytes_per_event.is_some()) {
        "Bytes per event (dark: payload)"
    } else {
        "Bytes per event (dark: payload; black: theory)"
    };
    // room above the tallest bar for its value and, where events were lost, a red note in
    // one or two rows at the top of the panel
    let notes: Vec<Option<String>> = data.summary.iter().map(draw::loss_note).collect();
    // the notes go in one row if each fits its column, else in two or three staggered rows
    // (each note then has two or three columns); the plot's width is the panel's less the
    // y label area and margins
    let note_style = font(draw::TICKS);
    let note_w = |t: &str| area.estimate_text_size(t, &note_style).map_or(0, |s| s.0) as f64;
    let slot_est = (area.dim_in_pixel().0 as f64 - 188.0) / n.max(1.0);
    let widest = notes
        .iter()
        .flatten()
        .map(|t| note_w(t))
        .fold(0.0, f64::max);
    let note_rows: i32 = if widest <= slot_est - 6.0 {
        1
    } else if widest <= 2.0 * slot_est - 12.0 {
        2
    } else {
        3
    };
    let headroom = if notes.iter().any(Option::is_some) {
        let plot_h = (area.dim_in_pixel().1 as f64 - 140.0).max(100.0);
        1.0 + (54.0 + 26.0 * note_rows as f64) / plot_h
    } else {
        1.18
    };
    let mut chart = draw::frame(area, caption, 0.0..n, 0.0..(top * headroom).max(1.0))?;
    draw::bar_mesh(area, &mut chart, data, "bytes per event", &draw::fmt_bytes)?;
    for (i, row) in data.summary.iter().enumerate() {
        let c = data.looks.get(&row.strategy, i).color;
        let app = (row.app_bytes_up + row.app_bytes_down) as f64;
        let share = if app > 0.0 {
            row.payload_bytes as f64 / app
        } else {
            0.0
        };
        let payload = row.bytes_per_event * share;
        let (x0, x1) = (i as f64 + 0.2, i as f64 + 0.8);
        chart
            .draw_series([
                Rectangle::new([(x0, 0.0), (x1, payload)], c.filled()),
                Rectangle::new(
                    [(x0, payload), (x1, row.bytes_per_event)],
                    c.mix(0.3).filled(),
                ),
            ])
            .map_err(err)?;
        if let Some(v) = data
            .model
            .get(&row.strategy)
            .and_then(|m| m.bytes_per_event)
        {
            // theory: a black tick across the bar
            chart
                .draw_series([PathElement::new(
                    vec![(x0 - 0.08, v), (x1 + 0.08, v)],
                    BLACK.stroke_width(3),
                )])
                .map_err(err)?;
        }
        let label = font(draw::TICKS).pos(Pos::new(HPos::Center, VPos::Bottom));
        let value = if row.events_delivered == 0 && row.events_generated > 0 {
            "nothing delivered".to_string()
        } else {
            draw::bytes(row.bytes_per_event)
        };
        chart
            .draw_series([Text::new(
                value,
                (i as f64 + 0.5, row.bytes_per_event),
                label,
            )])
            .map_err(err)?;
    }
    // losses are first-class: named in red at the top of each strategy's column, in two
    // staggered rows where the notes are wider than a column
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    let (ax, ay) = area.get_base_pixel();
    let slot = (x_px.end - x_px.start) as f64 / n.max(1.0);
    let style = font(draw::TICKS)
        .color(&draw::LOSS)
        .pos(Pos::new(HPos::Center, VPos::Top));
    let width = |t: &str| area.estimate_text_size(t, &style).map_or(0, |s| s.0) as f64;
    for (i, note) in notes.into_iter().enumerate() {
        let Some(note) = note else { continue };
        // centred over its column, but never past the panel's right edge
        let half = width(&note) / 2.0;
        let w_area = area.dim_in_pixel().0 as f64;
        let x = (x_px.start as f64 + (i as f64 + 0.5) * slot - ax as f64).min(w_area - half - 4.0);
        let y = y_px.start - ay + 2 + 26 * (i as i32 % note_rows);
        area.draw(&Text::new(note, (x as i32, y), style.clone()))
            .map_err(err)?;
    }
    Ok(())
}
