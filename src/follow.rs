//! Waits for the task to stop while streaming its logs, and handles aborts (deadline,
//! SIGINT, SIGTERM): StopTask and keep streaming until STOPPED, or detach.
//!
//! DescribeTasks runs on a jittered exponential backoff (backon) that restarts at each
//! status change; logs are read every poll interval. After STOPPED the log stream is drained
//! until it has been quiet for `log_quiet` (at most `log_drain_max`), so the lines awslogs
//! delivers late are not lost.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::Task;
use backon::{BackoffBuilder, ExponentialBuilder};

use crate::cli::OnAbort;
use crate::error::{Error, Result};
use crate::logs::LogFollower;
use crate::outcome::{Abort, StoppedTask, rails_version};
use crate::output::Output;
use crate::signals::{self, Signal};

pub struct Follow<'a> {
    pub ecs: &'a aws_sdk_ecs::Client,
    pub cluster: &'a str,
    pub task_arn: &'a str,
    pub container: &'a str,
    pub logs: Option<LogFollower>,
    pub poll_interval: Duration,
    pub poll_max: Duration,
    pub deadline: Option<(Instant, Duration)>,
    pub on_abort: OnAbort,
    pub log_quiet: Duration,
    pub log_drain_max: Duration,
    pub console_url: String,
}

pub struct Followed {
    /// The last DescribeTasks view of the task (STOPPED unless detached).
    pub task: Option<Task>,
    pub stopped: Option<StoppedTask>,
    pub abort: Option<Abort>,
    pub detached: bool,
    pub logs: Option<LogFollower>,
    /// Rails `migrated` / `reverted` versions seen in the logs, in order.
    pub migrated: Vec<String>,
    pub reverted: Vec<String>,
}

fn backoff(min: Duration, max: Duration) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(max)
        .with_factor(1.5)
        .with_jitter()
        .without_max_times()
        .build()
}

/// Pure: the target container's view of a stopped task.
pub fn stopped_task(task: &Task, container: &str) -> StoppedTask {
    let c = task
        .containers()
        .iter()
        .find(|c| c.name() == Some(container));
    StoppedTask {
        stop_code: task.stop_code().map(|s| s.as_str().to_string()),
        stopped_reason: task.stopped_reason().map(String::from),
        exit_code: c.and_then(|c| c.exit_code()),
        container_reason: c.and_then(|c| c.reason()).map(String::from),
    }
}

