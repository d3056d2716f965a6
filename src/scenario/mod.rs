//! Scenario files: what to simulate, read from TOML, with defaults and validation.
//!
//! A scenario names the clients, the event feed, the network and the HTTP header profile that
//! every strategy runs under. Each strategy's own settings live in a table named after its id
//! (`[short-polling]`, `[long-polling]`, …) and are parsed by the strategy itself (see
//! [`crate::Settings`]), so a new strategy brings its settings in its own file.
//!
//! This layer knows no strategies: it parses the file into plain data, checks its own keys
//! (types, unknown keys, ranges, contradictions) and keeps every other table raw, as a
//! strategy's settings. [`crate::Lab::parse`] then checks the strategy names and tables with
//! its registry. Either step returns one [`ScenarioError`] naming the file, the field (with
//! its line where it can be found) and what is allowed. Nothing runs before both pass.

mod de;
mod locate;
pub mod sweep;
mod validate;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use de::{HeaderProfile, Latency};
pub(crate) use locate::line_of;
pub(crate) use validate::whole_ms;

/// The quickstart scenario, embedded so that `realtime-lab run` works on a fresh clone.
pub const QUICKSTART: &str = include_str!("../../scenarios/quickstart.toml");

/// Largest client count a scenario may ask for (memory stays under a few GB up to here).
pub const MAX_CLIENTS: u64 = 200_000;
/// Longest simulated run, in seconds.
pub const MAX_DURATION_S: f64 = 3_600.0;
/// Most event deliveries (events × recipients) one run may generate.
pub const MAX_DELIVERIES: f64 = 50_000_000.0;
/// Largest payload.
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 20;

/// A validated scenario: every field has its final value.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Output folder name: lowercase letters, digits and `-`.
    pub name: String,
    /// What the scenario teaches (free text).
    pub description: String,
    /// Seed for every random choice in the run (turmoil's RNG, the publisher, the clients).
    pub seed: u64,
    /// Events are generated in `[0, duration_s)`.
    pub duration_s: f64,
    /// Seconds at the start excluded from summaries.
    pub warmup_s: f64,
    /// Strategy ids to run, in order. A file without `strategies` gets every registered
    /// strategy (filled in by [`crate::Lab::parse`]).
    pub strategies: Vec<String>,
    /// Whether the file had a `strategies` list.
    pub(crate) strategies_listed: bool,
    /// Client population.
    pub clients: Clients,
    /// The event feed.
    pub events: Events,
    /// Network conditions.
    pub network: Network,
    /// HTTP header profile.
    pub http: Http,
    /// Client → server messages, if any.
    pub upstream: Option<Upstream>,
    /// What the server keeps of client addresses.
    pub privacy: Privacy,
    /// Knobs of the simulation itself.
    pub simulation: Simulation,
    /// Raw per-strategy tables (`[short-polling]` …), keyed by strategy id; each strategy parses
    /// and checks its own.
    pub strategy_tables: BTreeMap<String, toml::Table>,
    /// The expanded `[sweep]`, if the file has one.
    pub sweep: Option<sweep::SweepPlan>,
}

/// `[clients]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clients {
    /// How many clients connect.
    #[serde(default = "default_count")]
    pub count: u64,
    /// Clients start spread evenly over this many seconds.
    #[serde(default)]
    pub connect_over_s: f64,
}

/// `[events]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    /// Each client gets its own Poisson stream of this rate (events per second).
    pub rate_per_client_per_s: Option<f64>,
    /// One global Poisson stream of this rate, sent according to `fanout`.
    pub rate_per_s: Option<f64>,
    /// With `rate_per_s`: each event to one random client or to all.
    pub fanout: Option<Fanout>,
    /// Bytes of every event's payload on the wire.
    #[serde(default = "default_payload")]
    pub payload_bytes: u64,
    /// Event types; each event gets one, uniformly at random (SSE sends it as `event:`).
    #[serde(default = "default_types")]
    pub types: Vec<String>,
}

