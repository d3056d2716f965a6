//! The extension point: the [`Strategy`] trait, its settings table and the types its hooks use.
//!
//! A strategy is a type implementing [`Strategy`]. The harness calls its hooks; the strategy
//! reaches the network, the clock, the event feed, its settings and the measurements only
//! through its contexts ([`ServerCtx`], [`ClientCtx`]), so it runs unchanged on the simulator
//! and never writes files or reads the wall clock.
//!
//! # When each hook is called
//! ```text
//! Lab::parse / validate ── check(settings, scenario)       every scenario and sweep point
//!                          look()                           when charts are drawn
//! model.csv, run --check ─ model(scenario, settings)       once per scenario
//! each simulation ──────── longest_period, history         before the simulation starts
//!                          server(ServerCtx)               once, on the server host
//!                          client(ClientCtx)               once per client, at its start time
//! ```

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::ctx::{ClientCtx, ServerCtx};
use crate::model::Prediction;
use crate::scenario::{whole_ms, Scenario};
use crate::style::Look;

/// A boxed future that stays on the current thread (the simulator runs everything on one).
pub type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// What a server or client future returns: `Err` ends that task and is reported (a client's
/// error fails the run with its message; see [`Strategy::client`]).
pub type StrategyResult = Result<(), Box<dyn std::error::Error>>;

/// A way of getting events from the server to its clients.
///
/// Implement it on a unit struct in one file, register it in a [`crate::Lab`] and every
/// subcommand, scenario file, CSV file and chart knows it. The example in the crate docs is a
/// complete strategy.
pub trait Strategy: Sync {
    /// Kebab-case id (`long-polling`): the name in `strategies = [...]`, the `[id]` settings
    /// table, CSV rows, chart legends and `--strategy`. Must be unique in its [`crate::Lab`]
    /// (`Lab::with` panics otherwise).
    fn id(&self) -> &'static str;

    /// One line for `realtime-lab list`.
    fn summary(&self) -> &'static str;

    /// Check the `[id]` table when a scenario is parsed — before anything runs, for the
    /// scenario and for every point of a sweep. Parse it with [`Settings::parse`] (a settings
    /// type with `#[serde(deny_unknown_fields)]` names a misspelled key) and range-check it;
    /// return the field and what is allowed, and the user sees file, field, line and exit 2.
    ///
    /// The default accepts only an empty table. If a strategy with settings does not check
    /// them, a bad value reaches [`Strategy::server`] / [`Strategy::client`] at run time and
    /// fails the run there (exit 1) instead of failing validation.
    fn check(&self, settings: &Settings, _scenario: &Scenario) -> Result<(), SettingsError> {
        match settings.table.keys().next() {
            None => Ok(()),
            Some(key) => Err(SettingsError {
                field: key.clone(),
                message: format!("unknown key; [{}] has no settings", settings.id),
            }),
        }
    }

    /// The longest wait the strategy builds in (a poll interval, a hold timeout, a
    /// reconnection time; for a random wait, its maximum). Called before each simulation: the
    /// run goes on this long plus 10 s after the last event, so what is in flight arrives, and
    /// closing gets this long too. Too short: the last events are counted lost; too long: the
    /// run only takes longer. It cannot fail (`check` has passed): use
    /// `settings.parse::<S>().map_or(Duration::ZERO, …)`.
    fn longest_period(&self, settings: &Settings) -> Duration;

    /// What theory predicts for this strategy under `scenario` (build it with the shared
    /// maths in [`crate::model`]), or `None` (the default) if there is no closed form. Called
    /// once per scenario for `model.csv`, the theory marks on the charts and `run --check`.
    fn model(&self, _scenario: &Scenario, _settings: &Settings) -> Option<Prediction> {
        None
    }

    /// Bound each client's mailbox in [`ServerCtx::feed`] to this many events (an SSE replay
    /// history): the oldest is forgotten when a new one arrives, and if it was never sent it
    /// counts as lost. `None` (the default) keeps every event until [`crate::Feed::ack`].
    fn history(&self, _settings: &Settings) -> Option<usize> {
        None
    }

    /// Colour and line pattern in every chart. `None` (the default): the [`crate::Lab`] gives
    /// it a spare Okabe–Ito look no other registered strategy uses.
    fn look(&self) -> Option<Look> {
        None
    }

    /// The server: called once per simulation on the server host; the future should serve
    /// until the simulation ends (bind with [`ServerCtx::listen`], take events from
    /// [`ServerCtx::feed`]). When [`ServerCtx::closing`] resolves it should close its
    /// connections cleanly. Returning early stops serving; an `Err` fails the run.
    fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<StrategyResult>;

    /// One client: called once per client, at its start time (`clients.connect_over_s`
    /// spreads them), on a client pool host. Connect with [`ClientCtx::connect`], hand every
    /// event payload to [`ClientCtx::deliver`], and return when [`ClientCtx::closing`]
    /// resolves. Returning early means the client stops receiving (its events count as lost);
    /// an `Err` fails the run with the first client's message.
    fn client(&self, ctx: ClientCtx) -> LocalBoxFuture<StrategyResult>;
}

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
    pub fn new(id: &str, table: toml::Table) -> Settings {
        Settings {
            id: id.to_string(),
            table,
        }
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
    use crate::scenario::whole_ms;

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
