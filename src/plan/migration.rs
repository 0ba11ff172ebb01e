//! The plans of `run` and `gate`: what a migration runs, where, and how it is followed. Built
//! and validated by `config` from the command line; every field is a domain value.

use std::path::PathBuf;
use std::time::Duration;

use crate::plan::connection::Connection;
use crate::plan::image::ImageRef;
use crate::plan::network::NetworkFlags;
use crate::plan::overrides::Overrides;
use crate::plan::taskdef::Sidecars;

/// What a deadline, SIGINT or SIGTERM does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnAbort {
    /// Stop the task (and leave a gate's hook to its timeout action).
    Stop,
    /// Leave the task running.
    Detach,
    /// `gate`: stop the task and roll the deployment back.
    Rollback,
}

impl OnAbort {
    /// Whether an abort stops the migration task (everything but `detach`).
    pub fn stops_task(self) -> bool {
        self != OnAbort::Detach
    }
}

/// Where the source task definition (and network) comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The live service (PRIMARY task set for CODE_DEPLOY/EXTERNAL controllers).
    Service { service: String },
    /// A registered task definition; network from flags.
    TaskDefinition { task_definition: String },
    /// A describe-task-definition JSON file; network from flags.
    File { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub cluster: Option<String>,
    pub source: Source,
    pub container: Option<String>,
    pub image: Option<ImageRef>,
}

#[derive(Debug, Clone)]
pub struct RunPlan {
    pub connection: Connection,
    pub target: Target,
    pub overrides: Overrides,
    pub network: NetworkFlags,
    pub migration_family: Option<String>,
    pub tags: Vec<(String, String)>,
    /// Who launches (a CodeBuild build, a GitHub run, user@host): tagged on the task.
    pub caller: String,
    pub client_token: Option<String>,
    pub allow_concurrent: bool,
    pub attach: bool,
    /// Keep the containers the target depends on (`--without-sidecars`: drop them).
    pub sidecars: Sidecars,
    pub require_logs: bool,
    pub timeout: Option<Duration>,
    pub on_abort: OnAbort,
    pub log_quiet: Duration,
    pub log_drain_max: Duration,
    pub poll_interval: Duration,
    pub describe_interval: Duration,
    pub poll_max: Duration,
    pub lost_after: Duration,
    /// After StopTask, how long to wait for the container to stop: ECS's longest stopTimeout
    /// (120 s) plus a margin.
    pub stop_grace: Duration,
    pub dry_run: bool,
    pub allow_during_deployment: bool,
    pub record: Recording,
}

/// Which command launches a migration, as the record names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[default]
    Run,
    Gate,
    Revert,
    /// The Lambda lifecycle hook (`bootstrap`), at a native blue/green deployment's stage.
    Hook,
}

/// The durable record of a migration (`--no-record`: none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recording {
    pub enabled: bool,
    pub kind: Kind,
    /// `revert`: the migration whose versions it undoes.
    pub reverts: Option<String>,
}

/// `gate`: a migration plan plus which hook it answers and how.
#[derive(Debug, Clone)]
pub struct GatePlan {
    pub run: RunPlan,
    pub service: String,
    pub stage: String,
    pub on_failure: OnFailure,
    pub hook_wait: Duration,
}

/// `gate`: what a failed migration does to the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// ContinueServiceDeployment with ROLLBACK.
    Rollback,
    /// Do not answer the hook: its timeout action applies.
    Leave,
}
