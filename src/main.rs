//! ecs-migrate: parse → validate → run → exit with the code the outcome decides.

mod aws;
mod cli;
mod config;
mod error;
mod exit;
mod follow;
mod guard;
mod image;
mod launch;
mod network;
mod outcome;
mod output;
mod overrides;
mod preflight;
mod rawjson;
mod render;
mod report;
mod resolve;
mod run;
mod sanitize;
mod signals;
mod taskdef;

use std::io::IsTerminal;
use std::panic::{AssertUnwindSafe, catch_unwind};

use clap::Parser;

use crate::cli::{Cli, Command, OutputFormat, RunArgs};
use crate::output::Output;
use crate::report::Report;
use crate::run::Ran;
use crate::signals::Aborts;

fn main() {
    let cli = Cli::parse();
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
                exit::LOST_TRACK
            }
            None => exit::LAUNCH_FAILED,
        },
    };
    std::process::exit(code);
}

fn exit_now() -> ! {
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        b"ecs-migrate: second SIGINT, exiting now (the task may still be running)\n",
    );
    std::process::exit(exit::INTERRUPTED)
}

async fn async_main(cli: Cli) -> i32 {
    match cli.command {
        Command::Run(args) => run_command(&args).await,
        Command::Render(args) => {
            let out = Output::new(OutputFormat::Text);
            match render::command(&args, &out).await {
                Ok(()) => exit::SUCCESS,
                Err(e) => {
                    out.error(&e);
                    e.exit_code()
                }
            }
        }
    }
}

async fn run_command(args: &RunArgs) -> i32 {
    let github_actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let out = Output::new(args.output).with_logs(args.raw_logs, github_actions);
    let ran = match config::run_plan(args) {
        Err(e) => failed(e),
        Ok(plan) => match signals::listen(exit_now) {
            Err(e) => failed(error::Error::before_run(format!(
                "cannot install signal handlers: {e}"
            ))),
            Ok(rx) => {
                let deadline = plan.timeout.map(|t| tokio::time::Instant::now() + t);
                let mut aborts = Aborts::new(rx, deadline);
                run::run(&plan, &args.aws, &out, &mut aborts).await
            }
        },
    };
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
