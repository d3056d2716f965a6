//! Turns every lecture notebook (`notebooks/*.ipynb`) into a test: the code cells of each
//! notebook, in order, become the body of one `#[test]` function (evcxr commands such as
//! `:dep` are dropped), included by `tests/notebooks.rs`. An API change that breaks a notebook,
//! a panic or a `?` error in any cell then fails `cargo test`.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=notebooks");
    let mut out = String::new();
    let mut paths: Vec<_> = std::fs::read_dir("notebooks")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "ipynb"));
    paths.sort();
    for path in paths {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).expect("readable notebook");
        let nb: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not valid notebook JSON: {e}", path.display()));
        let name = test_name(&path);
        let _ = writeln!(out, "#[test]\nfn {name}() -> anyhow::Result<()> {{");
        let cells = nb["cells"].as_array().cloned().unwrap_or_default();
        for (i, cell) in cells.iter().enumerate() {
            if cell["cell_type"] != "code" {
                continue;
            }
            let source = match &cell["source"] {
                serde_json::Value::Array(lines) => {
                    lines.iter().filter_map(|l| l.as_str()).collect::<String>()
                }
                serde_json::Value::String(s) => s.clone(),
                _ => String::new(),
            };
            let _ = writeln!(out, "    // {} cell {i}", path.display());
            for line in source.lines() {
                if line.trim_start().starts_with(':') {
                    continue; // evcxr command (:dep, :timing, …)
                }
                let _ = writeln!(out, "    {line}");
            }
        }
        let _ = writeln!(out, "    Ok(())\n}}\n");
    }
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("notebook_tests.rs");
    std::fs::write(dest, out).expect("write generated tests");
}

fn test_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("notebook");
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("notebook_{clean}")
}
