//! Everything after the simulation: files and terminal tables, all computed from
//! [`crate::RunResult`]s.

pub mod csv;
pub mod table;
