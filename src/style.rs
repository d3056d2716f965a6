//! How a strategy is drawn: one colour and one line pattern, the same in every chart and
//! notebook. Plain data (no plotting here), so a strategy can name its look in its own file.
//!
//! Colours come from the Okabe–Ito palette (Okabe & Ito, *Color Universal Design*, 2008),
//! which stays distinguishable with the common colour-vision deficiencies; the line pattern
//! keeps charts readable when printed in grey.

/// A line pattern.
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
    /// Line and bar colour, `(red, green, blue)`.
    pub color: (u8, u8, u8),
    /// Line pattern.
    pub dash: Dash,
}

impl Look {
    /// `#rrggbb`, for notebooks and HTML.
    pub fn hex(&self) -> String {
        let (r, g, b) = self.color;
        format!("#{r:02x}{g:02x}{b:02x}")
    }
}

/// The Okabe–Ito colours by name.
pub mod okabe_ito {
    /// Orange (short polling).
    pub const ORANGE: (u8, u8, u8) = (230, 159, 0);
    /// Sky blue (long polling).
    pub const SKY_BLUE: (u8, u8, u8) = (86, 180, 233);
    /// Bluish green (WebSocket).
    pub const BLUISH_GREEN: (u8, u8, u8) = (0, 158, 115);
    /// Vermillion (SSE).
    pub const VERMILLION: (u8, u8, u8) = (213, 94, 0);
    /// Reddish purple (server callback).
    pub const REDDISH_PURPLE: (u8, u8, u8) = (204, 121, 167);
    /// Blue (spare).
    pub const BLUE: (u8, u8, u8) = (0, 114, 178);
    /// Yellow (spare; weak on white, used last).
    pub const YELLOW: (u8, u8, u8) = (240, 228, 66);
    /// Black (spare).
    pub const BLACK: (u8, u8, u8) = (0, 0, 0);
}

/// Looks no built-in strategy uses, in the order strategies without a look of their own take
/// them (see [`crate::Lab::look`]): spare colours first with each pattern, then the built-in
/// colours with patterns the built-ins do not combine them with.
pub(crate) const SPARE: [Look; 12] = {
    use okabe_ito::*;
    const fn l(color: (u8, u8, u8), dash: Dash) -> Look {
        Look { color, dash }
    }
    [
        l(BLUE, Dash::Solid),
        l(BLACK, Dash::Short),
        l(YELLOW, Dash::Solid),
        l(BLUE, Dash::Dotted),
        l(BLACK, Dash::Long),
        l(BLUE, Dash::Short),
        l(BLACK, Dash::Dotted),
        l(ORANGE, Dash::Dotted),
        l(SKY_BLUE, Dash::Short),
        l(BLUISH_GREEN, Dash::Solid),
        l(VERMILLION, Dash::Long),
        l(REDDISH_PURPLE, Dash::Short),
    ]
};
