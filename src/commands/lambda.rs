//! Lambda mode (`AWS_LAMBDA_RUNTIME_API` set): the binary, named `bootstrap`, is an ECS native
//! blue/green deployment's AWS_LAMBDA lifecycle hook. Each invocation: the event → the plan
//! (hookDetails and the environment, read as `gate` reads its flags) → the target revision →
//! launch the migration (the RunTask token is the deployment's), or follow the task an earlier
//! invocation launched, within this invocation's time → SUCCEEDED, FAILED or IN_PROGRESS (the
//! task and how far its log was printed, in hookDetails). Every answer and why go to the log.

use std::time::{Duration, SystemTime};

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use tokio::time::Instant;

use crate::aws::Clients;
use crate::aws::deployments;
use crate::config::{self, HookSettings};
use crate::output::{Format, Output};
use crate::plan::hook_event::{self, Answer, HookEvent, HookStatus};
use crate::plan::migration::{OnAbort, RunPlan};
use crate::signals::Aborts;
use crate::steps::{derive, hook, migrate, preflight};
use crate::verdict::hook_answer::{self, Invocation};
use crate::verdict::outcome::Outcome;
use crate::verdict::report::Report;

/// Serves invocations until the runtime ends the process; the exit code when it cannot start.
pub async fn serve() -> i32 {
    let out = Output::new(Format::Text);
    let settings = match config::hook_settings(|k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => {
            // every invocation fails the same way: say so in each answer, and in the log
            out.error_line(&e);
            let why = e.to_string();
            return run(move |_| {
                let why = why.clone();
                async move { Answer::new(HookStatus::Failed, why) }
            })
            .await;
        }
    };
    run(move |event| {
        let settings = settings.clone();
        async move { invoke(event, &settings).await }
    })
    .await
}

/// The Runtime API loop: each invocation's answer, logged, as ECS reads it.
async fn run<F, Fut>(answer: F) -> i32
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Answer>,
{
    let handler = service_fn(|event: LambdaEvent<Value>| {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        let answered = answer(Request {
            payload: event.payload,
            deadline,
        });
        async move {
            let a = answered.await;
            Output::new(Format::Text).progress(format!(
                "hook answer: {} ({})",
                a.status.as_str(),
                a.reason
            ));
            Ok::<Value, std::convert::Infallible>(a.to_json())
        }
    });
    match lambda_runtime::run(handler).await {
        Ok(()) => crate::exit::SUCCESS,
        Err(e) => {
            Output::new(Format::Text).error_line(format!("the Lambda runtime failed: {e}"));
            crate::exit::LAUNCH_FAILED
        }
    }
}

/// One invocation: ECS's event, and when the function must have answered.
pub struct Request {
    payload: Value,
    deadline: SystemTime,
}

async fn invoke(inv: Request, settings: &HookSettings) -> Answer {
    let out = Output::new(Format::Text);
    let event = match HookEvent::parse(&inv.payload) {
        Ok(e) => e,
        Err(e) => return Answer::new(HookStatus::Failed, e.to_string()),
    };
    out.progress(format!(
        "{} of {} (execution {}){}",
        event.stage,
        event.deployment_arn,
        event.execution_id,
        event
            .task()
            .map(|t| format!("; following {t}"))
            .unwrap_or_default()
    ));
    // 1. The plan: hookDetails and the environment
    let plan = match config::hook_plan(&event, |k| std::env::var_os(k).is_some()) {
        Ok(p) => p,
        Err(e) => return Answer::new(HookStatus::Failed, e.to_string()),
    };
    if event.stage != plan.stage {
        return Answer::new(
            HookStatus::Succeeded,
            format!(
                "the migration runs at {} (hookDetails.stage or ECS_MIGRATE_HOOK_STAGE), not {}: nothing to do here",
                plan.stage, event.stage
            ),
        );
    }
    // 2. This invocation's time, and the migration's own deadline (set by the first one)
    let now = SystemTime::now();
    let mut run = plan.run;
    let (working, spare) = hook_event::invocation_time(inv.deadline, now, settings.budget);
    let overall = event.deadline().or_else(|| run.timeout.map(|t| now + t));
    let until_overall = overall.map(|d| d.duration_since(now).unwrap_or(Duration::ZERO));
    if until_overall == Some(Duration::ZERO) && event.task().is_none() {
        let never = Invocation {
            outcome: Some(Outcome::TimedOut),
            deadline_passed: true,
            ..Default::default()
        };
        return hook_answer::answer(&never, settings.call_back_delay, None);
    }
    // the AWS configuration and the target revision are read in this invocation's time; the
    // migration's own deadline, when it falls within it, bounds the launch and the follow
    // (past it the follow stops the task at once; it must never cut the reads that lead there)
    let mut aborts = Aborts::new(closed(), None);
    aborts.tighten(Instant::now() + working, "this invocation's time");
    let migration_deadline = match until_overall {
        Some(left) if left <= working => {
            run.on_abort = OnAbort::Stop;
            Some(Instant::now() + left)
        }
        _ => {
            run.on_abort = OnAbort::Detach;
            None
        }
    };
    // after the deadline: a stop's grace and the log's drain fit in what the function has left
    if let Some(spare) = spare {
        run.stop_grace = run.stop_grace.min(spare / 2);
        run.log_drain_max = run.log_drain_max.min(spare / 4);
    }
    run.timeout = None;
    // 3. The target revision, then launch or follow
    let report = match aborts.race(Clients::load(&run.connection)).await {
        Ok(Ok(clients)) => {
            let service = plan.service.as_str();
            let until = migration_deadline;
            follow_or_launch(&event, service, &run, &clients, until, &out, &mut aborts).await
        }
        Ok(Err(e)) => failed(&e),
        Err(_) => failed(&crate::error::Error::before_run(
            "this invocation's time ran out loading the AWS configuration",
        )),
    };
    // 4. The answer
    let running =
        (report.detached || cut_short(&run, &report, &aborts)) && report.task_arn.is_some();
    if running {
        out.progress(format!(
            "{} is left running for the next invocation ({} log lines read)",
            report.task_arn.as_deref().unwrap_or_default(),
            report.logs.log_lines
        ));
    } else {
        out.report(&report);
    }
    let invocation = Invocation {
        outcome: report.outcome,
        release_defect: report.release_defect,
        task_arn: report
            .task_arn
            .clone()
            .or_else(|| event.task().map(String::from)),
        earlier_task: event.task().is_some(),
        running,
        error: report.error.clone(),
        exit_code: report.ended.exit_code,
        // never fewer than were printed before: a read cut short by this invocation's time
        // may have counted fewer
        log_lines: report.logs.log_lines.max(event.printed()),
        deadline_passed: overall.is_some_and(|d| SystemTime::now() >= d),
    };
    let deadline = overall
        .and_then(|d| d.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64());
    hook_answer::answer(&invocation, settings.call_back_delay, deadline)
}

