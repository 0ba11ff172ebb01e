//! ecs-migrate: parse → validate → run → exit with the code the outcome decides.

mod aws;
mod cli;
mod commands;
mod config;
mod error;
mod exit;
mod guard;
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
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;

use crate::cli::{Cli, Command, GateArgs, MigrationArgs, OutputFormat, RunArgs};
use crate::commands::run::Ran;
use crate::commands::{gate, render, run};
use crate::output::Output;
use crate::plan::iam;
use crate::signals::Aborts;
use crate::verdict::outcome::Outcome;
use crate::verdict::report::Report;

/// `--output json` was asked: every exit path then prints one JSON document on stdout.
static JSON: AtomicBool = AtomicBool::new(false);

fn main() {
    JSON.store(wants_json(), Ordering::Relaxed);
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if e.use_stderr() {
                let first = e.to_string();
                let first = first.lines().next().unwrap_or_default();
                let msg = first.strip_prefix("error: ").unwrap_or(first);
                json_result(Outcome::UsageError, msg);
            }
            e.exit()
        }
    };
    // colour only on a terminal, and never when NO_COLOR is set (no-color.org)
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ECS_MIGRATE_LOG"))
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = match catch_unwind(AssertUnwindSafe(|| runtime.block_on(async_main(cli)))) {
        Ok(code) => code,
        // a panic after launch must not orphan the task
        Err(_) => match runtime.block_on(guard::stop_after_panic()) {
            Some(lines) => {
                let out = Output::new(OutputFormat::Text);
                lines.iter().for_each(|l| out.warn(l));
                json_result(Outcome::LostTrack, &lines.join("; "));
                exit::LOST_TRACK
            }
            None => {
                json_result(
                    Outcome::LaunchFailed,
                    "internal error before any task was launched",
                );
                exit::LAUNCH_FAILED
            }
        },
    };
    std::process::exit(code);
}

fn exit_now() -> ! {
    let arn = guard::task_arn();
    let msg = match &arn {
        Some(arn) => format!("second SIGINT, exiting now; task {arn} may still be running"),
        None => "second SIGINT, exiting now".to_string(),
    };
    Output::new(OutputFormat::Text).warn(&msg);
    json_result(Outcome::Interrupted, &msg);
    std::process::exit(exit::INTERRUPTED)
}

/// `--output json` / `--output=json` / ECS_MIGRATE_OUTPUT=json, read before parsing, so that
/// even a usage error answers with a JSON document. Only ecs-migrate's own flags count: what
/// follows `--` is the container's command.
fn wants_json() -> bool {
    let args: Vec<String> = std::env::args().take_while(|a| a != "--").collect();
    let flag = args
        .windows(2)
        .any(|w| w[0] == "--output" && w[1] == "json")
        || args.iter().any(|a| a == "--output=json");
    flag || std::env::var("ECS_MIGRATE_OUTPUT").is_ok_and(|v| v == "json")
}

/// The subcommand named on the command line (before parsing, for the usage-error document).
fn subcommand() -> Option<String> {
    std::env::args().nth(1)
}

/// On the paths that end without a run's report: the JSON document, when one was asked for.
fn json_result(outcome: Outcome, error: &str) {
    if JSON.load(Ordering::Relaxed) && subcommand().as_deref() == Some("render") {
        let rendered = render::Rendered {
            outcome: Some(outcome),
            error: Some(error.to_string()),
            ..Default::default()
        };
        Output::new(OutputFormat::Json).json(&rendered.to_json());
    } else if JSON.load(Ordering::Relaxed) {
        let report = Report {
            outcome: Some(outcome),
            error: Some(error.to_string()),
            task_arn: guard::task_arn(),
            ..Default::default()
        };
        Output::new(OutputFormat::Json).json(&report.to_json());
    }
}

async fn async_main(cli: Cli) -> i32 {
    match cli.command {
        Command::Run(args) => run_command(&args).await,
        Command::Gate(args) => gate_command(&args).await,
        Command::Render(args) => render_command(&args).await,
        Command::IamPolicy(args) => match config::iam_plan(&args) {
            Ok((commands, scope)) => {
                Output::new(OutputFormat::Json).json(&iam::policy(&commands, &scope));
                exit::SUCCESS
            }
            Err(e) => {
                Output::new(OutputFormat::Text).error_line(&e);
                e.outcome().exit_code(None)
            }
        },
    }
}

async fn render_command(args: &cli::RenderArgs) -> i32 {
    let out = Output::new(args.output);
    let rendered = match config::render_plan(args) {
        Ok(plan) => render::command(&plan, &args.aws, &out).await,
        Err(e) => render::Rendered {
            outcome: Some(e.outcome()),
            error: Some(e.to_string()),
            ..Default::default()
        },
    };
    if let Some(e) = &rendered.error {
        out.error_line(e);
    }
    if args.output == OutputFormat::Json {
        out.json(&rendered.to_json());
    }
    rendered.process_exit_code()
}

async fn run_command(args: &RunArgs) -> i32 {
    let out = output_for(&args.migration);
    let ran = match config::run_plan(args).and_then(|plan| Ok((aborts_for(plan.timeout)?, plan))) {
        Err(e) => failed(e),
        Ok((mut aborts, plan)) => run::run(&plan, &args.migration.aws, &out, &mut aborts).await,
    };
    finish(&out, ran)
}

async fn gate_command(args: &GateArgs) -> i32 {
    let out = output_for(&args.migration);
    let ran = match config::gate_plan(args)
        .and_then(|plan| Ok((aborts_for(plan.run.timeout)?, plan)))
    {
        Err(e) => failed(e),
        Ok((mut aborts, plan)) => gate::gate(&plan, &args.migration.aws, &out, &mut aborts).await,
    };
    finish(&out, ran)
}

fn output_for(args: &MigrationArgs) -> Output {
    let github_actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    Output::new(args.output).with_logs(args.raw_logs, github_actions)
}

/// SIGINT/SIGTERM and the `--timeout` deadline, from now.
fn aborts_for(timeout: Option<std::time::Duration>) -> error::Result<Aborts> {
    let rx = signals::listen(exit_now)
        .map_err(|e| error::Error::before_run(format!("cannot install signal handlers: {e}")))?;
    let label = timeout
        .map(|t| format!("--timeout {}", humantime::format_duration(t)))
        .unwrap_or_default();
    Ok(Aborts::new(rx, timeout.map(|t| tokio::time::Instant::now() + t)).labelled(label))
}

fn finish(out: &Output, ran: Ran) -> i32 {
    match ran {
        Ran::DryRun => exit::SUCCESS,
        Ran::Report(report) => {
            out.report(&report);
            report.process_exit_code()
        }
    }
}

fn failed(e: error::Error) -> Ran {
    let mut report = Report::default();
    report.fail(&e);
    Ran::Report(Box::new(report))
}
