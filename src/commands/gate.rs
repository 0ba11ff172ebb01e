//! `ecs-migrate gate`: the service's deployment stopped at its PAUSE hook → its target
//! revision → the migration, as `run` runs it, within the hook's expiry → the hook's answer,
//! by the decision table (verdict::decision).

use crate::aws::Clients;
use crate::output::Output;
use crate::plan::migration::GatePlan;
use crate::plan::stages::HookAction;
use crate::signals::Aborts;
use crate::steps::hook::{self, Answered};
use crate::steps::hook_wait::Found;
use crate::steps::migrate;
use crate::verdict::decision::decide;
use crate::verdict::outcome::Outcome;
use crate::verdict::report::Report;

pub async fn gate(plan: &GatePlan, out: &Output, aborts: &mut Aborts) -> Report {
    let run = &plan.run;
    let clients = match Clients::load(&run.connection).await {
        Ok(clients) => clients,
        Err(e) => return with_gate(plan, migrate::unresolved(run, None, Ok(e), out), None),
    };
    let region = Some(clients.region().to_string());
    // 1-2. The service, and its deployment stopped at the hook
    let found = match hook::at_the_hook(plan, &clients, out, aborts).await {
        Ok(Ok(found)) => found,
        Ok(Err(ev)) => {
            let aborted = migrate::not_launched(ev, aborts.label(), out);
            let report = migrate::unresolved(run, region, Err(aborted), out);
            return with_gate(plan, report, None);
        }
        Err(e) => return with_gate(plan, migrate::unresolved(run, region, Ok(e), out), None),
    };
    // 3-4. Its target revision, then the migration (its deadline before the hook's expiry)
    let mut report = match hook::target_revision(plan, &clients, &found, out, aborts).await {
        Ok(resolved) => migrate::migrate(run, &clients, &resolved, out, aborts).await,
        Err(e) => migrate::unresolved(run, region, Ok(e), out),
    };
    // 5. The answer
    let decision = decide(
        report.outcome,
        report.release_defect,
        plan.on_failure,
        run.on_abort,
    );
    let answered = hook::answer(plan, &clients, &found, &decision, out).await;
    let mut gate = hook::facts(plan, Some(&found));
    gate.reason = Some(decision.reason.clone());
    let warn = |report: &mut Report, w: String| {
        out.warn(&w);
        report.warnings.push(w);
    };
    match answered {
        Answered::Left => warn(&mut report, hook::left_message(&found, &decision.reason)),
        Answered::Taken(action) => {
            gate.attempted_action = Some(action.as_str().into());
            gate.action = Some(action.as_str().into());
        }
        Answered::WentThatWay(action, status) => {
            gate.attempted_action = Some(action.as_str().into());
            warn(
                &mut report,
                format!(
                    "the hook had already been answered (another gate, or its timeout action): the deployment is {status}, as {} would have it",
                    action.as_str()
                ),
            );
        }
        Answered::Refused(HookAction::Continue, status, e)
            if report.outcome == Some(Outcome::Succeeded) =>
        {
            gate.attempted_action = Some(HookAction::Continue.as_str().into());
            report.outcome = Some(Outcome::HookFailed);
            report.error = Some(format!(
                "the migration succeeded, but the deployment did not take CONTINUE: {e}; it is {status} (hint: check it with aws ecs describe-service-deployments --service-deployment-arns {} and continue or roll back by hand)",
                found.deployment.arn
            ));
        }
        Answered::Refused(action, status, e) => {
            gate.attempted_action = Some(action.as_str().into());
            warn(
                &mut report,
                format!(
                    "could not send {}: {e}; the deployment is {status}: answer it by hand if it goes the wrong way",
                    action.as_str()
                ),
            );
        }
    }
    report.gate = Some(gate);
    report.service = Some(plan.service.clone());
    report
}

/// A gate's report that ended before its answer: the gate's facts as far as they are known.
fn with_gate(plan: &GatePlan, mut report: Report, found: Option<&Found>) -> Report {
    report.gate = Some(hook::facts(plan, found));
    report.service = Some(plan.service.clone());
    report
}
