//! The layout test: every text element of every chart, measured with the bundled font's
//! metrics, must lie inside the canvas, overlap no other text, and have a font size of at
//! least 18 px on the 1600×900 canvas (9 px when the slide is shown at 800×450). The size
//! checked is the CSS `font-size` the SVG carries: plotters writes a style's size ÷ 1.24
//! there (its size is a line height, not an em), so a 21 px style is a 16.9 px font.

use plotters::prelude::*;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontTransform,
};

/// One text element as drawn: its string, font size and box `(x0, y0, x1, y1)` in pixels.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    pub text: String,
    pub size: f64,
    pub rect: (i32, i32, i32, i32),
}

/// A backend that draws nothing but records where every text goes.
pub(crate) struct TextRecorder {
    size: (u32, u32),
    texts: std::rc::Rc<std::cell::RefCell<Vec<Placed>>>,
}

#[derive(Debug)]
pub(crate) struct NoError;
impl std::fmt::Display for NoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no error")
    }
}
impl std::error::Error for NoError {}

impl DrawingBackend for TextRecorder {
    type ErrorType = NoError;

    fn get_size(&self) -> (u32, u32) {
        self.size
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<NoError>> {
        Ok(())
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<NoError>> {
        Ok(())
    }
    fn draw_pixel(
        &mut self,
        _: BackendCoord,
        _: BackendColor,
    ) -> Result<(), DrawingErrorKind<NoError>> {
        Ok(())
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        _: BackendCoord,
        _: BackendCoord,
        _: &S,
    ) -> Result<(), DrawingErrorKind<NoError>> {
        Ok(())
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        _: BackendCoord,
        _: BackendCoord,
        _: &S,
        _: bool,
    ) -> Result<(), DrawingErrorKind<NoError>> {
        Ok(())
    }
    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<NoError>> {
        if style.color().alpha == 0.0 || text.trim().is_empty() {
            return Ok(());
        }
        let ((x0, y0), (x1, y1)) = style
            .layout_box(text)
            .map_err(|_| DrawingErrorKind::FontError(Box::new(NoError)))?;
        let (w, h) = (x1 - x0, y1 - y0);
        let dx = match style.anchor().h_pos {
            plotters_backend::text_anchor::HPos::Left => 0,
            plotters_backend::text_anchor::HPos::Right => -w,
            plotters_backend::text_anchor::HPos::Center => -w / 2,
        };
        let dy = match style.anchor().v_pos {
            plotters_backend::text_anchor::VPos::Top => 0,
            plotters_backend::text_anchor::VPos::Center => -h / 2,
            plotters_backend::text_anchor::VPos::Bottom => -h,
        };
        let t: FontTransform = style.transform();
        let corners = [(dx, dy), (dx + w, dy), (dx, dy + h), (dx + w, dy + h)]
            .map(|(x, y)| t.transform(x, y));
        let xs = corners.map(|c| c.0 + pos.0);
        let ys = corners.map(|c| c.1 + pos.1);
        self.texts.borrow_mut().push(Placed {
            text: text.to_string(),
            size: style.size(),
            rect: (
                *xs.iter().min().unwrap(),
                *ys.iter().min().unwrap(),
                *xs.iter().max().unwrap(),
                *ys.iter().max().unwrap(),
            ),
        });
        Ok(())
    }
}

/// plotters' SVG backend writes `font-size` = style size ÷ this.
const SVG_EM: f64 = 1.24;

/// The layout problems of the texts of one chart.
pub(crate) fn problems(texts: &[Placed], size: (u32, u32)) -> Vec<String> {
    let mut out = Vec::new();
    let (w, h) = (size.0 as i32, size.1 as i32);
    for t in texts {
        let (x0, y0, x1, y1) = t.rect;
        if x0 < 0 || y0 < 0 || x1 > w || y1 > h {
            out.push(format!("{:?} is outside the canvas: {:?}", t.text, t.rect));
        }
        let font_size = t.size / SVG_EM;
        if font_size < 18.0 {
            out.push(format!(
                "{:?} has a {font_size:.1} px font, below 18",
                t.text
            ));
        }
    }
    for (i, a) in texts.iter().enumerate() {
        for b in &texts[i + 1..] {
            let overlap_x = a.rect.2.min(b.rect.2) - a.rect.0.max(b.rect.0);
            let overlap_y = a.rect.3.min(b.rect.3) - a.rect.1.max(b.rect.1);
            if overlap_x > 1 && overlap_y > 1 {
                out.push(format!(
                    "{:?} {:?} overlaps {:?} {:?}",
                    a.text, a.rect, b.text, b.rect
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::charts::{draw_chart, ChartData, CHARTS, SIZE};
    use crate::output::palette::Looks;
    use crate::trace::sequence::Rows;

    /// A real run of the five built-ins, then the same data with long strategy names and
    /// values stretched to extremes.
    /// Charts' data, and sequence diagrams (what, rows, conditions line).
    type Diagrams = Vec<(String, Rows, String)>;

    fn datasets() -> (Vec<(String, ChartData)>, Diagrams) {
        let lab = crate::Lab::builtin();
        let s = lab
            .parse(&crate::Source {
                label: "layout".into(),
                text: "name = \"layout\"\nduration_s = 12\nwarmup_s = 2\n[clients]\ncount = 20\n\
                       [events]\nrate_per_client_per_s = 1\n",
            })
            .unwrap();
        let results = lab.simulate(&s, 2).unwrap();
        let root = tempfile::tempdir().unwrap();
        let written = lab.write(&s, root.path(), results).unwrap();
        let conditions = std::fs::read_to_string(written.dir.join("conditions.txt")).unwrap();
        let real = ChartData::read(&written.dir, "layout", &conditions, &lab.looks()).unwrap();
        let first_line = conditions.lines().next().unwrap().to_string();
        let sequences =
            crate::trace::sequence::read_csv(&written.dir.join("sequence.csv")).unwrap();
        let mut diagrams: Vec<(String, Rows, String)> = sequences
            .iter()
            .map(|r| {
                (
                    format!("real {}", r.strategy),
                    r.clone(),
                    first_line.clone(),
                )
            })
            .collect();
        // long names and labels, a gap before every row, late times, several connections
        let mut long = sequences[0].clone();
        long.strategy = "a-sixth-strategy-with-a-rather-long-name".into();
        long.client = 99_999;
        for (k, (gap, step)) in long.steps.iter_mut().enumerate() {
            *gap = crate::trace::sequence::Gap {
                steps: 1_000 + k,
                // every other gap only events created (the "meanwhile" text)
                events: if k % 2 == 1 { 1_000 + k } else { 0 },
            };
            step.at_ms = 86_400_000 + k as u64 * 61_000;
            step.arrived_ms = step.arrived_ms.map(|_| step.at_ms + 10_000);
            step.conn = 1 + (k as u32 % 3);
            step.label.text = step.label.text.repeat(8);
        }
        diagrams.push(("extreme".into(), long, conditions.replace('\n', " ")));
        // long names, extreme values
        let names = [
            ("short-polling", "short-polling-with-jitter"),
            ("long-polling", "long-polling-with-backoff"),
            ("websocket", "websocket-through-a-proxy"),
            ("sse", "server-sent-events-resumed"),
            ("server-callback", "server-callback-behind-nat"),
        ];
        let mut extreme = real.clone();
        extreme.name = "a-scenario-with-a-rather-long-name-for-a-slide".into();
        for r in &mut extreme.summary {
            r.strategy = names
                .iter()
                .find(|n| n.0 == r.strategy)
                .unwrap()
                .1
                .to_string();
            r.bytes_per_event *= 1e9;
            r.latency_p99_ms *= 1000;
            r.latency_max_ms *= 1000;
            r.events_lost = r.events_generated / 3;
            r.recovery_s = 12_345.678;
            r.connect_attempts_peak_per_s = 10_000_000;
            r.address_seconds_in_memory = 1e12;
            if r.strategy.starts_with("server-callback") {
                // only a server that calls stored addresses has these
                r.misdelivered = r.events_generated / 5;
                r.registry_entries_peak = 200_000;
                r.stale_registry_entries_peak = 199_999;
                r.clients_unreachable = r.clients;
                r.callbacks_per_event = 1.0;
                r.address_seconds_stored = 1e12;
            }
        }
        // a fault to shade, and connection storms of millions a second
        extreme.has_faults = true;
        extreme.faults = vec![crate::output::charts::data::FaultWindow {
            fault: 0,
            kind: "server-restart".into(),
            start_s: 4.0,
            end_s: 6.0,
            clients: 1.0,
        }];
        fn rename<V>(m: &mut std::collections::BTreeMap<String, V>, names: &[(&str, &str)]) {
            let old = std::mem::take(m);
            for (k, v) in old {
                m.insert(names.iter().find(|n| n.0 == k).unwrap().1.to_string(), v);
            }
        }
        rename(&mut extreme.series, &names);
        rename(&mut extreme.latency, &names);
        rename(&mut extreme.model, &names);
        for rows in extreme.series.values_mut() {
            for r in rows {
                r.requests *= 1_000_000;
                r.app_bytes_down *= 1_000_000;
                r.connect_attempts = 10_000_000;
                r.connected_clients = 200_000;
            }
        }
        extreme.looks = Looks::default();
        // one strategy a thousand times slower than the rest (its latency bars are cut)
        let mut outlier = real.clone();
        if let Some(last) = outlier.summary.last_mut() {
            last.latency_p50_ms *= 1000;
            last.latency_p95_ms *= 1000;
            last.latency_p99_ms *= 1000;
        }
        (
            vec![
                ("real".into(), real),
                ("extreme".into(), extreme),
                ("outlier".into(), outlier),
            ],
            diagrams,
        )
    }

    /// The texts of chart `stem` drawn from `data`.
    fn texts_of(stem: &str, data: &ChartData) -> Vec<Placed> {
        let texts = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        {
            let root = TextRecorder {
                size: SIZE,
                texts: texts.clone(),
            }
            .into_drawing_area();
            draw_chart(stem, &root, data).unwrap();
        }
        let t = texts.borrow().clone();
        t
    }

    /// Every push strategy's CDF jumps at the link delay, onto one line: each strategy is
    /// still named in the CDF panel (legend, bar label and a name at its median: 3 times).
    /// The long-polling line of parked requests has a panel and a name of its own.
    #[test]
    fn every_strategy_is_named_where_its_line_is() {
        let (charts, _) = datasets();
        let real = &charts[0].1;
        let latency = texts_of("latency", real);
        for row in &real.summary {
            let n = latency
                .iter()
                .filter(|t| {
                    t.text == row.strategy
                        || t.text.starts_with(&format!("{} · p50 ", row.strategy))
                })
                .count();
            let all: Vec<&str> = latency.iter().map(|t| t.text.as_str()).collect();
            assert_eq!(
                n, 3,
                "{} named {n} times in the latency chart: {all:?}",
                row.strategy
            );
        }
        // the push strategies share one median block
        assert!(latency.iter().any(|t| t.text == "p50 50 ms"));
        let load = texts_of("server_load", real);
        assert!(load
            .iter()
            .any(|t| t.text == "Requests held at the server (parked)"));
        let named = load
            .iter()
            .filter(|t| t.text.contains("long-polling"))
            .count();
        let named_in: Vec<&str> = load
            .iter()
            .filter(|t| t.text.contains("long-polling"))
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(
            named, 5,
            "legend, requests, CPU, parked and memory panels (connections: shared label): {named_in:?}"
        );
    }

    #[test]
    fn no_chart_text_is_clipped_overlapping_or_too_small() {
        let mut all = Vec::new();
        let (charts, diagrams) = datasets();
        for (what, rows, conditions) in diagrams {
            let texts = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            {
                let root = TextRecorder {
                    size: SIZE,
                    texts: texts.clone(),
                }
                .into_drawing_area();
                crate::output::charts::sequence::draw_diagram(&root, &rows, &conditions).unwrap();
            }
            for p in problems(&texts.borrow(), SIZE) {
                all.push(format!("{what} sequence: {p}"));
            }
        }
        for (what, data) in charts {
            // the recovery and addresses charts too (drawn only with faults, or with
            // server-callback; here on every data set)
            for stem in CHARTS.into_iter().chain(["recovery", "addresses"]) {
                let texts = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
                {
                    let root = TextRecorder {
                        size: SIZE,
                        texts: texts.clone(),
                    }
                    .into_drawing_area();
                    draw_chart(stem, &root, &data).unwrap();
                }
                for p in problems(&texts.borrow(), SIZE) {
                    all.push(format!("{what} {stem}: {p}"));
                }
            }
        }
        assert!(
            all.is_empty(),
            "{} layout problems:\n{}",
            all.len(),
            all.join("\n")
        );
    }
}
