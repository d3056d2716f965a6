//! Drawing helpers shared by the charts: titles, the legend strip, styled lines, axis
//! formats, bars.

use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Area, ChartData};
use crate::output::palette::{Dash, Look, Looks};
use crate::output::table::human;

/// Fonts (pixel sizes at 1600×900; readable at half size too).
pub const TITLE: u32 = 42;
pub const SUBTITLE: u32 = 26;
pub const CAPTION: u32 = 28;
pub const AXIS: u32 = 24;
pub const TICKS: u32 = 23;
pub const LEGEND: u32 = 24;

/// The colour of loss marks (a dark red, apart from every strategy's colour).
pub const LOSS: RGBColor = RGBColor(170, 0, 0);

/// `"62 % lost"` (and misdeliveries) for a strategy that lost events, `None` otherwise.
pub fn loss_note(row: &crate::metrics::SummaryRow) -> Option<String> {
    let mut parts = Vec::new();
    if row.events_lost > 0 {
        let share = 100.0 * row.events_lost as f64 / row.events_generated.max(1) as f64;
        parts.push(if share >= 1.0 {
            format!("{share:.0} % lost")
        } else {
            format!("{} lost", row.events_lost)
        });
    }
    if row.misdelivered > 0 {
        parts.push(format!("{} misdelivered", row.misdelivered));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// A plotters error as anyhow (plotters' errors are not `Send + Sync`).
pub fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing failed: {e:?}")
}

pub fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&BLACK)
}

/// Write the title and conditions line; return the area below them.
pub fn titled<'a, DB: DrawingBackend>(
    root: &Area<'a, DB>,
    title: &str,
    data: &ChartData,
) -> anyhow::Result<Area<'a, DB>> {
    let (top, rest) = root.split_vertically(96);
    top.draw_text(
        title,
        &font(TITLE).pos(Pos::new(HPos::Center, VPos::Top)),
        (SIZE_W / 2, 10),
    )
    .map_err(err)?;
    if !data.conditions.is_empty() {
        top.draw_text(
            &data.conditions,
            &font(fitting_size(&top, &data.conditions, SUBTITLE))
                .color(&RGBColor(80, 80, 80))
                .pos(Pos::new(HPos::Center, VPos::Top)),
            (SIZE_W / 2, 60),
        )
        .map_err(err)?;
    }
    Ok(rest)
}

const SIZE_W: i32 = super::SIZE.0 as i32;

/// The type size, at most `size` and at least 23 px (legible at half size), at which `text`
/// fits the canvas's width.
pub fn fitting_size<DB: DrawingBackend>(area: &Area<'_, DB>, text: &str, size: u32) -> u32 {
    let mut size = size;
    while size > 23
        && area
            .estimate_text_size(text, &font(size))
            .map_or(0, |s| s.0 as i32)
            > SIZE_W - 30
    {
        size -= 1;
    }
    size
}

/// A horizontal legend strip (colour, line pattern, name per strategy); returns the area below.
/// Legends sit outside every plot, so they never cover data.
pub fn legend<'a, DB: DrawingBackend>(
    area: &Area<'a, DB>,
    data: &ChartData,
) -> anyhow::Result<Area<'a, DB>> {
    legend_for(area, &data.strategies(), &data.looks)
}

