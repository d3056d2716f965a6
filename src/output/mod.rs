//! Everything after the simulation: files and terminal tables, all computed from
//! [`crate::RunResult`]s.

pub mod charts;
pub mod csv;
pub mod palette;
pub mod table;
