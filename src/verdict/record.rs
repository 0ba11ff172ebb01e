//! The durable record (pure): the launch and verdict events ecs-migrate writes to a stream of
//! its own in the migration's log group, and the migrations read back from them. ECS forgets a
//! stopped task after about an hour; the record and the container's log stream stay as long as
//! the log group keeps them.

use serde::{Deserialize, Serialize};

use crate::plan::arn::id_of;
pub use crate::plan::migration::Kind;
use crate::verdict::outcome::Outcome;
use crate::verdict::rails::{self, Direction, Step};
use crate::verdict::report::{self, Report};

/// The record's format version, in every event.
pub const FORMAT: u32 = 1;

/// `ecs-migrate/<migration family>`: the record's stream in the container's log group (stream
/// names may not contain `:` or `*`; a family has only letters, digits, `-` and `_`).
pub fn stream_name(family: &str) -> String {
    format!("ecs-migrate/{family}")
}

/// Who launched a migration, and from where.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Who {
    /// The AWS identity (sts:GetCallerIdentity), when it could be read.
    pub caller_arn: Option<String>,
    /// The `ecs-migrate:started-by` tag: the CodeBuild build, the GitHub run, or user@host.
    pub started_by: String,
    pub codebuild_build_id: Option<String>,
    pub github_run_url: Option<String>,
}

impl Who {
    /// From the environment (the caller's ARN is added once known).
    pub fn from_env(started_by: &str, env: impl Fn(&str) -> Option<String>) -> Self {
        let github_run_url = (env("GITHUB_ACTIONS").as_deref() == Some("true")).then(|| {
            format!(
                "{}/{}/actions/runs/{}",
                env("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
                env("GITHUB_REPOSITORY").unwrap_or_default(),
                env("GITHUB_RUN_ID").unwrap_or_default()
            )
        });
        Self {
            caller_arn: None,
            started_by: started_by.to_string(),
            codebuild_build_id: env("CODEBUILD_BUILD_ID"),
            github_run_url,
        }
    }

    /// One short name for a table: the CI run, else the caller tag.
    pub fn short(&self) -> String {
        if let Some(b) = &self.codebuild_build_id {
            return format!("codebuild:{}", b.rsplit('/').next().unwrap_or(b));
        }
        if let Some(u) = &self.github_run_url {
            return format!("github:{}", u.rsplit("/actions/runs/").next().unwrap_or(u));
        }
        self.started_by.clone()
    }
}

/// Written as soon as RunTask answered, before the migration is followed: a runner killed
/// with SIGKILL still leaves it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Launch {
    pub task_arn: String,
    pub kind: Kind,
    /// `revert`: the migration whose versions it undoes.
    pub reverts: Option<String>,
    pub client_token: Option<String>,
    pub cluster: String,
    pub service: Option<String>,
    pub region: Option<String>,
    pub task_definition_arn: Option<String>,
    pub container: String,
    pub image: Option<String>,
    /// `sha256:…`, when the image was pinned by digest (the verdict has the one ECS pulled).
    pub image_digest: Option<String>,
    pub preset: Option<String>,
    pub command: Vec<String>,
    /// The container's own log, which the record points at.
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
    pub log_region: Option<String>,
    pub who: Who,
    /// The ecs-migrate version that launched it.
    pub tool: String,
}

/// Who wrote a verdict: the runner that launched the task, or a later reader that followed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Observer {
    #[default]
    Launcher,
    /// `run --attach`: another runner followed it to its end.
    Attached,
    /// `logs --follow`: followed after its runner vanished.
    Follower,
}

/// Written once the migration has a verdict (whatever it is: an abort too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub task_arn: String,
    pub outcome: Outcome,
    /// The target container's exit code.
    pub exit_code: Option<i32>,
    pub process_exit_code: i32,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
    pub duration_seconds: Option<f64>,
    /// The digest ECS ran.
    pub image_digest: Option<String>,
    /// Each migration Rails finished, with its duration.
    pub migrations: Vec<Step>,
    pub log_lines: u64,
    pub logs_complete: bool,
    pub error: Option<String>,
    pub observer: Observer,
}

impl Verdict {
    /// The verdict a report carries (None when nothing was launched).
    pub fn of(report: &Report, image_digest: Option<String>, observer: Observer) -> Option<Self> {
        let task_arn = report.task_arn.clone()?;
        Some(Self {
            task_arn,
            outcome: report.outcome?,
            exit_code: report.ended.exit_code,
            process_exit_code: report.process_exit_code(),
            stop_code: report.ended.stop_code.clone(),
            stopped_reason: report.ended.stopped_reason.clone(),
            started_at: report.ended.started_at.clone(),
            stopped_at: report.ended.stopped_at.clone(),
            duration_seconds: report.ended.duration_seconds,
            image_digest,
            migrations: report.logs.migrations.clone(),
            log_lines: report.logs.log_lines,
            logs_complete: report.logs.logs_complete,
            error: report.error.clone(),
            observer,
        })
    }

