//! The result of a run: the JSON document of `--output json` and the text summary (pure).
//! The process exit code is derived from `outcome` here and nowhere else, so the two cannot
//! disagree.

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::exit;
use crate::plan::arn::id_of;
use crate::verdict::outcome::Outcome;
use crate::verdict::rails::{self, Begun, Direction, Step};
use crate::verdict::transcript::Transcript;

/// What the preflight found: the count of SSM parameters, and each Secrets Manager secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SecretsChecked {
    pub ssm_parameters: usize,
    pub secrets_manager: Vec<SecretCheck>,
}

/// One secret as checked: what the JSON result lists (the variable name, never the value).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecretCheck {
    /// The environment variable it fills.
    pub name: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub outcome: Option<Outcome>,
    /// How the task ended (the target container's exit code first).
    #[serde(flatten)]
    pub ended: Ended,
    pub task_arn: Option<String>,
    /// True when this run followed another run's migration (`--attach`).
    pub attached: bool,
    /// The task of another migration of this family that was running.
    pub other_task_arn: Option<String>,
    pub client_token: Option<String>,
    pub task_definition_arn: Option<String>,
    pub task_definition_registered: bool,
    pub cluster: String,
    /// The service the migration's task definition and network came from.
    pub service: Option<String>,
    pub region: Option<String>,
    pub container: String,
    /// The containers the target depends on, kept beside it (`pgbouncer (HEALTHY)`).
    pub sidecars: Vec<String>,
    pub image: Option<String>,
    pub preset: Option<String>,
    pub command: Vec<String>,
    /// What the preflight checked (never a value).
    pub secrets: Option<SecretsChecked>,
    /// Where the log is and how much of it was read.
    #[serde(flatten)]
    pub logs: LogFacts,
    pub console_url: Option<String>,
    pub detached: bool,
    /// The migration's record was written (None: nothing was launched).
    pub record: Option<bool>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
    /// When the task may still be running and ecs-migrate could not stop it.
    pub stop_command: Option<String>,
    /// `gate`: the deployment, its hook and what the gate answered.
    pub gate: Option<GateReport>,
    /// How long ecs-migrate ran, end to end (run, gate, revert).
    pub elapsed_seconds: Option<f64>,
    /// The failure is the release's own (its task definition names a missing secret): a gate
    /// rolls back for it, and leaves the hook for any other failure.
    #[serde(skip)]
    pub release_defect: bool,
}

/// How the task ended, as DescribeTasks showed it last.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Ended {
    /// The target container's exit code.
    pub exit_code: Option<i32>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub container_reason: Option<String>,
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
    pub duration_seconds: Option<f64>,
}

/// Where the migration's log is, how much of it was read, and what Rails said it did.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct LogFacts {
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
    pub log_console_url: Option<String>,
    pub log_lines: u64,
    /// False when the log drain ended without a clean quiet window (or never ran).
    pub logs_complete: bool,
    pub migrated_versions: Vec<String>,
    pub reverted_versions: Vec<String>,
    /// Each migration Rails finished, with its duration, in the order read.
    pub migrations: Vec<Step>,
    /// The migrations Rails began and never finished: the one that failed (or was stopped).
    pub unfinished_migrations: Vec<Begun>,
    /// The log's last lines, as read (untrusted): a failure's JUnit report quotes them.
    #[serde(skip)]
    pub tail: Vec<String>,
}

impl LogFacts {
    /// What Rails said it did, from the migration's log lines.
    pub fn set_steps(&mut self, steps: Vec<Step>) {
        self.migrated_versions = rails::versions(&steps, Direction::Up);
        self.reverted_versions = rails::versions(&steps, Direction::Down);
        self.migrations = steps;
    }

    /// What the log said: Rails' steps, the migrations left unfinished, the last lines.
    pub fn set_transcript(&mut self, t: &Transcript) {
        self.set_steps(t.steps().to_vec());
        self.unfinished_migrations = t.unfinished();
        self.tail = t.tail();
    }
}

