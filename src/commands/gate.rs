//! `ecs-migrate gate`, step by step: the service (native blue/green with a PAUSE hook) → wait
//! for its deployment to stop at the hook → the target revision → migrate exactly as `run`
//! does (within the hook's expiry) → answer the hook: CONTINUE on success, ROLLBACK on failure.

use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use tokio::time::Instant;

use crate::aws::Clients;
use crate::aws::deployments::{self, HookAction};
use crate::aws::rawjson;
use crate::cli::{AwsArgs, OnFailure};
use crate::commands::run::{self, Ran, Start};
use crate::config::{GatePlan, OnAbort};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::plan::network;
use crate::signals::Aborts;
use crate::steps::resolve::Resolved;
use crate::verdict::outcome::Outcome;
use crate::verdict::report::{GateReport, Report};

use crate::steps::hook_wait::{self as wait, Found, Polling};

/// The longest margin kept between the migration's deadline and the hook's expiry.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

pub async fn gate(plan: &GatePlan, aws: &AwsArgs, out: &Output, aborts: &mut Aborts) -> Ran {
    let mut report = Report {
        cluster: plan.run.target.cluster.clone().unwrap_or_default(),
        service: Some(plan.service.clone()),
        image: plan.run.target.image.as_ref().map(ToString::to_string),
        preset: plan.run.overrides.preset.clone(),
        command: plan.run.overrides.command.clone(),
        gate: Some(GateReport {
            stage: plan.stage.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (clients, found) = match at_the_hook(plan, aws, out, aborts, &mut report).await {
        Ok(Some(ready)) => ready,
        Ok(None) => return Ran::Report(Box::new(report)),
        Err(e) => {
            report.fail(&e);
            return Ran::Report(Box::new(report));
        }
    };
    let gate = GateReport {
        service_deployment_arn: Some(found.deployment.arn.clone()),
        hook_id: Some(found.hook.id.clone()),
        stage: plan.stage.clone(),
        hook_expires_at: found.hook.expires_at.map(rfc3339),
        timeout_action: found.hook.timeout_action.clone(),
        target_service_revision: found.deployment.target_revision.clone(),
        ..Default::default()
    };
    report.gate = Some(gate.clone());
    let mut report = match migrate(plan, &clients, &found, out, aborts).await {
        Ok(Ran::Report(mut migrated)) => {
            migrated.gate = Some(gate);
            migrated.service = Some(plan.service.clone());
            migrated
        }
        // gate plans have no dry run; a plan that had one is answered like any failure
        Ok(Ran::DryRun) => Box::new(report),
        Err(e) => {
            // Not this release's deployment, or its revision unreadable: no verdict to give.
            report.fail(&e);
            Box::new(report)
        }
    };
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
    report.region = Some(clients.region().to_string());
    let cluster = plan.run.target.cluster.as_deref().unwrap_or_default();
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
            run::not_launched(ev, aborts.label(), out, report);
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
            run::not_launched(ev, aborts.label(), out, report);
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

/// What the gate tells the hook, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// None: the hook is left to a rerun of the gate, or to its timeout action.
    pub action: Option<HookAction>,
    pub reason: String,
}

/// Pure: the decision table of docs/reliability.md. Only a migration that ran and failed, or
/// that this release's task definition cannot start, rolls back; a gate that did not run its
/// migration (busy, AWS trouble, its own bad input, an abort) leaves the hook to whoever can
/// still decide.
pub fn decide(
    outcome: Option<Outcome>,
    release_defect: bool,
    on_failure: OnFailure,
    on_abort: OnAbort,
) -> Decision {
    let failed = |why: &str| {
        let (action, then) = match on_failure {
            OnFailure::Rollback => (Some(HookAction::Rollback), ""),
            OnFailure::Leave => (None, "; --on-failure leave: the hook is left"),
        };
        Decision {
            action,
            reason: format!("{why}{then}"),
        }
    };
    let leave = |why: &str| Decision {
        action: None,
        reason: why.to_string(),
    };
    match outcome {
        Some(Outcome::Succeeded) => Decision {
            action: Some(HookAction::Continue),
            reason: "the migration succeeded".into(),
        },
        Some(Outcome::Failed) => failed("the migration failed"),
        Some(Outcome::NotStarted) => {
            failed("ECS could not start the migration with this release's task definition")
        }
        Some(Outcome::LaunchFailed) if release_defect => {
            failed("this release's task definition cannot run (its preflight failed)")
        }
        Some(Outcome::TimedOut | Outcome::Interrupted) if on_abort == OnAbort::Rollback => {
            Decision {
                action: Some(HookAction::Rollback),
                reason: "the migration was aborted; --on-abort rollback".into(),
            }
        }
        Some(Outcome::TimedOut | Outcome::Interrupted) => leave(
            "the migration was aborted before its verdict: rerun the gate, or its timeout action decides",
        ),
        Some(Outcome::Busy) => leave(
            "another migration of this family is running (another gate?): it answers the hook",
        ),
        Some(Outcome::LaunchFailed) => leave(
            "the gate failed before launching, not the release (an AWS error or RunTask failure): rerun the gate while the hook waits",
        ),
        Some(Outcome::UsageError) => {
            leave("the gate's own input is wrong: fix it and rerun while the hook waits")
        }
        Some(Outcome::NoExitCode) => leave(
            "the migration's task ended without an exit code (Spot or host loss): check it with the status preset and rerun the gate",
        ),
        Some(Outcome::LostTrack) => leave(
            "the gate lost track of its migration: check the task, then continue or roll back by hand",
        ),
        Some(Outcome::HookFailed | Outcome::WriteFailed) | None => leave("no verdict"),
    }
}

/// Step 5: CONTINUE or ROLLBACK, or leave the hook to a rerun or its timeout action.
async fn answer(
    plan: &GatePlan,
    clients: &Clients,
    found: &Found,
    report: &mut Report,
    out: &Output,
) {
    let decision = decide(
        report.outcome,
        report.release_defect,
        plan.on_failure,
        plan.run.on_abort,
    );
    if let Some(g) = report.gate.as_mut() {
        g.reason = Some(decision.reason.clone());
    }
    let Some(action) = decision.action else {
        return leave(found, &decision.reason, report, out);
    };
    if let Some(g) = report.gate.as_mut() {
        g.attempted_action = Some(action.as_str().to_string());
    }
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
            if let Some(g) = report.gate.as_mut() {
                g.action = Some(action.as_str().to_string());
            }
            return;
        }
        Err(e) => e,
    };
    // Refused: the hook was answered meanwhile (another gate, an operator) or expired. If the
    // deployment went the way we would have sent it, there is nothing to fix.
    let now = api.describe(&found.deployment.arn).await.ok().flatten();
    let went_on = now.as_ref().is_some_and(|d| {
        matches!(d.status.as_str(), "IN_PROGRESS" | "SUCCESSFUL")
            && !d
                .hooks
                .iter()
                .any(|h| h.id == found.hook.id && h.awaiting())
    });
    let rolled_back = now
        .as_ref()
        .is_some_and(|d| d.status.starts_with("ROLLBACK"));
    let status = now.map(|d| d.status).unwrap_or_else(|| "unknown".into());
    match action {
        HookAction::Continue if went_on => run::warn(
            out,
            report,
            format!(
                "the hook had already been answered (another gate, or its timeout action CONTINUE): the deployment went on ({status})"
            ),
        ),
        HookAction::Rollback if rolled_back => run::warn(
            out,
            report,
            format!("the hook had already been answered: the deployment is {status}"),
        ),
        HookAction::Continue => {
            report.outcome = Some(Outcome::HookFailed);
            report.error = Some(format!(
                "the migration succeeded, but the deployment did not take CONTINUE: {refused}; it is {status} (hint: check it with aws ecs describe-service-deployments --service-deployment-arns {} and continue or roll back by hand)",
                found.deployment.arn
            ));
        }
        HookAction::Rollback => run::warn(
            out,
            report,
            format!(
                "could not send ROLLBACK: {refused}; the deployment is {status}: roll it back by hand if it goes on"
            ),
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

fn leave(found: &Found, why: &str, report: &mut Report, out: &Output) {
    let expiry = found
        .hook
        .expires_at
        .map(|t| format!(" at {}", rfc3339(t)))
        .unwrap_or_default();
    run::warn(
        out,
        report,
        format!(
            "the hook is left unanswered ({why}); a rerun of the gate can still answer it, else its timeout action ({}) applies{expiry}",
            found.hook.timeout_action.as_deref().unwrap_or("unknown")
        ),
    );
}

fn rfc3339(t: SystemTime) -> String {
    DateTime::from(t).fmt(Format::DateTime).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/reliability.md's decision table, row by row.
    #[test]
    fn the_decision_table() {
        use HookAction::*;
        use OnAbort::{Rollback as AbortRollback, Stop};
        use OnFailure::{Leave, Rollback as FailRollback};
        let rows = [
            (
                Outcome::Succeeded,
                false,
                FailRollback,
                Stop,
                Some(Continue),
            ),
            (Outcome::Succeeded, false, Leave, Stop, Some(Continue)),
            (Outcome::Failed, false, FailRollback, Stop, Some(Rollback)),
            (Outcome::Failed, false, Leave, Stop, None),
            (
                Outcome::NotStarted,
                false,
                FailRollback,
                Stop,
                Some(Rollback),
            ),
            (
                Outcome::LaunchFailed,
                true,
                FailRollback,
                Stop,
                Some(Rollback),
            ),
            (Outcome::LaunchFailed, true, Leave, Stop, None),
            (Outcome::LaunchFailed, false, FailRollback, Stop, None),
            (Outcome::UsageError, false, FailRollback, Stop, None),
            (Outcome::Busy, false, FailRollback, Stop, None),
            (Outcome::NoExitCode, false, FailRollback, Stop, None),
            (Outcome::LostTrack, false, FailRollback, Stop, None),
            (Outcome::TimedOut, false, FailRollback, Stop, None),
            (Outcome::Interrupted, false, FailRollback, Stop, None),
            (
                Outcome::TimedOut,
                false,
                Leave,
                AbortRollback,
                Some(Rollback),
            ),
            (
                Outcome::Interrupted,
                false,
                Leave,
                AbortRollback,
                Some(Rollback),
            ),
            (Outcome::Busy, false, FailRollback, AbortRollback, None),
        ];
        for (outcome, defect, on_failure, on_abort, want) in rows {
            let d = decide(Some(outcome), defect, on_failure, on_abort);
            assert_eq!(d.action, want, "{outcome:?} defect={defect}: {}", d.reason);
            assert!(!d.reason.is_empty());
        }
        for o in crate::verdict::outcome::Outcome::ALL {
            // every outcome has a row (the match above is exhaustive; this pins the list)
            let _ = decide(Some(o), false, FailRollback, Stop);
        }
    }

    /// Each row of docs/reliability.md's decision table says what `decide` does, with the
    /// default flags and with the flag the row names.
    #[test]
    fn the_docs_decision_table_is_decide() {
        let doc = include_str!("../../docs/reliability.md");
        let table = doc
            .split("| outcome | when | the hook gets |")
            .nth(1)
            .expect("the decision table");
        let rows: Vec<&str> = table
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .collect();
        assert_eq!(rows.len(), 10, "{rows:?}");
        let mut outcomes_seen = std::collections::BTreeSet::new();
        for row in rows {
            let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
            let (names, when, answer) = (cells[0], cells[1], cells[2]);
            let defect = names == "`launch_failed`" && when.starts_with("the preflight");
            for name in names.split(", ") {
                let outcome = Outcome::ALL
                    .into_iter()
                    .find(|o| format!("`{}`", o.name()) == name)
                    .unwrap_or_else(|| panic!("no outcome {name}"));
                outcomes_seen.insert(name.to_string());
                let d = decide(Some(outcome), defect, OnFailure::Rollback, OnAbort::Stop);
                let want = if answer.starts_with("CONTINUE") {
                    Some(HookAction::Continue)
                } else if answer.starts_with("ROLLBACK") {
                    Some(HookAction::Rollback)
                } else {
                    assert!(answer.starts_with("left"), "{row}");
                    None
                };
                assert_eq!(d.action, want, "{row}");
                if answer.contains("(`--on-failure leave`: left)") {
                    let d = decide(Some(outcome), defect, OnFailure::Leave, OnAbort::Stop);
                    assert_eq!(d.action, None, "{row}");
                }
                if answer.contains("(`--on-abort rollback`: ROLLBACK)") {
                    let d = decide(
                        Some(outcome),
                        defect,
                        OnFailure::Rollback,
                        OnAbort::Rollback,
                    );
                    assert_eq!(d.action, Some(HookAction::Rollback), "{row}");
                }
            }
        }
        // every outcome a migration can end with has a row (hook_failed is the answer failing,
        // write_failed belongs to render)
        for o in Outcome::ALL {
            if !matches!(o, Outcome::HookFailed | Outcome::WriteFailed) {
                assert!(
                    outcomes_seen.contains(&format!("`{}`", o.name())),
                    "{o:?} has no row"
                );
            }
        }
    }
}
