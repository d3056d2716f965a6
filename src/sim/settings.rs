//! A strategy's own settings: its `[id]` table, kept raw until the strategy parses it.

use serde::de::DeserializeOwned;

use crate::scenario::whole_ms;

/// A strategy's `[id]` table from the scenario file, kept raw until the strategy parses it.
#[derive(Debug, Clone)]
pub struct Settings {
    id: String,
    table: toml::Table,
}

/// A problem with one field of a strategy's settings.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct SettingsError {
    /// The field, within the strategy's table (`interval_s`).
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl Settings {
    /// The table of strategy `id`.
    pub(crate) fn new(id: &str, table: toml::Table) -> Settings {
        Settings {
            id: id.to_string(),
            table,
        }
    }

    /// The keys of the table, in file order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.table.keys().map(String::as_str)
    }

    /// The strategy id this table belongs to.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Deserialize into the strategy's settings type (use `#[serde(deny_unknown_fields)]` and
    /// defaults on it), naming the field on error.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, SettingsError> {
        serde_path_to_error::deserialize(toml::Value::Table(self.table.clone())).map_err(|e| {
            let message = e.inner().message().to_string();
            let path = e.path().to_string();
            let unknown = message
                .strip_prefix("unknown field `")
                .and_then(|r| r.split('`').next())
                .filter(|_| path == ".")
                .map(str::to_string);
            let field = unknown.unwrap_or(path);
            SettingsError { field, message }
        })
    }
}

/// Reject a number of seconds outside `[min, max]` or finer than 1 ms (the simulation tick).
///
/// `1.001` is whole milliseconds even though `1.001 × 1000` is `1000.9999999999999` in
/// floating point, so the check compares with the nearest whole millisecond, allowing a
/// relative error of a few ulps.
pub fn check_seconds(field: &str, v: f64, min: f64, max: f64) -> Result<(), SettingsError> {
    if !(v.is_finite() && v >= min && v <= max && whole_ms(v)) {
        return Err(SettingsError {
            field: field.into(),
            message: format!(
                "{v} is not allowed; use {min} to {max} seconds, in whole milliseconds"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value written with up to three decimals is whole milliseconds; the old check
    /// (`(v * 1000.0).fract() != 0.0`) rejected 1.001, 2.002, 4.35, … .
    #[test]
    fn three_decimal_seconds_are_whole_milliseconds() {
        for ms in 0..20_000u64 {
            let text = format!("{}.{:03}", ms / 1000, ms % 1000);
            let v: f64 = text.parse().unwrap();
            assert!(whole_ms(v), "{text} was rejected");
            assert!(check_seconds("x", v, 0.0, 3600.0).is_ok(), "{text}");
        }
        for bad in [0.0005, 1.0001, 2.0025, 0.1234] {
            assert!(!whole_ms(bad), "{bad} accepted");
        }
    }
}