/// [`legend`] for a list of strategy ids: one row if they fit the width, more rows if not
/// (long names never run off the slide).
pub fn legend_for<'a, DB: DrawingBackend>(
    area: &Area<'a, DB>,
    ids: &[&str],
    looks: &Looks,
) -> anyhow::Result<Area<'a, DB>> {
    let style = font(LEGEND).pos(Pos::new(HPos::Left, VPos::Center));
    // each entry: a 60 px sample, 12 px gap, the name, 40 px to the next
    let widths: Vec<i32> = ids
        .iter()
        .map(|id| {
            72 + area
                .estimate_text_size(id, &style)
                .map_or(200, |s| s.0 as i32)
                + 40
        })
        .collect();
    let mut rows: Vec<Vec<usize>> = vec![Vec::new()];
    let mut used = 0;
    for (i, w) in widths.iter().enumerate() {
        if used + w > SIZE_W - 40 && !rows.last().is_some_and(Vec::is_empty) {
            rows.push(Vec::new());
            used = 0;
        }
        rows.last_mut().expect("a row").push(i);
        used += w;
    }
    let (strip, rest) = area.split_vertically(44 * rows.len() as i32);
    for (r, row) in rows.iter().enumerate() {
        let total: i32 = row.iter().map(|&i| widths[i]).sum::<i32>() - 40;
        let mut x = ((SIZE_W - total) / 2).max(10);
        let y = 22 + 44 * r as i32;
        for &i in row {
            sample_line(&strip, (x, y), 60, looks.get(ids[i], i))?;
            strip.draw_text(ids[i], &style, (x + 72, y)).map_err(err)?;
            x += widths[i];
        }
    }
    Ok(rest)
}

/// A short line in a strategy's look, for legends.
fn sample_line<DB: DrawingBackend>(
    area: &Area<'_, DB>,
    (x, y): (i32, i32),
    len: i32,
    l: Look,
) -> anyhow::Result<()> {
    let style = l.color.stroke_width(4);
    let points: Vec<(i32, i32)> = (0..=len).map(|dx| (x + dx, y)).collect();
    match l.dash {
        Dash::Solid => area.draw(&PathElement::new(points, style)).map_err(err)?,
        _ => {
            let (on, off) = dash_pattern(l.dash);
            let mut dx = 0;
            while dx < len {
                let end = (dx + on).min(len);
                if l.dash == Dash::Dotted {
                    area.draw(&Circle::new((x + dx, y), 3, l.color.filled()))
                        .map_err(err)?;
                } else {
                    area.draw(&PathElement::new(vec![(x + dx, y), (x + end, y)], style))
                        .map_err(err)?;
                }
                dx += on + off;
            }
        }
    }
    Ok(())
}

fn dash_pattern(d: Dash) -> (i32, i32) {
    match d {
        Dash::Solid => (1, 0),
        Dash::Long => (16, 8),
        Dash::Short => (6, 6),
        Dash::Dotted => (2, 10),
    }
}

/// Draw one strategy's series in its look.
pub fn series<DB, X>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, RangedCoordf64>>,
    points: Vec<(f64, f64)>,
    l: Look,
    width: u32,
) -> anyhow::Result<()>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let style = l.color.stroke_width(width);
    match l.dash {
        Dash::Solid => {
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(err)?;
        }
        Dash::Long | Dash::Short => {
            let (on, off) = dash_pattern(l.dash);
            chart
                .draw_series(DashedLineSeries::new(points, on as u32, off as u32, style))
                .map_err(err)?;
        }
        Dash::Dotted => {
            let color = l.color;
            chart
                .draw_series(DottedLineSeries::new(points, 0, 9, move |c| {
                    Circle::new(c, width.max(2), color.filled())
                }))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// A chart frame with a caption, labelled axes and human tick labels.
pub fn frame<'a, 'b, DB, X>(
    area: &'a Area<'b, DB>,
    caption: &str,
    x: X,
    y: std::ops::Range<f64>,
) -> anyhow::Result<ChartContext<'a, DB, Cartesian2d<X::CoordDescType, RangedCoordf64>>>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
{
    ChartBuilder::on(area)
        .caption(caption, font(CAPTION))
        .margin(14)
        .margin_right(44) // room for the last x tick label (e.g. "120 s")
        .x_label_area_size(64)
        .y_label_area_size(130)
        .build_cartesian_2d(x, y)
        .map_err(err)
}

/// Configure the mesh: light grid, axis descriptions, human tick labels.
pub fn mesh<DB, X>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, RangedCoordf64>>,
    x_desc: &str,
    y_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
    y_fmt: &dyn Fn(&f64) -> String,
) -> anyhow::Result<()>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    // a narrow panel (three in a row) gets fewer x ticks, so their labels stay apart
    let width = chart.plotting_area().dim_in_pixel().0;
    let x_ticks = match width {
        0..=420 => 4,
        421..=650 => 6,
        _ => 8,
    };
    chart
        .configure_mesh()
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(210, 210, 210))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style(font(AXIS))
        .label_style(font(TICKS))
        .x_labels(x_ticks)
        .y_labels(6)
        .x_label_formatter(x_fmt)
        .y_label_formatter(y_fmt)
        .draw()
        .map_err(err)
}

