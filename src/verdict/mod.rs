//! How a run ended (pure): the outcome, its exit code, and the report.

pub mod decision;
pub mod history;
pub mod hook_answer;
pub mod outcome;
pub mod rails;
pub mod record;
pub mod rendered;
pub mod report;
pub mod revert;
