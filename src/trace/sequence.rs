//! The rows of a sequence diagram and their file, `sequence.csv`.
//!
//! A slide holds about [`ROWS`] arrows, far fewer than a run has, so a diagram shows the
//! traced client's first steps, then the first step of each kind not yet shown (the first
//! `ping`, the first `204` timeout, the reconnection with `Last-Event-ID`, the `close`
//! frames at the end…) with the step that answers it; the time skipped between rows is
//! marked on the diagram.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;

use super::{Label, Side, Step};

/// Rows a sequence diagram shows at most.
pub const ROWS: usize = 15;
/// Rows taken from the start before picking one of each kind.
pub const HEAD: usize = 9;
/// The height a diagram has room for, in rows; a break (steps left out) takes [`BREAK`] of
/// a row.
pub const BUDGET: f64 = 18.0;
/// The height of a break, in rows.
pub const BREAK: f64 = 0.85;

/// The height `rows` (with the number of steps left out before each) take, in rows.
pub fn height<T>(rows: &[(usize, T)]) -> f64 {
    rows.len() as f64 + BREAK * rows.iter().filter(|(k, _)| *k > 0).count() as f64
}

/// The height of the steps `picked` (indices, sorted) would take.
fn picked_height(picked: &BTreeSet<usize>) -> f64 {
    let mut next = 0;
    let mut h = 0.0;
    for &i in picked {
        h += 1.0 + if i > next { BREAK } else { 0.0 };
        next = i + 1;
    }
    h
}

/// One strategy's diagram rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// The strategy.
    pub strategy: String,
    /// The traced client.
    pub client: usize,
    /// The rows, each with the number of steps left out before it.
    pub steps: Vec<(usize, Step)>,
}

/// The file the rows are written to.
pub const FILE: &str = "sequence.csv";

/// Pick the rows of a diagram from every step of an exchange; each comes with the number of
/// steps left out just before it.
pub fn select(steps: &[Step]) -> Vec<(usize, Step)> {
    let mut picked: BTreeSet<usize> = (0..steps.len().min(HEAD)).collect();
    let mut seen: BTreeSet<&str> = picked
        .iter()
        .map(|&i| steps[i].label.kind.as_str())
        .collect();
    for (i, s) in steps.iter().enumerate().skip(HEAD) {
        if picked.len() >= ROWS {
            break;
        }
        if seen.contains(s.label.kind.as_str()) {
            continue;
        }
        // with what answers it: the next step on the same connection the other way
        let answer =
            (s.from != Side::Event)
                .then(|| {
                    steps.iter().enumerate().skip(i + 1).find(|(_, a)| {
                        a.conn == s.conn && a.from != s.from && a.from != Side::Event
                    })
                })
                .flatten();
        let mut with = picked.clone();
        with.insert(i);
        if let Some((j, _)) = answer {
            with.insert(j);
        }
        if with.len() > ROWS || picked_height(&with) > BUDGET {
            break;
        }
        seen.insert(&s.label.kind);
        if let Some((_, a)) = answer {
            seen.insert(&a.label.kind);
        }
        picked = with;
    }
    // room left: the steps after the head, in order
    for i in HEAD..steps.len() {
        let mut with = picked.clone();
        with.insert(i);
        if with.len() > ROWS || picked_height(&with) > BUDGET {
            break;
        }
        picked = with;
    }
    let mut next = 0;
    picked
        .into_iter()
        .map(|i| {
            let skipped = i - next;
            next = i + 1;
            (skipped, steps[i].clone())
        })
        .collect()
}

/// `sequence.csv`: the rows of each strategy's diagram.
pub fn render_csv(runs: &[Rows]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "strategy",
        "client",
        "skipped_before",
        "sent_ms",
        "arrived_ms",
        "from",
        "conn",
        "bytes",
        "kind",
        "label",
    ])?;
    for run in runs {
        for (skipped, s) in &run.steps {
            w.write_record([
                run.strategy.as_str(),
                &run.client.to_string(),
                &skipped.to_string(),
                &s.at_ms.to_string(),
                &s.arrived_ms.map(|a| a.to_string()).unwrap_or_default(),
                s.from.name(),
                &s.conn.to_string(),
                &s.len.to_string(),
                &s.label.kind,
                &s.label.text,
            ])?;
        }
    }
    Ok(w.into_inner()?)
}

