//! The registry value: which strategies exist, and everything that needs to know them.
//!
//! A [`Lab`] holds strategies as values. Parsing a scenario, validating each strategy's own
//! `[id]` table, running, `model.csv`, `list`, the colours of the charts and the whole command
//! line ([`crate::cli::main_with`]) take the `Lab` they are given, so a strategy defined outside
//! this crate is a peer of the built-ins:
//!
//! ```no_run
//! # use realtime_lab::{Lab, Strategy};
//! # fn demo(my_strategy: &'static dyn Strategy) -> std::process::ExitCode {
//! realtime_lab::cli::main_with(Lab::builtin().with(my_strategy))
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use crate::model::Prediction;
use crate::output::palette::Looks;
use crate::scenario::{line_of, Scenario, ScenarioError, Source};
use crate::sim::{RunResult, Settings, Strategy};
use crate::style::{Look, SPARE};

/// The largest scenario file [`Lab::load`] reads: 1 MiB.
pub(crate) const MAX_SCENARIO_BYTES: u64 = 1 << 20;

/// A set of strategies: the built-ins, plus any of your own.
#[derive(Clone)]
pub struct Lab {
    strategies: Vec<&'static dyn Strategy>,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.ids()).finish()
    }
}

impl Lab {
    /// The five built-in strategies.
    pub fn builtin() -> Lab {
        Lab {
            strategies: crate::strategy::BUILTIN.to_vec(),
        }
    }

    /// A lab with no strategies (add them with [`Lab::with`]).
    pub fn empty() -> Lab {
        Lab {
            strategies: Vec::new(),
        }
    }

    /// Add a strategy; it is listed after the ones already here.
    ///
    /// # Panics
    /// If its id is not kebab-case (`my-strategy`) or another strategy of this lab has it
    /// (a programming error, found the first time the program runs).
    pub fn with(mut self, strategy: &'static dyn Strategy) -> Lab {
        let id = strategy.id();
        assert!(
            is_kebab_case(id),
            "strategy id {id:?} is not kebab-case (lowercase words of letters and digits joined by '-')"
        );
        assert!(
            self.find(id).is_none(),
            "two strategies have the id {id:?}; ids must be unique"
        );
        self.strategies.push(strategy);
        self
    }

    /// The strategies, in the order tables and charts list them.
    pub fn strategies(&self) -> &[&'static dyn Strategy] {
        &self.strategies
    }

