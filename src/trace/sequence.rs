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

/// The height `rows` (with the steps left out before each) take, in rows.
pub fn height<T>(rows: &[(Gap, T)]) -> f64 {
    rows.len() as f64 + BREAK * rows.iter().filter(|(g, _)| g.steps > 0).count() as f64
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

/// The steps left out before a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gap {
    /// How many steps.
    pub steps: usize,
    /// How many of them were events created (the rest were messages).
    pub events: usize,
}

/// One strategy's diagram rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// The strategy.
    pub strategy: String,
    /// The traced client.
    pub client: usize,
    /// The rows, each with the steps left out before it.
    pub steps: Vec<(Gap, Step)>,
}

/// The file the rows are written to.
pub const FILE: &str = "sequence.csv";

/// Whether a kind names a request (`GET`, `POST`, `GET Last-Event-ID`…).
fn is_request(kind: &str) -> bool {
    kind.split(' ')
        .next()
        .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()))
}

/// Whether a kind names an HTTP response (`200`, `204`, `101`…).
fn is_response(kind: &str) -> bool {
    kind.len() == 3 && kind.bytes().all(|b| b.is_ascii_digit())
}

/// The event ids a step's name says it carries (`event 7`, `events 7, 9`, `3 events
/// (7–12)`, `id: 7`), as inclusive ranges.
fn carried(text: &str) -> Vec<(u64, u64)> {
    let number = |s: &str| -> Option<u64> {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let mut out = Vec::new();
    for (i, _) in text.match_indices("event") {
        let rest = &text[i..];
        if let Some(list) = rest
            .strip_prefix("events ")
            .or_else(|| rest.strip_prefix("event "))
        {
            for part in list.split(", ") {
                match number(part) {
                    Some(n) => out.push((n, n)),
                    None => break,
                }
            }
        }
        if let Some(range) = rest.strip_prefix("events (") {
            if let Some((a, b)) = range.split_once('–') {
                if let (Some(a), Some(b)) = (number(a), number(b)) {
                    out.push((a, b));
                }
            }
        }
    }
    for (i, _) in text.match_indices("id: ") {
        if let Some(n) = number(&text[i + 4..]) {
            out.push((n, n));
        }
    }
    out
}

/// The steps that must be shown with step `i`, so that no exchange is cut in half: a
/// request's answer, a response's request, a ping's pong, a close frame's echo, and the step
/// that delivers an event created.
fn partners(steps: &[Step], i: usize) -> Vec<usize> {
    let s = &steps[i];
    let kind = s.label.kind.as_str();
    let other_side_after = || {
        steps
            .iter()
            .enumerate()
            .skip(i + 1)
            .find(|(_, a)| a.conn == s.conn && a.from != s.from && a.from != Side::Event)
            .map(|(j, _)| j)
    };
    if s.from == Side::Event {
        if kind != "event" {
            return Vec::new();
        }
        let id = s
            .label
            .text
            .strip_prefix("event ")
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok());
        let Some(id) = id else { return Vec::new() };
        return steps
            .iter()
            .enumerate()
            .skip(i + 1)
            .find(|(_, a)| {
                a.from == Side::Server
                    && carried(&a.label.text)
                        .iter()
                        .any(|r| r.0 <= id && id <= r.1)
            })
            .map(|(j, _)| vec![j])
            .unwrap_or_default();
    }
    if is_request(kind) {
        return other_side_after().into_iter().collect();
    }
    // a ping's pong, a close frame's echo (the echo itself pulls nothing more)
    for (frame, answer) in [("ws ping", "ws pong"), ("ws close", "ws close")] {
        if kind.starts_with(frame) {
            return other_side_after()
                .filter(|&j| steps[j].label.kind.starts_with(answer))
                .into_iter()
                .collect();
        }
    }
    if is_response(kind) {
        return steps[..i]
            .iter()
            .enumerate()
            .rev()
            .find(|(_, a)| a.conn == s.conn && a.from != s.from && a.from != Side::Event)
            .map(|(j, _)| vec![j])
            .unwrap_or_default();
    }
    Vec::new()
}

/// `picked` with `i` and, transitively, its partners.
fn with_partners(steps: &[Step], picked: &BTreeSet<usize>, i: usize) -> BTreeSet<usize> {
    let mut out = picked.clone();
    let mut todo = vec![i];
    while let Some(k) = todo.pop() {
        if out.insert(k) {
            todo.extend(partners(steps, k));
        }
    }
    out
}

