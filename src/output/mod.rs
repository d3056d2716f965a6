//! Everything after the simulation: files and terminal tables, all computed from
//! [`crate::RunResult`]s.

pub mod charts;
pub mod csv;
pub mod folder;
pub mod palette;
pub(crate) mod read;
pub mod table;

/// The tag a real run's conditions line (and so every chart title) carries (`realtime-lab
/// load`): its charts' time axes say real time.
pub const WORLD_TAG: &str = "world = real";