/// `gate`'s part of the result.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct GateReport {
    /// None until a deployment reached the hook.
    pub service_deployment_arn: Option<String>,
    pub hook_id: Option<String>,
    pub stage: String,
    pub hook_expires_at: Option<String>,
    /// What ECS does when the hook expires unanswered.
    pub timeout_action: Option<String>,
    pub target_service_revision: Option<String>,
    /// CONTINUE or ROLLBACK as ECS took it; None when the hook was left (or the answer refused).
    pub action: Option<String>,
    /// The answer the gate sent, taken or not (`hook_failed` when it was refused).
    pub attempted_action: Option<String>,
    /// Why the gate answered what it did, or why it left the hook.
    pub reason: Option<String>,
}

/// ECS console page of a task.
pub fn task_console_url(region: &str, cluster: &str, task_arn: &str) -> String {
    let cluster = id_of(cluster);
    let task_id = id_of(task_arn);
    format!(
        "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/tasks/{task_id}/configuration?region={region}"
    )
}

/// CloudWatch console page of a log stream (the console double-encodes: `/` → `$252F`).
pub fn log_console_url(region: &str, group: &str, stream: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("$25{b:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}/log-events/{}",
        enc(group),
        enc(stream)
    )
}

impl Report {
    /// The process exit code: derived from the outcome, in one place.
    pub fn process_exit_code(&self) -> i32 {
        self.outcome
            .map_or(exit::LAUNCH_FAILED, |o| o.exit_code(self.ended.exit_code))
    }

    /// Records an error as the result.
    pub fn fail(&mut self, e: &Error) {
        self.outcome = Some(Outcome::of(e));
        self.error = Some(e.to_string());
        self.release_defect = e.release_defect;
    }

    /// The `--output json` document.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.insert("process_exit_code".into(), self.process_exit_code().into());
        }
        v
    }

    /// The human summary (stderr).
    pub fn summary_lines(&self) -> Vec<String> {
        let mut out = vec![];
        out.push(format!(
            "result: {} (exit {}){}",
            self.outcome.map_or("unknown", Outcome::name),
            self.process_exit_code(),
            self.ended
                .exit_code
                .map(|c| format!(", container exit code {c}"))
                .unwrap_or_else(|| ", no container exit code".into())
        ));
        if let Some(arn) = &self.task_arn {
            let how = if self.attached { " (attached)" } else { "" };
            out.push(format!("task: {arn}{how}"));
        }
        if let Some(arn) = &self.other_task_arn {
            out.push(format!("running migration: {arn}"));
        }
        if let Some(td) = &self.task_definition_arn {
            out.push(format!("task definition: {td}"));
        }
        match (self.ended.duration_seconds, self.elapsed_seconds) {
            (Some(task), Some(all)) => {
                out.push(format!("duration: {task:.1}s (the task), {all:.1}s in all"))
            }
            (Some(task), None) => out.push(format!("duration: {task:.1}s (the task)")),
            (None, Some(all)) => out.push(format!("duration: {all:.1}s in all")),
            (None, None) => {}
        }
        for (label, value) in [
            ("stop code", &self.ended.stop_code),
            ("stopped reason", &self.ended.stopped_reason),
            ("container reason", &self.ended.container_reason),
        ] {
            if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
                out.push(format!("{label}: {v}"));
            }
        }
        out.extend(self.migrations_table());
        if let Some(u) = &self.console_url {
            out.push(format!("console: {u}"));
        }
        if let Some(u) = &self.logs.log_console_url {
            let partial = if self.logs.logs_complete {
                ""
            } else {
                ", may be incomplete"
            };
            let lines = match self.logs.log_lines {
                1 => "1 line".to_string(),
                n => format!("{n} lines"),
            };
            out.push(format!("logs: {u} ({lines}{partial})"));
        }
        if let Some(g) = &self.gate {
            let answered = match (&g.action, &g.attempted_action) {
                (Some(a), _) => format!("answered {a}"),
                (None, Some(a)) => format!("{a} was refused"),
                (None, None) => format!(
                    "not answered: a rerun of the gate or its timeout action ({}) decides",
                    g.timeout_action.as_deref().unwrap_or("unknown")
                ),
            };
            let why = g
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            match (&g.service_deployment_arn, &g.hook_id) {
                (Some(d), Some(h)) => out.push(format!(
                    "deployment: {d} hook {h} at {}: {answered}{why}",
                    g.stage
                )),
                _ => out.push(format!("deployment: none reached the {} hook", g.stage)),
            }
        }
        if let Some(c) = &self.stop_command {
            out.push(format!("the task may still be running; stop it with: {c}"));
        }
        out
    }

    /// The migrations Rails finished, with their durations, then any it began and never
    /// finished, as a compact table (none: no line).
    pub fn migrations_table(&self) -> Vec<String> {
        let steps = &self.logs.migrations;
        let unfinished = &self.logs.unfinished_migrations;
        if steps.is_empty() && unfinished.is_empty() {
            return vec![];
        }
        let width = |name: &str| name.chars().count().min(48);
        let names = steps.iter().map(|s| width(&s.name));
        let w = names.chain(unfinished.iter().map(|b| width(&b.name))).max();
        let w = w.unwrap_or(0);
        let mut out = vec!["migrations:".to_string()];
        for s in steps {
            let secs = s.seconds.map_or("-".into(), |t| format!("{t:.4}s"));
            out.push(format!(
                "  {} {:<w$}  {:<4}  {secs:>9}",
                s.version,
                s.name,
                direction(s.direction)
            ));
        }
        for b in unfinished {
            out.push(format!(
                "  {} {:<w$}  {:<4}  began, never finished",
                b.version,
                b.name,
                direction(b.direction)
            ));
        }
        out
    }
}

