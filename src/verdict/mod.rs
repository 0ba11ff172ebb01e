//! How a run ended (pure): the outcome, its exit code, and the report.

pub mod outcome;
pub mod report;
