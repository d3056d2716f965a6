//! Helpers for the lecture notebooks (`notebooks/`, Jupyter with the evcxr Rust kernel): run a
//! scenario written inline, and show tables, charts and wire bytes in the notebook.
//!
//! Charts are shown as SVG through evcxr's display protocol (a block of text between
//! `EVCXR_BEGIN_CONTENT image/svg+xml` and `EVCXR_END_CONTENT` on stdout); outside Jupyter the
//! same calls just print. Every notebook's code also runs as a test (`tests/notebooks.rs`).
//!
//! ```
//! use realtime_lab::notebook as nb;
//! let s = nb::scenario(r#"
//!     name = "tiny"
//!     duration_s = 5
//!     strategies = ["websocket"]
//!     [clients]
//!     count = 5
//!     [events]
//!     rate_per_client_per_s = 1
//! "#)?;
//! let results = nb::run(&s)?;
//! assert_eq!(results[0].summary.events_lost, 0);
//! # Ok::<(), anyhow::Error>(())
//! ```

use anyhow::Context;

use crate::output::charts::{self, ChartData};
use crate::{runner, Lab, RunResult, Scenario, Source};

/// Parse and validate a scenario written in the notebook (with the built-in strategies).
pub fn scenario(toml: &str) -> anyhow::Result<Scenario> {
    scenario_in(&Lab::builtin(), toml)
}

/// Parse and validate a scenario written in the notebook, with `lab`'s strategies (a lab
/// holding a strategy the notebook defines).
pub fn scenario_in(lab: &Lab, toml: &str) -> anyhow::Result<Scenario> {
    Ok(lab.parse(&Source {
        label: "notebook scenario".into(),
        text: toml,
    })?)
}

/// Simulate every strategy of `s` (built-ins), on every core.
pub fn run(s: &Scenario) -> anyhow::Result<Vec<RunResult>> {
    Lab::builtin().simulate(s, jobs())
}

/// Simulate one strategy — built in or defined in the notebook.
pub fn run_one(s: &Scenario, strategy: &dyn crate::Strategy) -> anyhow::Result<RunResult> {
    crate::sim::run(s, strategy)
}

fn jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Print the summary table.
pub fn table(results: &[RunResult]) {
    let rows: Vec<_> = results.iter().map(|r| r.summary.clone()).collect();
    print!("{}", crate::output::table::render(&rows));
}

/// Show an SVG inline (evcxr), or print it.
pub fn show_svg(svg: &str) {
    println!("EVCXR_BEGIN_CONTENT image/svg+xml\n{svg}\nEVCXR_END_CONTENT");
}

/// Draw chart `stem` (`server_load`, `latency`, `traffic`, `overview`) of these results — the
/// same chart `realtime-lab run` writes — and return its SVG.
pub fn chart(stem: &str, s: &Scenario, results: &[RunResult]) -> anyhow::Result<String> {
    let dir = tempfile::tempdir().context("a temporary folder for the chart's CSV")?;
    let lab = Lab::builtin();
    let outcome = lab.write(s, dir.path(), results.to_vec())?;
    let conditions = std::fs::read_to_string(outcome.dir.join(runner::CONDITIONS_FILE))?;
    let data = ChartData::read(&outcome.dir, &s.name, &conditions, &lab.looks())?;
    charts::render_svg(stem, &data)
}

/// [`chart`], shown inline.
pub fn show_chart(stem: &str, s: &Scenario, results: &[RunResult]) -> anyhow::Result<()> {
    show_svg(&chart(stem, s, results)?);
    Ok(())
}

fn print_message(m: &crate::trace::Message, label: &crate::trace::Label) {
    let arrow = if m.up {
        "client → server"
    } else {
        "server → client"
    };
    println!(
        "--- t = {} ms, connection #{}, {arrow}, {} bytes: {} ---",
        m.sent_ms, m.conn, m.len, label.text
    );
    println!("{}", m.text());
}

/// Print the first `writes` writes of the traced client (client 0 unless the scenario says
/// otherwise), on every connection, as they crossed the wire.
pub fn show_wire(result: &RunResult, writes: usize) {
    show_wire_where(result, writes, |_| true);
}

