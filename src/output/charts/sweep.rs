//! `sweep_*` charts: each headline metric against the first swept key, one line per strategy,
//! the mean over seeds with a min–max band; log axes where a range spans two decades or more.
//! With more than one swept key, one file per combination of the other keys' values.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{self, err, font};
use super::{register_fonts, SIZE};
use crate::output::palette::Looks;

/// The metrics drawn, with their axis labels and formats.
pub const METRICS: [(&str, &str); 4] = [
    ("requests_per_s", "requests/s"),
    ("latency_p99_ms", "p99 latency (ms)"),
    ("bytes_per_event", "bytes per event"),
    ("peak_open_connections", "open connections (peak)"),
];

/// The finite server's metrics, drawn when the sweep has them (folders written before the
/// cost model do not).
pub const CAPACITY: [(&str, &str); 2] = [
    ("server_cores_needed_mean", "server CPU cores needed (mean)"),
    ("server_memory_peak_bytes", "server memory (peak, bytes)"),
];

/// What faults do, drawn when the sweep's runs had disconnects (a scenario with faults).
pub const FAULTS: [(&str, &str); 3] = [
    ("events_lost", "events lost"),
    (
        "connect_attempts_peak_per_s",
        "attempts in the busiest second",
    ),
    ("recovery_s", "recovery (s, 99 % back)"),
];

/// The name a reader understands for a swept key (`clients.count` → `clients`,
/// `long-polling.timeout_s` → `long-polling timeout (s)`).
pub fn human_key(key: &str) -> String {
    match key {
        "clients.count" => return "clients".into(),
        "clients.connect_over_s" => return "connect spread (s)".into(),
        "events.rate_per_client_per_s" => return "events per client per second".into(),
        "events.rate_per_s" => return "events per second".into(),
        "events.payload_bytes" => return "payload (bytes)".into(),
        "network.latency_ms" => return "one-way latency (ms)".into(),
        "duration_s" => return "duration (s)".into(),
        "reconnect.policy.initial_ms" => return "backoff base (ms, 0: immediate)".into(),
        _ => {}
    }
    let (head, last) = key.rsplit_once('.').unwrap_or(("", key));
    let (name, unit) = [("_ms", " (ms)"), ("_s", " (s)"), ("_bytes", " (bytes)")]
        .iter()
        .find_map(|(suffix, unit)| last.strip_suffix(suffix).map(|n| (n, *unit)))
        .unwrap_or((last, ""));
    let name = name.replace('_', " ");
    if head.is_empty() {
        format!("{name}{unit}")
    } else {
        format!("{} {name}{unit}", head.replace('.', " "))
    }
}

/// The columns the `privacy` chart draws or needs (drawn when `sweep.csv` has them and a run
/// calls clients back, keeps a registry or a log, or clients change address).
pub const PRIVACY: [&str; 12] = [
    "events_lost",
    "events_generated",
    "address_seconds_stored",
    "address_seconds_logged",
    "misdelivered",
    "stale_registry_entries_peak",
    "registry_entries_peak",
    "callbacks_per_event",
    "clients_unreachable",
    "clients",
    "address_changes",
    "access_log_lines",
];

/// One row of `sweep.csv`, as numbers.
#[derive(Debug, Clone)]
struct Row {
    keys: Vec<f64>,
    strategy: String,
    metrics: BTreeMap<String, f64>,
}

/// The rows of a `sweep.csv`.
#[derive(Debug, Clone)]
pub struct SweepData {
    keys: Vec<String>,
    rows: Vec<Row>,
    strategies: Vec<String>,
    looks: Looks,
}

