//! The follow engine's state machine (pure): given what AWS answered and when, what to do
//! next. No I/O and no clock of its own (`now` is passed in), so tests drive it with paused
//! tokio time and scripted answers.
//!
//! Phases: Starting (the claim is checked until our container runs) → Running → Draining
//! (the container exited: read the log until it has been quiet) → Done. An abort moves
//! Starting/Running to Stopping (StopTask sent, follow until the container stopped) or, with
//! `--on-abort detach`, straight to Done.

use std::time::Duration;

use aws_sdk_ecs::types::TaskStopCode;
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use tokio::time::Instant;

use super::claim;
use super::seam::TaskView;
use crate::error::Error;
use crate::signals::{AbortEvent, Signal};
use crate::verdict::outcome::{Abort, Ending};

/// How often the log is read while draining: the quiet window is measured with fast reads.
pub const DRAIN_READ: Duration = Duration::from_millis(250);
/// After the container exited, a new line (or a failed read) is followed by at least this
/// much clean quiet: the rest of a final flush lands together.
pub const LOG_GAP: Duration = Duration::from_millis(1500);
/// DescribeTasks may not know a task for a moment after RunTask (eventual consistency).
pub const MISSING_GRACE: Duration = Duration::from_secs(30);
/// A describe is scheduled this long before a known deadline, so that an exit just before it
/// is seen in time.
pub const NEAR_DEADLINE: Duration = Duration::from_secs(1);

/// What an abort (deadline, SIGINT, SIGTERM) does to a task we launched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnAbort {
    /// StopTask, then follow until the container stopped.
    Stop,
    /// Leave it running.
    Detach,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// GetLogEvents cadence while the container runs (`--poll-interval`).
    pub log_interval: Duration,
    /// DescribeTasks cadence while the container runs (`--describe-interval`).
    pub describe_interval: Duration,
    /// Longest wait between retries of a failing DescribeTasks (`--poll-max`).
    pub backoff_max: Duration,
    /// After the container exited, how long clean reads must find nothing new (`--log-quiet`).
    pub log_quiet: Duration,
    pub log_drain_max: Duration,
    /// DescribeTasks failing (transiently) for this long means we lost track of the task.
    pub lost_after: Duration,
    /// After StopTask, how long to wait for the container to stop.
    pub stop_grace: Duration,
    pub on_abort: OnAbort,
    pub follow_logs: bool,
    /// Check the family claim (`startedBy`) until our container runs.
    pub claim: bool,
    /// The deadline, when there is one: a describe is made just before it.
    pub deadline: Option<Instant>,
    /// Where the deadline comes from, for messages (`--timeout 45m`, the hook's expiry).
    pub deadline_label: String,
    /// When RunTask answered, on the local clock. With the task's `createdAt` it places ECS's
    /// `executionStoppedAt` on the local clock, so the drain's quiet window starts at the exit
    /// itself, not when a describe happened to notice it (up to a describe interval later).
    pub launched_at: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    Progress(String),
    Warn(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    Starting,
    Running,
    Stopping {
        since: Instant,
    },
    /// `exited_at`: when we saw the exit (the drain's cap counts from it); `quiet_from`: the
    /// exit as ECS reports it, on the local clock (the quiet window counts from it).
    Draining {
        exited_at: Instant,
        quiet_from: Instant,
    },
    Done(Ending),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// ListTasks of the family + DescribeTasks of every claimant (ours included).
    VerifyClaim,
    Describe,
    /// At the deadline, before StopTask: one short DescribeTasks, since a container that
    /// exited before the deadline gets its own verdict.
    LastLook,
    ReadLogs,
    Stop(String),
    Wait(Instant),
    Finish,
}

/// What the log reads have seen.
#[derive(Debug, Default, Clone)]
pub struct LogState {
    pub token: Option<String>,
    pub exists: bool,
    /// When a read first found the stream: a stream that just appeared may still be empty.
    appeared_at: Option<Instant>,
    pub lines: u64,
    last_new: Option<Instant>,
    last_error: Option<Instant>,
    last_quiet_read: Option<Instant>,
    errors: u32,
    /// Set when the drain ends: true only after a clean quiet window.
    pub complete: Option<bool>,
}

/// A log read's result, without the messages (the driver prints those).
pub type LogRead = Result<Option<(u64, Option<String>)>, Error>;

