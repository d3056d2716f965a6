//! Finding the line of a key in a scenario file, so errors can say "line 12".
//!
//! Values are checked after parsing (where serde no longer knows positions), so this scans the
//! text for the key under its table header. It understands the TOML that scenario files use:
//! `[table]` headers, `key = value` lines and quoted keys; when it cannot find a key it says
//! nothing rather than a wrong line.

/// `" (line N)"` for the key at `path` (table names then the key), or `""` if not found.
pub fn line_of(text: &str, path: &[&str]) -> String {
    let (key, tables) = match path.split_last() {
        Some(split) => split,
        None => return String::new(),
    };
    let want_table = tables.join(".");
    let mut table = String::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            table = line
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"')
                .to_string();
            if tables.is_empty() && table == *key {
                return format!(" (line {})", i + 1);
            }
            continue;
        }
        let name = line
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        if line.contains('=') && name == *key && table == want_table {
            return format!(" (line {})", i + 1);
        }
        // a dotted key such as `clients.count = 3` at the top level
        if line.contains('=') && table.is_empty() && name == path.join(".") {
            return format!(" (line {})", i + 1);
        }
    }
    String::new()
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
    format!("{field}{}: {message}", line_of(text, &parts))
}