/// `[upstream]`: client → server messages (chat, acknowledgements, telemetry).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// Each client sends a Poisson stream of messages of this rate.
    pub rate_per_client_per_s: f64,
    /// Bytes of every message's payload.
    #[serde(default = "default_upstream_payload")]
    pub payload_bytes: u64,
}

/// Who receives an event of the global stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fanout {
    /// One client, chosen uniformly at random.
    One,
    /// Every client.
    All,
}

/// `[network]`
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// One-way latency between every client and the server.
    #[serde(default)]
    pub latency_ms: Latency,
}

/// `[http]`
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Which request/response heads the HTTP strategies send.
    #[serde(default)]
    pub headers: HeaderProfile,
}

/// `[privacy]`: what the server keeps of a client's address.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Privacy {
    /// How addresses are stored in the server's per-client registry.
    #[serde(default)]
    pub store_addresses: StoreAddresses,
}

/// How the server stores a client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreAddresses {
    /// The whole IPv4 address and port (6 bytes): the server can reach the client again, and
    /// anyone who reads the registry can locate it.
    #[default]
    Full,
    /// The /24 network prefix only (3 bytes), as common analytics anonymisation does: the
    /// rough location survives, the host and port do not, so the server cannot call back.
    Truncated,
    /// A keyed hash of address and port (16 bytes): the same client is recognisable, nothing
    /// else is, unless the key leaks; the server cannot call back either.
    Hashed,
}

impl StoreAddresses {
    /// Bytes of one registry entry: an 8-byte client id plus the stored address.
    pub fn entry_bytes(self) -> u64 {
        8 + match self {
            StoreAddresses::Full => 6,
            StoreAddresses::Truncated => 3,
            StoreAddresses::Hashed => 16,
        }
    }
}

/// `[simulation]`: how the simulator is driven (rarely changed).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Simulation {
    /// Client pool hosts the clients are spread over (default: one per 1,000 clients, 1 to 10).
    pub pool_hosts: Option<u64>,
    /// Extra simulated seconds after `duration_s` to deliver what is still in flight
    /// (default: the strategy's longest period + 10 s).
    pub grace_s: Option<f64>,
}

/// Where the scenario came from, for error messages.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// A file path, or a label such as `<embedded quickstart>`.
    pub label: String,
    /// The TOML text.
    pub text: &'a str,
}

/// A scenario that cannot be used, with the message a user sees.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ScenarioError {
    /// The file (or label) the scenario came from.
    pub file: String,
    /// What is wrong, naming the field, its line where known, and what is allowed.
    pub message: String,
}

fn default_count() -> u64 {
    100
}
fn default_payload() -> u64 {
    100
}
fn default_upstream_payload() -> u64 {
    80
}
fn default_types() -> Vec<String> {
    vec!["message".to_string()]
}

impl Default for Clients {
    fn default() -> Self {
        Clients {
            count: default_count(),
            connect_over_s: 0.0,
        }
    }
}

impl Default for Events {
    fn default() -> Self {
        Events {
            rate_per_client_per_s: None,
            rate_per_s: None,
            fanout: None,
            payload_bytes: default_payload(),
            types: default_types(),
        }
    }
}

/// The top-level fields of a scenario file that are not tables.
pub(crate) const SCENARIO_FIELDS: [&str; 6] = [
    "name",
    "description",
    "seed",
    "duration_s",
    "warmup_s",
    "strategies",
];

/// The tables a scenario file may have besides strategy tables.
pub(crate) const SCENARIO_TABLES: [&str; 8] = [
    "clients",
    "events",
    "network",
    "http",
    "upstream",
    "privacy",
    "simulation",
    "sweep",
];

/// `text` with control characters (terminal escape sequences, newlines) shown as escapes, for
/// echoing user input in a message without letting it act on the terminal.
pub(crate) fn escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// User input shown in a message: control characters escaped, at most 80 characters.
pub(crate) fn shown(text: &str) -> String {
    let mut out = escape(&text.chars().take(80).collect::<String>());
    if text.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// The top-level keys of a scenario file, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default = "default_duration")]
    duration_s: f64,
    #[serde(default)]
    warmup_s: f64,
    strategies: Option<Vec<String>>,
    #[serde(default)]
    clients: Clients,
    #[serde(default)]
    events: Events,
    #[serde(default)]
    network: Network,
    #[serde(default)]
    http: Http,
    upstream: Option<Upstream>,
    #[serde(default)]
    privacy: Privacy,
    #[serde(default)]
    simulation: Simulation,
}

