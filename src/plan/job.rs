//! What the command line asks for, validated: one command's plan, and how to print.

use std::path::PathBuf;

use crate::plan::iam;
use crate::plan::migration::{GatePlan, RunPlan};
use crate::plan::record::{HistoryPlan, LogsPlan, RevertPlan};
use crate::plan::render::RenderPlan;

/// One command and its plan.
#[derive(Debug)]
pub enum Job {
    Run(Box<RunPlan>),
    Gate(Box<GatePlan>),
    Render(Box<RenderPlan>),
    History(Box<HistoryPlan>),
    Logs(Box<LogsPlan>),
    Revert(Box<RevertPlan>),
    IamPolicy(Vec<iam::Command>, Box<iam::Scope>),
    /// Text to print as it is (a shell completion script, the man page).
    Text(String),
}

impl Job {
    /// Run, gate and revert launch a task: signals and the deadline must reach it (and
    /// `logs --follow` detaches on them).
    pub fn launches(&self) -> bool {
        match self {
            Job::Run(_) | Job::Gate(_) | Job::Revert(_) => true,
            Job::Logs(p) => p.follow.is_some(),
            _ => false,
        }
    }

    /// The `--timeout` deadline, if any.
    pub fn timeout(&self) -> Option<std::time::Duration> {
        match self {
            Job::Run(p) => p.timeout,
            Job::Gate(p) => p.run.timeout,
            Job::Revert(p) => p.run.timeout,
            Job::Logs(p) => p.follow.as_ref().and_then(|f| f.timeout),
            _ => None,
        }
    }
}

/// How the result is printed, known even when the plan is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printing {
    /// One JSON document on stdout (`--output json`).
    pub json: bool,
    /// Container lines as they are (`--raw-logs`).
    pub raw_logs: bool,
    /// Under GitHub Actions: container lines fenced with `::stop-commands::`.
    pub github_actions: bool,
    /// The shape of the JSON document.
    pub shape: Shape,
    /// The subcommand's name, as CI's annotation and report say it (`run`, `gate`).
    pub command: &'static str,
    /// Where CI reads the result, besides stdout and stderr.
    pub ci: Ci,
}

/// The files CI reads a migration's result from; each is written once, at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ci {
    /// `$GITHUB_STEP_SUMMARY`, under GitHub Actions: the job summary (appended).
    pub step_summary: Option<PathBuf>,
    /// `$GITHUB_OUTPUT`, under GitHub Actions: the step outputs (appended).
    pub step_outputs: Option<PathBuf>,
    /// `--junit FILE`: the JUnit XML report (replaced).
    pub junit: Option<PathBuf>,
}

/// Which result a command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A migration's report (run, gate).
    Migration,
    /// What render wrote.
    Render,
    /// The IAM policy itself.
    Policy,
    /// The list of recorded migrations.
    History,
}