/// Tick label formats.
pub fn fmt_count(v: &f64) -> String {
    human(*v)
}
pub fn fmt_seconds(v: &f64) -> String {
    format!("{} s", human(*v))
}
pub fn fmt_ms(v: &f64) -> String {
    if *v >= 1000.0 {
        format!("{} s", human(v / 1000.0))
    } else {
        format!("{} ms", human(*v))
    }
}
pub fn fmt_bytes(v: &f64) -> String {
    bytes(*v)
}
/// A value below 1 with two significant digits and no trailing zeros (0.015, 0.02, 0.005);
/// larger ones as [`fmt_count`].
pub fn fmt_small(v: f64) -> String {
    crate::output::table::small(v)
}
pub fn fmt_fraction(v: &f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// 950 B, 1.2 kB, 3.4 MB.
pub fn bytes(v: f64) -> String {
    crate::output::table::bytes(v)
}

/// A y range from 0 to a bit above the largest value (at least `min_top`).
pub fn y_range(max: f64, min_top: f64) -> std::ops::Range<f64> {
    0.0..(max * 1.12).max(min_top)
}

/// Per-strategy `(x, y)` series from the time rows.
/// One line per strategy over the measured window only: the warm-up (clients connecting, the
/// first cycles) and the closing phase (final reconnections, `204`s, close handshakes) are in
/// `timeseries.csv` but are not what the run measures, so they are not drawn as data.
pub fn time_series(
    data: &ChartData,
    f: impl Fn(&super::TimeRow) -> f64,
) -> Vec<(String, Vec<(f64, f64)>)> {
    let (from, to) = time_range(data);
    data.strategies()
        .iter()
        .map(|id| {
            let rows = data.series.get(*id).map(Vec::as_slice).unwrap_or(&[]);
            let pts = rows
                .iter()
                .filter(|r| r.t_s as f64 >= from && ((r.t_s + 1) as f64) <= to)
                .map(|r| (r.t_s as f64 + 0.5, f(r)))
                .collect();
            (id.to_string(), pts)
        })
        .collect()
}

/// The x range of the time panels: the measured window, or the whole series if unknown.
pub fn time_range(data: &ChartData) -> (f64, f64) {
    data.window.unwrap_or_else(|| {
        let last = data.series.values().map(Vec::len).max().unwrap_or(1);
        (0.0, last.max(1) as f64)
    })
}

/// The x-axis description of the time panels: simulated time, or real time for a real run
/// (its conditions line carries [`crate::output::WORLD_TAG`]).
pub fn time_axis(data: &ChartData) -> &'static str {
    if data.conditions.contains(crate::output::WORLD_TAG) {
        "real time (the measured window)"
    } else {
        "simulated time (the measured window)"
    }
}

/// A line panel over simulated time, one line per strategy.
pub fn time_panel<'a, 'b, DB: DrawingBackend>(
    area: &'a Area<'b, DB>,
    data: &ChartData,
    caption: &str,
    y_desc: &str,
    lines: &[(String, Vec<(f64, f64)>)],
    y_fmt: &dyn Fn(&f64) -> String,
) -> anyhow::Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>> {
    time_panel_to(area, data, caption, y_desc, lines, y_fmt, 0.0)
}

