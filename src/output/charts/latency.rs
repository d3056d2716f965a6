//! `latency`: the distribution of delivery latency per strategy as a CDF on a log axis, with
//! p50 (circle) and p99 (triangle) marked, and a bar panel of p50/p95/p99.

use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{self, err, font};
use super::{Area, ChartData};

pub fn draw<DB: DrawingBackend>(root: &Area<'_, DB>, data: &ChartData) -> anyhow::Result<()> {
    let body = draw::titled(root, &format!("Delivery latency — {}", data.name), data)?;
    let body = draw::legend(&body, data)?;
    let (left, right) = body.split_horizontally(body.dim_in_pixel().0 * 58 / 100);
    let caption = if !data.has_latency_theory() {
        "Share of events delivered within a latency (● p50, ▲ p99)"
    } else {
        "Events delivered within a latency (● p50, ▲ p99, ○ theory)"
    };
    cdf(&left, data, caption)?;
    percentile_bars(&right, data)
}

/// `(latency ms, cumulative share)` steps of one strategy, scaled so the curve ends at the
/// share of events `delivered` (lost events never arrive: a strategy that loses 90 % levels
/// off at 10 %); latencies below 1 ms drawn at 1 ms.
fn cdf_points(buckets: &[(u64, u64)], delivered: f64) -> Vec<(f64, f64)> {
    let total: u64 = buckets.iter().map(|b| b.1).sum();
    let mut points = Vec::new();
    let mut seen = 0;
    for &(ms, count) in buckets {
        let x = (ms as f64).max(1.0);
        points.push((x, delivered * seen as f64 / total as f64));
        seen += count;
        points.push((x, delivered * seen as f64 / total as f64));
    }
    points
}

/// The share of `row`'s events that arrived (1 when none was lost).
fn delivered_share(row: &crate::metrics::SummaryRow) -> f64 {
    if row.events_generated == 0 || row.events_lost == 0 {
        1.0
    } else {
        row.events_delivered.min(row.events_generated) as f64 / row.events_generated as f64
    }
}

/// The CDF panel.
pub fn cdf<DB: DrawingBackend>(
    area: &Area<'_, DB>,
    data: &ChartData,
    caption: &str,
) -> anyhow::Result<()> {
    let max = data
        .latency
        .values()
        .flat_map(|b| b.iter().map(|x| x.0))
        .max()
        .unwrap_or(1) as f64;
    let min = data
        .latency
        .values()
        .flat_map(|b| b.iter().map(|x| x.0))
        .min()
        .unwrap_or(1) as f64;
    let (lo, hi) = (min.max(1.0) * 0.7, max.max(2.0) * 1.4);
    let x = (lo..hi).log_scale().with_key_points(key_points(lo, hi));
    let mut chart = draw::frame(area, caption, x, 0.0..1.02)?;
    draw::mesh(
        &mut chart,
        "latency (log scale)",
        "events delivered",
        &draw::fmt_ms,
        &draw::fmt_fraction,
    )?;
    let mut medians: Vec<(usize, f64, f64)> = Vec::new();
    let mut curves: Vec<Vec<(i32, i32)>> = Vec::new();
    for (i, row) in data.summary.iter().enumerate() {
        let Some(buckets) = data.latency.get(&row.strategy) else {
            continue;
        };
        if buckets.is_empty() {
            continue;
        }
        let l = data.looks.get(&row.strategy, i);
        let share = delivered_share(row);
        let points = cdf_points(buckets, share);
        curves.push(points.iter().map(|p| chart.backend_coord(p)).collect());
        draw::series(&mut chart, points, l, 3)?;
        // the markers are the delivered events' p50 and p99, on the curve
        medians.push((i, (row.latency_p50_ms as f64).max(1.0), 0.5 * share));
        let p50 = (row.latency_p50_ms as f64).max(1.0);
        let p99 = (row.latency_p99_ms as f64).max(1.0);
        chart
            .draw_series([Circle::new((p50, 0.5 * share), 9, l.color.filled())])
            .map_err(err)?;
        chart
            .draw_series([TriangleMarker::new(
                (p99, 0.99 * share),
                11,
                l.color.filled(),
            )])
            .map_err(err)?;
        // theory: hollow black markers at the predicted p50 and p99
        if let Some(m) = data.model.get(&row.strategy) {
            let hollow = BLACK.stroke_width(2);
            if let Some(v) = m.latency_p50_ms {
                chart
                    .draw_series([Circle::new((v.max(1.0), 0.5), 13, hollow)])
                    .map_err(err)?;
            }
            if let Some(v) = m.latency_p99_ms {
                chart
                    .draw_series([Circle::new((v.max(1.0), 0.99), 13, hollow)])
                    .map_err(err)?;
            }
        }
    }
    name_medians(&chart, data, &medians, &curves)
}

