//! Reading results back (`chart`, `merge`): every number is checked before anything is drawn
//! or written, so a hand-edited or corrupted CSV gives one clear error naming the file, the
//! line and the column — never a hang, a panic or a half-redrawn folder.
//!
//! A number must be finite, not negative (every column is a count, a time, a size or a rate)
//! and at most [`MAX_NUMBER`]: a simulation of at most an hour cannot produce more, and
//! drawing an axis up to `1.7e308` is how `chart` used to spin forever.

use std::path::Path;

use anyhow::{bail, Context};
use csv::StringRecord;

/// The largest number a results CSV may hold (10¹⁵: a petabyte, a billion seconds).
pub(crate) const MAX_NUMBER: f64 = 1e15;

/// Largest CSV file read back (results of the largest runs are a few MB).
pub(crate) const MAX_FILE_BYTES: u64 = 256 << 20;

/// Columns holding text, not numbers.
const TEXT_COLUMNS: [&str; 3] = ["strategy", "event_type", "world"];

/// Columns that may exceed [`MAX_NUMBER`] (a seed is any 64-bit number).
const UNBOUNDED_COLUMNS: [&str; 1] = ["seed"];

/// The header and the data records of `path`, each with its line number, every number
/// checked.
pub(crate) fn records(path: &Path) -> anyhow::Result<(StringRecord, Vec<(usize, StringRecord)>)> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > MAX_FILE_BYTES {
        bail!(
            "{}: {} MB, larger than any results file ({} MB at most)",
            path.display(),
            size >> 20,
            MAX_FILE_BYTES >> 20
        );
    }
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let header = reader
        .headers()
        .with_context(|| format!("{}: line 1: not a CSV header", path.display()))?
        .clone();
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2; // the header is line 1
        let rec = rec.with_context(|| format!("{}: line {line}: malformed row", path.display()))?;
        for (value, column) in rec.iter().zip(header.iter()) {
            if TEXT_COLUMNS.contains(&column) || value.trim().is_empty() {
                continue;
            }
            let Ok(v) = value.trim().parse::<f64>() else {
                continue; // not a number: the row's type says whether that is allowed
            };
            let limit = if UNBOUNDED_COLUMNS.contains(&column) {
                f64::MAX
            } else {
                MAX_NUMBER
            };
            // `recovery_s` says "never" with −1
            let never = column == "recovery_s" && v == -1.0;
            let in_range = v.is_finite() && (0.0..=limit).contains(&v);
            if !(never || in_range) {
                bail!(
                    "{}: line {line}, column `{}`: {} is not allowed; results hold finite numbers from 0 to {limit:e} (was the file edited by hand?)",
                    path.display(),
                    crate::scenario::escape(column),
                    crate::scenario::escape(value)
                );
            }
        }
        rows.push((line, rec));
    }
    Ok((header, rows))
}

/// The rows of `path` as `T`, every number checked first.
pub(crate) fn rows<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Vec<T>> {
    let (header, records) = records(path)?;
    records
        .into_iter()
        .map(|(line, rec)| {
            rec.deserialize(Some(&header))
                .with_context(|| format!("{}: line {line}: malformed row", path.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(csv: &str) -> anyhow::Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.csv");
        std::fs::write(&path, csv).unwrap();
        records(&path).map(|_| ())
    }

    /// Each value a hostile user tried gives an error naming line and column.
    #[test]
    fn absurd_numbers_are_refused_with_line_and_column() {
        for bad in ["inf", "-inf", "NaN", "1.6e308", "1e16", "-1", "-0.5"] {
            let e = check(&format!("strategy,bytes_per_event\nsse,12\nsse,{bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("line 3, column `bytes_per_event`"), "{bad}: {e}");
        }
        check("strategy,bytes_per_event,seed\ninf,1e15,18446744073709551615\n").unwrap();
    }
}

/// A seeded mutation fuzzer over the CSV files of a real run: every mutant is refused with
/// file and line, or drawn — within seconds, never a panic or a hang.
#[cfg(test)]
mod fuzz {
    use std::sync::mpsc;
    use std::time::Duration;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::output::charts::{render_all, ChartData};
    use crate::output::palette::Looks;

    const VALUES: &[&str] = &[
        "inf",
        "-inf",
        "NaN",
        "1.6e308",
        "1.7e308",
        "1e15",
        "1e16",
        "-1",
        "0",
        "",
        "x",
        "18446744073709551615",
        "99999999999999999999",
        "1e-300",
        "\u{1b}[2J",
    ];

    #[test]
    fn mutated_result_csvs_are_refused_with_a_line_or_drawn() {
        let lab = crate::Lab::builtin();
        let s = lab
            .parse(&crate::Source {
                label: "fuzz".into(),
                text: "name = \"f\"\nduration_s = 6\nwarmup_s = 1\nstrategies = [\"short-polling\", \"sse\"]\n\
                       [clients]\ncount = 8\n[events]\nrate_per_client_per_s = 1\n",
            })
            .unwrap();
        let results = lab.simulate(&s, 1).unwrap();
        let root = tempfile::tempdir().unwrap();
        let written = lab.write(&s, root.path(), results).unwrap();
        let files = ["summary.csv", "timeseries.csv", "latency.csv", "model.csv"];
        let originals: Vec<String> = files
            .iter()
            .map(|f| std::fs::read_to_string(written.dir.join(f)).unwrap())
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut refused, mut drawn) = (0, 0);
        for round in 0..120 {
            let k = rng.random_range(0..files.len());
            let mut lines: Vec<String> = originals[k].lines().map(str::to_string).collect();
            let i = rng.random_range(0..lines.len());
            match rng.random_range(0..3) {
                0 => {
                    let mut fields: Vec<String> = lines[i].split(',').map(str::to_string).collect();
                    let j = rng.random_range(0..fields.len());
                    fields[j] = VALUES[rng.random_range(0..VALUES.len())].to_string();
                    lines[i] = fields.join(",");
                }
                1 => {
                    lines.remove(i);
                }
                _ => lines.truncate(i),
            }
            let dir = tempfile::tempdir().unwrap();
            for (f, text) in files.iter().zip(&originals) {
                std::fs::write(dir.path().join(f), text).unwrap();
            }
            std::fs::write(dir.path().join(files[k]), lines.join("\n") + "\n").unwrap();
            let path = dir.path().to_path_buf();
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let outcome = ChartData::read(&path, "f", "", &Looks::default())
                    .map(|d| render_all(&d).map(|_| ()));
                let _ = tx.send(outcome);
            });
            match rx.recv_timeout(Duration::from_secs(30)) {
                Err(_) => panic!("round {round}: {} hung or panicked", files[k]),
                Ok(Err(e)) => {
                    let m = format!("{e:#}");
                    assert!(m.contains(files[k]) || m.contains(".csv"), "{m}");
                    assert!(
                        m.contains("line ") || m.contains("no rows"),
                        "round {round}: {m}"
                    );
                    refused += 1;
                }
                Ok(Ok(r)) => {
                    r.unwrap_or_else(|e| panic!("round {round}: drawing failed: {e:#}"));
                    drawn += 1;
                }
            }
        }
        println!("{refused} refused, {drawn} drawn");
        assert!(
            refused > 20 && drawn > 20,
            "{refused} refused, {drawn} drawn"
        );
    }
}