impl Follow<'_> {
    pub async fn run(mut self, out: &Output, signals: &mut signals::Receiver) -> Result<Followed> {
        let mut delays = backoff(self.poll_interval, self.poll_max);
        let mut next_describe = Instant::now();
        let mut last_status: Option<String> = None;
        let mut task: Option<Task> = None;
        let mut stopped_at: Option<Instant> = None;
        let mut abort: Option<Abort> = None;
        let mut describe_failures = 0u32;
        let mut log_errors = 0u32;
        let mut seen = (Vec::new(), Vec::new());

        loop {
            let now = Instant::now();
            if abort.is_none()
                && stopped_at.is_none()
                && let Some((_, limit)) = self.deadline.filter(|(d, _)| now >= *d)
            {
                abort = Some(Abort::Deadline);
                let why = format!(
                    "ecs-migrate: deadline reached (--timeout {})",
                    humantime::format_duration(limit)
                );
                if self.abort(out, &why).await? {
                    return Ok(self.finish(task, None, abort, true, seen));
                }
            }
            if stopped_at.is_none() && now >= next_describe {
                match self.describe().await {
                    Ok(t) => {
                        describe_failures = 0;
                        let status = t.last_status().unwrap_or("UNKNOWN").to_string();
                        tracing::debug!(%status, desired = ?t.desired_status(), "DescribeTasks");
                        if last_status.as_deref() != Some(status.as_str()) {
                            out.progress(format!("task {status}"));
                            last_status = Some(status.clone());
                            delays = backoff(self.poll_interval, self.poll_max);
                            next_describe = now + self.poll_interval;
                        } else {
                            next_describe = now + delays.next().unwrap_or(self.poll_max);
                        }
                        if status == "STOPPED" {
                            stopped_at = Some(now);
                        }
                        task = Some(t);
                    }
                    Err(e) => {
                        describe_failures += 1;
                        if describe_failures >= 5 {
                            return Err(Error::before_run(format!(
                                "lost track of task {}: {e}",
                                self.task_arn
                            ))
                            .with_hint(format!("it may still be running: {}", self.console_url)));
                        }
                        out.warn(format!("{e}; retrying"));
                        next_describe = now + delays.next().unwrap_or(self.poll_max);
                    }
                }
                tracing::debug!(
                    in_ms = next_describe.saturating_duration_since(now).as_millis() as u64,
                    "next DescribeTasks"
                );
            }
            if let Some(follower) = self.logs.as_mut() {
                let mut sink = |line: &str| {
                    out.log_line(line);
                    if let Some(v) = rails_version(line, "migrated") {
                        seen.0.push(v.to_string());
                    } else if let Some(v) = rails_version(line, "reverted") {
                        seen.1.push(v.to_string());
                    }
                };
                match follower.poll(&mut sink).await {
                    Ok(_) => log_errors = 0,
                    Err(e) => {
                        log_errors += 1;
                        if log_errors == 1 || log_errors.is_multiple_of(10) {
                            out.warn(format!("{e}; will keep trying"));
                        }
                    }
                }
            }
            if let Some(stopped) = stopped_at
                && self.drained(stopped, task.as_ref())
            {
                let st = task.as_ref().map(|t| stopped_task(t, self.container));
                return Ok(self.finish(task, st, abort, false, seen));
            }
            let mut wake = Instant::now() + self.poll_interval;
            if stopped_at.is_none() {
                wake = wake.min(next_describe);
                if abort.is_none()
                    && let Some((d, _)) = self.deadline
                {
                    wake = wake.min(d);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep_until(wake.into()) => {}
                Some(sig) = signals.recv() => {
                    if abort.is_none() && stopped_at.is_none() {
                        abort = Some(Abort::Signal);
                        let why = format!("ecs-migrate: interrupted by {}", sig.name());
                        if self.abort(out, &why).await? {
                            return Ok(self.finish(task, None, abort, true, seen));
                        }
                        next_describe = Instant::now();
                    } else if sig == Signal::Terminate {
                        out.warn("already stopping; send SIGINT twice to exit at once");
                    }
                }
            }
        }
    }

    /// True when log reading is complete after the task stopped.
    fn drained(&self, stopped: Instant, task: Option<&Task>) -> bool {
        let Some(logs) = &self.logs else { return true };
        let never_ran = task.is_some_and(|t| {
            let st = stopped_task(t, self.container);
            st.exit_code.is_none() && t.started_at().is_none()
        });
        if never_ran && !logs.exists {
            return true;
        }
        let now = Instant::now();
        let quiet_since = logs.last_new.map_or(stopped, |l| l.max(stopped));
        now.duration_since(quiet_since) >= self.log_quiet
            || now.duration_since(stopped) >= self.log_drain_max
    }

    /// Applies --on-abort. Returns true when the caller should detach now.
    async fn abort(&self, out: &Output, reason: &str) -> Result<bool> {
        match self.on_abort {
            OnAbort::Detach => {
                out.warn(format!(
                    "{reason}; leaving task {} running (--on-abort detach)",
                    self.task_arn
                ));
                out.warn(format!("follow it at {}", self.console_url));
                Ok(true)
            }
            OnAbort::Stop => {
                out.progress(format!("{reason}; stopping task {}", self.task_arn));
                let mut reason = reason.to_string();
                reason.truncate(255);
                self.ecs
                    .stop_task()
                    .cluster(self.cluster)
                    .task(self.task_arn)
                    .reason(reason)
                    .send()
                    .await
                    .map_err(|e| {
                        Error::aws("ecs:StopTask", e).with_hint(format!(
                            "the task may still be running: {}",
                            self.console_url
                        ))
                    })?;
                out.progress("StopTask sent; streaming until the task has stopped");
                Ok(false)
            }
        }
    }

    async fn describe(&self) -> Result<Task> {
        let out = self
            .ecs
            .describe_tasks()
            .cluster(self.cluster)
            .tasks(self.task_arn)
            .send()
            .await
            .map_err(|e| Error::aws("ecs:DescribeTasks", e))?;
        match out.tasks().first() {
            Some(t) => Ok(t.clone()),
            None => {
                let reason = out
                    .failures()
                    .first()
                    .and_then(|f| f.reason())
                    .unwrap_or("MISSING");
                Err(Error::before_run(format!(
                    "DescribeTasks does not know task {} ({reason})",
                    self.task_arn
                )))
            }
        }
    }

    fn finish(
        self,
        task: Option<Task>,
        stopped: Option<StoppedTask>,
        abort: Option<Abort>,
        detached: bool,
        (migrated, reverted): (Vec<String>, Vec<String>),
    ) -> Followed {
        Followed {
            task,
            stopped,
            abort,
            detached,
            logs: self.logs,
            migrated,
            reverted,
        }
    }
}
