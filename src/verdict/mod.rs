//! How a run ended (pure): the outcome, its exit code, the report, and how CI reads it.

pub mod decision;
pub mod github;
pub mod history;
pub mod hook_answer;
pub mod junit;
pub mod outcome;
pub mod rails;
pub mod record;
pub mod rendered;
pub mod report;
pub mod revert;
pub mod transcript;