pub struct Machine {
    s: Settings,
    ours: String,
    phase: Phase,
    pub task: Option<TaskView>,
    next_describe: Instant,
    next_logs: Instant,
    backoff: ExponentialBackoff,
    describe_errors: u32,
    failing_since: Option<Instant>,
    missing_since: Option<Instant>,
    pub abort: Option<Abort>,
    /// What the abort was (`deadline reached (--timeout 45m)`, `interrupted by SIGTERM`).
    pub abort_why: Option<String>,
    pending_stop: Option<String>,
    after_stop: Option<Ending>,
    pub detached: bool,
    pub logs: LogState,
    notes: Vec<Note>,
    pub winner: Option<TaskView>,
    pub lost_reason: Option<String>,
    /// One more DescribeTasks after the drain when the exit view had no stop code yet.
    final_describe: bool,
    /// The deadline came: the StopTask reason, held while the last look is made.
    last_look: Option<String>,
    /// The container's exit was only seen at (or after) an abort: one last log read, no drain.
    cut_short: bool,
    final_read: bool,
}

/// DescribeTasks cadence after StopTask: the container's exit is what we wait for.
const STOPPING_DESCRIBE: Duration = Duration::from_secs(1);

fn backoff(s: &Settings) -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(s.describe_interval)
        .with_max_delay(s.backoff_max)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

fn human(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(d)
}