/// Name the strategies at their p50 marker, one name a line in its colour under the median's
/// value, so curves that lie on top of each other (every push strategy jumps at the link
/// delay) are all named: strategies whose markers are within 8 px share one block.
fn name_medians<DB: DrawingBackend, X: Ranged<ValueType = f64>>(
    chart: &ChartContext<'_, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    data: &ChartData,
    medians: &[(usize, f64, f64)],
    curves: &[Vec<(i32, i32)>],
) -> anyhow::Result<()> {
    let mut groups: Vec<(i32, i32, Vec<usize>, f64)> = Vec::new();
    for &(i, p50, y50) in medians {
        let (x, y) = chart.backend_coord(&(p50, y50));
        match groups.iter_mut().find(|g| (g.0 - x).abs() <= 8) {
            Some(g) => g.2.push(i),
            None => groups.push((x, y, vec![i], p50)),
        }
    }
    groups.sort_by_key(|g| g.0);
    let area = chart.plotting_area().strip_coord_spec();
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    let line_h = draw::TICKS as i32 + 4;
    // the blocks drawn so far: (left, top, right, bottom) in pixels
    let mut taken: Vec<(i32, i32, i32, i32)> = Vec::new();
    for (x, y, members, p50) in groups {
        // one strategy: one line, `short-polling · p50 225 ms`; several that coincide: the
        // median on top, then one name a line
        let mut lines: Vec<(String, RGBColor)> = Vec::new();
        if let [i] = members[..] {
            let row = &data.summary[i];
            lines.push((
                format!("{} · p50 {}", row.strategy, draw::fmt_ms(&p50)),
                data.looks.get(&row.strategy, i).color,
            ));
        } else {
            lines.push((format!("p50 {}", draw::fmt_ms(&p50)), RGBColor(60, 60, 60)));
            for &i in &members {
                let row = &data.summary[i];
                lines.push((row.strategy.clone(), data.looks.get(&row.strategy, i).color));
            }
        }
        let style = font(draw::TICKS);
        let width = lines
            .iter()
            .map(|(t, _)| area.estimate_text_size(t, &style).map_or(0, |s| s.0 as i32))
            .max()
            .unwrap_or(0);
        let height = line_h * lines.len() as i32;
        // right of the marker and below it (the CDF climbs up and to the right of its
        // median, so that corner is empty), else above it, else left of the marker; failing
        // all, anywhere free in the plot
        let right = x + 18;
        let left_side = x - 18 - width;
        let fits = |left: i32, top: i32| {
            left >= x_px.start + 4
                && left + width <= x_px.end - 6
                && top >= y_px.start + 4
                && top + height <= y_px.end - 6
                && !taken.iter().any(|b| {
                    left < b.2 + 6
                        && b.0 < left + width + 6
                        && top < b.3 + 2
                        && b.1 < top + height + 2
                })
        };
        // whether a curve runs through a block at (left, top)
        let crossed = |left: i32, top: i32| {
            let (x0, x1, y0, y1) = (left - 4, left + width + 4, top - 2, top + height + 2);
            curves.iter().any(|c| {
                c.windows(2).any(|s| {
                    let (a, b) = (s[0], s[1]);
                    let inside = |p: (i32, i32)| p.0 >= x0 && p.0 <= x1 && p.1 >= y0 && p.1 <= y1;
                    inside(a)
                        || inside(b)
                        || (a.0 <= x1 && b.0 >= x0 && a.1.min(b.1) <= y1 && a.1.max(b.1) >= y0)
                })
            })
        };
        let near = (0..40).flat_map(|k| [y + 14 + k * line_h, y + 14 - (k + 1) * line_h]);
        let anywhere = (0..80).map(|k| y_px.start + 4 + k * line_h / 2);
        // (a marker off the plot's range is placed at the plot's edge)
        let edge = (x_px.end - 6 - width).max(x_px.start + 4);
        let candidates: Vec<(i32, i32)> = [right, left_side]
            .into_iter()
            .flat_map(|l| near.clone().map(move |t| (l, t)))
            .chain(
                [right, left_side, edge]
                    .into_iter()
                    .flat_map(|l| anywhere.clone().map(move |t| (l, t))),
            )
            .collect();
        // the first free place no curve runs through, else the first free place
        let (left, top) = candidates
            .iter()
            .copied()
            .find(|&(l, t)| fits(l, t) && !crossed(l, t))
            .or_else(|| candidates.iter().copied().find(|&(l, t)| fits(l, t)))
            .unwrap_or((
                right.min(x_px.end - 6 - width),
                (y + 14).min(y_px.end - 6 - height),
            ));
        taken.push((left, top, left + width, top + height));
        let (ox, oy) = (x_px.start, y_px.start);
        area.draw(&Rectangle::new(
            [
                (left - ox - 4, top - oy - 2),
                (left - ox + width + 4, top - oy + height + 2),
            ],
            WHITE.mix(0.6).filled(),
        ))
        .map_err(err)?;
        for (k, (text, colour)) in lines.into_iter().enumerate() {
            area.draw(&Text::new(
                text,
                (left - ox, top - oy + k as i32 * line_h),
                font(draw::TICKS)
                    .color(&colour)
                    .pos(Pos::new(HPos::Left, VPos::Top)),
            ))
            .map_err(err)?;
        }
    }
    Ok(())
}