/// Pick the rows of a diagram from every step of an exchange; each comes with the number of
/// steps left out just before it. A step comes with its partners (a request with its answer,
/// an event with the step that delivers it…) or not at all.
pub fn select(steps: &[Step]) -> Vec<(Gap, Step)> {
    // a close the other end never read (it had closed first) teaches nothing: left out
    let steps: Vec<Step> = steps
        .iter()
        .filter(|s| !(s.label.kind == "close" && s.arrived_ms.is_none()))
        .cloned()
        .collect();
    let steps = &steps[..];
    let fits = |set: &BTreeSet<usize>| set.len() <= ROWS && picked_height(set) <= BUDGET;
    let mut picked: BTreeSet<usize> = BTreeSet::new();
    for i in 0..steps.len().min(HEAD) {
        let with = with_partners(steps, &picked, i);
        if fits(&with) {
            picked = with;
        }
    }
    // then the first step of each kind not yet shown
    for i in HEAD..steps.len() {
        let shown = picked
            .iter()
            .any(|&j| steps[j].label.kind == steps[i].label.kind);
        if shown || picked.contains(&i) {
            continue;
        }
        let with = with_partners(steps, &picked, i);
        if fits(&with) {
            picked = with;
        }
    }
    // room left: the steps after the head, in order
    for i in HEAD..steps.len() {
        if picked.contains(&i) {
            continue;
        }
        let with = with_partners(steps, &picked, i);
        if !fits(&with) {
            break;
        }
        picked = with;
    }
    let mut next = 0;
    picked
        .into_iter()
        .map(|i| {
            let gap = Gap {
                steps: i - next,
                events: steps[next..i]
                    .iter()
                    .filter(|s| s.label.kind == "event")
                    .count(),
            };
            next = i + 1;
            (gap, steps[i].clone())
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
        "events_skipped",
        "sent_ms",
        "arrived_ms",
        "from",
        "conn",
        "bytes",
        "kind",
        "label",
    ])?;
    for run in runs {
        for (gap, s) in &run.steps {
            w.write_record([
                run.strategy.as_str(),
                &run.client.to_string(),
                &gap.steps.to_string(),
                &gap.events.to_string(),
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
        let gap = Gap {
            steps: num(2, "skipped_before")? as usize,
            events: num(3, "events_skipped")? as usize,
        };
        let arrived = field(5, "arrived_ms")?;
        let from = field(6, "from")?;
        let step = Step {
            at_ms: num(4, "sent_ms")?,
            arrived_ms: if arrived.is_empty() {
                None
            } else {
                Some(num(5, "arrived_ms")?)
            },
            from: Side::parse(from).with_context(|| {
                format!(
                    "{file}: row {}: `from` is {from:?}; use client, server or event",
                    n + 2
                )
            })?,
            conn: num(7, "conn")? as u32,
            len: num(8, "bytes")?,
            label: Label::new(field(9, "kind")?, field(10, "label")?),
        };
        match runs.last_mut() {
            Some(r) if r.strategy == strategy => r.steps.push((gap, step)),
            _ => runs.push(Rows {
                strategy,
                client,
                steps: vec![(gap, step)],
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
        assert!(rows[..head].iter().all(|(gap, _)| gap.steps == 0));
        assert_eq!(rows[head - 1].1.at_ms, steps[head - 1].at_ms);
        // 40 polls and answers, `head` of them shown
        assert_eq!(
            rows[head].0,
            Gap {
                steps: 40 - head,
                events: 0
            }
        );
        assert_eq!(rows[head].1.label.kind, "ws ping");
        assert_eq!(rows[head + 1].1.label.kind, "event");
        assert_eq!(rows[head + 2].1.label.kind, "ws pong");
        assert_eq!(rows[head + 2].1.at_ms, 30_040);
    }

    /// An event created late comes with the response that delivers it, and that response
    /// with its request: no answer without its question, no event that never arrives.
    #[test]
    fn an_event_comes_with_its_delivery_and_a_response_with_its_request() {
        let mut steps = Vec::new();
        for k in 0..20 {
            steps.push(step(k * 1000, Side::Client, 1, "GET"));
            steps.push(step(k * 1000 + 30, Side::Server, 1, "204"));
        }
        let mut created = step(20_500, Side::Event, 0, "event");
        created.label.text = "event 7 created (price)".into();
        steps.push(created);
        steps.push(step(21_000, Side::Client, 1, "GET"));
        let mut delivery = step(21_030, Side::Server, 1, "200");
        delivery.label.text = "200 OK · events 6, 7".into();
        steps.push(delivery);
        let rows = select(&steps);
        let at: Vec<u64> = rows.iter().map(|(_, s)| s.at_ms).collect();
        assert!(
            at.contains(&20_500) && at.contains(&21_000) && at.contains(&21_030),
            "{at:?}"
        );
        // every response shown follows its request
        for (k, (_, s)) in rows.iter().enumerate() {
            if is_response(&s.label.kind) {
                assert!(k > 0 && is_request(&rows[k - 1].1.label.kind), "{at:?}");
            }
        }
    }

    #[test]
    fn carried_ids_in_every_form() {
        assert_eq!(carried("200 OK · event 160"), vec![(160, 160)]);
        assert_eq!(
            carried("200 OK · events 451, 472"),
            vec![(451, 451), (472, 472)]
        );
        assert_eq!(carried("200 OK · 3 events (41–43)"), vec![(41, 43)]);
        assert_eq!(carried("id: 42 · event: price · data 9 B"), vec![(42, 42)]);
        assert_eq!(carried("text frame 100 B · event 7"), vec![(7, 7)]);
        assert!(carried("204 No Content").is_empty());
    }

    #[test]
    fn csv_round_trip() {
        let runs = vec![
            Rows {
                strategy: "a".into(),
                client: 3,
                steps: vec![(Gap::default(), step(1, Side::Client, 1, "GET"))],
            },
            Rows {
                strategy: "b".into(),
                client: 0,
                steps: vec![
                    (Gap::default(), step(2, Side::Event, 0, "event")),
                    (
                        Gap {
                            steps: 7,
                            events: 2,
                        },
                        {
                            let mut s = step(3, Side::Server, 2, "204");
                            s.arrived_ms = None;
                            s
                        },
                    ),
                ],
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, render_csv(&runs).unwrap()).unwrap();
        assert_eq!(read_csv(&path).unwrap(), runs);
    }
}
