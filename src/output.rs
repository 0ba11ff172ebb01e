//! The only place that prints. stdout: container logs and the result; stderr: progress and
//! diagnostics. With `--output json`, stdout holds exactly one JSON document and the
//! container logs go to stderr.

use std::fmt::Display;
use std::io::Write;

use serde_json::Value;

use crate::cli::OutputFormat;
use crate::error::Error;
use crate::report::Report;

#[derive(Debug, Clone, Copy)]
pub struct Output {
    format: OutputFormat,
}

impl Output {
    pub fn new(format: OutputFormat) -> Self {
        Self { format }
    }

    pub fn progress(&self, msg: impl Display) {
        let _ = writeln!(std::io::stderr().lock(), "ecs-migrate: {msg}");
    }

    pub fn warn(&self, msg: impl Display) {
        let _ = writeln!(std::io::stderr().lock(), "ecs-migrate: warning: {msg}");
    }

    pub fn error(&self, err: &Error) {
        let _ = writeln!(std::io::stderr().lock(), "ecs-migrate: error: {err}");
    }

    /// One container log line, as it arrives.
    pub fn log_line(&self, line: &str) {
        match self.format {
            OutputFormat::Text => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            OutputFormat::Json => {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
        }
    }

    /// A JSON document on stdout (dry-run plans, results).
    pub fn json(&self, value: &Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
        let _ = out.flush();
    }

    /// The final result: JSON on stdout, or the summary on stderr. In text mode an error
    /// before anything was launched is just its one line.
    pub fn report(&self, report: &Report) {
        if let Some(e) = &report.error {
            let _ = writeln!(std::io::stderr().lock(), "ecs-migrate: error: {e}");
        }
        match self.format {
            OutputFormat::Json => self.json(&report.to_json()),
            OutputFormat::Text if report.task_arn.is_none() && report.error.is_some() => {}
            OutputFormat::Text => {
                let mut err = std::io::stderr().lock();
                for line in report.summary_lines() {
                    let _ = writeln!(err, "ecs-migrate: {line}");
                }
            }
        }
    }
}