/// [`time_panel`] whose y axis reaches at least `y_top` (a capacity line drawn on it).
pub fn time_panel_to<'a, 'b, DB: DrawingBackend>(
    area: &'a Area<'b, DB>,
    data: &ChartData,
    caption: &str,
    y_desc: &str,
    lines: &[(String, Vec<(f64, f64)>)],
    y_fmt: &dyn Fn(&f64) -> String,
    y_top: f64,
) -> anyhow::Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>> {
    let (from, to) = time_range(data);
    let y_max = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .fold(y_top, f64::max);
    // a small load (a fraction of a core) gets an axis of its own size
    let min_top = if y_max > 0.0 && y_max < 1.0 { 0.0 } else { 1.0 };
    let y = y_range(y_max, min_top);
    let mut chart = frame(area, caption, from..to, y.clone())?;
    mesh(&mut chart, time_axis(data), y_desc, &fmt_seconds, y_fmt)?;
    for (i, (id, pts)) in lines.iter().enumerate() {
        series(&mut chart, pts.clone(), data.looks.get(id, i), 3)?;
    }
    label_lines(&mut chart, lines, &data.looks)?;
    Ok(chart)
}

/// Name every line at its right end, so a line hidden under another is still named: lines
/// that coincide (within 1 % of the axis) share one label, `websocket = sse`; labels that
/// would overlap are pushed apart vertically.
pub fn label_lines<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    lines: &[(String, Vec<(f64, f64)>)],
    looks: &Looks,
) -> anyhow::Result<()> {
    label_lines_avoiding(chart, lines, looks, &[])
}

/// [`label_lines`], keeping the labels off `obstacles` too (unlabelled lines such as a
/// saturation line, each drawn left to right).
pub fn label_lines_avoiding<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    lines: &[(String, Vec<(f64, f64)>)],
    looks: &Looks,
    obstacles: &[Vec<(f64, f64)>],
) -> anyhow::Result<()> {
    // compared on the screen: lines whose every point is within 4 px coincide (whatever
    // the axes, log ones included)
    let px = |p: &(f64, f64)| chart.backend_coord(p).1;
    let close = |a: &[(f64, f64)], b: &[(f64, f64)]| {
        a.len() == b.len() && a.iter().zip(b).all(|(p, q)| (px(p) - px(q)).abs() <= 4)
    };
    // groups of coinciding lines, in drawing order, with the pixel row of their end
    let mut groups: Vec<(Vec<usize>, f64)> = Vec::new();
    for (i, (_, pts)) in lines.iter().enumerate() {
        let Some(last) = pts.last() else {
            continue;
        };
        match groups.iter_mut().find(|(g, _)| close(&lines[g[0]].1, pts)) {
            Some((g, _)) => g.push(i),
            None => groups.push((vec![i], px(last) as f64)),
        }
    }
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    let (top, bottom) = (y_px.start as f64, y_px.end as f64);
    let area = chart.plotting_area().strip_coord_spec();
    let plot_w = (x_px.end - x_px.start - 16) as u32;
    // each group's text, colour and size
    let probe = font(TICKS);
    let labels: Vec<(String, RGBColor, i32, i32)> = groups
        .iter()
        .map(|(g, _)| {
            let ids: Vec<&str> = g.iter().map(|&i| lines[i].0.as_str()).collect();
            // too wide for the plot on one line: name how many coincide
            let label = if area_fits(chart, &ids.join(" = "), &probe, plot_w) {
                ids.join(" = ")
            } else {
                format!("{} strategies coincide", ids.len())
            };
            let color = if ids.len() == 1 {
                looks.get(ids[0], g[0]).color
            } else {
                RGBColor(60, 60, 60)
            };
            let (w, h) = area.estimate_text_size(&label, &probe).unwrap_or((0, 0));
            (label, color, w as i32, h as i32)
        })
        .collect();
    // every data point on screen, to keep labels off the lines
    let points: Vec<(i32, i32)> = lines
        .iter()
        .map(|(_, pts)| pts)
        .chain(obstacles)
        .flat_map(|pts| pts.iter().map(|p| chart.backend_coord(p)))
        .collect();
    let right_px = x_px.end - 8;
    // place each label just above its line's end, or the nearest place around it that no
    // line crosses; then push apart labels that would overlap (24 px apart at least)
    // (one at a time, from the top line end down, each off the rows already taken)
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| groups[a].1.total_cmp(&groups[b].1));
    let mut placed: Vec<(f64, usize)> = Vec::new();
    for k in order {
        let (_, _, w, h) = labels[k];
        let label = LabelBox {
            right: right_px,
            w,
            h,
        };
        // (with no obstacle line, each label only avoids the data: the pushing apart below
        // keeps it next to its line)
        let row = if obstacles.is_empty() {
            label_row(groups[k].1, label, &points, (top, bottom))
        } else {
            let taken: Vec<f64> = placed.iter().map(|p| p.0).collect();
            label_row_among(groups[k].1, label, &points, (top, bottom), &taken)
        };
        placed.push((row, k));
    }
    placed.sort_by(|a, b| a.0.total_cmp(&b.0));
    for j in 1..placed.len() {
        placed[j].0 = placed[j].0.max(placed[j - 1].0 + 24.0);
    }
    let overflow = placed.last().map_or(0.0, |p| p.0 - (bottom - 12.0));
    if overflow > 0.0 {
        for p in &mut placed {
            p.0 -= overflow;
        }
    }
    for (py, k) in placed {
        let (label, color, w, h) = &labels[k];
        let style = font(TICKS)
            .color(color)
            .pos(Pos::new(HPos::Right, VPos::Center));
        let (right, y) = (x_px.end - x_px.start - 8, py as i32 - y_px.start);
        // a light backing, so the label reads over the lines it names
        area.draw(&Rectangle::new(
            [(right - w - 4, y - h / 2 - 2), (right + 4, y + h / 2 + 2)],
            WHITE.mix(0.6).filled(),
        ))
        .map_err(err)?;
        area.draw(&Text::new(label.clone(), (right, y), style))
            .map_err(err)?;
    }
    Ok(())
}