    pub fn versions(&self, direction: Direction) -> Vec<String> {
        rails::versions(&self.migrations, direction)
    }

    /// The verdict's facts in a report (its exit code follows from them, as for a run).
    pub fn apply(&self, r: &mut Report) {
        r.outcome = Some(self.outcome);
        r.ended.exit_code = self.exit_code;
        r.ended.stop_code = self.stop_code.clone();
        r.ended.stopped_reason = self.stopped_reason.clone();
        r.ended.started_at = self.started_at.clone();
        r.ended.stopped_at = self.stopped_at.clone();
        r.ended.duration_seconds = self.duration_seconds;
        r.logs.logs_complete = self.logs_complete;
        r.logs.set_steps(self.migrations.clone());
        r.error = self.error.clone();
    }
}

/// One event of the record, as written (one JSON object per log event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Launch(Box<Launch>),
    Verdict(Box<Verdict>),
}

impl From<Launch> for Event {
    fn from(l: Launch) -> Self {
        Event::Launch(Box::new(l))
    }
}

impl From<Verdict> for Event {
    fn from(v: Verdict) -> Self {
        Event::Verdict(Box::new(v))
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    ecs_migrate_record: u32,
    #[serde(flatten)]
    event: Event,
}

impl Event {
    /// The log event's message.
    pub fn to_message(&self) -> String {
        serde_json::to_string(&Envelope {
            ecs_migrate_record: FORMAT,
            event: self.clone(),
        })
        .unwrap_or_default()
    }

    /// An event read back; anything else in the stream (another format, a stray line) is None.
    pub fn parse(message: &str) -> Option<Self> {
        let e: Envelope = serde_json::from_str(message).ok()?;
        (e.ecs_migrate_record == FORMAT).then_some(e.event)
    }
}

/// What is known of a migration without a recorded verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Unrecorded {
    /// Not looked at yet.
    Unknown,
    /// ECS still runs it.
    Running(String),
    /// ECS no longer knows the task, and no verdict was written: its runner vanished.
    Forgotten,
}

/// One migration in the record: its launch, and its verdict once there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// When it was launched (the launch event's timestamp, epoch milliseconds).
    pub launched_ms: i64,
    pub launch: Launch,
    pub verdict: Option<Verdict>,
    /// Without a verdict: what ECS says.
    pub unrecorded: Unrecorded,
}

impl Entry {
    pub fn task_id(&self) -> &str {
        id_of(&self.launch.task_arn)
    }

    pub fn versions(&self, direction: Direction) -> Vec<String> {
        self.verdict
            .as_ref()
            .map(|v| v.versions(direction))
            .unwrap_or_default()
    }

    /// The result `logs` prints: the launch's facts and, once there is one, its verdict.
    pub fn report(&self) -> Report {
        let l = &self.launch;
        let mut r = Report {
            task_arn: Some(l.task_arn.clone()),
            client_token: l.client_token.clone(),
            task_definition_arn: l.task_definition_arn.clone(),
            cluster: l.cluster.clone(),
            service: l.service.clone(),
            region: l.region.clone(),
            container: l.container.clone(),
            image: l.image.clone(),
            preset: l.preset.clone(),
            command: l.command.clone(),
            console_url: l
                .region
                .as_deref()
                .map(|r| report::task_console_url(r, &l.cluster, &l.task_arn)),
            record: Some(true),
            ..Default::default()
        };
        r.logs.log_group = l.log_group.clone();
        r.logs.log_stream = l.log_stream.clone();
        if let (Some(region), Some(g), Some(s)) = (&l.log_region, &l.log_group, &l.log_stream) {
            r.logs.log_console_url = Some(report::log_console_url(region, g, s));
        }
        if let Some(v) = &self.verdict {
            v.apply(&mut r);
        }
        r
    }
}

/// The migrations of a record stream, newest first. A second launch event of one task (a
/// RunTask retry that got the same task back) and any verdict after the first are ignored.
pub fn entries(events: impl IntoIterator<Item = (i64, String)>) -> Vec<Entry> {
    let mut all: Vec<Entry> = vec![];
    for (at, message) in events {
        match Event::parse(&message) {
            Some(Event::Launch(launch))
                if !all.iter().any(|e| e.launch.task_arn == launch.task_arn) =>
            {
                all.push(Entry {
                    launched_ms: at,
                    launch: *launch,
                    verdict: None,
                    unrecorded: Unrecorded::Unknown,
                });
            }
            Some(Event::Verdict(v)) => {
                if let Some(e) = all
                    .iter_mut()
                    .find(|e| e.launch.task_arn == v.task_arn && e.verdict.is_none())
                {
                    e.verdict = Some(*v);
                }
            }
            _ => {}
        }
    }
    all.sort_by_key(|e| std::cmp::Reverse(e.launched_ms));
    all
}

