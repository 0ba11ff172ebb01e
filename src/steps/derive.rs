//! Step 2 (pure): the migration as it will run, derived from the plan and the resolved source:
//! its task definition (with the sidecars the target needs), its placement, the secrets to
//! check, the family's `startedBy` and the RunTask request. No AWS and no clock.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::plan::identity::Migration;
use crate::plan::migration::RunPlan;
use crate::plan::network::{self, Placement};
use crate::plan::secret_ref::{self, SecretPlan};
use crate::plan::taskdef::{self, LogTarget};
use crate::steps::launch::{self, RunTaskInput};
use crate::steps::resolve::Resolved;

/// Everything known about the migration before any call that changes something.
#[derive(Debug, Clone)]
pub struct Derived {
    pub container: String,
    /// The image the migration runs (`--image`, else the task definition's).
    pub image: Option<String>,
    pub family: String,
    /// The RegisterTaskDefinition input.
    pub task_definition: Value,
    /// The containers the target depends on, kept beside it (`pgbouncer (HEALTHY)`).
    pub sidecars: Vec<String>,
    pub log_target: Option<LogTarget>,
    pub secrets: SecretPlan,
    pub placement: Placement,
    /// `ecs-migrate/<family>`, or `ecs-migrate-ro/<family>` for a read-only command.
    pub started_by: String,
    /// This run takes the family's claim (not read-only, not `--allow-concurrent`).
    pub claims: bool,
    pub read_only: bool,
    pub client_token: String,
    /// What we run, to tell the same migration from another one.
    pub ours: Migration,
    /// What the user should know: progress lines, and warnings.
    pub progress: Vec<String>,
    pub warnings: Vec<String>,
}

impl Derived {
    /// The RunTask request for the registered `task_definition` (its ARN, or the family in a
    /// dry run).
    pub fn request(&self, plan: &RunPlan, task_definition: &str) -> Value {
        launch::request(&RunTaskInput {
            cluster: plan.target.cluster.as_deref(),
            task_definition,
            container: &self.container,
            overrides: &plan.overrides,
            placement: &self.placement,
            started_by: &self.started_by,
            tags: &plan.tags,
            caller: &plan.caller,
            client_token: &self.client_token,
        })
    }
}

/// Derives the migration; `client_token` is the RunTask idempotency token this run uses.
pub fn derive(plan: &RunPlan, resolved: &Resolved, client_token: String) -> Result<Derived> {
    let (mut progress, mut warnings) = (vec![], vec![]);
    if let Some(ctx) = &resolved.service {
        let from = match (&ctx.task_set, &ctx.revision) {
            (Some(t), _) => format!(" (PRIMARY task set {t})"),
            (None, Some(r)) => format!(" (service revision {})", crate::plan::arn::id_of(r)),
            (None, None) => String::new(),
        };
        let verb = if resolved.deploying {
            "is being deployed with"
        } else {
            "runs"
        };
        progress.push(format!(
            "service {} {verb} {}{from}",
            ctx.service, ctx.task_definition
        ));
        warnings.extend(ctx.warnings.iter().cloned());
    }
    let described = &resolved.described;
    let container = described.pick_container(plan.target.container.as_deref())?;
    plan.overrides.check_size(&container)?;
    let source_container = described.container(&container).cloned().unwrap_or_default();
    let image = plan
        .target
        .image
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| source_container["image"].as_str().map(String::from));
    if plan.target.image.is_none() && !resolved.deploying {
        warnings.push(format!(
            "no --image/--image-detail: running the image the task definition has now ({}), which may lack the new migrations",
            image.as_deref().unwrap_or("none")
        ));
    }
    let log_target = match taskdef::log_target(&source_container) {
        Ok(t) => Some(t),
        Err(why) if plan.require_logs => {
            return Err(
                Error::usage(format!("container '{container}' cannot be followed: {why}"))
                    .with_hint(
                        "use the awslogs driver with awslogs-stream-prefix, or pass --no-logs",
                    ),
            );
        }
        Err(_) => None,
    };
    let family = taskdef::migration_family(described.family(), plan.migration_family.as_deref());
    let derived = taskdef::derive_migration(
        described,
        &container,
        plan.target.image.as_ref(),
        &family,
        plan.sidecars,
    )?;
    let task_definition = derived.task_definition;
    if !derived.sidecars.is_empty() {
        progress.push(format!(
            "keeping {} beside '{container}', which depends on them (non-essential; --without-sidecars runs '{container}' alone)",
            derived.sidecars.join(", ")
        ));
    }
    if !derived.dropped.is_empty() {
        warnings.push(format!(
            "--without-sidecars: '{container}' depends on {}, which the migration task leaves out; it may not reach what it needs",
            derived.dropped.join(", ")
        ));
    }
    taskdef::check_fargate(&task_definition, plan.network.capacity_provider.is_some())?;
    let secrets = secret_ref::plan_task_secrets(
        &task_definition,
        described.arn().and_then(secret_ref::arn_account),
    )?;
    let options = &task_definition["containerDefinitions"][0]["logConfiguration"]["options"];
    if log_target.is_some() && options["mode"] != "blocking" {
        warnings.push(format!(
            "awslogs mode is {}: lines are dropped when its buffer fills, so the log may be incomplete",
            options["mode"]
        ));
    }
    let placement = network::placement(
        resolved.service.as_ref().map(|s| &s.network),
        &plan.network,
        task_definition["networkMode"].as_str(),
    )?;
    warnings.extend(placement.warnings.iter().cloned());
    // A read-only command (`status`) neither takes nor contests the family's claim: it is
    // launched under a startedBy of its own, which the claim never lists.
    let read_only = plan.overrides.read_only;
    let started_by = if read_only {
        launch::started_by_read_only(&family)
    } else {
        launch::started_by(&family)
    };
    Ok(Derived {
        ours: Migration::ours(image.as_deref(), &plan.overrides),
        claims: !read_only && !plan.allow_concurrent,
        read_only,
        container,
        image,
        family,
        task_definition,
        sidecars: derived.sidecars,
        log_target,
        secrets,
        placement,
        started_by,
        client_token,
        progress,
        warnings,
    })
}
