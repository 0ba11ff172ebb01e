//! The only place that prints. stdout: container logs and the result; stderr: progress and
//! diagnostics. With `--output json`, stdout holds exactly one JSON document and the
//! container logs go to stderr.

use std::fmt::Display;
use std::io::Write;

use serde_json::Value;

use crate::plan::arn::id_of;
use crate::plan::job::Ci;
use crate::sanitize;
use crate::verdict::report::Report;
use crate::verdict::{github, junit};

/// `text`: logs on stdout, the summary on stderr; `json`: one JSON document on stdout, the
/// logs on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Output {
    pub format: Format,
    /// Print container lines as they are (`--raw-logs`), control characters included.
    raw_logs: bool,
    /// Under GitHub Actions: container output may not issue workflow commands; this token
    /// turns them back on after the logs (`::stop-commands::TOKEN` … `::TOKEN::`).
    stop_commands: Option<String>,
    /// Prints nothing (unit tests, whose harness does not capture direct stderr writes).
    silent: bool,
    /// The subcommand, as CI's annotation and reports name it.
    command: &'static str,
    /// The files CI reads the result from (GitHub's job summary and outputs, JUnit).
    ci: Ci,
}

impl Output {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            raw_logs: false,
            stop_commands: None,
            silent: false,
            command: "run",
            ci: Ci::default(),
        }
    }

    #[cfg(test)]
    pub fn silent() -> Self {
        Self {
            silent: true,
            ..Self::new(Format::Text)
        }
    }

    /// How container lines are printed: raw or neutralised, and fenced for GitHub Actions.
    pub fn with_logs(mut self, raw_logs: bool, github_actions: bool) -> Self {
        self.raw_logs = raw_logs;
        self.stop_commands = github_actions.then(|| uuid::Uuid::new_v4().simple().to_string());
        self
    }

    /// Where CI reads the result (written once, by `report`), and the command's name there.
    pub fn with_ci(mut self, command: &'static str, ci: Ci) -> Self {
        self.command = command;
        self.ci = ci;
        self
    }

    /// Where container lines go: stdout in text mode, stderr with `--output json`.
    fn log_stream(&self) -> Box<dyn Write> {
        match self.format {
            Format::Text => Box::new(std::io::stdout().lock()),
            Format::Json => Box::new(std::io::stderr().lock()),
        }
    }

    /// Before the first container line, under GitHub Actions: a group folds the log, then
    /// workflow commands stop. Both are ours, printed before the fence opens: nothing the
    /// container prints (`::endgroup::`, `::error::`) is a command until `logs_end`.
    pub fn logs_begin(&self, task_arn: &str) {
        if let Some(token) = &self.stop_commands {
            let title = format!("ecs-migrate: the log of task {}", id_of(task_arn));
            let mut w = self.log_stream();
            let _ = writeln!(w, "{}", github::group(&title));
            let _ = writeln!(w, "::stop-commands::{token}");
            let _ = w.flush();
        }
    }

    /// After the last container line: workflow commands work again, and the group closes.
    pub fn logs_end(&self) {
        if let Some(token) = &self.stop_commands {
            let mut w = self.log_stream();
            let _ = writeln!(w, "::{token}::");
            let _ = writeln!(w, "::endgroup::");
            let _ = w.flush();
        }
    }

    pub fn progress(&self, msg: impl Display) {
        if self.silent {
            return;
        }
        let _ = writeln!(std::io::stderr().lock(), "ecs-migrate: {msg}");
    }

    pub fn warn(&self, msg: impl Display) {
        if self.silent {
            return;
        }
        let _ = writeln!(std::io::stderr().lock(), "ecs-migrate: warning: {msg}");
    }

    /// One error line on stderr.
    pub fn error_line(&self, err: impl Display) {
        let _ = writeln!(std::io::stderr().lock(), "ecs-migrate: error: {err}");
    }

    /// One container log line, as it arrives (untrusted: neutralised unless `--raw-logs`).
    pub fn log_line(&self, line: &str) {
        let line = if self.raw_logs {
            line.into()
        } else {
            sanitize::neutralise(line)
        };
        let mut w = self.log_stream();
        let _ = writeln!(w, "{line}");
        let _ = w.flush();
    }

    /// A table on stdout (`history`); its cells come from the record, so they are neutralised.
    pub fn table(&self, lines: &[String]) {
        let mut out = std::io::stdout().lock();
        for line in lines {
            let _ = writeln!(out, "{}", sanitize::neutralise(line));
        }
        let _ = out.flush();
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
            Format::Json => self.json(&report.to_json()),
            Format::Text if report.task_arn.is_none() && report.error.is_some() => {}
            Format::Text => {
                let mut err = std::io::stderr().lock();
                for line in report.summary_lines() {
                    let _ = writeln!(err, "ecs-migrate: {line}");
                }
            }
        }
        self.ci_report(report);
    }

    /// The result where CI reads it: under GitHub Actions the failure's annotation (on the
    /// log's stream, after its fence closed), the job summary and the step outputs (appended);
    /// the JUnit report (replaced). A file that cannot be written is a warning: the verdict
    /// stands.
    fn ci_report(&self, report: &Report) {
        if self.stop_commands.is_some()
            && let Some(a) = github::annotation(report, self.command)
        {
            let mut w = self.log_stream();
            let _ = writeln!(w, "{a}");
            let _ = w.flush();
        }
        if let Some(path) = &self.ci.step_summary {
            let summary = github::summary(report, self.command);
            if let Err(e) = append(path, &summary) {
                self.warn(format!(
                    "cannot write the job summary ($GITHUB_STEP_SUMMARY): {e}"
                ));
            }
        }
        if let Some(path) = &self.ci.step_outputs {
            let delimiter = format!("ghadelimiter_{}", uuid::Uuid::new_v4());
            if let Err(e) = append(path, &github::outputs(report, &delimiter)) {
                self.warn(format!(
                    "cannot write the step outputs ($GITHUB_OUTPUT): {e}"
                ));
            }
        }
        if let Some(path) = &self.ci.junit {
            let xml = junit::junit(report, self.command);
            if let Err(e) = std::fs::write(path, xml) {
                let path = sanitize::neutralise(&path.to_string_lossy()).into_owned();
                self.warn(format!("cannot write the JUnit report {path}: {e}"));
            }
        }
    }

    /// Text as it is, on stdout (a completion script, the man page).
    pub fn text(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// Appends to a file GitHub gave (it may not exist yet).
fn append(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}