fn default_seed() -> u64 {
    1
}
fn default_duration() -> f64 {
    60.0
}

impl Scenario {
    /// Parse and validate a scenario. `source.label` names it in errors.
    pub(crate) fn from_toml(source: &Source<'_>) -> Result<Scenario, ScenarioError> {
        let err = |message: String| ScenarioError {
            file: source.label.clone(),
            message,
        };
        let mut table: toml::Table = toml::from_str(source.text)
            .map_err(|e| err(format!("not valid TOML: {}", e.to_string().trim_end())))?;
        let sweep = table.remove("sweep");
        let mut scenario = Scenario::from_table(table.clone(), source.text).map_err(err)?;
        if let Some(sweep) = sweep {
            scenario.sweep = Some(Scenario::expand(&table, &sweep, source.text).map_err(err)?);
        }
        Ok(scenario)
    }

    /// Expand `[sweep]` into points, each a validated scenario.
    fn expand(
        table: &toml::Table,
        sweep: &toml::Value,
        text: &str,
    ) -> Result<sweep::SweepPlan, String> {
        let at = format!("`sweep`{}", locate::line_of(text, &["sweep"]));
        let sweep = sweep
            .as_table()
            .ok_or_else(|| format!("{at}: must be a table `[sweep]`"))?;
        let mut keys: Vec<String> = Vec::new();
        let mut lists = Vec::new();
        let mut seeds: Option<(String, Vec<u64>)> = None;
        for (key, value) in sweep {
            let here = |k: &str| {
                format!(
                    "`sweep.{}`{}",
                    escape(k),
                    locate::line_of(text, &["sweep", k])
                )
            };
            let list = sweep::numbers(value).map_err(|e| format!("{}: {e}", here(key)))?;
            if key == "seeds" || key == "seed" {
                if let Some((other, _)) = &seeds {
                    return Err(format!(
                        "{}: `sweep.{other}` is given too; list the seeds once, as `seeds`",
                        here(key)
                    ));
                }
                let s: Option<Vec<u64>> = list
                    .iter()
                    .map(|v| v.as_integer().and_then(|i| u64::try_from(i).ok()))
                    .collect();
                let s = s.ok_or_else(|| format!("{}: seeds are whole numbers ≥ 0", here(key)))?;
                seeds = Some((key.clone(), s));
            } else {
                let canonical = sweep::canonical(key);
                if keys.contains(&canonical) {
                    return Err(format!(
                        "{}: `{canonical}` is swept twice (`clients` is short for `clients.count`); keep one",
                        here(key)
                    ));
                }
                keys.push(canonical);
                lists.push(list);
            }
        }
        let base_seed = table.get("seed").and_then(|v| v.as_integer()).unwrap_or(1) as u64;
        let seeds = seeds.map_or(vec![base_seed], |(_, s)| s);
        let count = lists
            .iter()
            .map(Vec::len)
            .chain([seeds.len()])
            .try_fold(1usize, |acc, n| acc.checked_mul(n))
            .filter(|&c| c <= sweep::MAX_POINTS)
            .ok_or_else(|| {
                let product = lists
                    .iter()
                    .map(Vec::len)
                    .chain([seeds.len()])
                    .fold(1.0_f64, |acc, n| acc * n as f64);
                format!(
                    "{at}: {product:.0} points (the product of the lists and the seeds); the limit is {}",
                    sweep::MAX_POINTS
                )
            })?;
        let mut points = Vec::new();
        for index in 0..count {
            // later keys vary fastest, seeds fastest of all
            let mut rest = index / seeds.len();
            let seed = seeds[index % seeds.len()];
            let mut chosen = vec![toml::Value::Integer(0); lists.len()];
            for k in (0..lists.len()).rev() {
                chosen[k] = lists[k][rest % lists[k].len()].clone();
                rest /= lists[k].len();
            }
            let mut t = table.clone();
            for (key, v) in keys.iter().zip(&chosen) {
                sweep::set_path(&mut t, key, v.clone()).map_err(|e| {
                    format!(
                        "`sweep.{key}`{}: {e}",
                        locate::line_of(text, &["sweep", key])
                    )
                })?;
            }
            t.insert("seed".into(), toml::Value::Integer(seed as i64));
            let label: Vec<String> = keys
                .iter()
                .zip(&chosen)
                .map(|(k, v)| format!("{k} = {v}"))
                .chain([format!("seed = {seed}")])
                .collect();
            let scenario = Scenario::from_table(t, text)
                .map_err(|e| format!("sweep point {} ({}): {e}", index, label.join(", ")))?;
            points.push(sweep::SweepPoint {
                index,
                values: chosen.iter().map(sweep::as_f64).collect(),
                seed,
                scenario,
            });
        }
        Ok(sweep::SweepPlan { keys, points })
    }

