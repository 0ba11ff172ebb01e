//! The follow engine: waits for the target container to exit while streaming its log, and
//! handles aborts. `machine` decides (pure), `seam` talks to AWS, this driver runs every AWS
//! call raced against the abort source, so a signal or the deadline reaches StopTask at once,
//! whatever AWS is doing.

pub mod claim;
pub mod machine;
pub mod seam;

use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;
use crate::output::Output;
use crate::signals::Aborts;
use crate::verdict::outcome::Ending;
use machine::{Machine, Note, Settings, Step};
use seam::{TaskApi, TaskView};

/// Longest wait for StopTask's answer (the SDK retries inside it).
pub const STOP_BUDGET: Duration = Duration::from_secs(20);
/// Longest wait for the last look at the deadline: StopTask must still go out within a second.
pub const LAST_LOOK: Duration = Duration::from_millis(500);

/// What following a task found.
#[derive(Debug)]
pub struct Followed {
    pub ending: Ending,
    /// The last DescribeTasks view of the task.
    pub task: Option<TaskView>,
    pub detached: bool,
    pub log_lines: u64,
    pub logs_complete: bool,
    /// The winner of the family claim, when ours lost it.
    pub winner: Option<TaskView>,
    /// Why the task could not be followed or stopped.
    pub lost_reason: Option<String>,
    /// The abort that cut the run short (`deadline reached (--timeout 45m)`).
    pub abort_reason: Option<String>,
    pub warnings: Vec<String>,
}

/// Follows `task_arn` to its verdict. `started_by` turns the claim check on.
pub(crate) async fn follow<A: TaskApi>(
    api: &A,
    task_arn: &str,
    started_by: Option<&str>,
    settings: Settings,
    aborts: &mut Aborts,
    out: &Output,
    sink: &mut dyn FnMut(&str),
) -> Followed {
    let follow_logs = settings.follow_logs;
    let mut m = Machine::new(settings, task_arn, Instant::now());
    let mut warnings = vec![];
    let ours = [task_arn.to_string()];
    let mut say = |m: &mut Machine| {
        for note in m.take_notes() {
            match note {
                Note::Progress(p) => out.progress(p),
                Note::Warn(w) => {
                    out.warn(&w);
                    warnings.push(w);
                }
            }
        }
    };
    loop {
        say(&mut m);
        let step = m.next_step(Instant::now());
        tracing::debug!(?step, phase = ?m.phase(), "follow");
        match step {
            Step::Finish => {
                say(&mut m);
                break;
            }
            Step::Wait(until) => {
                if let Err(ev) = aborts.race(tokio::time::sleep_until(until)).await {
                    m.on_abort(Instant::now(), ev);
                }
            }
            Step::Describe => match aborts.race(api.describe(&ours)).await {
                Ok(r) => m.on_tasks(Instant::now(), r, false),
                Err(ev) => m.on_abort(Instant::now(), ev),
            },
            Step::LastLook => {
                match tokio::time::timeout(LAST_LOOK, aborts.race(api.describe(&ours))).await {
                    Ok(Ok(r)) => m.on_last_look(Instant::now(), Some(r)),
                    Ok(Err(ev)) => {
                        m.on_last_look(Instant::now(), None);
                        m.on_abort(Instant::now(), ev);
                    }
                    Err(_) => m.on_last_look(Instant::now(), None),
                }
            }
            Step::VerifyClaim => {
                let started_by = started_by.unwrap_or_default();
                match aborts.race(claimants(api, task_arn, started_by)).await {
                    Ok(r) => m.on_tasks(Instant::now(), r, true),
                    Err(ev) => m.on_abort(Instant::now(), ev),
                }
            }
            Step::ReadLogs => {
                let token = m.logs.token.clone();
                match aborts.race(api.log_page(token.as_deref())).await {
                    Ok(Ok(Some(page))) => {
                        for line in &page.messages {
                            sink(line);
                        }
                        let read = (page.messages.len() as u64, page.next_token);
                        m.on_log_read(Instant::now(), Ok(Some(read)));
                    }
                    Ok(Ok(None)) => m.on_log_read(Instant::now(), Ok(None)),
                    Ok(Err(e)) => m.on_log_read(Instant::now(), Err(e)),
                    Err(ev) => m.on_abort(Instant::now(), ev),
                }
            }
            Step::Stop(reason) => {
                // Not raced: StopTask is what an abort is for. Bounded instead.
                let r = tokio::time::timeout(STOP_BUDGET, api.stop(task_arn, &reason))
                    .await
                    .unwrap_or_else(|_| {
                        Err(Error::after_launch(format!(
                            "ecs:StopTask did not answer within {}s",
                            STOP_BUDGET.as_secs()
                        )))
                    });
                m.on_stop_sent(Instant::now(), r);
            }
        }
    }
    Followed {
        ending: m.ending(),
        detached: m.detached,
        log_lines: m.logs.lines,
        logs_complete: !follow_logs || m.logs.complete.unwrap_or(false),
        winner: m.winner.take(),
        lost_reason: m.lost_reason.take(),
        abort_reason: m.abort_why.take(),
        task: m.task.take(),
        warnings,
    }
}

/// Every running task of the family, ours included (DescribeTasks takes at most 100).
async fn claimants<A: TaskApi>(
    api: &A,
    ours: &str,
    started_by: &str,
) -> Result<Vec<TaskView>, Error> {
    let mut arns = api.list_running(started_by).await?;
    arns.retain(|a| a != ours);
    arns.truncate(99);
    arns.push(ours.to_string());
    api.describe(&arns).await
}

#[cfg(test)]
mod tests;
