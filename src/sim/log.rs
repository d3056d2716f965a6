//! One-line log messages of a real run or `serve` (re-exported as `live::log`), on standard
//! error: what a server refused or dropped, and why.

use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Silence log lines (tests that provoke hundreds of refusals on purpose).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Print one log line, stamped with the run's clock (seconds since it started).
pub fn line(message: std::fmt::Arguments<'_>) {
    if QUIET.load(Ordering::Relaxed) {
        return;
    }
    let ms = crate::metrics::now_ms();
    eprintln!("[{:>4}.{:03} s] {message}", ms / 1000, ms % 1000);
}