/// Tick positions 1, 2, 5 × 10ⁿ ms within `[lo, hi]`; over a wider range, fewer (1 and 5
/// beyond two decades, 1 beyond three), so the labels stay apart.
fn key_points(lo: f64, hi: f64) -> Vec<f64> {
    let mut points = Vec::new();
    let mut decade = 1.0;
    let decades = (hi / lo.max(1e-9)).log10();
    let steps: &[f64] = if decades > 3.0 {
        &[1.0]
    } else if decades > 2.0 {
        &[1.0, 5.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    while decade <= hi {
        for &m in steps {
            let v = m * decade;
            if v >= lo && v <= hi {
                points.push(v);
            }
        }
        decade *= 10.0;
    }
    points
}

/// Grouped bars: p50, p95, p99 per strategy (light to full colour), values written on top.
pub fn percentile_bars<DB: DrawingBackend>(
    area: &Area<'_, DB>,
    data: &ChartData,
) -> anyhow::Result<()> {
    let n = data.summary.len() as f64;
    // one strategy far slower than the rest would flatten every other bar: the axis then
    // stops at 1.5 × the next largest p99, and the outlier's bars are cut, marked and their
    // value written
    let mut p99s: Vec<f64> = data
        .summary
        .iter()
        .map(|r| r.latency_p99_ms as f64)
        .collect();
    p99s.sort_by(f64::total_cmp);
    let largest = p99s.last().copied().unwrap_or(1.0);
    let next = p99s.iter().rev().nth(1).copied().unwrap_or(largest);
    let top = if next > 0.0 && largest > 10.0 * next {
        1.5 * next
    } else {
        largest * 1.15
    };
    let caption = "p50 / p95 / p99, ms (light → dark; p99 written)";
    let mut chart = draw::frame(area, caption, 0.0..n, 0.0..top.max(1.0))?;
    draw::bar_mesh(area, &mut chart, data, "latency (ms)", &|v| {
        format!("{v:.0}")
    })?;
    for (i, row) in data.summary.iter().enumerate() {
        let c = data.looks.get(&row.strategy, i).color;
        let values = [row.latency_p50_ms, row.latency_p95_ms, row.latency_p99_ms];
        for (k, v) in values.iter().enumerate() {
            let x0 = i as f64 + 0.12 + k as f64 * 0.26;
            let shade = [0.35, 0.65, 1.0][k];
            let cut = *v as f64 > top;
            let h = (*v as f64).min(top * 0.93);
            chart
                .draw_series([Rectangle::new(
                    [(x0, 0.0), (x0 + 0.24, h)],
                    c.mix(shade).filled(),
                )])
                .map_err(err)?;
            if cut {
                // a white zigzag across the cut bar
                let (y0, y1) = (h * 0.90, h * 0.94);
                chart
                    .draw_series([PathElement::new(
                        vec![(x0 - 0.02, y0), (x0 + 0.12, y1), (x0 + 0.26, y0)],
                        WHITE.stroke_width(4),
                    )])
                    .map_err(err)?;
            }
            if k == 2 {
                // the p99 over its group (three values side by side would collide); p50 and
                // p95 read off the axis (a cut group's p99 is marked ↑)
                let label = font(draw::TICKS).pos(Pos::new(HPos::Center, VPos::Bottom));
                let text = if cut {
                    format!("{} ↑", draw::fmt_ms(&(*v as f64)))
                } else {
                    v.to_string()
                };
                chart
                    .draw_series([Text::new(text, (i as f64 + 0.5, h), label)])
                    .map_err(err)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Lost events never arrive: one of four events at 10 ms, three at 20 ms, and a tenth of
    /// all events delivered: the curve steps to 0.1 × 1/4 = 0.025, then ends at 0.1.
    #[test]
    fn a_strategy_that_loses_levels_off_at_its_delivered_share() {
        let pts = super::cdf_points(&[(10, 1), (20, 3)], 0.1);
        assert_eq!(pts[1], (10.0, 0.025));
        assert!((pts.last().unwrap().1 - 0.1).abs() < 1e-12);
    }
}
