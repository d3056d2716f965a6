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

use super::ctx::{ClientCtx, ServerCtx};
use super::settings::{Settings, SettingsError};
use crate::model::Prediction;
use crate::scenario::reconnect::Reconnect;
use crate::scenario::Scenario;
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
    /// scenario and for every point of a sweep. It is called for *every* strategy of the
    /// [`crate::Lab`], with an empty table when the scenario has none for it: every setting
    /// needs a default, or the lab refuses scenarios that do not mention the strategy. Parse it with [`Settings::parse`] (a settings
    /// type with `#[serde(deny_unknown_fields)]` names a misspelled key) and range-check it;
    /// return the field and what is allowed, and the user sees file, field, line and exit 2.
    ///
    /// The default accepts only an empty table. If a strategy with settings does not check
    /// them, a bad value reaches [`Strategy::server`] / [`Strategy::client`] at run time and
    /// fails the run there (exit 1) instead of failing validation.
    fn check(&self, settings: &Settings, _scenario: &Scenario) -> Result<(), SettingsError> {
        match settings.keys().next() {
            None => Ok(()),
            Some(key) => Err(SettingsError {
                field: key.to_string(),
                message: format!("unknown key; [{}] has no settings", settings.id()),
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
    /// once per scenario for `model.csv`, the theory marks on the charts and `run --check`,
    /// and by the cost estimate ([`crate::Lab::estimate`]), whose request count it provides.
    fn model(&self, _scenario: &Scenario, _settings: &Settings) -> Option<Prediction> {
        None
    }

    /// Bound each client's mailbox in [`ServerCtx::feed`] to this many events (an SSE replay
    /// history): the oldest is forgotten when a new one arrives, and if it was never sent it
    /// counts as lost. `None` (the default) keeps every event until [`crate::Feed::ack`].
    fn history(&self, _settings: &Settings) -> Option<usize> {
        None
    }

    /// How this strategy's clients wait before connecting again when the scenario says
    /// nothing (`[reconnect]` and the strategy's own `reconnect = ...` override it). The
    /// default is a fixed 1 s ([`crate::sim::REFUSED_RETRY`]).
    fn reconnect(&self) -> Reconnect {
        Reconnect::default()
    }

    /// Colour and line pattern in every chart. `None` (the default): the [`crate::Lab`] gives
    /// it a spare Okabe–Ito look no other registered strategy uses.
    fn look(&self) -> Option<Look> {
        None
    }

    /// The server: called once per simulation on the server host; the future should serve
    /// until the simulation ends (bind with [`ServerCtx::listen`], take events from
    /// [`ServerCtx::feed`]). When [`crate::Run::closing`] resolves it should close its
    /// connections cleanly. Returning early stops serving; an `Err` fails the run.
    fn server(&self, ctx: ServerCtx) -> LocalBoxFuture<StrategyResult>;

    /// One client: called once per client while the simulation is built; the future it
    /// returns starts at the client's start time (`clients.connect_over_s` spreads them), on
    /// a client pool host. Connect with [`ClientCtx::connect`], hand every
    /// event payload to [`ClientCtx::deliver`], and return when [`crate::Run::closing`]
    /// resolves. Returning early means the client stops receiving (its events count as lost);
    /// an `Err` fails the run with the first client's message. A client that ignores closing
    /// is dropped when the closing phase ends (1 s + 4 × the largest latency + the longest
    /// period later), which only makes the run longer.
    fn client(&self, ctx: ClientCtx) -> LocalBoxFuture<StrategyResult>;
}
