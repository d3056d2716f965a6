//! A seeded mutation fuzzer over the shipped scenario files, in the normal suite (bounded: a
//! fixed number of mutants, a few seconds): every mutant is either accepted or refused with a
//! message that names the file and points at a line — never a panic. The counts per class are
//! printed (`cargo test --test fuzz -- --nocapture`) and quoted in README's "Reliability".

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use realtime_lab::deps::rand::{Rng, SeedableRng};
use realtime_lab::{Lab, Source};

type Rand = rand_chacha::ChaCha8Rng;

/// Values that broke parsers before: extremes, non-numbers, wrong types, control characters.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "18446744073709551616",
    "9223372036854775807",
    "0.0001",
    "1.001",
    "1e-300",
    "\"\"",
    "\"x\"",
    "true",
    "[]",
    "[1, 2]",
    "{}",
    "{ min = 5, max = 1 }",
    "\"\\u001b[2J\"",
    "\"a\\u0000b\"",
    "[[1]]",
    "1979-05-27",
];

fn mutate(text: &str, rng: &mut Rand) -> (String, &'static str) {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len().max(1);
    let i = rng.random_range(0..n);
    let class = match rng.random_range(0..9) {
        0 => {
            lines.remove(i.min(lines.len().saturating_sub(1)));
            "line deleted"
        }
        1 => {
            let l = lines[i].clone();
            lines.insert(i, l);
            "line duplicated (duplicate key)"
        }
        2 | 3 => {
            // a value replaced by an extreme or a wrong type
            if let Some((k, _)) = lines[i].split_once('=') {
                lines[i] = format!("{}= {}", k, VALUES[rng.random_range(0..VALUES.len())]);
            }
            "value replaced (extreme or wrong type)"
        }
        4 => {
            lines.insert(i, format!("unknown_key_{} = 1", rng.random_range(0..100)));
            "unknown key"
        }
        5 => {
            let cut = rng.random_range(0..=text.len());
            let cut = (0..=cut)
                .rev()
                .find(|&c| text.is_char_boundary(c))
                .unwrap_or(0);
            return (text[..cut].to_string(), "truncated");
        }
        6 => {
            let garbage: String = (0..rng.random_range(1..20))
                .map(|_| char::from(rng.random_range(0u8..128)))
                .collect();
            lines.insert(i, garbage);
            "random bytes (invalid TOML)"
        }
        7 => {
            // the name made huge (or a huge description for a file without a name line)
            let huge = "x".repeat(rng.random_range(1..5000));
            match lines.iter().position(|l| l.starts_with("name")) {
                Some(n) => lines[n] = format!("name = \"{huge}\""),
                None => lines.insert(0, format!("description = \"{huge}\"")),
            }
            "huge string"
        }
        _ => {
            // a new [sweep] (an existing one is dropped: a second table is invalid TOML)
            lines.retain(|l| l.trim() != "[sweep]");
            lines.push("[sweep]".into());
            for k in 0..rng.random_range(1..70) {
                lines.push(format!("\"events.payload_bytes{k}\" = [100, 200]"));
            }
            "sweep too large"
        }
    };
    (lines.join("\n") + "\n", class)
}

#[test]
fn mutated_scenarios_are_accepted_or_refused_with_a_line_never_a_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let lab = Lab::builtin();
    let mut rng = Rand::seed_from_u64(2026);
    let mut counts: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    let mut failures = Vec::new();
    let per_file = 250;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        for _ in 0..per_file {
            let (mutant, class) = mutate(&text, &mut rng);
            let parsed = catch_unwind(AssertUnwindSafe(|| {
                lab.parse(&Source {
                    label: "mutant.toml".into(),
                    text: &mutant,
                })
            }));
            let entry = counts.entry(class).or_default();
            match parsed {
                Err(_) => failures.push(format!("PANIC ({class}):\n{mutant}")),
                Ok(Ok(_)) => entry.0 += 1,
                Ok(Err(e)) => {
                    entry.1 += 1;
                    let m = e.to_string();
                    let has_line = m.contains("(line ") || m.contains("at line ");
                    if !m.starts_with("mutant.toml: ") || !has_line {
                        failures.push(format!("no file or line ({class}): {m}"));
                    }
                }
            }
        }
    }
    println!("class | mutants | accepted | refused with file and line");
    for (class, (ok, refused)) in &counts {
        println!("{class} | {} | {ok} | {refused}", ok + refused);
    }
    let total: u32 = counts.values().map(|(a, b)| a + b).sum();
    assert_eq!(total as usize, files.len() * per_file);
    assert!(
        failures.is_empty(),
        "{} of {total}:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n---\n")
    );
}
