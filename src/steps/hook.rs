//! `gate`'s own steps around the migration: the service and its deployment stopped at the
//! PAUSE hook, the deployment's target revision as the migration's source (its deadline moved
//! before the hook expires), and the hook's answer.

use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use tokio::time::Instant;

use crate::aws::Clients;
use crate::aws::deployments::{self, DeploymentView};
use crate::aws::rawjson;
use crate::aws::service;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::plan::arn::id_of;
use crate::plan::migration::GatePlan;
use crate::plan::stages::HookAction;
use crate::signals::{AbortEvent, Aborts};
use crate::steps::hook_wait::{self, Found, Polling};
use crate::steps::resolve::Resolved;
use crate::verdict::decision::Decision;
use crate::verdict::report::GateReport;

/// The longest margin kept between the migration's deadline and the hook's expiry.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// The service's deployments, through the SDK.
fn deployments_of<'a>(plan: &'a GatePlan, clients: &'a Clients) -> deployments::Sdk<'a> {
    deployments::Sdk {
        ecs: &clients.ecs,
        cluster: plan.run.target.cluster.as_deref().unwrap_or_default(),
        service: &plan.service,
    }
}

/// Steps 1-2: the service (ECS controller, BLUE_GREEN, a PAUSE hook at the stage), then its
/// deployment stopped at the hook. Ok(Err): aborted while waiting (nothing was launched).
pub async fn at_the_hook(
    plan: &GatePlan,
    clients: &Clients,
    out: &Output,
    aborts: &mut Aborts,
) -> Result<std::result::Result<Found, AbortEvent>> {
    let cluster = plan.run.target.cluster.as_deref().unwrap_or_default();
    let ctx = match aborts
        .race(service::resolve_service(
            &clients.ecs,
            cluster,
            &plan.service,
        ))
        .await
    {
        Ok(ctx) => ctx?,
        Err(ev) => return Ok(Err(ev)),
    };
    if !ctx.blue_green {
        return Err(Error::usage(format!(
            "service {} is not an ECS native blue/green service (deployment controller ECS, strategy BLUE_GREEN)",
            plan.service
        ))
        .with_hint("use `ecs-migrate run` before its deploy (docs/pipeline.md)"));
    }
    if !ctx.pause_stages.contains(&plan.stage) {
        return Err(Error::usage(format!(
            "service {} has no PAUSE lifecycle hook at {}",
            plan.service, plan.stage
        ))
        .with_hint(format!(
            "add {{targetType: PAUSE, lifecycleStages: [{}]}} to its deploymentConfiguration.lifecycleHooks",
            plan.stage
        )));
    }
    let polling = Polling {
        interval: plan.run.describe_interval,
        backoff_max: plan.run.poll_max,
        give_up: Instant::now() + plan.hook_wait,
    };
    out.progress(format!(
        "waiting for a deployment of {} to stop at its {} hook",
        plan.service, plan.stage
    ));
    hook_wait::for_hook(
        &deployments_of(plan, clients),
        &plan.stage,
        polling,
        aborts,
        out,
    )
    .await
}

/// What the report says of the deployment and its hook.
pub fn facts(plan: &GatePlan, found: Option<&Found>) -> GateReport {
    let mut gate = GateReport {
        stage: plan.stage.clone(),
        ..Default::default()
    };
    if let Some(f) = found {
        gate.service_deployment_arn = Some(f.deployment.arn.clone());
        gate.hook_id = Some(f.hook.id.clone());
        gate.hook_expires_at = f.hook.expires_at.map(rfc3339);
        gate.timeout_action = f
            .hook
            .timeout_action
            .as_ref()
            .map(|a| a.as_str().to_string());
        gate.target_service_revision = f.deployment.target_revision.clone();
    }
    gate
}

/// Step 3: the deployment's target revision (its task definition and network) as the
/// migration's source, once its image is this release's; the deadline is moved before the
/// hook's expiry.
pub async fn target_revision(
    plan: &GatePlan,
    clients: &Clients,
    found: &Found,
    out: &Output,
    aborts: &mut Aborts,
) -> Result<Resolved> {
    let api = deployments_of(plan, clients);
    let target = found.deployment.target_revision.as_deref().ok_or_else(|| {
        Error::before_run(format!(
            "deployment {} names no target service revision",
            found.deployment.arn
        ))
    })?;
    out.progress(format!(
        "deployment {} is paused at {} (hook {}); migrating with its target revision",
        found.deployment.arn, plan.stage, found.hook.id
    ));
    let resolved = revision_source(
        clients,
        &api,
        target,
        plan.run.target.container.as_deref(),
        plan.run
            .target
            .image
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        &found.deployment.arn,
    )
    .await?;
    if let Some(expires) = found.hook.expires_at {
        let left = expires
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let margin = EXPIRY_MARGIN.min(left / 10);
        aborts.tighten(
            Instant::now() + left.saturating_sub(margin),
            format!(
                "the hook's expiry at {}, less {}s to answer it",
                rfc3339(expires),
                margin.as_secs()
            ),
        );
        out.progress(format!(
            "the hook expires at {} (then: {}); the migration must end by then",
            rfc3339(expires),
            found
                .hook
                .timeout_action
                .as_ref()
                .map_or("its timeout action", |a| a.as_str())
        ));
    }
    Ok(resolved)
}

