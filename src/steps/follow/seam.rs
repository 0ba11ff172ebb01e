//! The follow engine's narrow AWS seam: the four calls it makes, in plain values, so the
//! engine can be driven by scripted responses in tests and by the SDK in production.

use std::future::Future;

use aws_sdk_ecs::types::{DesiredStatus, Task, TaskField, TaskStopCode};
use aws_smithy_types::date_time::Format;

use crate::error::{Error, Result};
use crate::plan::identity::{self, Migration};
use crate::verdict::outcome::StoppedTask;
use crate::verdict::report::Ended;

/// The target container of a task, as DescribeTasks shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerView {
    pub last_status: Option<String>,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// One task, as DescribeTasks shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskView {
    pub arn: String,
    pub last_status: String,
    pub desired_status: Option<DesiredStatus>,
    /// Epoch seconds; orders the claimants of a migration family.
    pub created_at: Option<f64>,
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
    pub duration_seconds: Option<f64>,
    pub stop_code: Option<TaskStopCode>,
    pub stopped_reason: Option<String>,
    pub task_definition_arn: Option<String>,
    /// Epoch seconds (ECS's clock) when the essential container stopped, before the teardown.
    pub execution_stopped_at: Option<f64>,
    pub container: Option<ContainerView>,
    /// What the target container runs and who started it (for `--attach` and busy errors).
    pub migration: Migration,
}

