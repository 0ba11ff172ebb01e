//! Lambda mode (`AWS_LAMBDA_RUNTIME_API` set): the binary, named `bootstrap`, is an ECS native
//! blue/green deployment's AWS_LAMBDA lifecycle hook. Each invocation: the event → the plan
//! (hookDetails and the environment, read as `gate` reads its flags) → the target revision →
//! launch the migration (the RunTask token is the deployment's), or follow the task an earlier
//! invocation launched, within this invocation's time → SUCCEEDED, FAILED or IN_PROGRESS (the
//! task and how far its log was printed, in hookDetails). Every answer and why go to the log.

use std::time::{Duration, SystemTime};

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::aws::Clients;
use crate::aws::deployments;
use crate::config::{self, HookSettings};
use crate::output::{Format, Output};
use crate::plan::hook_event::{
    self, Answer, DEADLINE_KEY, HookEvent, HookStatus, PRINTED_KEY, TASK_KEY,
};
use crate::plan::migration::OnAbort;
use crate::signals::Aborts;
use crate::steps::{hook, migrate};
use crate::verdict::hook_answer::{Found, hook_answer};
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
    F: Fn(Invocation) -> Fut,
    Fut: Future<Output = Answer>,
{
    let handler = service_fn(|event: LambdaEvent<Value>| {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        let answered = answer(Invocation {
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
            crate::exit::USAGE
        }
    }
}

/// One invocation: ECS's event, and when the function must have answered.
pub struct Invocation {
    payload: Value,
    deadline: SystemTime,
}

async fn invoke(inv: Invocation, settings: &HookSettings) -> Answer {
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
    let plan = match config::hook_plan(&event) {
        Ok(p) => p,
        Err(e) => return Answer::new(HookStatus::Failed, e.to_string()),
    };
    if event.stage != plan.stage {
        return Answer::new(
            HookStatus::Succeeded,
            format!(
                "the migration runs at {}, not {}: nothing to do here",
                plan.stage, event.stage
            ),
        );
    }
    // 2. This invocation's time, and the migration's own deadline (set by the first one)
    let now = SystemTime::now();
    let mut run = plan.run;
    let working = hook_event::invocation_time(inv.deadline, now, settings.budget);
    let overall = event.deadline().or_else(|| run.timeout.map(|t| now + t));
    let until_overall = overall.map(|d| d.duration_since(now).unwrap_or(Duration::ZERO));
    let mut aborts = Aborts::new(closed(), None);
    match until_overall {
        Some(left) if left <= working => {
            run.on_abort = OnAbort::Stop;
            aborts.tighten(Instant::now() + left, "the migration's timeout");
        }
        _ => {
            run.on_abort = OnAbort::Detach;
            aborts.tighten(Instant::now() + working, "this invocation's time");
        }
    }
    run.timeout = None;
    // 3. The target revision, then launch or follow
    let report = async {
        let clients = Clients::load(&run.connection).await?;
        let cluster = run.target.cluster.clone().unwrap_or_default();
        let api = deployments::Sdk {
            ecs: &clients.ecs,
            cluster: &cluster,
            service: &plan.service,
        };
        let container = run.target.container.as_deref();
        let resolved = hook::revision_source(
            &clients,
            &api,
            &event.target_revision,
            container,
            None,
            &event.deployment_arn,
        )
        .await?;
        Ok::<Report, crate::error::Error>(match event.task() {
            None => migrate::migrate(&run, &clients, &resolved, &out, &mut aborts).await,
            Some(task) => {
                migrate::resume(
                    &run,
                    &clients,
                    &resolved,
                    task,
                    event.printed(),
                    &out,
                    &mut aborts,
                )
                .await
            }
        })
    }
    .await
    .unwrap_or_else(|e| {
        let mut r = Report::default();
        r.fail(&e);
        r
    });
    out.report(&report);
    // 4. The answer
    // still running, or exited with its log cut short by this invocation's time: the next
    // invocation follows it (and drains the log)
    let cut_short = run.on_abort == OnAbort::Detach
        && !report.logs.logs_complete
        && aborts.deadline().is_some_and(|d| Instant::now() >= d);
    let running = (report.detached || cut_short) && report.task_arn.is_some();
    let (status, why) = hook_answer(Found {
        outcome: report.outcome,
        release_defect: report.release_defect,
        launched: report.task_arn.is_some() || event.task().is_some(),
        running,
    });
    let reason = match (&report.error, report.outcome) {
        (Some(e), _) if !running && status != HookStatus::Succeeded => format!("{why}: {e}"),
        (_, Some(Outcome::Failed)) => format!(
            "{why}: exit code {}",
            report
                .ended
                .exit_code
                .map_or("unknown".into(), |c| c.to_string())
        ),
        _ => why.to_string(),
    };
    let mut answer = Answer::new(status, reason);
    if status == HookStatus::InProgress {
        answer.call_back_delay = Some(settings.call_back_delay.as_secs());
        if running && let Some(task) = &report.task_arn {
            answer.details.insert(TASK_KEY.into(), json!(task));
            answer
                .details
                .insert(PRINTED_KEY.into(), json!(report.logs.log_lines));
        }
        if let Some(d) = overall.and_then(|d| d.duration_since(SystemTime::UNIX_EPOCH).ok()) {
            answer
                .details
                .insert(DEADLINE_KEY.into(), json!(d.as_secs_f64()));
        }
    }
    answer
}

/// No signals reach a Lambda function's handler: the invocation's deadline is its only abort.
fn closed() -> crate::signals::Receiver {
    tokio::sync::mpsc::unbounded_channel().1
}
