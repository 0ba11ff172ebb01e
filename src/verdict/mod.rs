//! How a run ended (pure): the outcome, its exit code, and the report.

pub mod decision;
pub mod outcome;
pub mod rendered;
pub mod report;