/// The target revision as the source, then the migration: launched, or the task an earlier
/// invocation left in hookDetails followed, within `migration_deadline` when it is set.
async fn follow_or_launch(
    event: &HookEvent,
    service: &str,
    run: &RunPlan,
    clients: &Clients,
    migration_deadline: Option<Instant>,
    out: &Output,
    aborts: &mut Aborts,
) -> Report {
    let cluster = run.target.cluster.clone().unwrap_or_default();
    let api = deployments::Sdk {
        ecs: &clients.ecs,
        cluster: &cluster,
        service,
    };
    let container = run.target.container.as_deref();
    let resolving = hook::revision_source(
        clients,
        &api,
        &event.target_revision,
        container,
        None,
        &event.deployment_arn,
    );
    let resolved = match aborts.race(resolving).await {
        Ok(Ok(resolved)) => resolved,
        Ok(Err(e)) => return failed(&e),
        Err(_) => {
            return failed(&crate::error::Error::before_run(
                "this invocation's time ran out reading the target revision",
            ));
        }
    };
    if let Some(deadline) = migration_deadline {
        aborts.tighten(deadline, "the migration's timeout");
    }
    if let Some(task) = event.task() {
        let printed = event.printed();
        return migrate::resume(run, clients, &resolved, task, printed, out, aborts).await;
    }
    // a twin or an earlier invocation may have launched it (its answer lost): follow that one
    let token = run.client_token.clone().unwrap_or_default();
    if let Ok(derived) = derive::derive(run, &resolved, token) {
        let looking =
            preflight::hook_task(&clients.ecs, &cluster, &derived.started_by, &run.caller);
        match aborts.race(looking).await {
            Ok(Ok(Some(task))) => {
                out.progress(format!(
                    "this deployment's migration is {task}; following it"
                ));
                return migrate::resume(run, clients, &resolved, &task, 0, out, aborts).await;
            }
            Ok(Ok(None)) => {}
            // RunTask's token is the deployment's: launching finds that task if there is one
            Ok(Err(e)) => tracing::debug!(error = %e, "looking for this deployment's migration"),
            // the deadline fires once: past it, nothing may be launched
            Err(ev) => {
                let aborted = migrate::not_launched(ev, aborts.label(), out);
                let region = Some(clients.region().to_string());
                return migrate::unresolved(run, region, Err(aborted), out);
            }
        }
    }
    migrate::migrate(run, clients, &resolved, out, aborts).await
}

/// The container exited, but this invocation's time cut its log's drain short: the next
/// invocation drains it.
fn cut_short(run: &RunPlan, report: &Report, aborts: &Aborts) -> bool {
    run.on_abort == OnAbort::Detach
        && !report.logs.logs_complete
        && aborts.deadline().is_some_and(|d| Instant::now() >= d)
}

fn failed(e: &crate::error::Error) -> Report {
    let mut r = Report::default();
    r.fail(e);
    r
}

/// No signals reach a Lambda function's handler: the invocation's deadline is its only abort.
fn closed() -> crate::signals::Receiver {
    tokio::sync::mpsc::unbounded_channel().1
}
