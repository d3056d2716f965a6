//! The layers point one way: every `crate::…`, `super::…` and `child::…` path in `src/`
//! (outside test modules) is resolved to the file it names — through the `pub use`
//! re-exports of `lib.rs` and of every `mod.rs`, to the file that defines the item — and
//! - between top-level modules, every import goes to a lower layer (so there is no cycle);
//! - inside a folder, the files (its `mod.rs` included) import each other without a cycle.
//!
//! The layers, bottom up, are the architecture of README's "Where to look".

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer: a module may import only from layers below its own.
const LAYERS: &[&[&str]] = &[
    &["trace"],
    &["protocol", "style"],
    &["scenario"],
    &["capacity", "addresses"],
    &["model"],
    &["resilience", "privacy"],
    &["server"],
    &["metrics"],
    &["sim"],
    &["strategy"],
    &["check", "output"],
    &["runner", "estimate"],
    &["sweep"],
    &["lab"],
    &["progress", "notebook"],
    &["live"],
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

/// `(child, name)` for every `pub use child::name` / `pub(crate) use child::{a, b}`.
fn reexports(code: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for stmt in code.split(';') {
        let stmt = stmt.trim();
        let Some(rest) = stmt
            .strip_prefix("pub use ")
            .or_else(|| stmt.strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        let Some((child, names)) = rest.split_once("::") else {
            continue;
        };
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            let name = name.split("::").last().unwrap().trim();
            if !name.is_empty() && !child.contains(' ') {
                out.push((child.trim().to_string(), name.to_string()));
            }
        }
    }
    out
}

/// Whether `code` uses a path starting with `child::` (not as the tail of a longer path).
fn paths_to(code: &str, child: &str) -> bool {
    let needle = format!("{child}::");
    code.match_indices(&needle).any(|(i, _)| {
        let before = &code[..i];
        !before.ends_with("::")
            && !before
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn imports_point_down_the_layers_and_have_no_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (violations, files) = check_tree(&src);
    assert!(
        violations.is_empty(),
        "{} layering problems:\n{}",
        violations.len(),
        violations.join("\n")
    );
    assert!(files > 30, "found only {files} files");
}

/// The checker finds an upward import and a parent–child cycle in a small made-up tree, and
/// sees through a `mod.rs` re-export.
#[test]
fn the_checker_finds_an_upward_import_and_a_cycle() {
    let root = tempfile::tempdir().unwrap();
    let src = root.path().join("src");
    let write = |path: &str, text: &str| {
        let p = src.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "lib.rs",
        "mod metrics;\nmod scenario;\nmod sim;\npub use scenario::Scenario;\n",
    );
    write("metrics.rs", "use crate::sim::Run;\n"); // upward
    write("sim/mod.rs", "pub struct Run;\n");
    // validate uses a type defined in mod.rs, mod.rs calls validate: a cycle
    write("scenario/mod.rs", "mod types;\nmod validate;\npub use types::Clients;\npub struct Scenario;\nfn f() { validate::check(); }\n");
    write("scenario/types.rs", "pub struct Clients;\n");
    write(
        "scenario/validate.rs",
        "use super::Scenario;\nuse super::Clients;\npub fn check() {}\n",
    );
    let (violations, _) = check_tree(&src);
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(
        violations[0].contains("metrics.rs: imports `sim::Run`"),
        "{violations:#?}"
    );
    assert_eq!(
        violations[1],
        "cycle: scenario → scenario/validate → scenario"
    );
    // without the type from mod.rs, the re-exported one alone makes no cycle
    write(
        "scenario/validate.rs",
        "use super::Clients;\npub fn check() {}\n",
    );
    write("metrics.rs", "");
    assert_eq!(check_tree(&src).0, Vec::<String>::new());
}

/// The layering problems of the tree under `src`, and how many files it has.
fn check_tree(src: &Path) -> (Vec<String>, usize) {
    let src = src.to_path_buf();
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
    // names each mod.rs re-exports from a child: (module, name) → child module
    let mut child_reexport: BTreeMap<(Vec<String>, String), Vec<String>> = BTreeMap::new();
    for file in files.iter().filter(|f| f.ends_with("mod.rs")) {
        let me = module_of(&src, file);
        let text = code(&std::fs::read_to_string(file).unwrap());
        for (child, name) in reexports(&text) {
            let mut m = me.clone();
            m.push(child);
            if modules.contains(&m) {
                child_reexport.insert((me.clone(), name), m);
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
        // a mod.rs naming its children directly (`ctx::Run`, `validate::validate(...)`)
        if file.ends_with("mod.rs") {
            for m in modules
                .iter()
                .filter(|m| m.len() == me.len() + 1 && m.starts_with(&me))
            {
                let child = m.last().unwrap();
                if paths_to(&text, child) {
                    file_edges.entry(me.clone()).or_default().insert(m.clone());
                }
            }
        }
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
            let Some(mut target) = target else { continue };
            // through a mod.rs re-export to the file that defines the item
            if let Some(name) = abs.get(target.len()) {
                if let Some(child) = child_reexport.get(&(target.clone(), name.clone())) {
                    target = child.clone();
                }
            }
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
            } else {
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
    (violations, files.len())
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