    /// The strategy with this id.
    pub fn find(&self, id: &str) -> Option<&'static dyn Strategy> {
        self.strategies.iter().copied().find(|s| s.id() == id)
    }

    /// Every id, in order.
    pub fn ids(&self) -> Vec<&'static str> {
        self.strategies.iter().map(|s| s.id()).collect()
    }

    /// The colour and line pattern of strategy `id` in every chart: its own
    /// ([`Strategy::look`]) or, if it names none, the next spare look no strategy of this lab
    /// uses, in registration order.
    pub fn look(&self, id: &str) -> Option<Look> {
        self.looks().0.get(id).copied()
    }

    /// Every strategy's look.
    pub(crate) fn looks(&self) -> Looks {
        let taken: Vec<Look> = self.strategies.iter().filter_map(|s| s.look()).collect();
        let mut spare = SPARE.iter().filter(|l| !taken.contains(l)).cycle();
        let mut map = BTreeMap::new();
        for s in &self.strategies {
            let look = s
                .look()
                .or_else(|| spare.next().copied())
                .unwrap_or(SPARE[0]);
            map.insert(s.id().to_string(), look);
        }
        Looks(map)
    }

    /// Parse and validate a scenario: its own keys ([`Scenario`]) and, with this lab's
    /// strategies, the `strategies` list, every `[id]` table (through each strategy's
    /// [`Strategy::check`]) and what the simulator needs — for the scenario and every point of
    /// its `[sweep]`. A file without `strategies` runs every strategy of the lab.
    pub fn parse(&self, source: &Source<'_>) -> Result<Scenario, ScenarioError> {
        let mut scenario = Scenario::from_toml(source)?;
        let err = |message: String| ScenarioError {
            file: source.label.clone(),
            message,
        };
        self.complete(&mut scenario, source.text).map_err(&err)?;
        if let Some(plan) = &mut scenario.sweep {
            for point in &mut plan.points {
                let label = point.label(&plan.keys);
                self.complete(&mut point.scenario, source.text)
                    .map_err(|e| {
                        err(format!(
                            "sweep point {} ({}): {}",
                            point.index,
                            label,
                            crate::scenario::swept_hint(&e, &plan.keys, source.text)
                        ))
                    })?;
            }
        }
        Ok(scenario)
    }

    /// Read, parse and validate a scenario file (see [`Lab::parse`]).
    ///
    /// `-` reads standard input. A file larger than 1 MiB is refused
    /// (reading stops there: `/dev/zero` is not read to the end).
    pub fn load(&self, path: &Path) -> Result<Scenario, ScenarioError> {
        let stdin = path == Path::new("-");
        let label = if stdin {
            "<standard input>".to_string()
        } else {
            crate::scenario::escape(&path.display().to_string())
        };
        let err = |message: String| ScenarioError {
            file: label.clone(),
            message,
        };
        let mut bytes = Vec::new();
        let read = if stdin {
            std::io::Read::read_to_end(
                &mut std::io::Read::take(std::io::stdin().lock(), MAX_SCENARIO_BYTES + 1),
                &mut bytes,
            )
        } else {
            std::fs::File::open(path).and_then(|f| {
                std::io::Read::read_to_end(
                    &mut std::io::Read::take(f, MAX_SCENARIO_BYTES + 1),
                    &mut bytes,
                )
            })
        };
        read.map_err(|e| err(format!("cannot read the scenario file: {e}")))?;
        if bytes.len() as u64 > MAX_SCENARIO_BYTES {
            return Err(err(format!(
                "larger than {} KiB; a scenario file is a few hundred bytes of TOML",
                MAX_SCENARIO_BYTES / 1024
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            err(format!(
                "not UTF-8 text (byte {}); a scenario is a TOML file",
                e.utf8_error().valid_up_to()
            ))
        })?;
        self.parse(&Source { label, text: &text })
    }

    /// The quickstart scenario built into the crate (`scenarios/quickstart.toml`), for this
    /// lab's strategies.
    pub fn quickstart(&self) -> Result<Scenario, ScenarioError> {
        self.parse(&Source {
            label: "<embedded quickstart>".into(),
            text: crate::scenario::QUICKSTART,
        })
    }

    /// Fill in the strategy list and check everything that needs the registry.
    fn complete(&self, s: &mut Scenario, text: &str) -> Result<(), String> {
        let at = |path: &[&str]| format!("`{}`{}", path.join("."), line_of(text, path));
        let known = self.ids().join(", ");
        if !s.strategies_listed {
            s.strategies = self.ids().iter().map(|s| s.to_string()).collect();
        }
        for (i, id) in s.strategies.iter().enumerate() {
            if self.find(id).is_none() {
                return Err(format!(
                    "{}: unknown strategy \"{}\"; known strategies: {known}",
                    at(&["strategies", &i.to_string()]),
                    crate::scenario::shown(id)
                ));
            }
        }
        for id in s.strategy_tables.keys() {
            if self.find(id).is_none() {
                return Err(format!(
                    "`[{}]`{}: unknown table; a scenario has the tables {} and one `[<id>]` per strategy, for the strategies {known}",
                    crate::scenario::shown(id),
                    line_of(text, &[id]),
                    crate::scenario::SCENARIO_TABLES.join(", ")
                ));
            }
        }
        for strategy in &self.strategies {
            let settings = Settings::new(strategy.id(), s.strategy_table(strategy.id()));
            strategy
                .check(&settings, s)
                .map_err(|e| format!("{}: {}", at(&[strategy.id(), &e.field]), e.message))?;
        }
        crate::sim::check(s).map_err(|(path, message)| format!("{}: {message}", at(&path)))
    }

    /// The strategies a scenario names, in its order (every id was checked by [`Lab::parse`];
    /// an id this lab does not know is an error).
    pub(crate) fn strategies_of(&self, s: &Scenario) -> anyhow::Result<Vec<&'static dyn Strategy>> {
        s.strategies
            .iter()
            .map(|id| {
                self.find(id).ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown strategy \"{}\"; known strategies: {}",
                        crate::scenario::shown(id),
                        self.ids().join(", ")
                    )
                })
            })
            .collect()
    }

    /// What theory predicts for each strategy of `scenario` that has a closed form.
    pub fn predictions(&self, scenario: &Scenario) -> Vec<(String, Prediction)> {
        self.strategies_of(scenario)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| {
                let settings = Settings::new(s.id(), scenario.strategy_table(s.id()));
                Some((s.id().to_string(), s.model(scenario, &settings)?))
            })
            .collect()
    }

    /// What running `scenario` (every point of its sweep, or only `shard`'s) will cost, with
    /// `jobs` simulations at once (see [`crate::estimate`]).
    pub fn estimate(
        &self,
        scenario: &Scenario,
        shard: Option<crate::sweep::Shard>,
        jobs: usize,
    ) -> crate::estimate::Plan {
        let points: Vec<(String, &Scenario)> = match &scenario.sweep {
            None => vec![(scenario.name.clone(), scenario)],
            Some(plan) => plan
                .points
                .iter()
                .filter(|p| shard.is_none_or(|s| p.index % s.count == s.index))
                .map(|p| (format!("{} point {}", scenario.name, p.index), &p.scenario))
                .collect(),
        };
        let mut runs = Vec::new();
        for (label, s) in points {
            // request rates barely depend on the latency's spread; a constant latency keeps
            // the closed forms cheap
            let mut constant = s.clone();
            let max = s.network.latency_ms.max_ms;
            constant.network.latency_ms = crate::scenario::Latency {
                min_ms: max,
                max_ms: max,
            };
            for strategy in self.strategies_of(s).unwrap_or_default() {
                let settings = Settings::new(strategy.id(), s.strategy_table(strategy.id()));
                let prediction = strategy.model(&constant, &settings);
                let longest = strategy.longest_period(&settings).as_secs_f64();
                runs.push((
                    format!("{label} {}", strategy.id()),
                    crate::estimate::of_run(s, prediction.as_ref(), longest),
                ));
            }
        }
        crate::estimate::Plan { runs, jobs }
    }

    /// Check a scenario again before running it: its fields are public, so a library caller
    /// may have changed them after [`Lab::parse`] (a latency range with min above max would
    /// otherwise reach the simulator).
    pub(crate) fn check_again(&self, scenario: &Scenario) -> anyhow::Result<()> {
        self.recheck(scenario)
    }

    fn recheck(&self, scenario: &Scenario) -> anyhow::Result<()> {
        scenario
            .recheck()
            .and_then(|()| self.complete(&mut scenario.clone(), ""))
            .map_err(|e| anyhow::anyhow!("the scenario {} is not valid: {e}", scenario.name))
    }

    /// Simulate strategy `id` under `scenario` (one simulation, on this thread).
    pub fn run(&self, scenario: &Scenario, id: &str) -> anyhow::Result<RunResult> {
        self.recheck(scenario)?;
        let strategy = self.find(id).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown strategy \"{}\"; known strategies: {}",
                crate::scenario::shown(id),
                self.ids().join(", ")
            )
        })?;
        crate::sim::run(scenario, strategy)
    }

    /// Simulate every strategy of `scenario` on up to `jobs` threads; the results, in the
    /// scenario's order, do not depend on `jobs`.
    pub fn simulate(&self, scenario: &Scenario, jobs: usize) -> anyhow::Result<Vec<RunResult>> {
        self.recheck(scenario)?;
        let strategies = self.strategies_of(scenario)?;
        crate::runner::simulate(scenario, &strategies, jobs, &crate::runner::Silent)
    }

    /// Write the CSV files and charts of already simulated `results` under `out/<name>/`.
    pub fn write(
        &self,
        scenario: &Scenario,
        out: &Path,
        results: Vec<RunResult>,
    ) -> anyhow::Result<crate::runner::Written> {
        crate::runner::write_results(
            scenario,
            out,
            results,
            self.predictions(scenario),
            &self.looks(),
            None,
        )
    }

    /// [`Lab::write`] for a real run (`realtime-lab load`): to `out/<name>-real/`, its
    /// conditions line tagged `world = real`.
    pub fn write_real(
        &self,
        scenario: &Scenario,
        out: &Path,
        results: Vec<RunResult>,
        latency: bool,
    ) -> anyhow::Result<crate::runner::Written> {
        let mut named = scenario.clone();
        named.name = format!("{}-real", scenario.name);
        crate::runner::write_results(
            &named,
            out,
            results,
            self.predictions(scenario),
            &self.looks(),
            Some(crate::runner::world_label(latency)),
        )
    }

    /// [`Lab::write`] for one point of a sweep, its values (`label`) added to the conditions
    /// line every chart carries.
    pub(crate) fn write_point(
        &self,
        scenario: &Scenario,
        out: &Path,
        results: Vec<RunResult>,
        label: &str,
    ) -> anyhow::Result<crate::runner::Written> {
        crate::runner::write_results(
            scenario,
            out,
            results,
            self.predictions(scenario),
            &self.looks(),
            Some(label),
        )
    }
}

/// Lowercase words of ASCII letters and digits joined by single `-`.
pub(crate) fn is_kebab_case(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_case_ids() {
        for good in ["sse", "long-polling", "mqtt-over-ws", "http2-push"] {
            assert!(is_kebab_case(good), "{good}");
        }
        for bad in [
            "",
            "Long-polling",
            "long_polling",
            "-sse",
            "sse-",
            "a--b",
            "a b",
        ] {
            assert!(!is_kebab_case(bad), "{bad}");
        }
    }

    /// Built-ins keep their own looks; strategies without one get distinct spare looks that
    /// no built-in uses.
    #[test]
    fn strategies_without_a_look_get_distinct_spare_ones() {
        let lab = Lab::builtin();
        let builtin: Vec<Look> = lab.ids().iter().map(|id| lab.look(id).unwrap()).collect();
        for (i, a) in builtin.iter().enumerate() {
            for b in &builtin[i + 1..] {
                assert_ne!(a.color, b.color);
            }
        }
        assert_eq!(lab.look("sse").unwrap().hex(), "#d55e00");
    }
}