impl TaskView {
    pub fn from_sdk(task: &Task, container: &str) -> Self {
        let c = task
            .containers()
            .iter()
            .find(|c| c.name() == Some(container));
        let time =
            |d: Option<&aws_smithy_types::DateTime>| d.and_then(|d| d.fmt(Format::DateTime).ok());
        let over = task.overrides().and_then(|o| {
            o.container_overrides()
                .iter()
                .find(|c| c.name() == Some(container))
        });
        let mut environment: Vec<(String, String)> = over
            .map(|o| {
                o.environment()
                    .iter()
                    .map(|kv| {
                        let name = kv.name().unwrap_or_default().to_string();
                        (name, kv.value().unwrap_or_default().to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        environment.sort();
        let image = c.and_then(|c| c.image()).map(String::from);
        let migration = Migration {
            digest: c
                .and_then(|c| c.image_digest())
                .map(String::from)
                .or_else(|| image.as_deref().and_then(identity::digest_of)),
            image,
            command: over.map(|o| o.command().to_vec()).unwrap_or_default(),
            environment,
            cpu: over.and_then(|o| o.cpu()),
            memory: over.and_then(|o| o.memory()),
            memory_reservation: over.and_then(|o| o.memory_reservation()),
            task_cpu: task.overrides().and_then(|o| o.cpu()).map(String::from),
            task_memory: task.overrides().and_then(|o| o.memory()).map(String::from),
            started_by: task
                .tags()
                .iter()
                .find(|t| t.key() == Some(identity::STARTED_BY_TAG))
                .and_then(|t| t.value())
                .map(String::from),
        };
        Self {
            arn: task.task_arn().unwrap_or_default().to_string(),
            last_status: task.last_status().unwrap_or("UNKNOWN").to_string(),
            desired_status: task.desired_status().map(DesiredStatus::from),
            created_at: task.created_at().map(|d| d.as_secs_f64()),
            started_at: time(task.started_at()),
            stopped_at: time(task.stopped_at()),
            duration_seconds: match (task.started_at(), task.stopped_at()) {
                (Some(a), Some(b)) => {
                    Some(((b.as_secs_f64() - a.as_secs_f64()) * 10.0).round() / 10.0)
                }
                _ => None,
            },
            stop_code: task.stop_code().cloned(),
            stopped_reason: task.stopped_reason().map(String::from),
            task_definition_arn: task.task_definition_arn().map(String::from),
            execution_stopped_at: task.execution_stopped_at().map(|d| d.as_secs_f64()),
            migration,
            container: c.map(|c| ContainerView {
                last_status: c.last_status().map(String::from),
                exit_code: c.exit_code(),
                reason: c.reason().map(String::from),
            }),
        }
    }

    /// The target container has stopped with an exit code: the verdict is final, even while
    /// the task itself is still tearing down (ENI detach can take minutes).
    pub fn container_exited(&self) -> bool {
        self.container
            .as_ref()
            .is_some_and(|c| c.last_status.as_deref() == Some("STOPPED") && c.exit_code.is_some())
    }

    pub fn stopped(&self) -> bool {
        self.last_status == "STOPPED"
    }

    /// The task reached RUNNING, so its container ran.
    pub fn started(&self) -> bool {
        self.started_at.is_some()
    }

    /// How the task ended, for the report.
    pub fn ended(&self) -> Ended {
        Ended {
            exit_code: self.container.as_ref().and_then(|c| c.exit_code),
            stop_code: self.stop_code.as_ref().map(|c| c.as_str().to_string()),
            stopped_reason: self.stopped_reason.clone(),
            container_reason: self.container.as_ref().and_then(|c| c.reason.clone()),
            started_at: self.started_at.clone(),
            stopped_at: self.stopped_at.clone(),
            duration_seconds: self.duration_seconds,
        }
    }

    pub fn summary(&self) -> StoppedTask {
        let c = self.container.clone().unwrap_or_default();
        StoppedTask {
            stop_code: self.stop_code.as_ref().map(|c| c.as_str().to_string()),
            stopped_reason: self.stopped_reason.clone(),
            exit_code: c.exit_code,
            container_reason: c.reason,
            started: self.started(),
        }
    }
}

/// One GetLogEvents page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogPage {
    pub messages: Vec<String>,
    pub next_token: Option<String>,
}

/// What the engine needs from AWS. Every call may be dropped half-way (an abort wins).
pub(crate) trait TaskApi {
    /// DescribeTasks; tasks ECS does not know (yet) are simply absent.
    fn describe(&self, arns: &[String]) -> impl Future<Output = Result<Vec<TaskView>>>;
    /// ListTasks of one `startedBy` with desired status RUNNING.
    fn list_running(&self, started_by: &str) -> impl Future<Output = Result<Vec<String>>>;
    fn stop(&self, arn: &str, reason: &str) -> impl Future<Output = Result<()>>;
    /// One page of the task's log stream from `token` (None: from its head); `None` when the
    /// stream does not exist (yet).
    fn log_page(&self, token: Option<&str>) -> impl Future<Output = Result<Option<LogPage>>>;
}

/// The seam over the real SDK clients.
pub struct Sdk<'a> {
    pub ecs: &'a aws_sdk_ecs::Client,
    pub logs: Option<aws_sdk_cloudwatchlogs::Client>,
    pub cluster: &'a str,
    pub container: &'a str,
    pub log_group: String,
    pub log_stream: String,
}

impl TaskApi for Sdk<'_> {
    async fn describe(&self, arns: &[String]) -> Result<Vec<TaskView>> {
        let out = self
            .ecs
            .describe_tasks()
            .cluster(self.cluster)
            .set_tasks(Some(arns.to_vec()))
            .include(TaskField::Tags)
            .send()
            .await
            .map_err(|e| Error::aws("ecs:DescribeTasks", e))?;
        Ok(out
            .tasks()
            .iter()
            .map(|t| TaskView::from_sdk(t, self.container))
            .collect())
    }

    async fn list_running(&self, started_by: &str) -> Result<Vec<String>> {
        let out = self
            .ecs
            .list_tasks()
            .cluster(self.cluster)
            .started_by(started_by)
            .desired_status(DesiredStatus::Running)
            .send()
            .await
            .map_err(|e| Error::aws("ecs:ListTasks", e))?;
        Ok(out.task_arns().to_vec())
    }

    async fn stop(&self, arn: &str, reason: &str) -> Result<()> {
        let mut reason = reason.to_string();
        reason.truncate(255);
        self.ecs
            .stop_task()
            .cluster(self.cluster)
            .task(arn)
            .reason(reason)
            .send()
            .await
            .map_err(|e| Error::aws("ecs:StopTask", e))?;
        Ok(())
    }

    async fn log_page(&self, token: Option<&str>) -> Result<Option<LogPage>> {
        let Some(logs) = &self.logs else {
            return Ok(None);
        };
        let result = logs
            .get_log_events()
            .log_group_name(&self.log_group)
            .log_stream_name(&self.log_stream)
            .start_from_head(true)
            .set_next_token(token.map(String::from))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(Error::aws("logs:GetLogEvents", e)),
        };
        let messages = out
            .events()
            .iter()
            .map(|e| {
                let m = e.message().unwrap_or_default();
                m.strip_suffix('\n').unwrap_or(m).to_string()
            })
            .collect();
        Ok(Some(LogPage {
            messages,
            next_token: out.next_forward_token().map(String::from),
        }))
    }
}
