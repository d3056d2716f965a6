//! The canvas every chart is drawn on: its size, the bundled font, the drawing-area type.

use std::sync::Once;

use plotters::prelude::*;

/// Chart size in pixels (16:9, a slide).
pub const SIZE: (u32, u32) = (1600, 900);

static FONTS: Once = Once::new();

/// Register the bundled font under the family name every chart uses.
pub(crate) fn register_fonts() {
    FONTS.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
        for style in [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ] {
            // the bytes are a valid TrueType font (tested), so this cannot fail
            let _ = plotters::style::register_font("sans-serif", style, bytes);
        }
    });
}

/// A drawing area in pixels.
pub(crate) type Area<'a, DB> = DrawingArea<DB, plotters::coord::Shift>;
