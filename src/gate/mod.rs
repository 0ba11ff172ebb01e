//! `ecs-migrate gate`, step by step: the service (native blue/green with a PAUSE hook) → wait
//! for its deployment to stop at the hook → the target revision → migrate exactly as `run`
//! does (within the hook's expiry) → answer the hook: CONTINUE on success, ROLLBACK on failure.

pub mod wait;

use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use tokio::time::Instant;

use crate::aws::Clients;
use crate::cli::{AwsArgs, OnAbort, OnFailure};
use crate::config::GatePlan;
use crate::deployments::{self, HookAction};
use crate::error::{Error, Result};
use crate::network;
use crate::outcome::Outcome;
use crate::output::Output;
use crate::rawjson;
use crate::report::{GateReport, Report};
use crate::resolve::Resolved;
use crate::run::{self, Ran, Start};
use crate::signals::Aborts;

use wait::{Found, Polling};

/// The longest margin kept between the migration's deadline and the hook's expiry.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

pub async fn gate(plan: &GatePlan, aws: &AwsArgs, out: &Output, aborts: &mut Aborts) -> Ran {
    let mut report = Report::default();
    let (clients, found) = match at_the_hook(plan, aws, out, aborts, &mut report).await {
        Ok(Some(ready)) => ready,
        Ok(None) => return Ran::Report(Box::new(report)),
        Err(e) => {
            report.fail(&e);
            return Ran::Report(Box::new(report));
        }
    };
    let gate = GateReport {
        service_deployment_arn: found.deployment.arn.clone(),
        hook_id: found.hook.id.clone(),
        stage: plan.stage.clone(),
        hook_expires_at: found.hook.expires_at.map(rfc3339),
        timeout_action: found.hook.timeout_action.clone(),
        target_service_revision: found.deployment.target_revision.clone(),
        action: None,
    };
    let mut report = match migrate(plan, &clients, &found, out, aborts).await {
        Ok(Ran::Report(report)) => report,
        Ok(Ran::DryRun) => unreachable!("gate plans have no dry run"),
        Err(e) => {
            // Not this release's deployment, or its revision unreadable: no verdict to give.
            report.fail(&e);
            report.gate = Some(gate);
            leave(&found, &mut report, out);
            return Ran::Report(Box::new(report));
        }
    };
    report.gate = Some(gate);
    answer(plan, &clients, &found, &mut report, out).await;
    Ran::Report(report)
}