/// A line label's right edge and size, in pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LabelBox {
    pub right: i32,
    pub w: i32,
    pub h: i32,
}

/// How many segments of the polylines through `points` (pixels; a segment going leftwards
/// joins two lines and is skipped) cross the label centred on row `cy`.
fn crossings(cy: f64, label: LabelBox, points: &[(i32, i32)]) -> usize {
    let (x0, x1) = (label.right - label.w - 4, label.right + 4);
    let (y0, y1) = (cy as i32 - label.h / 2 - 2, cy as i32 + label.h / 2 + 2);
    let inside = |p: (i32, i32)| p.0 >= x0 && p.0 <= x1 && p.1 >= y0 && p.1 <= y1;
    points
        .windows(2)
        .filter(|s| {
            let (a, b) = (s[0], s[1]);
            if inside(a) || inside(b) {
                return true;
            }
            // the segment's y range over the box's x span
            if b.0 <= a.0 || b.0 < x0 || a.0 > x1 {
                return false;
            }
            a.1.min(b.1) <= y1 && a.1.max(b.1) >= y0
        })
        .count()
}

/// The pixel row for the label of a line ending on row `y_end`: just above the end (14 px),
/// unless lines cross it there; then the nearest of 14, 38 and 62 px above or below that
/// the fewest lines cross, inside `rows` (top, bottom).
pub(crate) fn label_row(
    y_end: f64,
    label: LabelBox,
    points: &[(i32, i32)],
    rows: (f64, f64),
) -> f64 {
    let clamp = |c: f64| c.clamp(rows.0 + 12.0, rows.1 - 12.0);
    [-14.0, 14.0, -38.0, 38.0, -62.0, 62.0]
        .map(|d| clamp(y_end + d))
        .into_iter()
        .min_by_key(|&c| crossings(c, label, points))
        .unwrap_or(clamp(y_end - 14.0))
}

/// [`label_row`] for a label that must also keep 24 px from the rows in `taken` (labels
/// already placed): the candidate rows around the line end, fewest crossings first, then
/// nearest; if every candidate is taken, the plain [`label_row`].
fn label_row_among(
    y_end: f64,
    label: LabelBox,
    points: &[(i32, i32)],
    rows: (f64, f64),
    taken: &[f64],
) -> f64 {
    let clamp = |c: f64| c.clamp(rows.0 + 12.0, rows.1 - 12.0);
    [-16.0, 16.0, -40.0, 40.0, -64.0, 64.0, -88.0, 88.0]
        .map(|d| clamp(y_end + d))
        .into_iter()
        .filter(|c| taken.iter().all(|t| (t - c).abs() >= 24.0))
        .min_by_key(|&c| crossings(c, label, points))
        .unwrap_or_else(|| label_row(y_end, label, points, rows))
}