impl SweepData {
    /// Read `sweep.csv`.
    pub fn read(path: &Path, looks: &Looks) -> anyhow::Result<SweepData> {
        let (header, records) = crate::output::read::records(path)?;
        let seed_col = header
            .iter()
            .position(|h| h == "seed")
            .filter(|&c| c >= 1 && header.get(0) == Some("point"))
            .with_context(|| {
                format!(
                    "{}: line 1: not a sweep.csv header (`point`, the swept keys, `seed`, …)",
                    path.display()
                )
            })?;
        let strategy_col = header
            .iter()
            .position(|h| h == "strategy")
            .with_context(|| format!("{}: no `strategy` column", path.display()))?;
        let keys: Vec<String> = header
            .iter()
            .skip(1)
            .take(seed_col - 1)
            .map(str::to_string)
            .collect();
        let mut rows = Vec::new();
        let mut strategies: Vec<String> = Vec::new();
        for (line, rec) in records {
            let num = |i: usize| -> anyhow::Result<f64> {
                rec.get(i).and_then(|v| v.parse().ok()).with_context(|| {
                    format!(
                        "{}: line {line}, column `{}`: not a number",
                        path.display(),
                        crate::scenario::escape(header.get(i).unwrap_or("?"))
                    )
                })
            };
            let strategy = rec.get(strategy_col).unwrap_or("").to_string();
            if !strategies.contains(&strategy) {
                strategies.push(strategy.clone());
            }
            let mut metrics = BTreeMap::new();
            for (m, _) in METRICS {
                let col = header
                    .iter()
                    .position(|h| h == m)
                    .with_context(|| format!("{}: no `{m}` column", path.display()))?;
                metrics.insert(m.to_string(), num(col)?);
            }
            let capacity = CAPACITY.iter().map(|c| c.0).chain(["server_cores"]);
            let faults = FAULTS.iter().map(|c| c.0).chain(["disconnects"]);
            for m in PRIVACY.iter().copied().chain(capacity).chain(faults) {
                if let Some(col) = header.iter().position(|h| h == m) {
                    metrics.insert(m.to_string(), num(col)?);
                }
            }
            // derived: the share of events lost, the unreachable share
            if let (Some(l), Some(&g)) =
                (metrics.get("events_lost"), metrics.get("events_generated"))
            {
                let pct = if g > 0.0 { 100.0 * l / g } else { 0.0 };
                metrics.insert("events_lost_pct".into(), pct);
            }
            if let (Some(u), Some(&c)) =
                (metrics.get("clients_unreachable"), metrics.get("clients"))
            {
                let pct = if c > 0.0 { 100.0 * u / c } else { 0.0 };
                metrics.insert("clients_unreachable_pct".into(), pct);
            }
            rows.push(Row {
                keys: (1..seed_col).map(num).collect::<anyhow::Result<_>>()?,
                strategy,
                metrics,
            });
        }
        if rows.is_empty() {
            bail!("{}: no rows", path.display());
        }
        Ok(SweepData {
            looks: looks.clone(),
            keys,
            rows,
            strategies,
        })
    }
}

/// Draw the sweep charts (PNG + SVG), in memory: `(file name, bytes)`. Nothing is drawn if no
/// key other than the seed was swept.
pub fn render_all(data: &SweepData, title: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    if data.keys.is_empty() {
        return Ok(files);
    }
    // one picture per combination of the other keys' values
    let mut groups: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for row in &data.rows {
        let suffix: Vec<String> = data.keys[1..]
            .iter()
            .zip(&row.keys[1..])
            .map(|(k, v)| format!("__{k}={v}"))
            .collect();
        groups.entry(suffix.concat()).or_default().push(row);
    }
    let has_privacy = data
        .rows
        .iter()
        .all(|r| PRIVACY.iter().all(|m| r.metrics.contains_key(*m)))
        && data.rows.iter().any(|r| {
            r.strategy == "server-callback"
                || [
                    "registry_entries_peak",
                    "address_changes",
                    "access_log_lines",
                ]
                .iter()
                .any(|m| r.metrics.get(*m).is_some_and(|&v| v > 0.0))
        });
    for (suffix, rows) in &groups {
        let subtitle = suffix
            .replace("__", " · ")
            .trim_start_matches(" · ")
            .to_string();
        // the capacity charts only where the folder has their columns
        let capacity = CAPACITY
            .into_iter()
            .filter(|(m, _)| rows.iter().all(|r| r.metrics.contains_key(*m)));
        let faulty = rows
            .iter()
            .any(|r| r.metrics.get("disconnects").is_some_and(|&d| d > 0.0));
        let faults = FAULTS
            .into_iter()
            .filter(|(m, _)| faulty && rows.iter().all(|r| r.metrics.contains_key(*m)));
        for (metric, label) in METRICS.into_iter().chain(capacity).chain(faults) {
            let stem = format!("sweep_{metric}{suffix}");
            files.extend(save(
                &stem,
                |root| draw(root, data, rows, metric, label, title, &subtitle),
                |root| draw(root, data, rows, metric, label, title, &subtitle),
            )?);
        }
        if has_privacy {
            files.extend(save(
                &format!("privacy{suffix}"),
                |root| draw_privacy(root, data, rows, title, &subtitle),
                |root| draw_privacy(root, data, rows, title, &subtitle),
            )?);
        }
    }
    Ok(files)
}