/// Steps 1-2: the service and its deployment stopped at the hook. None: aborted while waiting
/// (the report says so; nothing was launched).
async fn at_the_hook(
    plan: &GatePlan,
    aws: &AwsArgs,
    out: &Output,
    aborts: &mut Aborts,
    report: &mut Report,
) -> Result<Option<(Clients, Found)>> {
    let clients = Clients::load(aws).await?;
    let cluster = plan.run.target.cluster.as_deref().unwrap_or_default();
    report.cluster = cluster.to_string();
    // 1. The service: ECS controller, BLUE_GREEN, a PAUSE hook at the stage
    let ctx = match aborts
        .race(network::resolve_service(
            &clients.ecs,
            cluster,
            &plan.service,
        ))
        .await
    {
        Ok(ctx) => ctx?,
        Err(ev) => {
            run::not_launched(ev, out, report);
            return Ok(None);
        }
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
    // 2. Wait for a deployment to stop there
    let api = deployments_of(plan, &clients);
    let polling = Polling {
        interval: plan.run.describe_interval,
        backoff_max: plan.run.poll_max,
        give_up: Instant::now() + plan.hook_wait,
    };
    out.progress(format!(
        "waiting for a deployment of {} to stop at its {} hook",
        plan.service, plan.stage
    ));
    match wait::for_hook(&api, &plan.stage, polling, aborts, out).await? {
        Ok(found) => Ok(Some((clients, found))),
        Err(ev) => {
            run::not_launched(ev, out, report);
            Ok(None)
        }
    }
}

/// Steps 3-4: the target revision's task definition and network, then the migration as `run`
/// runs it, with the deadline moved before the hook's expiry.
async fn migrate(
    plan: &GatePlan,
    clients: &Clients,
    found: &Found,
    out: &Output,
    aborts: &mut Aborts,
) -> Result<Ran> {
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
    let context = api.revision(target).await?;
    let described =
        rawjson::describe_task_definition(&clients.ecs, &context.task_definition).await?;
    let container = described.pick_container(plan.run.target.container.as_deref())?;
    let deployed = described
        .container(&container)
        .and_then(|c| c["image"].as_str())
        .unwrap_or_default();
    if let Some(image) = &plan.run.target.image
        && image.to_string() != deployed
    {
        return Err(Error::before_run(format!(
            "deployment {} deploys {deployed} for '{container}', not {image}: it is not this release's deployment; the hook is left alone",
            found.deployment.arn.rsplit('/').next().unwrap_or(&found.deployment.arn)
        ))
        .with_hint("wait for that deployment to end, or gate it with its own image"));
    }
    if let Some(expires) = found.hook.expires_at {
        let left = expires
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let margin = EXPIRY_MARGIN.min(left / 10);
        aborts.tighten(Instant::now() + left.saturating_sub(margin));
        out.progress(format!(
            "the hook expires at {} (then: {}); the migration must end by then",
            rfc3339(expires),
            found
                .hook
                .timeout_action
                .as_deref()
                .unwrap_or("its timeout action")
        ));
    }
    let resolved = Resolved {
        described,
        service: Some(context),
        deploying: true,
    };
    let start = Start::Resolved(Box::new((clients.clone(), resolved)));
    Ok(run::run_from(&plan.run, start, out, aborts).await)
}

/// Pure: the hook's answer for a migration's outcome.
pub fn action_for(
    outcome: Option<Outcome>,
    on_failure: OnFailure,
    on_abort: OnAbort,
) -> Option<HookAction> {
    match outcome {
        Some(Outcome::Succeeded) => Some(HookAction::Continue),
        Some(Outcome::TimedOut | Outcome::Interrupted) => {
            (on_abort == OnAbort::Rollback).then_some(HookAction::Rollback)
        }
        _ => (on_failure == OnFailure::Rollback).then_some(HookAction::Rollback),
    }
}

/// Step 5: CONTINUE or ROLLBACK, or leave the hook to its timeout action.
async fn answer(
    plan: &GatePlan,
    clients: &Clients,
    found: &Found,
    report: &mut Report,
    out: &Output,
) {
    let Some(action) = action_for(report.outcome, plan.on_failure, plan.run.on_abort) else {
        return leave(found, report, out);
    };
    let api = deployments_of(plan, clients);
    match api
        .answer(&found.deployment.arn, &found.hook.id, action)
        .await
    {
        Ok(()) => {
            out.progress(format!(
                "answered the {} hook of {}: {}",
                plan.stage,
                found.deployment.arn,
                action.as_str()
            ));
            if let Some(g) = report.gate.as_mut() {
                g.action = Some(action.as_str().to_string());
            }
        }
        Err(e) if report.outcome == Some(Outcome::Succeeded) => {
            report.outcome = Some(Outcome::HookFailed);
            report.error = Some(format!(
                "the migration succeeded, but the deployment did not take CONTINUE: {e}"
            ));
        }
        Err(e) => run::warn(
            out,
            report,
            format!("could not send {}: {e}", action.as_str()),
        ),
    }
}

/// The service's deployments, through the SDK.
fn deployments_of<'a>(plan: &'a GatePlan, clients: &'a Clients) -> deployments::Sdk<'a> {
    deployments::Sdk {
        ecs: &clients.ecs,
        cluster: plan.run.target.cluster.as_deref().unwrap_or_default(),
        service: &plan.service,
    }
}

fn leave(found: &Found, report: &mut Report, out: &Output) {
    let why = format!(
        "the hook is left to its timeout action ({})",
        found.hook.timeout_action.as_deref().unwrap_or("unknown")
    );
    run::warn(out, report, why);
}

fn rfc3339(t: SystemTime) -> String {
    DateTime::from(t).fmt(Format::DateTime).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_follows_the_outcome_and_the_flags() {
        use HookAction::*;
        use OnAbort::{Rollback as AbortRollback, Stop};
        use OnFailure::{Leave, Rollback as FailRollback};
        let cases = [
            (Outcome::Succeeded, Leave, Stop, Some(Continue)),
            (Outcome::Failed, FailRollback, Stop, Some(Rollback)),
            (Outcome::Failed, Leave, Stop, None),
            (Outcome::NotStarted, FailRollback, Stop, Some(Rollback)),
            (Outcome::LaunchFailed, FailRollback, Stop, Some(Rollback)),
            (Outcome::TimedOut, FailRollback, Stop, None),
            (Outcome::Interrupted, FailRollback, Stop, None),
            (Outcome::Interrupted, Leave, AbortRollback, Some(Rollback)),
        ];
        for (outcome, on_failure, on_abort, want) in cases {
            assert_eq!(
                action_for(Some(outcome), on_failure, on_abort),
                want,
                "{outcome:?}"
            );
        }
    }
}
