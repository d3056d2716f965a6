//! Sequence diagrams: one client's exchange with the server, the slide lecturers draw by hand.
//!
//! Two lifelines (the client, the server); each row is one message as a labelled arrow,
//! sloped by its simulated transit time (all arrows of a diagram share one scale), or an
//! event created at the server (a dot on its lifeline). Handshakes and closes are dashed.
//! Where steps were left out, a break says how many and how much time passed. Drawn from
//! `sequence.csv` ([`crate::trace::sequence`]).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{register_fonts, Area, SIZE};
use super::draw::err;
use super::draw::{font, AXIS, SUBTITLE, TICKS, TITLE};
use crate::trace::sequence::{height, Rows, BREAK, BUDGET, HEAD};
use crate::trace::{seconds, Side, Step, What, CLOSING};

const CLIENT_X: i32 = 340;
const SERVER_X: i32 = 1390;
const HEADER_Y: i32 = 96;
const FIRST_ROW_Y: i32 = 184;
const LAST_Y: i32 = 850;
const UP: RGBColor = RGBColor(0, 114, 178);
const DOWN: RGBColor = RGBColor(213, 94, 0);
const GREY: RGBColor = RGBColor(110, 110, 110);

/// The file stem of a strategy's diagram.
pub fn stem(strategy: &str) -> String {
    format!("sequence-{strategy}")
}

/// Whether a step is a handshake or a close (drawn dashed).
fn dashed(s: &Step) -> bool {
    matches!(s.label.kind.as_str(), "connect" | "close")
}

fn what(s: &Step) -> What {
    match s.label.kind.as_str() {
        "connect" => What::Connect,
        "close" => What::Close,
        _ => What::Data,
    }
}

/// The rows that fit (a hand-edited `sequence.csv` may hold more than a slide can), and how
/// many were left out.
fn fitting(rows: &Rows) -> (Rows, usize) {
    let mut kept = rows.clone();
    while height(&kept.steps) > BUDGET {
        kept.steps.pop();
    }
    let left = rows.steps.len() - kept.steps.len();
    (kept, left)
}