/// Whether `text` in `style` is at most `width` pixels wide on the chart's backend.
fn area_fits<DB: DrawingBackend>(
    chart: &ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    text: &str,
    style: &TextStyle<'_>,
    width: u32,
) -> bool {
    chart
        .plotting_area()
        .estimate_text_size(text, style)
        .is_ok_and(|s| s.0 <= width)
}

/// The mesh of a bar panel: one category per strategy (named under its bar, in two staggered
/// rows and shortened with "…" where the names would not fit), a light y grid.
pub fn bar_mesh<DB: DrawingBackend>(
    area: &Area<'_, DB>,
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    data: &ChartData,
    y_desc: &str,
    y_fmt: &dyn Fn(&f64) -> String,
) -> anyhow::Result<()> {
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(RGBColor(235, 235, 235))
        .y_desc(y_desc)
        .axis_desc_style(font(AXIS))
        .label_style(font(TICKS))
        .x_labels(0)
        .y_label_formatter(y_fmt)
        .draw()
        .map_err(err)?;
    let names: Vec<&str> = data.summary.iter().map(|r| r.strategy.as_str()).collect();
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    let (ax, ay) = area.get_base_pixel();
    let slot = (x_px.end - x_px.start) as f64 / names.len().max(1) as f64;
    let style = font(TICKS).pos(Pos::new(HPos::Center, VPos::Top));
    let width = |t: &str| area.estimate_text_size(t, &style).map_or(0, |s| s.0) as f64;
    // one row if every name fits its slot, else two staggered rows (each name gets two slots)
    let one_row = names.iter().all(|n| width(n) <= slot - 8.0);
    let room = if one_row {
        slot - 8.0
    } else {
        2.0 * slot - 12.0
    };
    for (i, name) in names.iter().enumerate() {
        let mut keep = name.chars().count();
        let mut label = name.to_string();
        while width(&label) > room && keep > 1 {
            keep -= 1;
            label = format!("{}…", name.chars().take(keep).collect::<String>());
        }
        // centred under its bar, but never past the panel's edges
        let half = width(&label) / 2.0;
        let (w_area, _) = area.dim_in_pixel();
        let x = (x_px.start as f64 + (i as f64 + 0.5) * slot - ax as f64)
            .min(w_area as f64 - half - 2.0)
            .max(half + 2.0);
        // below the axis' "0" tick label, which sits at the panel's bottom edge
        let y = y_px.end - ay + 12 + if one_row { 0 } else { 26 * (i as i32 % 2) };
        area.draw(&Text::new(label, (x as i32, y), style.clone()))
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod label_tests {
    use super::*;

    /// A label goes just above its line's end (14 px), unless another line runs there: then
    /// below it. Line A ends on row 300; line B runs level on row 286 across the right edge.
    #[test]
    fn a_label_moves_off_a_line_that_runs_through_it() {
        let label = LabelBox {
            right: 990,
            w: 200,
            h: 20,
        };
        let a = [(0, 300), (500, 300), (1000, 300)];
        let b = [(0, 286), (500, 286), (1000, 286)];
        // alone: just above its end
        assert_eq!(label_row(300.0, label, &a, (0.0, 900.0)), 286.0);
        // B's points follow A's: the segment from A's end back to B's start goes left and
        // is not a line
        let both: Vec<(i32, i32)> = a.iter().chain(&b).copied().collect();
        assert_eq!(label_row(300.0, label, &both, (0.0, 900.0)), 314.0);
        // no room below: above B's line, 38 px up
        assert_eq!(label_row(300.0, label, &both, (0.0, 320.0)), 262.0);
    }
}
