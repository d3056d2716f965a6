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
pub mod reconnect;
pub mod sweep;
mod types;
mod validate;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use de::{HeaderProfile, Latency};
pub(crate) use locate::line_of;
pub use types::{
    default_address_pool, ClientKind, Clients, Costs, Events, Fanout, Fault, Http, MemoryCosts,
    Network, Privacy, Proxy, Scenario, ScenarioError, Server, Simulation, Source, StoreAddresses,
    Upstream, MAX_CLIENTS, MAX_DELIVERIES, MAX_DURATION_S, MAX_PAYLOAD_BYTES,
};
pub(crate) use types::{escape, shown, SCENARIO_FIELDS, SCENARIO_TABLES};
pub(crate) use validate::whole_ms;

/// The quickstart scenario, embedded so that `realtime-lab run` works on a fresh clone.
pub const QUICKSTART: &str = include_str!("../../scenarios/quickstart.toml");

/// A point's error, with the line of the `[sweep]` entry that set the value it names (the
/// field's own line is elsewhere, or nowhere: the value came from the sweep).
pub(crate) fn swept_hint(message: &str, keys: &[String], text: &str) -> String {
    for key in keys {
        if message.contains(&format!("`{key}`")) {
            let written = if key == "clients.count" && !text.contains("\"clients.count\"") {
                "clients"
            } else {
                key
            };
            return format!(
                "{message} (the value comes from `sweep.{written}`{})",
                line_of(text, &["sweep", written])
            );
        }
    }
    message.to_string()
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
    #[serde(default)]
    server: Server,
    #[serde(default)]
    faults: Vec<Fault>,
    #[serde(default)]
    proxy: Proxy,
}

fn default_seed() -> u64 {
    1
}
fn default_duration() -> f64 {
    60.0
}