/// `latest`, a task ARN, a task id, or a unique prefix of one (at least 6 characters): the
/// index of that migration in `entries` (newest first).
pub fn select(entries: &[Entry], which: &str) -> Result<usize, String> {
    if entries.is_empty() {
        return Err("no migration is recorded for this family yet".into());
    }
    if which == "latest" {
        return Ok(0);
    }
    if let Some(i) = entries
        .iter()
        .position(|e| e.launch.task_arn == which || e.task_id() == which)
    {
        return Ok(i);
    }
    let prefix = id_of(which);
    let matches: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| prefix.len() >= 6 && e.task_id().starts_with(prefix))
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [i] => Ok(*i),
        [] => Err(format!("no recorded migration has task {which}")),
        _ => Err(format!(
            "{which} matches {} recorded migrations; give more of the task id",
            matches.len()
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn launch(task: &str, image: &str) -> Launch {
        Launch {
            task_arn: format!("arn:aws:ecs:eu-west-1:123456789012:task/c/{task}"),
            cluster: "c".into(),
            service: Some("s".into()),
            container: "rails".into(),
            image: Some(image.into()),
            preset: Some("migrate".into()),
            command: ["bundle", "exec", "rails", "db:migrate"]
                .map(String::from)
                .into(),
            ..Default::default()
        }
    }

    pub fn verdict(task: &str, up: &[&str], down: &[&str]) -> Verdict {
        let step = |v: &&str, direction| Step {
            version: v.to_string(),
            name: "M".into(),
            direction,
            seconds: Some(0.01),
        };
        Verdict {
            task_arn: format!("arn:aws:ecs:eu-west-1:123456789012:task/c/{task}"),
            outcome: Outcome::Succeeded,
            exit_code: Some(0),
            process_exit_code: 0,
            stop_code: None,
            stopped_reason: None,
            started_at: None,
            stopped_at: None,
            duration_seconds: Some(3.0),
            image_digest: None,
            migrations: up
                .iter()
                .map(|v| step(v, Direction::Up))
                .chain(down.iter().map(|v| step(v, Direction::Down)))
                .collect(),
            log_lines: 10,
            logs_complete: true,
            error: None,
            observer: Observer::Launcher,
        }
    }

    pub fn events(list: Vec<(i64, Event)>) -> Vec<(i64, String)> {
        list.into_iter().map(|(t, e)| (t, e.to_message())).collect()
    }

    #[test]
    fn an_event_reads_back_as_written() {
        for e in [
            Event::from(launch("a1", "repo/rails:v2")),
            Event::from(verdict("a1", &["20240101000000"], &[])),
        ] {
            let m = e.to_message();
            assert!(m.starts_with("{\"ecs_migrate_record\":1,\"event\":"), "{m}");
            assert_eq!(Event::parse(&m), Some(e));
        }
        for stray in [
            "hello",
            "{}",
            r#"{"ecs_migrate_record":2,"event":"launch"}"#,
        ] {
            assert_eq!(Event::parse(stray), None);
        }
    }

    #[test]
    fn entries_pair_launch_and_verdict_newest_first() {
        let list = events(vec![
            (1_000, Event::from(launch("aaaaaa11", "r:v1"))),
            (2_000, Event::from(verdict("aaaaaa11", &["1"], &[]))),
            (3_000, Event::from(launch("bbbbbb22", "r:v2"))),
            // a retried RunTask got the same task back: one migration
            (3_100, Event::from(launch("bbbbbb22", "r:v2"))),
            (9_000, Event::from(verdict("cccccc33", &[], &[]))),
        ]);
        let e = entries(list);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].task_id(), "bbbbbb22");
        assert_eq!(e[0].verdict, None);
        assert_eq!(e[1].versions(Direction::Up), ["1"]);
        assert_eq!(select(&e, "latest"), Ok(0));
        assert_eq!(select(&e, "aaaaaa11"), Ok(1));
        assert_eq!(select(&e, &e[1].launch.task_arn.clone()), Ok(1));
        assert_eq!(select(&e, "aaaaaa"), Ok(1));
        assert!(select(&e, "aaa").is_err(), "prefixes need 6 characters");
        assert!(
            select(&e, "zzzzzzzz")
                .unwrap_err()
                .contains("no recorded migration")
        );
        assert!(select(&[], "latest").is_err());
    }

    #[test]
    fn who_comes_from_the_ci_environment() {
        let env = |k: &str| match k {
            "GITHUB_ACTIONS" => Some("true".into()),
            "GITHUB_REPOSITORY" => Some("acme/app".into()),
            "GITHUB_RUN_ID" => Some("42".into()),
            _ => None,
        };
        let w = Who::from_env("github:x", env);
        assert_eq!(
            w.github_run_url.as_deref(),
            Some("https://github.com/acme/app/actions/runs/42")
        );
        assert_eq!(w.short(), "github:42");
        let w = Who::from_env("ana@laptop", |k| {
            (k == "CODEBUILD_BUILD_ID").then(|| "migrate:0f3c".to_string())
        });
        assert_eq!(w.short(), "codebuild:migrate:0f3c");
    }
}
