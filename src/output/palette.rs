//! The look of every strategy in a chart: the [`crate::style::Look`]s a [`crate::Lab`] gives
//! its strategies, as plotters colours.

use std::collections::BTreeMap;

use plotters::style::RGBColor;

pub use crate::style::Dash;
use crate::style::SPARE;

/// How one strategy's lines are drawn in plotters' terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// Line and bar colour.
    pub color: RGBColor,
    /// Line pattern.
    pub dash: Dash,
}

/// The looks of the strategies of one chart set, by id. A strategy missing from the map (a
/// CSV file written by another program with its own strategies) takes a spare look by its
/// position among the chart's strategies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Looks(pub BTreeMap<String, crate::style::Look>);

impl Looks {
    /// The look of strategy `id`, the `index`-th strategy of its chart.
    pub fn get(&self, id: &str, index: usize) -> Look {
        let l = self
            .0
            .get(id)
            .copied()
            .unwrap_or(SPARE[index % SPARE.len()]);
        let (r, g, b) = l.color;
        Look {
            color: RGBColor(r, g, b),
            dash: l.dash,
        }
    }
}
