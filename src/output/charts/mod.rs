//! Charts of a run, drawn with plotters as PNG (quick looks, notebooks) and SVG (slides).
//!
//! | file | shows |
//! |---|---|
//! | `server_load` | requests/s, and open connections + parked requests, over simulated time |
//! | `latency` | delivery-latency CDF per strategy (log axis, p50/p99 marked) and p50/p95/p99 bars |
//! | `traffic` | upload and download bytes/s over time, and bytes per event split into payload and overhead |
//! | `overview` | a 2×2 dashboard of the above: the one picture for a slide |
//! | `addresses` | when clients are called back, registered or logged, or change address: address·hours held and stored, misdeliveries, unreachable clients, connections per event, registry size |
//! | `recovery` | with faults only: connected clients and connection attempts per second (fault windows shaded), events lost and time to reconnect |
//!
//! Everything is drawn from [`ChartData`], which is read from the CSV files, so
//! `realtime-lab chart DIR` redraws a run without simulating it. The font (DejaVu Sans) is
//! bundled, so charts look the same on every machine; colours and line patterns come from
//! [`crate::output::palette`]. The same CSV gives the same SVG bytes.

mod addresses;
mod canvas;
mod data;
mod draw;
mod latency;
#[cfg(test)]
mod layout;
mod load;
mod overview;
mod recovery;
pub mod sequence;
pub mod sweep;
mod traffic;

use anyhow::Context;
use plotters::prelude::*;

pub use canvas::SIZE;
pub(crate) use canvas::{register_fonts, Area};
pub use data::{ChartData, TimeRow};

/// The charts every run draws, by file stem.
pub const CHARTS: [&str; 4] = ["server_load", "latency", "traffic", "overview"];

/// Draw chart `stem` onto `root`.
fn draw_chart<DB: DrawingBackend>(
    stem: &str,
    root: &Area<'_, DB>,
    data: &ChartData,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    register_fonts();
    root.fill(&WHITE).map_err(draw::err)?;
    match stem {
        "server_load" => load::draw(root, data),
        "latency" => latency::draw(root, data),
        "traffic" => traffic::draw(root, data),
        "overview" => overview::draw(root, data),
        "recovery" => recovery::draw(root, data),
        "addresses" => addresses::draw(root, data),
        other => anyhow::bail!("unknown chart {other}"),
    }?;
    root.present().map_err(draw::err)?;
    Ok(())
}

/// Chart `stem` as SVG text.
pub fn render_svg(stem: &str, data: &ChartData) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw_chart(stem, &root, data)?;
    }
    Ok(svg)
}

/// Chart `stem` as PNG bytes.
pub fn render_png(stem: &str, data: &ChartData) -> anyhow::Result<Vec<u8>> {
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        draw_chart(stem, &root, data)?;
    }
    encode_png(&rgb)
}

/// An RGB buffer of [`SIZE`] as PNG bytes.
pub(crate) fn encode_png(rgb: &[u8]) -> anyhow::Result<Vec<u8>> {
    let (w, h) = SIZE;
    let mut png = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new(&mut png);
    image::ImageEncoder::write_image(encoder, rgb, w, h, image::ColorType::Rgb8)
        .context("encoding PNG")?;
    Ok(png)
}

/// Every strategy's sequence diagram (`sequence-<strategy>.svg/.png`) from `sequence.csv`'s
/// rows, in memory.
pub fn render_sequences(
    runs: &[crate::trace::sequence::Rows],
    conditions: &str,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for rows in runs {
        let stem = sequence::stem(&rows.strategy);
        let svg = sequence::render_svg(rows, conditions)
            .with_context(|| format!("drawing {stem}.svg"))?;
        let png = sequence::render_png(rows, conditions)
            .with_context(|| format!("drawing {stem}.png"))?;
        out.push((format!("{stem}.svg"), svg.into_bytes()));
        out.push((format!("{stem}.png"), png));
    }
    Ok(out)
}

/// Draw every chart of `data`, in memory: `(<stem>.svg or <stem>.png, bytes)`.
pub fn render_all(data: &ChartData) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let recovery = data.has_faults.then_some("recovery");
    let addresses = addresses::applies(data).then_some("addresses");
    for stem in CHARTS.into_iter().chain(recovery).chain(addresses) {
        let svg = render_svg(stem, data).with_context(|| format!("drawing {stem}.svg"))?;
        let png = render_png(stem, data).with_context(|| format!("drawing {stem}.png"))?;
        out.push((format!("{stem}.svg"), svg.into_bytes()));
        out.push((format!("{stem}.png"), png));
    }
    Ok(out)
}
