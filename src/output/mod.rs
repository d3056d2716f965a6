//! Everything after the simulation: files and terminal tables, all computed from
//! [`crate::RunResult`]s.

pub mod charts;
pub mod csv;
pub mod folder;
pub mod palette;
pub(crate) mod read;
pub mod table;
