//! The layers point one way: every `crate::…` and `super::…` path in `src/` (outside test
//! modules) is resolved to the file it names, and
//! - between top-level modules, every import goes to a lower layer (so there is no cycle);
//! - inside a folder, the files' imports of each other have no cycle (the folder's `mod.rs`,
//!   which only declares and re-exports, is left out).
//!
//! The layers, bottom up, are the architecture of README's "Where to look".

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer: a module may import only from layers below its own.
const LAYERS: &[&[&str]] = &[
    &["metrics", "protocol", "style"],
    &["scenario"],
    &["model"],
    &["sim"],
    &["strategy"],
    &["check", "output"],
    &["runner", "estimate"],
    &["sweep"],
    &["lab"],
    &["progress", "notebook"],
    &["cli"],
];

fn layer(top: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&top))
        .unwrap_or_else(|| panic!("module `{top}` has no layer in tests/layers.rs"))
}

/// `src/a/b.rs` → `["a", "b"]`; `src/a/mod.rs` → `["a"]`; `src/lib.rs` → `[]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") && !p.ends_with("main.rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its `#[cfg(test)]` module and without comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap();
    text.lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path starting with `crate::` or `super::`, as segments, with `{a, b::c}` groups
/// expanded to their first segment (enough to find the module each names).
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(i) = rest.find(start) {
            let before = rest[..i].chars().last();
            rest = &rest[i..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                rest = &rest[start.len()..];
                continue;
            }
            let head = start.trim_end_matches("::").to_string();
            let mut segs = vec![head];
            let mut s = &rest[start.len()..];
            loop {
                if let Some(group) = s.strip_prefix('{') {
                    let end = group.find('}').unwrap_or(group.len());
                    for item in group[..end].split(',') {
                        let first: String = item
                            .trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if !first.is_empty() && first != "self" {
                            let mut p = segs.clone();
                            p.push(first);
                            out.push(p);
                        }
                    }
                    out.push(segs.clone());
                    break;
                }
                let word: String = s
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if word.is_empty() {
                    out.push(segs.clone());
                    break;
                }
                s = &s[word.len()..];
                segs.push(word);
                match s.strip_prefix("::") {
                    Some(more) => s = more,
                    None => {
                        out.push(segs.clone());
                        break;
                    }
                }
            }
            rest = &rest[start.len()..];
        }
    }
    out
}

#[test]
fn imports_point_down_the_layers_and_have_no_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    // names the crate root re-exports, by the module they come from
    let root = code(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut reexport: BTreeMap<String, String> = BTreeMap::new();
    for stmt in root.split(';') {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((from, names)) = rest.split_once("::") else {
            continue;
        };
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            let name = name.split("::").last().unwrap().trim();
            if !name.is_empty() {
                reexport.insert(name.to_string(), from.trim().to_string());
            }
        }
    }
    let mut violations = Vec::new();
    let mut file_edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let me = module_of(&src, file);
        if me.is_empty() {
            continue; // lib.rs: declarations and re-exports
        }
        let text = code(&std::fs::read_to_string(file).unwrap());
        for path in paths(&text) {
            // make the path absolute
            let mut abs: Vec<String> = if path[0] == "crate" {
                path[1..].to_vec()
            } else {
                let is_mod = file.ends_with("mod.rs");
                let mut base = me.clone();
                let mut p = &path[..];
                while p.first().is_some_and(|s| s == "super") {
                    if !is_mod || p.len() < path.len() {
                        base.pop();
                    }
                    p = &p[1..];
                }
                if is_mod && base == me {
                    base.pop();
                }
                base.extend(p.iter().cloned());
                base
            };
            if abs.is_empty() {
                continue;
            }
            if let Some(from) = reexport.get(&abs[0]) {
                abs = vec![from.clone()];
            }
            // the longest prefix that is a module is the file the path names
            let target = (1..=abs.len())
                .rev()
                .map(|n| abs[..n].to_vec())
                .find(|m| modules.contains(m));
            let Some(target) = target else { continue };
            if target == me {
                continue;
            }
            let (a, b) = (&me[0], &target[0]);
            if a != b {
                if layer(b) >= layer(a) {
                    violations.push(format!(
                        "{}: imports `{}` ({}), which is not below `{a}`",
                        file.display(),
                        abs.join("::"),
                        target.join("/")
                    ));
                }
            } else if target.len() > 1 && me.len() > 1 {
                file_edges.entry(me.clone()).or_default().insert(target);
            }
        }
    }
    // cycles among the files of one folder
    fn visit(
        n: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
        found: &mut Vec<String>,
    ) {
        if done.contains(n) {
            return;
        }
        if let Some(i) = stack.iter().position(|s| s == n) {
            let cycle: Vec<String> = stack[i..].iter().map(|m| m.join("/")).collect();
            found.push(format!("cycle: {} → {}", cycle.join(" → "), n.join("/")));
            return;
        }
        stack.push(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            visit(m, edges, stack, done, found);
        }
        stack.pop();
        done.insert(n.clone());
    }
    let mut done = BTreeSet::new();
    for n in file_edges.keys() {
        visit(n, &file_edges, &mut Vec::new(), &mut done, &mut violations);
    }
    assert!(
        violations.is_empty(),
        "{} layering problems:\n{}",
        violations.len(),
        violations.join("\n")
    );
    assert!(files.len() > 30, "found only {} files", files.len());
}

/// The checker itself finds an upward import and a cycle (so the test above can fail).
#[test]
fn the_checker_sees_paths_in_use_groups_and_inline() {
    let p = paths(
        "use crate::{sim::Feed, scenario};\nlet x = crate::model::lambda(s);\nuse super::ctx::X;",
    );
    assert!(p.contains(&vec!["crate".into(), "sim".into()]));
    assert!(p.contains(&vec!["crate".into(), "scenario".into()]));
    assert!(p.contains(&vec!["crate".into(), "model".into(), "lambda".into()]));
    assert!(p.contains(&vec!["super".into(), "ctx".into(), "X".into()]));
    assert!(layer("sim") > layer("scenario") && layer("cli") > layer("lab"));
}
