//! Finding the line of a key in a scenario file, so every error can say "line 12".
//!
//! Values are checked after parsing, where serde no longer knows positions, so the file is
//! parsed a second time with the TOML parser's spans ([`toml::de::DeTable`]) into a map from
//! every dotted path (`clients.count`, `network.latency_ms.max`, `strategies.2` for an array
//! element, `sweep.clients.1`) to its line. A path that is not in the file (a missing key)
//! points at the nearest table that is, or at line 1 for the top level.

use std::cell::RefCell;
use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};

/// Every dotted path of a file and its line (1-based).
type Lines = BTreeMap<String, usize>;

thread_local! {
    /// The last file located (validation asks many times about one file).
    static CACHE: RefCell<Option<(String, Lines)>> = const { RefCell::new(None) };
}

/// `" (line N)"` for the key at `path` (table names then the key).
pub fn line_of(text: &str, path: &[&str]) -> String {
    let line = CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.as_ref().is_none_or(|(t, _)| t != text) {
            *cache = Some((text.to_string(), lines(text)));
        }
        let (_, lines) = cache.as_ref().expect("filled above");
        (0..=path.len())
            .rev()
            .find_map(|n| lines.get(&path[..n].join(".")).copied())
    });
    format!(" (line {})", line.unwrap_or(1))
}

/// Index every path of `text`; empty if it is not valid TOML (then the parser's own message,
/// which carries its line, is what the user sees).
fn lines(text: &str) -> Lines {
    let mut out = Lines::new();
    if let Ok(root) = DeTable::parse(text) {
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let line = |offset: usize| starts.partition_point(|&s| s <= offset);
        walk_table(root.get_ref(), "", &line, &mut out);
    }
    out
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk_table(t: &DeTable<'_>, prefix: &str, line: &dyn Fn(usize) -> usize, out: &mut Lines) {
    for (key, value) in t.iter() {
        let path = join(prefix, key.get_ref());
        // the key's own line: where a reader looks (for a table, its header)
        out.entry(path.clone()).or_insert(line(key.span().start));
        walk_value(value.get_ref(), &path, line, out);
    }
}

fn walk_value(v: &DeValue<'_>, path: &str, line: &dyn Fn(usize) -> usize, out: &mut Lines) {
    match v {
        DeValue::Table(t) => walk_table(t, path, line, out),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = join(path, &i.to_string());
                out.entry(p.clone()).or_insert(line(item.span().start));
                walk_value(item.get_ref(), &p, line, out);
            }
        }
        _ => {}
    }
}

/// A user-facing message for a serde error at a path in the scenario.
pub fn describe(text: &str, e: &serde_path_to_error::Error<toml::de::Error>) -> String {
    let message = e.inner().message().trim_end().to_string();
    let path = e.path().to_string();
    let mut parts: Vec<&str> = if path == "." {
        Vec::new()
    } else {
        path.split('.').collect()
    };
    // For an unknown field, serde reports the table it sits in; point at the field itself.
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    if let Some(name) = unknown {
        if parts.last() != Some(&name) {
            parts.push(name);
        }
    }
    let field = if parts.is_empty() {
        "the top level".to_string()
    } else {
        format!("`{}`", parts.join("."))
    };
    // an array element is `faults[0]` in the path, `faults.0` among the lines
    let dotted = parts.join(".").replace('[', ".").replace(']', "");
    let keys: Vec<&str> = dotted.split('.').filter(|k| !k.is_empty()).collect();
    format!("{field}{}: {message}", line_of(text, &keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "name = \"x\"\n\
        strategies = [\"sse\",\n  \"websocket\"]\n\
        clients.count = 3\n\
        [network]\n\
        latency_ms = { min = 1,\n  max = 9 }\n\
        [sweep]\n\
        clients = [1, 2]\n";

    #[test]
    fn every_kind_of_path_has_its_line() {
        assert_eq!(line_of(FILE, &["name"]), " (line 1)");
        assert_eq!(line_of(FILE, &["strategies", "1"]), " (line 3)");
        assert_eq!(line_of(FILE, &["clients", "count"]), " (line 4)");
        assert_eq!(line_of(FILE, &["network"]), " (line 5)");
        assert_eq!(
            line_of(FILE, &["network", "latency_ms", "max"]),
            " (line 7)"
        );
        assert_eq!(line_of(FILE, &["sweep", "clients", "1"]), " (line 9)");
        let faults = "name = \"x\"\n[[faults]]\nkind = \"a\"\n[[faults]]\nkind = \"b\"\n";
        assert_eq!(line_of(faults, &["faults", "1", "kind"]), " (line 5)");
    }

    #[test]
    fn a_missing_key_points_at_its_table_or_the_top() {
        assert_eq!(line_of(FILE, &["network", "nothing"]), " (line 5)");
        assert_eq!(line_of(FILE, &["description"]), " (line 1)");
        assert_eq!(line_of("not [ toml", &["name"]), " (line 1)");
    }
}
