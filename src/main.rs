//! ecs-migrate: parse → validate → run → exit with the code the outcome decides.

mod aws;
mod cli;
mod commands;
mod config;
mod error;
mod exit;
mod guard;
#[cfg(test)]
mod layers;
mod output;
mod plan;
#[cfg(test)]
mod proptests;
mod sanitize;
mod signals;
mod steps;
mod verdict;

use std::io::IsTerminal;
use std::panic::{AssertUnwindSafe, catch_unwind};

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, OutputFormat};
use crate::output::{Format, Output};
use crate::plan::job::{Job, Printing, Shape};
use crate::verdict::outcome::Outcome;
use crate::verdict::rendered::Rendered;
use crate::verdict::report::Report;

fn main() {
    // the same binary, named `bootstrap`, is the Lambda lifecycle hook (docs/pipeline.md)
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        tracing_init(false);
        std::process::exit(runtime().block_on(commands::lambda::serve()));
    }
    let (shape, json) = lenient();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if e.use_stderr() && json {
                let first = e.to_string();
                let first = first.lines().next().unwrap_or_default();
                json_result(
                    shape,
                    Outcome::UsageError,
                    first.strip_prefix("error: ").unwrap_or(first),
                );
            }
            e.exit()
        }
    };
    // colour only on a terminal, and never when NO_COLOR is set (no-color.org)
    tracing_init(
        std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    );
    let (printing, job) = config::job(cli.command);
    let runtime = runtime();
    let code = match catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(execute(printing.clone(), job))
    })) {
        Ok(code) => code,
        // a panic after launch must not orphan the task
        Err(_) => match runtime.block_on(guard::stop_after_panic()) {
            Some(lines) => {
                let out = Output::new(Format::Text);
                lines.iter().for_each(|l| out.warn(l));
                exit_with(printing, Outcome::LostTrack, &lines.join("; "))
            }
            None => exit_with(
                printing,
                Outcome::LaunchFailed,
                "internal error before any task was launched",
            ),
        },
    };
    std::process::exit(code);
}

/// Diagnostics (ECS_MIGRATE_LOG) on stderr; `colour` only on a terminal, and never when
/// NO_COLOR is set (no-color.org).
fn tracing_init(colour: bool) {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ECS_MIGRATE_LOG"))
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The job, raced against a second SIGINT, which exits at once (the first one stops the task).
async fn execute(printing: Printing, job: error::Result<Job>) -> i32 {
    if !job.as_ref().is_ok_and(Job::launches) {
        return commands::execute(printing, job, None).await;
    }
    let listening = match signals::listen() {
        Ok(l) => l,
        Err(e) => {
            let e = error::Error::before_run(format!("cannot install signal handlers: {e}"));
            return commands::execute(printing, Err(e), None).await;
        }
    };
    tokio::select! {
        biased;
        Ok(()) = listening.second_interrupt => {
            let msg = match guard::task_arn() {
                Some(arn) => format!("second SIGINT, exiting now; task {arn} may still be running"),
                None => "second SIGINT, exiting now".to_string(),
            };
            Output::new(Format::Text).warn(&msg);
            exit_with(printing, Outcome::Interrupted, &msg)
        }
        code = commands::execute(printing.clone(), job, Some(listening.signals)) => code,
    }
}

/// The subcommand's result shape and whether `--output json` (or ECS_MIGRATE_OUTPUT=json) was
/// asked, read before the real parse so that even a usage error answers with a JSON document:
/// by clap, ignoring errors, and where a bad value stopped it early, from our own arguments,
/// which end at `--` (what follows is the container's command, never ours).
fn lenient() -> (Shape, bool) {
    let args: Vec<String> = std::env::args().take_while(|a| a != "--").collect();
    let shape = match args.get(1).map(String::as_str) {
        Some("render") => Shape::Render,
        Some("iam-policy") => Shape::Policy,
        Some("history") => Shape::History,
        _ => Shape::Migration,
    };
    let by_clap = Cli::command()
        .ignore_errors(true)
        .try_get_matches()
        .ok()
        .and_then(|m| {
            let (_, sub) = m.subcommand()?;
            sub.try_get_one::<OutputFormat>("output")
                .ok()
                .flatten()
                .copied()
        })
        .is_some_and(|f| f == OutputFormat::Json);
    let by_hand = args
        .windows(2)
        .any(|w| w[0] == "--output" && w[1] == "json")
        || args.iter().any(|a| a == "--output=json")
        || std::env::var("ECS_MIGRATE_OUTPUT").is_ok_and(|v| v == "json");
    (shape, by_clap || by_hand)
}

/// The paths that end without a command's result: its JSON document, when one was asked for.
fn exit_with(printing: Printing, outcome: Outcome, error: &str) -> i32 {
    if printing.json {
        json_result(printing.shape, outcome, error);
    }
    outcome.exit_code(None)
}

fn json_result(shape: Shape, outcome: Outcome, error: &str) {
    let doc = match shape {
        Shape::Render => Rendered {
            outcome: Some(outcome),
            error: Some(error.to_string()),
            ..Default::default()
        }
        .to_json(),
        Shape::History => crate::verdict::history::failed_json(outcome, error),
        _ => Report {
            outcome: Some(outcome),
            error: Some(error.to_string()),
            task_arn: guard::task_arn(),
            ..Default::default()
        }
        .to_json(),
    };
    Output::new(Format::Json).json(&doc);
}
