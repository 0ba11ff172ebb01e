//! One file per subcommand, each a short table of contents of the steps it takes. `execute`
//! runs the one the command line asked for, prints its result and returns the exit code.

pub mod gate;
pub mod history;
pub mod lambda;
pub mod logs;
pub mod render;
pub mod revert;
pub mod run;

use crate::error::{Error, Result};
use crate::exit;
use crate::output::{Format, Output};
use crate::plan::iam;
use crate::plan::job::{Job, Printing, Shape};
use crate::signals::{self, Aborts};
use crate::verdict::outcome::Outcome;
use crate::verdict::rendered::Rendered;
use crate::verdict::report::Report;

/// Runs the job (`signals`: SIGINT/SIGTERM, for the commands that launch a task) and prints
/// its result; the exit code is the result's.
pub async fn execute(
    printing: Printing,
    job: Result<Job>,
    mut signals: Option<signals::Receiver>,
) -> i32 {
    let format = if printing.json {
        Format::Json
    } else {
        Format::Text
    };
    let started = std::time::Instant::now();
    let out = Output::new(format)
        .with_logs(printing.raw_logs, printing.github_actions)
        .with_ci(printing.command, printing.ci.clone());
    let reported = |out: &Output, mut report: Report| {
        report.elapsed_seconds = Some(started.elapsed().as_secs_f64());
        reported(out, &report)
    };
    let job = match job {
        Ok(job) => job,
        Err(e) => return failed(printing.shape, &out, &e),
    };
    let timeout = job.timeout();
    let mut aborts = || aborts(signals.take(), timeout);
    match &job {
        Job::Run(plan) => match run::run(plan, &out, &mut aborts()).await {
            run::Ran::DryRun => exit::SUCCESS,
            run::Ran::Report(report) => reported(&out, *report),
        },
        Job::Gate(plan) => reported(&out, gate::gate(plan, &out, &mut aborts()).await),
        Job::Render(plan) => rendered(&out, &render::render_command(plan, &out).await),
        Job::History(plan) => match history::history(plan, &out).await {
            Ok(()) => exit::SUCCESS,
            Err(e) => failed(printing.shape, &out, &e),
        },
        Job::Logs(plan) => reported(&out, logs::logs(plan, &out, &mut aborts()).await),
        Job::Revert(plan) => match revert::revert(plan, &out, &mut aborts()).await {
            run::Ran::DryRun => exit::SUCCESS,
            run::Ran::Report(report) => reported(&out, *report),
        },
        Job::IamPolicy(commands, scope) => {
            out.json(&iam::policy(commands, scope));
            exit::SUCCESS
        }
        Job::Text(text) => {
            out.text(text);
            exit::SUCCESS
        }
    }
}

/// SIGINT/SIGTERM and the `--timeout` deadline, from now.
fn aborts(signals: Option<signals::Receiver>, timeout: Option<std::time::Duration>) -> Aborts {
    let signals = signals.unwrap_or_else(|| tokio::sync::mpsc::unbounded_channel().1);
    let label = timeout
        .map(|t| format!("--timeout {}", humantime::format_duration(t)))
        .unwrap_or_default();
    Aborts::new(signals, timeout.map(|t| tokio::time::Instant::now() + t)).labelled(label)
}

fn reported(out: &Output, report: &Report) -> i32 {
    out.report(report);
    report.process_exit_code()
}

fn rendered(out: &Output, rendered: &Rendered) -> i32 {
    if let Some(e) = &rendered.error {
        out.error_line(e);
    }
    if out.format == Format::Json {
        out.json(&rendered.to_json());
    }
    rendered.process_exit_code()
}

/// A command line that makes no valid plan: its error, in the command's result shape.
fn failed(shape: Shape, out: &Output, e: &Error) -> i32 {
    match shape {
        Shape::Migration => {
            let mut report = Report::default();
            report.fail(e);
            reported(out, &report)
        }
        Shape::Render => rendered(
            out,
            &Rendered {
                outcome: Some(Outcome::of(e)),
                error: Some(e.to_string()),
                ..Default::default()
            },
        ),
        Shape::Policy => {
            out.error_line(e);
            Outcome::of(e).exit_code(None)
        }
        Shape::History => {
            out.error_line(e);
            if out.format == Format::Json {
                out.json(&crate::verdict::history::failed_json(
                    Outcome::of(e),
                    &e.to_string(),
                ));
            }
            Outcome::of(e).exit_code(None)
        }
    }
}
