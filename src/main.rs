//! ecs-migrate: parse → validate → run → exit with the container's code.

mod aws;
mod cli;
mod config;
mod error;
mod exit;
mod follow;
mod image;
mod launch;
mod logs;
mod network;
mod outcome;
mod output;
mod overrides;
mod preflight;
mod rawjson;
mod render;
mod report;
mod run;
mod signals;
mod taskdef;

use clap::Parser;

use crate::cli::{Cli, Command, OutputFormat};
use crate::outcome::Outcome;
use crate::output::Output;
use crate::report::Report;

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ECS_MIGRATE_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(async_main(cli));
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
        Command::Run(args) => {
            let out = Output::new(args.output);
            let mut report = Report::default();
            let result = async {
                let plan = config::run_plan(&args)?;
                let mut signals = signals::listen(exit_now).map_err(|e| {
                    error::Error::before_run(format!("cannot install signal handlers: {e}"))
                })?;
                run::run(&plan, &args.aws, &out, &mut signals, &mut report).await
            }
            .await;
            match result {
                Ok(Some(())) => {
                    out.report(&report);
                    report.process_exit_code
                }
                Ok(None) => exit::SUCCESS,
                Err(e) => {
                    out.error(&e);
                    if args.output == OutputFormat::Json {
                        report.outcome = Some(Outcome::LaunchFailed);
                        report.process_exit_code = e.exit_code();
                        report.error = Some(e.to_string());
                        out.report(&report);
                    }
                    e.exit_code()
                }
            }
        }
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