/// Draw the diagram on any backend (the files, and the layout test's text recorder).
pub(crate) fn draw_diagram<DB: DrawingBackend>(
    root: &Area<'_, DB>,
    rows: &Rows,
    conditions: &str,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    register_fonts();
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = SIZE;
    let mid = w as i32 / 2;
    root.draw_text(
        &format!("{}: one client's exchange, step by step", rows.strategy),
        &font(TITLE).pos(Pos::new(HPos::Center, VPos::Top)),
        (mid, 8),
    )
    .map_err(err)?;
    root.draw_text(
        conditions,
        &font(super::draw::fitting_size(root, conditions, SUBTITLE))
            .color(&RGBColor(80, 80, 80))
            .pos(Pos::new(HPos::Center, VPos::Top)),
        (mid, 58),
    )
    .map_err(err)?;

    let (rows, left_out) = fitting(rows);
    let rows = &rows;
    // one unit for every row, BREAK of one for every break; a row is at least 37 px
    let unit = ((LAST_Y - FIRST_ROW_Y) as f64 / height(&rows.steps).max(1.0)).min(44.0);
    let row_h = unit.round() as i32;
    let break_h = (unit * BREAK).round() as i32;
    // one scale for every arrow's slope: the slowest transit drops half a row
    let slowest = rows
        .steps
        .iter()
        .filter_map(|(_, s)| s.arrived_ms.map(|a| a.saturating_sub(s.at_ms)))
        .max()
        .unwrap_or(0)
        .max(1);
    let px_per_ms = (0.5 * row_h as f64 / slowest as f64).min(2.0);

    // lifelines and their heads
    let bottom = {
        let breaks = rows.steps.iter().filter(|(g, _)| g.steps > 0).count() as i32;
        FIRST_ROW_Y + breaks * break_h + rows.steps.len() as i32 * row_h - row_h / 2
    };
    for (x, name) in [
        (CLIENT_X, format!("client {}", rows.client)),
        (SERVER_X, "server".to_string()),
    ] {
        root.draw(&Rectangle::new(
            [(x - 110, HEADER_Y), (x + 110, HEADER_Y + 44)],
            ShapeStyle::from(&BLACK).stroke_width(2),
        ))
        .map_err(err)?;
        root.draw_text(
            &name,
            &font(AXIS).pos(Pos::new(HPos::Center, VPos::Center)),
            (x, HEADER_Y + 22),
        )
        .map_err(err)?;
        root.draw(&PathElement::new(
            vec![(x, HEADER_Y + 44), (x, bottom)],
            ShapeStyle::from(&RGBColor(170, 170, 170)).stroke_width(2),
        ))
        .map_err(err)?;
    }

    let conns = rows
        .steps
        .iter()
        .map(|(_, s)| s.conn)
        .filter(|&c| c > 0)
        .collect::<std::collections::BTreeSet<_>>();
    let several = conns.len() > 1;
    let label_room = (SERVER_X - CLIENT_X - 40) as u32;

    let mut y = FIRST_ROW_Y;
    let mut previous: Option<u64> = None;
    for (gap, s) in &rows.steps {
        if gap.steps > 0 {
            let since = previous.map(|p| s.at_ms.saturating_sub(p)).unwrap_or(0);
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            let text = if gap.events == gap.steps {
                // only events created: nothing was sent meanwhile
                format!(
                    "⋯ meanwhile {} event{} created ⋯",
                    gap.events,
                    plural(gap.events)
                )
            } else {
                format!(
                    "⋯ {} step{} not shown, {} later ⋯",
                    gap.steps,
                    plural(gap.steps),
                    human_duration(since)
                )
            };
            // between the end of the previous row's arrow (at most half a row down) and
            // the top of the next row's label
            let top = y - row_h / 2 + 2;
            let bottom = y + break_h - (TICKS as i32 + 6);
            let by = (top + bottom) / 2;
            for x in [CLIENT_X, SERVER_X] {
                // a gap in the lifeline
                root.draw(&Rectangle::new(
                    [(x - 8, by - 8), (x + 8, by + 8)],
                    ShapeStyle::from(&WHITE).filled(),
                ))
                .map_err(err)?;
                for dy in [-6, 2] {
                    root.draw(&PathElement::new(
                        vec![(x - 10, by + dy + 4), (x + 10, by + dy - 4)],
                        ShapeStyle::from(&GREY).stroke_width(2),
                    ))
                    .map_err(err)?;
                }
            }
            root.draw_text(
                &text,
                &font(TICKS)
                    .color(&GREY)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
                ((CLIENT_X + SERVER_X) / 2, by),
            )
            .map_err(err)?;
            y += break_h;
        }
        previous = Some(s.at_ms);
        // the time, left of the client's lifeline
        root.draw_text(
            &seconds(s.at_ms),
            &font(TICKS)
                .color(&GREY)
                .pos(Pos::new(HPos::Right, VPos::Center)),
            (CLIENT_X - 124, y - 6),
        )
        .map_err(err)?;
        if s.label.kind == CLOSING {
            // the end of the run: a line across both lifelines, named
            root.draw(&plotters::element::DashedPathElement::new(
                vec![(CLIENT_X - 60, y), (SERVER_X + 60, y)],
                6,
                6,
                ShapeStyle::from(&BLACK).stroke_width(2),
            ))
            .map_err(err)?;
            root.draw_text(
                &s.label.text,
                &font(TICKS).pos(Pos::new(HPos::Center, VPos::Bottom)),
                ((CLIENT_X + SERVER_X) / 2, y - 4),
            )
            .map_err(err)?;
            y += row_h;
            continue;
        }
        if s.from == Side::Event {
            root.draw(&Circle::new(
                (SERVER_X, y),
                7,
                ShapeStyle::from(&BLACK).filled(),
            ))
            .map_err(err)?;
            let style = font(TICKS);
            let text = fit(root, &s.label.text, &style, label_room);
            root.draw_text(
                &text,
                &style.pos(Pos::new(HPos::Right, VPos::Center)),
                (SERVER_X - 16, y),
            )
            .map_err(err)?;
            y += row_h;
            continue;
        }
        let (x0, x1, colour) = match s.from {
            Side::Client => (CLIENT_X, SERVER_X, UP),
            _ => (SERVER_X, CLIENT_X, DOWN),
        };
        let colour = if dashed(s) { GREY } else { colour };
        let (x1, y1, never) = match s.arrived_ms {
            Some(a) => (
                x1,
                y + (a.saturating_sub(s.at_ms) as f64 * px_per_ms).round() as i32,
                false,
            ),
            // never read: a stub from the sender, ending in a cross
            None => (x0 + (x1 - x0) * 2 / 5, y, true),
        };
        let style = ShapeStyle::from(&colour).stroke_width(3);
        if dashed(s) || never {
            root.draw(&plotters::element::DashedPathElement::new(
                vec![(x0, y), (x1, y1)],
                12,
                8,
                style,
            ))
            .map_err(err)?;
        } else {
            root.draw(&PathElement::new(vec![(x0, y), (x1, y1)], style))
                .map_err(err)?;
        }
        if never {
            for (dx, dy) in [(8, 8), (8, -8)] {
                root.draw(&PathElement::new(
                    vec![(x1 - dx, y1 - dy), (x1 + dx, y1 + dy)],
                    ShapeStyle::from(&colour).stroke_width(3),
                ))
                .map_err(err)?;
            }
        } else {
            arrow_head(root, (x0, y), (x1, y1), colour)?;
        }
        let mut text = s.label.text.clone();
        if several && what(s) == What::Data {
            text = format!("#{} {text}", s.conn);
        }
        if s.len > 0 {
            // the size of the write: heads, frames and chunks included
            text.push_str(&format!("  ({} B)", s.len));
        }
        if never {
            text.push_str(" (not read)");
        }
        let style = font(TICKS).color(&colour);
        let text = fit(root, &text, &style, label_room);
        root.draw_text(
            &text,
            &style.pos(Pos::new(HPos::Center, VPos::Bottom)),
            ((CLIENT_X + SERVER_X) / 2, y - 4),
        )
        .map_err(err)?;
        y += row_h;
    }

    let more = if left_out > 0 {
        format!(" ({left_out} more rows in sequence.csv.)")
    } else {
        String::new()
    };
    root.draw_text(
        &format!(
            "Arrow slope: simulated transit time (the slowest here: {slowest} ms). Rows: the first {HEAD} steps, then the first of each kind.{more}"
        ),
        &font(TICKS)
            .color(&GREY)
            .pos(Pos::new(HPos::Center, VPos::Bottom)),
        (mid, SIZE.1 as i32 - 12),
    )
    .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// `text`, cut with `…` to fit `room` pixels.
fn fit<DB: DrawingBackend>(
    root: &Area<'_, DB>,
    text: &str,
    style: &TextStyle<'_>,
    room: u32,
) -> String {
    let width = |t: &str| root.estimate_text_size(t, style).map_or(0, |(w, _)| w);
    if width(text) <= room {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut n = chars.len();
    while n > 1 {
        n -= 1;
        let cut: String = chars[..n].iter().collect::<String>() + "…";
        if width(&cut) <= room {
            return cut;
        }
    }
    "…".into()
}

fn arrow_head<DB: DrawingBackend>(
    root: &Area<'_, DB>,
    from: (i32, i32),
    to: (i32, i32),
    colour: RGBColor,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let (dx, dy) = ((to.0 - from.0) as f64, (to.1 - from.1) as f64);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let (l, h) = (18.0, 7.0);
    let base = (to.0 as f64 - ux * l, to.1 as f64 - uy * l);
    let p = |x: f64, y: f64| (x.round() as i32, y.round() as i32);
    root.draw(&Polygon::new(
        vec![
            to,
            p(base.0 - uy * h, base.1 + ux * h),
            p(base.0 + uy * h, base.1 - ux * h),
        ],
        ShapeStyle::from(&colour).filled(),
    ))
    .map_err(err)?;
    Ok(())
}

/// `850 ms`, `4.2 s`, `3 min 5 s`.
fn human_duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// The diagram as SVG text.
pub fn render_svg(rows: &Rows, conditions: &str) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw_diagram(&root, rows, conditions)?;
    }
    Ok(svg)
}

/// The diagram as PNG bytes.
pub fn render_png(rows: &Rows, conditions: &str) -> anyhow::Result<Vec<u8>> {
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        draw_diagram(&root, rows, conditions)?;
    }
    super::encode_png(&rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration(850), "850 ms");
        assert_eq!(human_duration(4_200), "4.2 s");
        assert_eq!(human_duration(185_000), "3 min 5 s");
    }
}