/// Read `sequence.csv` back: the rows of each strategy, in file order.
pub fn read_csv(path: &Path) -> anyhow::Result<Vec<Rows>> {
    let file = path.display();
    let mut r = csv::Reader::from_path(path).with_context(|| format!("reading {file}"))?;
    let mut runs: Vec<Rows> = Vec::new();
    for (n, rec) in r.records().enumerate() {
        let rec = rec.with_context(|| format!("{file}: row {}", n + 2))?;
        let field = |i: usize, name: &str| -> anyhow::Result<&str> {
            rec.get(i)
                .with_context(|| format!("{file}: row {}: no `{name}` column", n + 2))
        };
        let num = |i: usize, name: &str| -> anyhow::Result<u64> {
            let v = field(i, name)?;
            v.parse().with_context(|| {
                format!(
                    "{file}: row {}: `{name}` is {v:?}; a whole number is needed",
                    n + 2
                )
            })
        };
        let strategy = field(0, "strategy")?.to_string();
        let client = num(1, "client")? as usize;
        let skipped = num(2, "skipped_before")? as usize;
        let arrived = field(4, "arrived_ms")?;
        let from = field(5, "from")?;
        let step = Step {
            at_ms: num(3, "sent_ms")?,
            arrived_ms: if arrived.is_empty() {
                None
            } else {
                Some(num(4, "arrived_ms")?)
            },
            from: Side::parse(from).with_context(|| {
                format!(
                    "{file}: row {}: `from` is {from:?}; use client, server or event",
                    n + 2
                )
            })?,
            conn: num(6, "conn")? as u32,
            len: num(7, "bytes")?,
            label: Label::new(field(8, "kind")?, field(9, "label")?),
        };
        match runs.last_mut() {
            Some(r) if r.strategy == strategy => r.steps.push((skipped, step)),
            _ => runs.push(Rows {
                strategy,
                client,
                steps: vec![(skipped, step)],
            }),
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(at: u64, from: Side, conn: u32, kind: &str) -> Step {
        Step {
            at_ms: at,
            arrived_ms: Some(at + 30),
            from,
            conn,
            len: 10,
            label: Label::new(kind, format!("{kind} at {at}, with a comma")),
        }
    }

    /// Twenty polls, then one ping far later: the diagram keeps the first HEAD steps, the
    /// ping, its pong and the event between them, and fills the room left with the steps
    /// right after the head — never a second ping.
    #[test]
    fn first_steps_then_the_first_of_each_kind_with_its_answer() {
        let mut steps = Vec::new();
        for k in 0..20 {
            steps.push(step(k * 1000, Side::Client, 1, "GET"));
            steps.push(step(k * 1000 + 30, Side::Server, 1, "204"));
        }
        steps.push(step(30_000, Side::Server, 1, "ws ping"));
        steps.push(step(30_030, Side::Event, 0, "event"));
        steps.push(step(30_040, Side::Client, 1, "ws pong"));
        steps.push(step(31_000, Side::Server, 1, "ws ping"));
        let rows = select(&steps);
        assert_eq!(rows.len(), ROWS);
        let head = ROWS - 3; // the first steps, without a gap
        assert!(rows[..head].iter().all(|(skipped, _)| *skipped == 0));
        assert_eq!(rows[head - 1].1.at_ms, steps[head - 1].at_ms);
        // 40 polls and answers, `head` of them shown
        assert_eq!(rows[head].0, 40 - head);
        assert_eq!(rows[head].1.label.kind, "ws ping");
        assert_eq!(rows[head + 1].1.label.kind, "event");
        assert_eq!(rows[head + 2].1.label.kind, "ws pong");
        assert_eq!(rows[head + 2].1.at_ms, 30_040);
    }

    #[test]
    fn csv_round_trip() {
        let runs = vec![
            Rows {
                strategy: "a".into(),
                client: 3,
                steps: vec![(0, step(1, Side::Client, 1, "GET"))],
            },
            Rows {
                strategy: "b".into(),
                client: 0,
                steps: vec![
                    (0, step(2, Side::Event, 0, "event")),
                    (7, {
                        let mut s = step(3, Side::Server, 2, "204");
                        s.arrived_ms = None;
                        s
                    }),
                ],
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, render_csv(&runs).unwrap()).unwrap();
        assert_eq!(read_csv(&path).unwrap(), runs);
    }
}