/// `up` or `down`, as the tables and reports say it.
pub fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Up => "up",
        Direction::Down => "down",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_urls() {
        assert_eq!(
            task_console_url(
                "ap-northeast-1",
                "arn:aws:ecs:ap-northeast-1:1:cluster/ass",
                "arn:aws:ecs:ap-northeast-1:1:task/ass/abc123"
            ),
            "https://ap-northeast-1.console.aws.amazon.com/ecs/v2/clusters/ass/tasks/abc123/configuration?region=ap-northeast-1"
        );
        assert_eq!(
            log_console_url("us-east-1", "/ecs/ass-staging", "ecs/rails/abc"),
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Fecs$252Fass-staging/log-events/ecs$252Frails$252Fabc"
        );
    }

    #[test]
    fn json_carries_the_documented_fields() {
        let r = Report {
            outcome: Some(Outcome::Failed),
            ended: Ended {
                exit_code: Some(1),
                ..Default::default()
            },
            ..Default::default()
        };
        let v = r.to_json();
        for key in [
            "task_arn",
            "task_definition_arn",
            "cluster",
            "container",
            "image",
            "exit_code",
            "outcome",
            "stop_code",
            "stopped_reason",
            "container_reason",
            "started_at",
            "stopped_at",
            "log_group",
            "log_stream",
            "log_lines",
            "log_console_url",
            "migrated_versions",
            "reverted_versions",
            "console_url",
            "logs_complete",
            "process_exit_code",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["outcome"], "failed");
        assert_eq!(v["process_exit_code"], 1);
        assert!(r.summary_lines()[0].starts_with("result: failed (exit 1), container exit code 1"));
        assert!(v.get("unfinished_migrations").is_some());
        assert!(
            v.get("tail").is_none(),
            "the raw tail stays out of the JSON"
        );
    }

    #[test]
    fn the_summary_tables_the_migrations_with_their_durations_and_the_run_its_own() {
        let mut t = Transcript::default();
        for l in [
            "== 20240101000000 CreateUsers: migrated (0.0011s) ==",
            "== 20240215093000 AddEmailToUsers: migrated ==",
            "== 20240401000000 AddUniqueIndexToUsers: migrating ==",
        ] {
            t.read(l);
        }
        let mut r = Report::default();
        r.logs.set_transcript(&t);
        r.ended.duration_seconds = Some(4.25);
        r.elapsed_seconds = Some(9.5);
        let lines = r.summary_lines();
        let at = lines.iter().position(|l| l == "migrations:").unwrap();
        assert_eq!(
            lines[at + 1..at + 4],
            [
                "  20240101000000 CreateUsers            up      0.0011s",
                "  20240215093000 AddEmailToUsers        up            -",
                "  20240401000000 AddUniqueIndexToUsers  up    began, never finished",
            ]
        );
        assert!(lines.contains(&"duration: 4.2s (the task), 9.5s in all".to_string()));
        assert!(Report::default().migrations_table().is_empty());
    }
}
