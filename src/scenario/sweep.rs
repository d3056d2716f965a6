//! Parameter sweeps: `[sweep]` lists values for any numeric key (or on/off switch, as
//! `[false, true]`) by its dotted path, and the product of the lists is run.
//!
//! ```toml
//! [sweep]
//! clients = [100, 1000, 10000]                     # short for "clients.count"
//! "events.rate_per_client_per_s" = [0.01, 0.1, 1.0]
//! seeds = [1, 2, 3]                                # repeat every point with each seed
//! ```
//!
//! Every point is a complete scenario, built from the file with the values set and validated
//! like any scenario, so a value out of range is an error naming the point before anything
//! runs. Points are numbered in a fixed order (keys in file order, later keys varying fastest,
//! seeds fastest of all), which `--shard` and `merge` rely on.

pub use super::types::{SweepPlan, SweepPoint};

/// Most points one sweep may have.
pub const MAX_POINTS: usize = 2_000;

/// The dotted path a sweep key stands for.
pub fn canonical(key: &str) -> String {
    match key {
        "clients" => "clients.count".to_string(),
        other => other.to_string(),
    }
}

/// Set `path` (dotted) in `table` to `value`, creating tables on the way.
pub fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().ok_or("empty key")?;
    let mut t = table;
    for p in parts {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{p}` is not a table, so `{path}` cannot be swept"))?;
    }
    t.insert(last.to_string(), value);
    Ok(())
}

/// The values of one sweep key: a non-empty array of numbers.
pub fn numbers(value: &toml::Value) -> Result<Vec<toml::Value>, String> {
    let list = value
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or("give a non-empty list of numbers, e.g. [1, 10, 100]")?;
    for v in list {
        if !(v.is_integer() || v.as_float().is_some_and(f64::is_finite) || v.is_bool()) {
            return Err(format!(
                "{} is not a finite number; a sweep varies numeric keys (and on/off switches: [false, true])",
                super::types::escape(&v.to_string())
            ));
        }
    }
    Ok(list.clone())
}

/// As an f64 (sweep values are numbers; a switch is 0 or 1).
pub fn as_f64(v: &toml::Value) -> f64 {
    v.as_float()
        .or_else(|| v.as_integer().map(|i| i as f64))
        .or_else(|| v.as_bool().map(|b| if b { 1.0 } else { 0.0 }))
        .unwrap_or(f64::NAN)
}
