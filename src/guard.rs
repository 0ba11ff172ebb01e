//! The last line against an orphaned task: while a launched task is being followed, its ARN
//! is registered here, so that a panic (caught in main) still stops it, or at least prints
//! the exact command that does.

use std::sync::Mutex;
use std::time::Duration;

struct Launched {
    ecs: aws_sdk_ecs::Client,
    cluster: String,
    task_arn: String,
    stop: bool,
}

static LAUNCHED: Mutex<Option<Launched>> = Mutex::new(None);

pub fn launched(ecs: &aws_sdk_ecs::Client, cluster: &str, task_arn: &str, stop: bool) {
    *LAUNCHED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Launched {
        ecs: ecs.clone(),
        cluster: cluster.to_string(),
        task_arn: task_arn.to_string(),
        stop,
    });
}

/// The task being followed, if any (for the second-SIGINT message).
pub fn task_arn() -> Option<String> {
    LAUNCHED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|l| l.task_arn.clone())
}

pub fn clear() {
    LAUNCHED.lock().unwrap_or_else(|e| e.into_inner()).take();
}

/// After a panic: stops the task that was being followed (unless `--on-abort detach`).
/// Returns what to tell the user, or None when no task was in flight.
pub async fn stop_after_panic() -> Option<Vec<String>> {
    let l = LAUNCHED.lock().unwrap_or_else(|e| e.into_inner()).take()?;
    let command = format!(
        "aws ecs stop-task --cluster {} --task {}",
        l.cluster, l.task_arn
    );
    if !l.stop {
        return Some(vec![format!(
            "internal error; task {} left running (--on-abort detach); stop it with: {command}",
            l.task_arn
        )]);
    }
    let sent = l
        .ecs
        .stop_task()
        .cluster(&l.cluster)
        .task(&l.task_arn)
        .reason("ecs-migrate: internal error")
        .send();
    Some(
        match tokio::time::timeout(Duration::from_secs(20), sent).await {
            Ok(Ok(_)) => vec![format!(
                "internal error; StopTask sent for {} (it may still be shutting down)",
                l.task_arn
            )],
            _ => vec![format!(
                "internal error and StopTask failed; the task may still be running: {command}"
            )],
        },
    )
}