type Svg<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Png<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// Draw a chart as `<stem>.svg` and `<stem>.png` (the same drawing on both backends).
fn save(
    stem: &str,
    svg_draw: impl Fn(&Svg<'_>) -> anyhow::Result<()>,
    png_draw: impl Fn(&Png<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        svg_draw(&root)?;
    }
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        png_draw(&root)?;
    }
    let mut png = Vec::new();
    let enc = image::codecs::png::PngEncoder::new(&mut png);
    image::ImageEncoder::write_image(enc, &rgb, w, h, image::ColorType::Rgb8)?;
    Ok(vec![
        (format!("{stem}.svg"), svg.into_bytes()),
        (format!("{stem}.png"), png),
    ])
}

/// `(x, mean, min, max)` of one x value over seeds.
type Stat = (f64, f64, f64, f64);

/// (x, mean, min, max) per x value.
fn stats(points: &[(f64, f64)]) -> Vec<Stat> {
    let mut by_x: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for &(x, y) in points {
        by_x.entry(x.to_bits()).or_default().push(y);
    }
    let mut out: Vec<Stat> = by_x
        .into_iter()
        .map(|(x, ys)| {
            let mean = ys.iter().sum::<f64>() / ys.len() as f64;
            let min = ys.iter().copied().fold(f64::INFINITY, f64::min);
            let max = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (f64::from_bits(x), mean, min, max)
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Whether values spanning `lo..hi` want a log axis.
fn wants_log(lo: f64, hi: f64) -> bool {
    lo > 0.0 && hi / lo >= 100.0
}

/// Title, subtitle and legend; returns the area below them.
fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    data: &SweepData,
    head: &str,
    subtitle: &str,
) -> anyhow::Result<DrawingArea<DB, plotters::coord::Shift>> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    register_fonts();
    root.fill(&WHITE).map_err(err)?;
    let (top, rest) = root.split_vertically(96);
    let centre = Pos::new(HPos::Center, VPos::Top);
    // a long metric and key make a long title: smaller type until it fits the width
    let room = SIZE.0 - 40;
    let mut size = draw::TITLE - 6;
    while size > 24
        && root
            .estimate_text_size(head, &font(size))
            .map_or(0, |s| s.0)
            > room
    {
        size -= 2;
    }
    top.draw_text(head, &font(size).pos(centre), (SIZE.0 as i32 / 2, 10))
        .map_err(err)?;
    // the band means something only with several seeds per point
    let mut per_point = BTreeMap::new();
    for r in &data.rows {
        *per_point
            .entry((
                r.strategy.clone(),
                r.keys.iter().map(|k| k.to_bits()).collect::<Vec<_>>(),
            ))
            .or_insert(0) += 1;
    }
    let seeds = per_point.values().copied().max().unwrap_or(1);
    let lost = data
        .rows
        .iter()
        .any(|r| r.metrics.get("events_lost").is_some_and(|&v| v > 0.0));
    let mut notes: Vec<String> = Vec::new();
    if !subtitle.is_empty() {
        notes.push(subtitle.to_string());
    }
    if seeds > 1 {
        notes.push(format!("mean over {seeds} seeds; band: min–max"));
    }
    if lost {
        notes.push("red ring: events lost at that point".into());
    }
    let sub = notes.join(" · ");
    top.draw_text(
        &sub,
        &font(draw::SUBTITLE)
            .color(&RGBColor(80, 80, 80))
            .pos(centre),
        (SIZE.0 as i32 / 2, 60),
    )
    .map_err(err)?;
    let strategies: Vec<&str> = data.strategies.iter().map(String::as_str).collect();
    draw::legend_for(&rest, &strategies, &data.looks)
}

#[allow(clippy::too_many_arguments)]
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    data: &SweepData,
    rows: &[&Row],
    metric: &str,
    label: &str,
    title: &str,
    subtitle: &str,
) -> anyhow::Result<()> {
    let body = header(
        root,
        data,
        &format!("{label} vs {} — {title}", human_key(&data.keys[0])),
        subtitle,
    )?;
    panel(&body, data, rows, metric, label, None)?;
    root.present().map_err(err)?;
    Ok(())
}