/// Print, as it crossed the wire, the first write of each of `kinds` in each direction (as
/// the sequence diagrams name them: `GET`, `204`, `ws text`, `ws ping`, `ws pong masked` (a
/// client's frames are masked), `ws close`, `sse comment`…), in time order.
pub fn show_wire_of(result: &RunResult, kinds: &[&str]) {
    let labels = crate::trace::describe(&result.trace.messages);
    let mut shown = std::collections::BTreeSet::new();
    for (m, l) in result.trace.messages.iter().zip(&labels) {
        if m.len > 0 && kinds.contains(&l.kind.as_str()) && shown.insert((l.kind.clone(), m.up)) {
            print_message(m, l);
        }
    }
    for k in kinds
        .iter()
        .filter(|k| !shown.iter().any(|(s, _)| s == **k))
    {
        println!("(no {k} in this run)");
    }
}

/// Print, as they crossed the wire, the first `n` writes whose name passes `keep` (e.g.
/// `|l| l.text.contains("event: price")`).
pub fn show_wire_where(result: &RunResult, n: usize, keep: impl Fn(&crate::trace::Label) -> bool) {
    let labels = crate::trace::describe(&result.trace.messages);
    for (m, l) in result
        .trace
        .messages
        .iter()
        .zip(&labels)
        .filter(|(m, l)| m.len > 0 && keep(l))
        .take(n)
    {
        print_message(m, l);
    }
}

/// Print the traced client's exchange up to `until_s` simulated seconds, as
/// `realtime-lab trace` does.
pub fn show_trace(result: &RunResult, until_s: f64) {
    show_trace_between(result, 0.0, until_s);
}

/// Print the traced client's exchange from `from_s` to `until_s` simulated seconds.
pub fn show_trace_between(result: &RunResult, from_s: f64, until_s: f64) {
    let text = result.trace.transcript((until_s * 1000.0) as u64);
    let from_ms = (from_s * 1000.0) as u64;
    let mut lines = text.lines();
    if let Some(head) = lines.next() {
        println!("{head}");
    }
    for line in lines {
        // the first column is the time sent, `12.345 s`
        let sent = line
            .trim_start()
            .split(' ')
            .next()
            .and_then(|t| t.parse::<f64>().ok())
            .map(|t| (t * 1000.0).round() as u64);
        if sent.is_none_or(|t| t >= from_ms) {
            println!("{line}");
        }
    }
}

/// The sequence diagram of a run (as `run` writes it to `sequence-<strategy>.svg`).
pub fn sequence(s: &Scenario, result: &RunResult) -> anyhow::Result<String> {
    let rows = crate::trace::sequence::Rows {
        strategy: result.strategy.clone(),
        client: result.trace.client,
        steps: crate::trace::sequence::select(&result.trace.steps()),
    };
    crate::output::charts::sequence::render_svg(&rows, &runner::conditions(s))
}

/// [`sequence`], shown inline.
pub fn show_sequence(s: &Scenario, result: &RunResult) -> anyhow::Result<()> {
    show_svg(&sequence(s, result)?);
    Ok(())
}

/// Print simulation against theory for every strategy with a closed form.
pub fn show_check(s: &Scenario, results: &[RunResult]) {
    let blocks: Vec<_> = Lab::builtin()
        .predictions(s)
        .into_iter()
        .filter_map(|(id, p)| {
            let r = results.iter().find(|r| r.strategy == id)?;
            Some((id, crate::check::compare(r, &p, s)))
        })
        .collect();
    print!("{}", crate::check::render(&blocks));
}

/// Run a scenario with `[sweep]` and return the SVG of `sweep_<metric>` (or `privacy`).
pub fn sweep_chart(s: &Scenario, chart: &str) -> anyhow::Result<String> {
    let plan = s.sweep.as_ref().context("this scenario has no [sweep]")?;
    let lab = Lab::builtin();
    let outcome = crate::sweep::run(plan, None, jobs(), &runner::Silent, &|p| {
        lab.strategies_of(p)
    })?;
    let csv = crate::sweep::render_csv(plan, &outcome)?;
    let dir = tempfile::tempdir()?;
    runner::write_sweep(&dir.path().join(&s.name), &s.name, csv, &[], &lab.looks())?;
    let path = dir.path().join(&s.name).join(format!("{chart}.svg"));
    std::fs::read_to_string(&path).with_context(|| format!("no chart {}", path.display()))
}