/// A deployment's target revision (its task definition and network) as the migration's
/// source, once its image for the container is `image` (when given). `gate` and the Lambda
/// hook share it.
pub async fn revision_source(
    clients: &Clients,
    api: &deployments::Sdk<'_>,
    target: &str,
    container: Option<&str>,
    image: Option<&str>,
    deployment: &str,
) -> Result<Resolved> {
    let context = api.revision(target).await?;
    let described =
        rawjson::describe_task_definition(&clients.ecs, &context.task_definition).await?;
    let container = described.pick_container(container)?;
    let deployed = described
        .container(&container)
        .and_then(|c| c["image"].as_str())
        .unwrap_or_default();
    if let Some(image) = image
        && image != deployed
    {
        return Err(Error::before_run(format!(
            "deployment {} deploys {deployed} for '{container}', not {image}: it is not this release's deployment; the hook is left alone",
            id_of(deployment)
        ))
        .with_hint("wait for that deployment to end, or gate it with its own image"));
    }
    Ok(Resolved {
        described,
        service: Some(context),
        deploying: true,
    })
}

/// What became of the hook's answer.
#[derive(Debug)]
pub enum Answered {
    /// The decision was to leave the hook.
    Left,
    /// ECS took it.
    Taken(HookAction),
    /// Refused, but the deployment went the way the answer would have sent it.
    WentThatWay(HookAction, String),
    /// Refused, and the deployment did not go that way: its status, and ECS's refusal.
    Refused(HookAction, String, Error),
}

/// Step 5: sends the decision; a refused answer is checked against the deployment.
pub async fn answer(
    plan: &GatePlan,
    clients: &Clients,
    found: &Found,
    decision: &Decision,
    out: &Output,
) -> Answered {
    let Some(action) = decision.action else {
        return Answered::Left;
    };
    let api = deployments_of(plan, clients);
    let refused = match api
        .answer(&found.deployment.arn, &found.hook.id, action)
        .await
    {
        Ok(()) => {
            out.progress(format!(
                "answered the {} hook of {}: {} ({})",
                plan.stage,
                found.deployment.arn,
                action.as_str(),
                decision.reason
            ));
            return Answered::Taken(action);
        }
        Err(e) => e,
    };
    // Refused: the hook was answered meanwhile (another gate, an operator) or expired.
    let now: Option<DeploymentView> = api.describe(&found.deployment.arn).await.ok().flatten();
    let status = now
        .as_ref()
        .map_or_else(|| "unknown".to_string(), |d| d.status.as_str().to_string());
    let went = |d: &DeploymentView| match action {
        HookAction::Continue => {
            matches!(
                d.status,
                aws_sdk_ecs::types::ServiceDeploymentStatus::InProgress
                    | aws_sdk_ecs::types::ServiceDeploymentStatus::Successful
            ) && !d
                .hooks
                .iter()
                .any(|h| h.id == found.hook.id && h.awaiting())
        }
        HookAction::Rollback => d.status.as_str().starts_with("ROLLBACK"),
    };
    if now.as_ref().is_some_and(went) {
        Answered::WentThatWay(action, status)
    } else {
        Answered::Refused(action, status, refused)
    }
}

/// A hook left unanswered: who can still decide, and by when.
pub fn left_message(found: &Found, why: &str) -> String {
    let expiry = found
        .hook
        .expires_at
        .map(|t| format!(" at {}", rfc3339(t)))
        .unwrap_or_default();
    format!(
        "the hook is left unanswered ({why}); a rerun of the gate can still answer it, else its timeout action ({}) applies{expiry}",
        found
            .hook
            .timeout_action
            .as_ref()
            .map_or("unknown", |a| a.as_str())
    )
}

fn rfc3339(t: SystemTime) -> String {
    DateTime::from(t).fmt(Format::DateTime).unwrap_or_default()
}