/// `[server] calibration = "FILE"`: fill `[server.cost]` and `[server.memory]` with what
/// `realtime-lab calibrate` measured, where the scenario does not set a key itself. A relative
/// path is relative to the scenario file.
fn include_calibration(table: &mut toml::Table, source: &Source<'_>) -> Result<(), String> {
    let Some(server) = table.get_mut("server").and_then(|v| v.as_table_mut()) else {
        return Ok(());
    };
    let Some(value) = server.remove("calibration") else {
        return Ok(());
    };
    let at = format!(
        "`server.calibration`{}",
        locate::line_of(source.text, &["server", "calibration"])
    );
    let Some(name) = value.as_str() else {
        return Err(format!(
            "{at}: must be a file name in quotes (a file `realtime-lab calibrate` wrote)"
        ));
    };
    let mut path = std::path::PathBuf::from(name);
    if path.is_relative() {
        let label = std::path::Path::new(&source.label);
        if label.is_file() {
            if let Some(dir) = label.parent() {
                path = dir.join(path);
            }
        }
    }
    let shown = escape(&path.display().to_string());
    let text = read_calibration(&path).map_err(|e| format!("{at}: {shown}: {e}"))?;
    let included: toml::Table = toml::from_str(&text).map_err(|e| {
        format!(
            "{at}: {shown} is not valid TOML: {}",
            escape(e.to_string().trim_end())
        )
    })?;
    for (key, v) in included {
        let tables = v.as_table().filter(|_| key == "server");
        let Some(tables) = tables else {
            return Err(format!(
                "{at}: {} may hold only [server.cost] and [server.memory], not `{}`",
                path.display(),
                escape(&key)
            ));
        };
        for (name, t) in tables {
            let (true, Some(t)) = (name == "cost" || name == "memory", t.as_table()) else {
                return Err(format!(
                    "{at}: {shown} may hold only [server.cost] and [server.memory], not `server.{}`",
                    escape(name)
                ));
            };
            check_calibration(name, t).map_err(|e| format!("{at}: {shown}: {e}"))?;
            let own = server
                .entry(name.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let Some(own) = own.as_table_mut() {
                for (k, v) in t {
                    own.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    Ok(())
}

/// A calibration file's text: a regular file of at most 64 KiB of UTF-8 (what `calibrate`
/// writes is under 2 KiB; a FIFO or a device would never end).
fn read_calibration(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read as _;
    const MAX: u64 = 64 * 1024;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file; give the file `realtime-lab calibrate` wrote".into());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > MAX {
        return Err(format!(
            "larger than {} KiB; a calibration table is a few lines",
            MAX / 1024
        ));
    }
    String::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
}

/// The keys and values of an included `[server.cost]` or `[server.memory]` table: known keys,
/// numbers of the right type, finite and not negative.
fn check_calibration(name: &str, t: &toml::Table) -> Result<(), String> {
    let value = toml::Value::Table(t.clone());
    let typed = if name == "cost" {
        serde_path_to_error::deserialize::<_, Costs>(value).map(|_| ())
    } else {
        serde_path_to_error::deserialize::<_, MemoryCosts>(value).map(|_| ())
    };
    typed.map_err(|e| {
        format!(
            "`server.{name}.{}`: {}",
            escape(&e.path().to_string()),
            escape(&e.inner().to_string())
        )
    })?;
    for (k, v) in t {
        if let Some(x) = v.as_float() {
            if !x.is_finite() || x < 0.0 {
                return Err(format!(
                    "`server.{name}.{}` = {x}: give a finite number, 0 or more",
                    escape(k)
                ));
            }
        }
        if v.as_integer().is_some_and(|i| i < 0) {
            return Err(format!("`server.{name}.{}`: give 0 or more", escape(k)));
        }
    }
    Ok(())
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
        include_calibration(&mut table, source).map_err(err)?;
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
            let label = types::point_label(&keys, chosen.iter(), seed);
            let scenario = Scenario::from_table(t, text).map_err(|e| {
                format!(
                    "sweep point {} ({}): {}",
                    index,
                    label,
                    swept_hint(&e, &keys, text)
                )
            })?;
            points.push(sweep::SweepPoint {
                index,
                shown: chosen.iter().map(|v| v.to_string()).collect(),
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
        // a list where a table of named values belongs would be read by position: refused
        for path in [&["server"][..], &["server", "cost"], &["server", "memory"]] {
            let mut value = table.get(path[0]);
            for key in &path[1..] {
                value = value.and_then(|v| v.as_table()).and_then(|t| t.get(*key));
            }
            if value.is_some_and(|v| !v.is_table()) {
                return Err(format!(
                    "`{}`{}: must be a table of named values, `[{}]` with `key = value` lines",
                    path.join("."),
                    locate::line_of(text, path),
                    path.join(".")
                ));
            }
        }
        // serde reads a tagged table whole, so a wrong type would be reported at the entry,
        // not at its key: check the numbers first
        if let Some(list) = table.get("faults").and_then(|f| f.as_array()) {
            for (i, f) in list.iter().enumerate() {
                let Some(t) = f.as_table() else { continue };
                for key in ["at_s", "down_s", "for_s", "clients"] {
                    match t.get(key) {
                        Some(v) if !(v.is_integer() || v.is_float()) => {
                            let n = i.to_string();
                            return Err(format!(
                                "`faults[{i}].{key}`{}: {} is not a number; give {}",
                                locate::line_of(text, &["faults", &n, key]),
                                shown(&v.to_string()),
                                if key == "clients" {
                                    "a share of the clients, e.g. clients = 0.3"
                                } else {
                                    "seconds, e.g. at_s = 60"
                                }
                            ));
                        }
                        _ => {}
                    }
                }
            }
        }
        if table.get("faults").is_some_and(|f| !f.is_array()) {
            return Err(format!(
                "`faults`{}: write each fault as its own `[[faults]]` table (with two brackets), e.g. [[faults]] kind = \"server-restart\", at_s = 60, down_s = 10",
                locate::line_of(text, &["faults"])
            ));
        }
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
        let mut strategy_reconnect = BTreeMap::new();
        for (id, t) in strategy_tables.iter_mut() {
            if let Some(v) = t.remove("reconnect") {
                let policy = reconnect::Reconnect::parse(&v).map_err(|e| {
                    format!(
                        "`{}.reconnect`{}: {e}",
                        shown(id),
                        locate::line_of(text, &[id, "reconnect"])
                    )
                })?;
                strategy_reconnect.insert(id.clone(), policy);
            }
        }
        let reconnect = match table.remove("reconnect") {
            None => None,
            Some(toml::Value::Table(t)) => {
                let at = |key: &str| {
                    format!(
                        "`reconnect.{key}`{}",
                        locate::line_of(text, &["reconnect", key])
                    )
                };
                if let Some(key) = t.keys().find(|k| k.as_str() != "policy") {
                    return Err(format!(
                        "{}: unknown key; [reconnect] has `policy`",
                        at(&shown(key))
                    ));
                }
                match t.get("policy") {
                    None => None,
                    Some(v) => Some(
                        reconnect::Reconnect::parse(v)
                            .map_err(|e| format!("{}: {e}", at("policy")))?,
                    ),
                }
            }
            Some(_) => {
                return Err(format!(
                    "`reconnect`{}: must be a table `[reconnect]` with `policy = ...`",
                    locate::line_of(text, &["reconnect"])
                ))
            }
        };
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
            server: raw.server,
            reconnect,
            strategy_reconnect,
            faults: raw.faults,
            proxy: raw.proxy,
            strategy_tables,
            sweep: None,
        };
        validate::validate(&scenario, text)?;
        Ok(scenario)
    }

    /// Check the scenario's own fields again (a library caller may have changed the public
    /// fields of a parsed scenario).
    pub(crate) fn recheck(&self) -> Result<(), String> {
        validate::validate(self, "")
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

    /// Whether anything goes wrong in this run: `[[faults]]`, a `[proxy]` idle timeout or
    /// `[network] loss`.
    pub fn has_faults(&self) -> bool {
        !self.faults.is_empty()
            || self.proxy.idle_timeout_s.is_some()
            || self.network.loss > 0.0
            || self.has_churn()
    }

    /// Whether clients come and go (`online_s`/`offline_s`) or change addresses.
    pub fn has_churn(&self) -> bool {
        self.clients.online_s.is_some() || self.clients.address_change_per_hour > 0.0
    }

    /// What is allowed but probably not meant: faults that leave no event deliverable.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let end = (self.duration_s * 1000.0) as u64;
        // the event window covered by restarts (without durable state) or whole outages
        let mut windows: Vec<(u64, u64)> = self
            .faults
            .iter()
            .filter(|f| match f {
                Fault::ServerRestart { .. } => !self.server.durable,
                Fault::Outage { clients, .. } => *clients >= 1.0,
            })
            .map(|f| f.window_ms())
            .collect();
        windows.sort_unstable();
        let mut covered_to = 0;
        for (a, b) in windows {
            if a <= covered_to {
                covered_to = covered_to.max(b);
            }
        }
        if covered_to >= end {
            out.push(format!(
                "{}: the faults cover the whole event window (0 to {} s): no event can be delivered as it happens{}",
                self.name,
                self.duration_s,
                if self.faults.iter().any(|f| matches!(f, Fault::ServerRestart { .. })) {
                    ", and a restart without durable state loses them all"
                } else {
                    ""
                }
            ));
        }
        if self.clients.kind == ClientKind::Browser
            && self.strategies.iter().any(|s| s == "server-callback")
        {
            out.push(format!(
                "{}: the clients are browsers (`[clients] kind = \"browser\"`): a web page cannot accept a connection, so server-callback can reach none of them and loses every event",
                self.name
            ));
        }
        out
    }

    /// The `[id]` table of a strategy (empty if the file has none).
    pub fn strategy_table(&self, id: &str) -> toml::Table {
        self.strategy_tables.get(id).cloned().unwrap_or_default()
    }
}