/// The `privacy` chart: "why not store every client's address and call it?" against the
/// first swept key. Top row, privacy: address·seconds stored beyond a connection (registry
/// and logs), events that reached the wrong client, registry entries pointing at an address
/// their client no longer has. Bottom row, scale and reach: registry entries, connections
/// the server opens per event, and the share of events lost (clients it cannot call, and
/// stale addresses; `clients_unreachable` is in `sweep.csv`).
fn draw_privacy<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    data: &SweepData,
    rows: &[&Row],
    title: &str,
    subtitle: &str,
) -> anyhow::Result<()> {
    let head = format!("Stored addresses — {title}");
    let body = header(root, data, &head, subtitle)?;
    let logged = rows.iter().any(|r| {
        r.metrics
            .get("address_seconds_logged")
            .is_some_and(|&v| v > 0.0)
    });
    let panels = body.split_evenly((2, 3));
    let specs: [(&str, &str, &str); 6] = [
        (
            "address_seconds_stored",
            "address-seconds",
            if logged {
                "Stored: registry + logs"
            } else {
                "Stored beyond connections"
            },
        ),
        (
            "misdelivered",
            "events misdelivered",
            "Events to the wrong client",
        ),
        (
            "stale_registry_entries_peak",
            "stale entries, peak",
            "Registry entries gone stale",
        ),
        ("registry_entries_peak", "entries, peak", "Registry entries"),
        (
            "callbacks_per_event",
            "connections per event",
            "Connections it opens per event",
        ),
        ("events_lost_pct", "% of events", "Events lost (NAT, moved)"),
    ];
    for (area, (metric, label, caption)) in panels.iter().zip(specs) {
        panel(area, data, rows, metric, label, Some(caption))?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// One metric against the first swept key: mean line per strategy, min–max band.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    data: &SweepData,
    rows: &[&Row],
    metric: &str,
    label: &str,
    caption: Option<&str>,
) -> anyhow::Result<()> {
    let key = &data.keys[0];
    let series: Vec<(usize, &String, Vec<Stat>)> = data
        .strategies
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| &r.strategy == s)
                .filter_map(|r| Some((r.keys[0], *r.metrics.get(metric)?)))
                .collect();
            (i, s, stats(&pts))
        })
        .collect();
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.2.iter().map(|p| p.0))
        .collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.2.iter().flat_map(|p| [p.2, p.3]))
        .collect();
    let (x_lo, x_hi) = (
        xs.iter().copied().fold(f64::INFINITY, f64::min),
        xs.iter().copied().fold(0.0, f64::max),
    );
    // the server's cores, drawn as the saturation line on the CPU chart
    // (one line only where every point has the same cores: a sweep of the cores has none)
    let cores = (metric == "server_cores_needed_mean")
        .then(|| {
            let all: Vec<f64> = rows
                .iter()
                .map(|r| r.metrics.get("server_cores").copied().unwrap_or(0.0))
                .collect();
            all.first()
                .copied()
                .filter(|&k| k > 0.0 && all.iter().all(|&c| c == k))
        })
        .flatten();
    let (y_lo, y_hi) = (
        ys.iter().copied().fold(f64::INFINITY, f64::min),
        ys.iter().copied().chain(cores).fold(0.0, f64::max),
    );
    // a log axis only where every value is positive and they span two decades; with a log x
    // axis, a y axis spanning one decade is log too (linear growth stays a straight line,
    // not a hockey stick)
    let log_x = wants_log(x_lo, x_hi);
    let log_y = wants_log(y_lo, y_hi) || (log_x && y_lo > 0.0 && y_hi / y_lo >= 10.0);
    let tx = |x: f64| if log_x { x.log10() } else { x };
    let ty = |y: f64| if log_y { y.max(1e-9).log10() } else { y };
    // ticks at the swept values themselves (at most 8 of them, evenly picked)
    let mut swept: Vec<f64> = xs.clone();
    swept.sort_by(f64::total_cmp);
    swept.dedup();
    let step = swept.len().div_ceil(8).max(1);
    let ticks: Vec<(f64, f64)> = swept.iter().step_by(step).map(|&x| (tx(x), x)).collect();
    let x_range = if log_x {
        (tx(x_lo) - 0.1)..(tx(x_hi) + 0.1)
    } else {
        (x_lo.min(0.0))..(x_hi * 1.05).max(1.0)
    };

    // room above a saturation line for the labels of the lines that end on it
    let head: f64 = if cores.is_some() { 1.4 } else { 1.12 };
    let y_range = if log_y {
        (ty(y_lo) - 0.2)..(ty(y_hi) + head.log10() + 0.15)
    } else {
        0.0..(y_hi * head).max(1.0)
    };
    let mut builder = ChartBuilder::on(area);
    if let Some(c) = caption {
        builder.caption(c, font(draw::CAPTION));
    }
    let mut chart = builder
        .margin(20)
        .margin_right(48) // room for the last x tick label
        .x_label_area_size(70)
        .y_label_area_size(130)
        .build_cartesian_2d(x_range, y_range)
        .map_err(err)?;
    let x_fmt = move |v: &f64| crate::output::table::human(if log_x { 10f64.powf(*v) } else { *v });
    let y_fmt = move |v: &f64| tick(if log_y { 10f64.powf(*v) } else { *v });
    let x_desc = if log_x {
        format!("{} (log scale)", human_key(key))
    } else {
        human_key(key)
    };
    let y_desc = if log_y {
        format!("{label} (log scale)")
    } else {
        label.to_string()
    };
    let decades = |lo: f64, hi: f64| ((hi / lo).log10().round() as usize + 1).clamp(2, 8);
    chart
        .configure_mesh()
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(210, 210, 210))
        .x_desc(x_desc.as_str())
        .y_desc(y_desc.as_str())
        .axis_desc_style(font(draw::AXIS))
        .label_style(font(draw::TICKS))
        .x_labels(0)
        .y_labels(if log_y { decades(y_lo, y_hi) } else { 6 })
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()
        .map_err(err)?;
    // the x tick labels, one per swept value, with a tick and a light grid line
    let (base_x, base_y) = area.get_base_pixel();
    let y_bottom = chart.plotting_area().get_pixel_range().1.end;
    let y_top = chart.plotting_area().get_pixel_range().1.start;
    let tick_style = font(draw::TICKS).pos(Pos::new(HPos::Center, VPos::Top));
    let mut last_right = i32::MIN;
    for &(t, value) in &ticks {
        let (px, _) = chart.backend_coord(&(t, 0.0));
        // a value too close to the previous one keeps its grid line but not its label
        let text = crate::output::table::human(value);
        let half = area
            .estimate_text_size(&text, &tick_style)
            .map_or(0, |s| s.0 as i32)
            / 2;
        let labelled = px - half > last_right + 8;
        if labelled {
            last_right = px + half;
        }
        area.draw(&PathElement::new(
            vec![
                (px - base_x, y_top - base_y),
                (px - base_x, y_bottom - base_y),
            ],
            RGBColor(225, 225, 225).stroke_width(1),
        ))
        .map_err(err)?;
        area.draw(&PathElement::new(
            vec![
                (px - base_x, y_bottom - base_y),
                (px - base_x, y_bottom - base_y + 6),
            ],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
        if labelled {
            area.draw(&Text::new(
                text,
                (px - base_x, y_bottom - base_y + 10),
                tick_style.clone(),
            ))
            .map_err(err)?;
        }
    }
    for (i, id, pts) in &series {
        let l = data.looks.get(id, *i);
        if pts.iter().any(|p| p.3 > p.2) {
            let mut band: Vec<(f64, f64)> = pts.iter().map(|p| (tx(p.0), ty(p.3))).collect();
            band.extend(pts.iter().rev().map(|p| (tx(p.0), ty(p.2))));
            chart
                .draw_series([Polygon::new(band, l.color.mix(0.18).filled())])
                .map_err(err)?;
        }
        let line: Vec<(f64, f64)> = pts.iter().map(|p| (tx(p.0), ty(p.1))).collect();
        draw::series(&mut chart, line.clone(), l, 3)?;
        chart
            .draw_series(line.iter().map(|&c| Circle::new(c, 6, l.color.filled())))
            .map_err(err)?;
        // points where this strategy lost events: a red ring
        let lossy: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| {
                &r.strategy == *id && r.metrics.get("events_lost").is_some_and(|&v| v > 0.0)
            })
            .filter_map(|r| {
                let p = pts.iter().find(|p| p.0 == r.keys[0])?;
                Some((tx(p.0), ty(p.1)))
            })
            .collect();
        chart
            .draw_series(
                lossy
                    .iter()
                    .map(|&c| Circle::new(c, 12, draw::LOSS.stroke_width(3))),
            )
            .map_err(err)?;
    }
    let mut obstacles = Vec::new();
    if let Some(k) = cores {
        // saturation: the cores are all busy; the strategies' lines bend onto it
        let (x0, x1) = (chart.x_range().start, chart.x_range().end);
        obstacles.push(vec![(x0, ty(k)), (x1, ty(k))]);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, ty(k)), (x1, ty(k))],
                14,
                8,
                BLACK.mix(0.8).stroke_width(2),
            ))
            .map_err(err)?;
        let (px, py) = chart.backend_coord(&(x0, ty(k)));
        let (bx, by) = area.get_base_pixel();
        area.draw(&Text::new(
            format!(
                "{} {}: saturated",
                tick(k),
                if k == 1.0 { "core" } else { "cores" }
            ),
            (px - bx + 12, py - by - 34),
            font(draw::TICKS),
        ))
        .map_err(err)?;
    }
    let lines: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(_, id, pts)| {
            (
                id.to_string(),
                pts.iter().map(|p| (tx(p.0), ty(p.1))).collect(),
            )
        })
        .collect();
    draw::label_lines_avoiding(&mut chart, &lines, &data.looks, &obstacles)?;
    Ok(())
}

/// A y tick label: small values keep their first significant digits (0.01, not 0.0).
fn tick(v: f64) -> String {
    draw::fmt_small(v)
}

#[cfg(test)]
mod tests {
    use super::human_key;

    #[test]
    fn swept_keys_get_names_a_reader_understands() {
        assert_eq!(human_key("clients.count"), "clients");
        assert_eq!(
            human_key("events.rate_per_client_per_s"),
            "events per client per second"
        );
        assert_eq!(
            human_key("long-polling.timeout_s"),
            "long-polling timeout (s)"
        );
        assert_eq!(
            human_key("server-callback.nat_fraction"),
            "server-callback nat fraction"
        );
        assert_eq!(human_key("sse.retry_ms"), "sse retry (ms)");
    }
}
