//! One colour and one line style per strategy, used by every chart (and the notebooks).
//!
//! Colours are the Okabe–Ito palette, distinguishable with the common colour-vision
//! deficiencies; each strategy also has its own line pattern so charts still read when printed
//! in grey.

use plotters::style::RGBColor;

/// How a strategy's lines are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dash {
    /// A continuous line.
    Solid,
    /// Long dashes.
    Long,
    /// Short dashes.
    Short,
    /// Dots.
    Dotted,
}

/// The look of one strategy in every chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// Line and bar colour.
    pub color: RGBColor,
    /// Line pattern.
    pub dash: Dash,
}

/// The Okabe–Ito colours no built-in strategy uses, in the order strategies without a fixed
/// colour take them.
const SPARE: [RGBColor; 3] = [
    RGBColor(0, 114, 178),  // blue
    RGBColor(240, 228, 66), // yellow
    RGBColor(0, 0, 0),      // black
];

/// The look of strategy `id`; `index` (its position in the run) picks a spare colour for a
/// strategy that has no fixed one.
pub fn look(id: &str, index: usize) -> Look {
    let (color, dash) = match id {
        "short-polling" => (RGBColor(230, 159, 0), Dash::Solid), // orange
        "long-polling" => (RGBColor(86, 180, 233), Dash::Long),  // sky blue
        "websocket" => (RGBColor(0, 158, 115), Dash::Short),     // bluish green
        "sse" => (RGBColor(213, 94, 0), Dash::Dotted),           // vermillion
        "server-callback" => (RGBColor(204, 121, 167), Dash::Long), // reddish purple
        _ => (
            SPARE[index % SPARE.len()],
            [Dash::Solid, Dash::Short, Dash::Long, Dash::Dotted][index % 4],
        ),
    };
    Look { color, dash }
}

/// `#rrggbb` of a colour, for notebooks and HTML.
pub fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_strategies_have_distinct_colours_and_patterns() {
        let ids = ["short-polling", "long-polling", "websocket", "sse"];
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                assert_ne!(look(a, 0).color, look(b, 0).color, "{a} / {b}");
                assert_ne!(look(a, 0).dash, look(b, 0).dash, "{a} / {b}");
            }
        }
        assert_eq!(hex(look("sse", 0).color), "#d55e00");
    }
}