impl Machine {
    pub fn new(s: Settings, ours: &str, now: Instant) -> Self {
        Self {
            backoff: backoff(&s),
            s,
            ours: ours.to_string(),
            phase: Phase::Starting,
            task: None,
            next_describe: now,
            next_logs: now,
            describe_errors: 0,
            failing_since: None,
            missing_since: None,
            abort: None,
            abort_why: None,
            pending_stop: None,
            after_stop: None,
            detached: false,
            logs: LogState::default(),
            notes: vec![],
            winner: None,
            lost_reason: None,
            final_describe: false,
            last_look: None,
            cut_short: false,
            final_read: false,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    fn progress(&mut self, msg: impl Into<String>) {
        self.notes.push(Note::Progress(msg.into()));
    }

    fn warn(&mut self, msg: impl Into<String>) {
        self.notes.push(Note::Warn(msg.into()));
    }

    /// How following ended (meaningful once `next_step` said Finish).
    pub fn ending(&self) -> Ending {
        match self.phase {
            Phase::Done(e) => e,
            _ => self.drained_ending(),
        }
    }

    fn drained_ending(&self) -> Ending {
        self.abort.map_or(Ending::Exited, Ending::Aborted)
    }

    pub fn next_step(&mut self, now: Instant) -> Step {
        if let Some(reason) = self.pending_stop.take() {
            return Step::Stop(reason);
        }
        if self.last_look.is_some() {
            return Step::LastLook;
        }
        match self.phase {
            Phase::Done(_) => Step::Finish,
            Phase::Draining { .. } if self.cut_short => {
                if !self.final_read && self.s.follow_logs {
                    self.final_read = true;
                    return Step::ReadLogs;
                }
                self.logs.complete = Some(false);
                if self.s.follow_logs {
                    self.warn("the log may be incomplete: the container's exit was seen only at the abort, so the last lines were read once, without waiting for a quiet window");
                }
                self.phase = Phase::Done(self.drained_ending());
                Step::Finish
            }
            Phase::Draining {
                exited_at,
                quiet_from,
            } => {
                if let Some(complete) = self.drain_verdict(now, exited_at, quiet_from) {
                    let no_stop_code = self.task.as_ref().is_some_and(|t| t.stop_code.is_none());
                    if no_stop_code && !self.final_describe {
                        self.final_describe = true;
                        return Step::Describe;
                    }
                    self.end_drain(complete);
                    return Step::Finish;
                }
                if now >= self.next_logs {
                    Step::ReadLogs
                } else {
                    Step::Wait(self.next_logs.min(exited_at + self.s.log_drain_max))
                }
            }
            Phase::Stopping { since } if now >= since + self.s.stop_grace => {
                self.warn(format!(
                    "the task has not stopped {} after StopTask; not waiting any longer",
                    human(self.s.stop_grace)
                ));
                self.logs.complete = Some(false);
                self.phase = Phase::Done(self.drained_ending());
                Step::Finish
            }
            Phase::Starting | Phase::Running | Phase::Stopping { .. } => {
                if now >= self.next_describe {
                    if self.s.claim && self.phase == Phase::Starting {
                        Step::VerifyClaim
                    } else {
                        Step::Describe
                    }
                } else if self.s.follow_logs && now >= self.next_logs {
                    Step::ReadLogs
                } else {
                    let mut wake = self.next_describe;
                    if self.s.follow_logs {
                        wake = wake.min(self.next_logs);
                    }
                    if let Phase::Stopping { since } = self.phase {
                        wake = wake.min(since + self.s.stop_grace);
                    }
                    Step::Wait(wake)
                }
            }
        }
    }

    /// DescribeTasks answered (for VerifyClaim: every claimant, ours included).
    pub fn on_tasks(&mut self, now: Instant, result: Result<Vec<TaskView>, Error>, claim: bool) {
        if let Phase::Draining { .. } = self.phase {
            // the verdict is known: a later view only adds detail (the stop code), never changes it
            if let Some(ours) = result
                .ok()
                .and_then(|v| v.into_iter().find(|t| t.arn == self.ours))
            {
                self.set_task(now, ours);
            }
            return;
        }
        let views = match result {
            Ok(v) => v,
            Err(e) => return self.describe_failed(now, e),
        };
        let Some(ours) = views.iter().find(|v| v.arn == self.ours).cloned() else {
            let since = *self.missing_since.get_or_insert(now);
            if now.duration_since(since) >= MISSING_GRACE {
                self.lose(
                    now,
                    format!("DescribeTasks does not know task {} (MISSING)", self.ours),
                );
            } else {
                self.next_describe = now + self.s.describe_interval;
            }
            return;
        };
        self.missing_since = None;
        self.failing_since = None;
        self.describe_errors = 0;
        self.backoff = backoff(&self.s);
        if claim
            && self.phase == Phase::Starting
            && !ours.stopped()
            && !ours.container_exited()
            && let Some(w) = claim::winner(&views, &self.ours)
            && w.arn != self.ours
        {
            let w = w.clone();
            let when = if ours.started() {
                "its container had already started; Rails' advisory lock is the last guard"
            } else {
                "before its container started"
            };
            self.warn(format!(
                "another migration of this family is running: {}; stopping ours ({when})",
                w.arn
            ));
            self.pending_stop = Some(format!(
                "ecs-migrate: another migration is running: {}",
                w.arn
            ));
            self.after_stop = Some(Ending::LostClaim);
            self.winner = Some(w);
            self.phase = Phase::Stopping { since: now };
            self.set_task(now, ours);
            return;
        }
        self.set_task(now, ours);
    }

    fn set_task(&mut self, now: Instant, view: TaskView) {
        if self.task.as_ref().map(|t| t.last_status.as_str()) != Some(view.last_status.as_str()) {
            self.progress(format!("task {}", view.last_status));
        }
        let exited = view.container_exited() || view.stopped();
        if let Phase::Stopping { .. } = self.phase
            && self.after_stop.is_none()
            && self.abort.is_some()
            && view.container_exited()
            && view.stop_code == Some(TaskStopCode::EssentialContainerExited)
        {
            // ECS keeps the stop code of the container's own exit: it exited before our
            // StopTask took effect, so its exit code is the verdict
            self.abort = None;
            self.abort_why = None;
            self.cut_short = true;
            self.warn(format!(
                "the container had exited on its own (code {}) before the stop took effect: its exit code is the verdict",
                view.container.as_ref().and_then(|c| c.exit_code).unwrap_or_default()
            ));
        }
        match self.phase {
            Phase::Starting | Phase::Running | Phase::Stopping { .. } if exited => {
                if !view.stopped()
                    && let Some(code) = view.container.as_ref().and_then(|c| c.exit_code)
                {
                    self.progress(format!(
                        "container exited with code {code}; not waiting for the task's teardown"
                    ));
                }
                if self.after_stop.is_none() {
                    self.phase = Phase::Draining {
                        exited_at: now,
                        quiet_from: self.exit_on_local_clock(&view, now),
                    };
                    self.next_logs = now;
                }
            }
            Phase::Starting if view.started() => self.phase = Phase::Running,
            _ => {}
        }
        self.task = Some(view);
        self.next_describe = now
            + match self.phase {
                Phase::Stopping { .. } => self.s.describe_interval.min(STOPPING_DESCRIBE),
                _ => self.s.describe_interval,
            };
        // one describe just before a known deadline: an exit before it is seen in time
        if matches!(self.phase, Phase::Starting | Phase::Running)
            && let Some(before) = self.s.deadline.and_then(|d| d.checked_sub(NEAR_DEADLINE))
            && before > now
            && before < self.next_describe
        {
            self.next_describe = before;
        }
    }

    /// When the container exited, on the local clock: ECS's `executionStoppedAt`, measured
    /// from the task's `createdAt` (both ECS's clock) and placed after our launch (RunTask's
    /// answer comes after `createdAt`, so the estimate is never early). `now` without them.
    fn exit_on_local_clock(&self, view: &TaskView, now: Instant) -> Instant {
        match (
            self.s.launched_at,
            view.created_at,
            view.execution_stopped_at,
        ) {
            (Some(launched), Some(created), Some(stopped)) if stopped >= created => {
                let since_launch =
                    Duration::try_from_secs_f64(stopped - created).unwrap_or_default();
                (launched + since_launch).min(now)
            }
            _ => now,
        }
    }

    /// The last look at the deadline answered (None: not in time, or it failed).
    pub fn on_last_look(&mut self, now: Instant, result: Option<Result<Vec<TaskView>, Error>>) {
        let why = self.last_look.take().unwrap_or_default();
        let ours = result
            .and_then(Result::ok)
            .and_then(|v| v.into_iter().find(|t| t.arn == self.ours));
        if let Some(view) = ours
            && view.container_exited()
        {
            let code = view.container.as_ref().and_then(|c| c.exit_code);
            self.abort = None;
            self.abort_why = None;
            self.cut_short = true;
            self.warn(format!(
                "{why}, but the container had already exited (code {}): its exit code is the verdict",
                code.unwrap_or_default()
            ));
            self.set_task(now, view);
            return;
        }
        self.progress(format!("{why}; stopping task {}", self.ours));
        self.pending_stop = Some(format!("ecs-migrate: {why}"));
        self.phase = Phase::Stopping { since: now };
        self.next_describe = now;
    }

    fn describe_failed(&mut self, now: Instant, e: Error) {
        self.describe_errors += 1;
        if !e.transient {
            return self.lose(now, e.to_string());
        }
        let since = *self.failing_since.get_or_insert(now);
        if now.duration_since(since) >= self.s.lost_after {
            return self.lose(
                now,
                format!(
                    "DescribeTasks has failed for {}: {e}",
                    human(self.s.lost_after)
                ),
            );
        }
        if self.describe_errors == 1 || self.describe_errors.is_multiple_of(5) {
            self.warn(format!("{e}; retrying (still following the task)"));
        }
        let wait = self.backoff.next().unwrap_or(self.s.backoff_max);
        self.next_describe = now + wait;
    }

    /// We can no longer observe the task: stop it (unless detaching), then end.
    fn lose(&mut self, now: Instant, reason: String) {
        self.lost_reason = Some(reason);
        let stopping = matches!(self.phase, Phase::Stopping { .. });
        if self.s.on_abort == OnAbort::Stop && !stopping && !self.detached {
            self.pending_stop = Some("ecs-migrate: lost track of the task".into());
            self.after_stop = Some(Ending::LostTrack);
            self.phase = Phase::Stopping { since: now };
        } else {
            self.phase = Phase::Done(Ending::LostTrack);
        }
        self.logs.complete = Some(false);
    }

    /// A log read answered: `Ok(None)` = no stream (yet), else (new lines, next token).
    pub fn on_log_read(&mut self, now: Instant, result: LogRead) {
        let interval = if matches!(self.phase, Phase::Draining { .. }) {
            DRAIN_READ
        } else {
            self.s.log_interval
        };
        match result {
            Ok(None) => {
                self.logs.last_quiet_read = Some(now);
                self.next_logs = now + interval;
            }
            Ok(Some((count, next))) => {
                if !self.logs.exists {
                    self.logs.appeared_at = Some(now);
                }
                self.logs.exists = true;
                self.logs.errors = 0;
                self.logs.lines += count;
                if count > 0 {
                    self.logs.last_new = Some(now);
                } else {
                    self.logs.last_quiet_read = Some(now);
                }
                let more = count > 0 && next.is_some() && next != self.logs.token;
                if next.is_some() {
                    self.logs.token = next;
                }
                self.next_logs = if more { now } else { now + interval };
            }
            Err(e) => {
                self.logs.last_error = Some(now);
                self.logs.errors += 1;
                if self.logs.errors == 1 || self.logs.errors.is_multiple_of(10) {
                    self.warn(format!("{e}; will keep trying"));
                }
                self.next_logs = now + interval;
            }
        }
    }

    /// The drain's end: Some(true) after a clean quiet window, Some(false) at the cap.
    fn drain_verdict(&self, now: Instant, exited_at: Instant, quiet_from: Instant) -> Option<bool> {
        if !self.s.follow_logs {
            return Some(true);
        }
        let started = self.task.as_ref().is_some_and(TaskView::started);
        if !started && !self.logs.exists {
            return Some(true);
        }
        // Two windows, both proven by a clean read that found nothing new: `log_quiet` since
        // the exit (the final flush can land seconds after it), and a gap since the last new
        // line, failed read, or the stream's first appearance (a stream created late can be
        // empty for a moment before its lines land).
        let gap = self.s.log_quiet.min(LOG_GAP);
        let ready_at = [
            Some(quiet_from + self.s.log_quiet),
            self.logs.last_new.map(|t| t + gap),
            self.logs.last_error.map(|t| t + gap),
            self.logs.appeared_at.map(|t| t + gap),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(quiet_from);
        let clean = self.logs.exists && self.logs.last_quiet_read.is_some_and(|r| r >= ready_at);
        if clean {
            Some(true)
        } else if now >= exited_at + self.s.log_drain_max {
            Some(false)
        } else {
            None
        }
    }

    fn end_drain(&mut self, complete: bool) {
        self.logs.complete = Some(complete);
        if !complete {
            let why = if !self.logs.exists {
                "the log stream never appeared"
            } else {
                "the last reads failed or kept finding new lines"
            };
            self.warn(format!(
                "the log may be incomplete: {why} within --log-drain-max {}",
                human(self.s.log_drain_max)
            ));
        }
        self.phase = Phase::Done(self.drained_ending());
    }

    /// A deadline or signal arrived (whatever AWS was doing: the call was dropped).
    pub fn on_abort(&mut self, now: Instant, event: AbortEvent) {
        let why = match event {
            AbortEvent::Deadline => format!("deadline reached ({})", self.s.deadline_label),
            AbortEvent::Signal(s) => format!("interrupted by {}", s.name()),
        };
        match self.phase {
            Phase::Starting | Phase::Running => {
                let abort = match event {
                    AbortEvent::Deadline => Abort::Deadline,
                    AbortEvent::Signal(_) => Abort::Signal,
                };
                self.abort = Some(abort);
                self.abort_why = Some(why.clone());
                match self.s.on_abort {
                    OnAbort::Detach => {
                        self.warn(format!(
                            "{why}; leaving task {} running (--on-abort detach)",
                            self.ours
                        ));
                        self.detached = true;
                        self.logs.complete = Some(false);
                        self.phase = Phase::Done(Ending::Aborted(abort));
                    }
                    // the deadline: one last look first (a signal stops at once)
                    OnAbort::Stop if event == AbortEvent::Deadline => self.last_look = Some(why),
                    OnAbort::Stop => {
                        self.progress(format!("{why}; stopping task {}", self.ours));
                        self.pending_stop = Some(format!("ecs-migrate: {why}"));
                        self.phase = Phase::Stopping { since: now };
                        self.next_describe = now;
                    }
                }
            }
            Phase::Stopping { .. } => {
                if event == AbortEvent::Signal(Signal::Terminate) {
                    self.warn("already stopping; send SIGINT twice to exit at once");
                }
            }
            Phase::Draining { .. } => {
                self.warn(format!(
                    "{why} while reading the last log lines; the container had already exited"
                ));
                self.logs.complete = Some(false);
                self.phase = Phase::Done(self.drained_ending());
            }
            Phase::Done(_) => {}
        }
    }

    /// StopTask answered.
    pub fn on_stop_sent(&mut self, now: Instant, result: Result<(), Error>) {
        match result {
            Ok(()) => {
                if let Some(end) = self.after_stop.take() {
                    self.progress("StopTask sent");
                    self.phase = Phase::Done(end);
                } else {
                    self.progress("StopTask sent; following until the container has stopped");
                    let soon = now + self.s.describe_interval.min(STOPPING_DESCRIBE);
                    self.next_describe = self.next_describe.min(soon);
                }
            }
            Err(e) => {
                self.after_stop = None;
                self.lost_reason = Some(format!("StopTask failed: {e}"));
                self.logs.complete = Some(false);
                self.phase = Phase::Done(Ending::LostTrack);
            }
        }
    }
}