    /// Build and validate a scenario from a parsed table (without `[sweep]`); `text` is the
    /// file, for line numbers in messages.
    fn from_table(mut table: toml::Table, text: &str) -> Result<Scenario, String> {
        // Every other top-level table belongs to a strategy; which ids exist is the registry's
        // business (`Lab`), so they are kept raw here.
        let mut strategy_tables = BTreeMap::new();
        let others: Vec<String> = table
            .keys()
            .filter(|k| {
                !SCENARIO_FIELDS.contains(&k.as_str()) && !SCENARIO_TABLES.contains(&k.as_str())
            })
            .cloned()
            .collect();
        for key in others {
            match table.remove(&key) {
                Some(toml::Value::Table(t)) => {
                    strategy_tables.insert(key, t);
                }
                Some(_) => {
                    return Err(format!(
                        "`{}`{}: unknown field; a scenario has the fields {}, the tables {}, and a table `[<strategy id>]` per strategy",
                        shown(&key),
                        locate::line_of(text, &[&key]),
                        SCENARIO_FIELDS.join(", "),
                        SCENARIO_TABLES.join(", ")
                    ))
                }
                None => {}
            }
        }
        let raw: RawScenario = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| locate::describe(text, &e))?;
        let scenario = Scenario {
            name: raw.name,
            description: raw.description,
            seed: raw.seed,
            duration_s: raw.duration_s,
            warmup_s: raw.warmup_s,
            strategies_listed: raw.strategies.is_some(),
            strategies: raw.strategies.unwrap_or_default(),
            clients: raw.clients,
            events: raw.events,
            network: raw.network,
            http: raw.http,
            upstream: raw.upstream,
            privacy: raw.privacy,
            simulation: raw.simulation,
            strategy_tables,
            sweep: None,
        };
        validate::validate(&scenario, text)?;
        Ok(scenario)
    }

    /// Total event rate of the feed, in events per second, and whether each goes to every client.
    pub fn event_rate(&self) -> (f64, Fanout) {
        match (self.events.rate_per_client_per_s, self.events.rate_per_s) {
            (Some(per_client), _) => (per_client * self.clients.count as f64, Fanout::One),
            (None, Some(global)) => (global, self.events.fanout.unwrap_or(Fanout::One)),
            (None, None) => (0.0, Fanout::One),
        }
    }

    /// Expected deliveries (events × recipients) over the run.
    pub fn expected_deliveries(&self) -> f64 {
        let (rate, fanout) = self.event_rate();
        let recipients = match fanout {
            Fanout::One => 1.0,
            Fanout::All => self.clients.count as f64,
        };
        rate * recipients * self.duration_s
    }

    /// The `[id]` table of a strategy (empty if the file has none).
    pub fn strategy_table(&self, id: &str) -> toml::Table {
        self.strategy_tables.get(id).cloned().unwrap_or_default()
    }
}
