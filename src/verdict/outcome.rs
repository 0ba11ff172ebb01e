//! From how a run ended to one `Outcome`, and from the outcome to the process exit code
//! (pure). This is the only place an exit code is decided, so the JSON `outcome` and the exit
//! code cannot disagree.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Kind};
use crate::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    NotStarted,
    NoExitCode,
    TimedOut,
    Interrupted,
    Busy,
    LostTrack,
    LaunchFailed,
    UsageError,
    /// `gate`: the migration's verdict did not reach the deployment.
    HookFailed,
    /// `render`: its files could not be written; none was replaced.
    WriteFailed,
    /// `logs`: the migration has no verdict yet; ECS still runs it.
    StillRunning,
}

impl Outcome {
    /// The outcome an error ends a command with.
    pub fn of(e: &Error) -> Outcome {
        match e.kind {
            Kind::Usage => Outcome::UsageError,
            Kind::BeforeRun => Outcome::LaunchFailed,
            Kind::Busy => Outcome::Busy,
            Kind::AfterLaunch => Outcome::LostTrack,
            Kind::Write => Outcome::WriteFailed,
        }
    }

    /// Every outcome, in the order of `Outcome::index` (pinned by an exhaustive match).
    #[cfg(test)]
    pub const ALL: [Outcome; 13] = [
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::NotStarted,
        Outcome::NoExitCode,
        Outcome::TimedOut,
        Outcome::Interrupted,
        Outcome::Busy,
        Outcome::LostTrack,
        Outcome::LaunchFailed,
        Outcome::UsageError,
        Outcome::HookFailed,
        Outcome::WriteFailed,
        Outcome::StillRunning,
    ];

    /// Its place in `ALL`: a new variant does not compile until it is given one.
    #[cfg(test)]
    fn index(self) -> usize {
        match self {
            Outcome::Succeeded => 0,
            Outcome::Failed => 1,
            Outcome::NotStarted => 2,
            Outcome::NoExitCode => 3,
            Outcome::TimedOut => 4,
            Outcome::Interrupted => 5,
            Outcome::Busy => 6,
            Outcome::LostTrack => 7,
            Outcome::LaunchFailed => 8,
            Outcome::UsageError => 9,
            Outcome::HookFailed => 10,
            Outcome::WriteFailed => 11,
            Outcome::StillRunning => 12,
        }
    }

    /// The process exit code; `container` is the target container's exit code, if any.
    pub fn exit_code(self, container: Option<i32>) -> i32 {
        match self {
            Outcome::Succeeded => exit::SUCCESS,
            // a failure is never 0, whatever the container said
            Outcome::Failed => match container.map(exit::from_container) {
                Some(0) | None => 1,
                Some(code) => code,
            },
            Outcome::NotStarted => exit::NOT_STARTED,
            Outcome::NoExitCode => exit::NO_EXIT_CODE,
            Outcome::TimedOut => exit::TIMED_OUT,
            Outcome::Interrupted => exit::INTERRUPTED,
            Outcome::Busy => exit::BUSY,
            Outcome::LostTrack => exit::LOST_TRACK,
            Outcome::LaunchFailed => exit::LAUNCH_FAILED,
            Outcome::UsageError => exit::USAGE,
            Outcome::HookFailed => exit::HOOK_FAILED,
            Outcome::WriteFailed => exit::WRITE_FAILED,
            Outcome::StillRunning => exit::STILL_RUNNING,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::NotStarted => "not_started",
            Outcome::NoExitCode => "no_exit_code",
            Outcome::TimedOut => "timed_out",
            Outcome::Interrupted => "interrupted",
            Outcome::Busy => "busy",
            Outcome::LostTrack => "lost_track",
            Outcome::LaunchFailed => "launch_failed",
            Outcome::UsageError => "usage_error",
            Outcome::HookFailed => "hook_failed",
            Outcome::WriteFailed => "write_failed",
            Outcome::StillRunning => "still_running",
        }
    }
}

/// Why the run was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abort {
    Deadline,
    Signal,
}

/// How following the task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The target container exited, or the task stopped.
    Exited,
    /// A deadline or signal cut the run short (the task was stopped or detached).
    Aborted(Abort),
    /// Another migration of the family won the claim; ours was stopped.
    LostClaim,
    /// DescribeTasks kept failing, or StopTask was refused.
    LostTrack,
}

/// What DescribeTasks said about the task and its target container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoppedTask {
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub exit_code: Option<i32>,
    pub container_reason: Option<String>,
    /// The task reached RUNNING (`startedAt`): its container ran, even without an exit code.
    pub started: bool,
}

/// An abort always wins (the container's code after StopTask is SIGTERM's, not the
/// migration's); otherwise the target container's exit code. A missing exit code is never
/// success: "never ran" when the task never started, else "no exit code" (Spot, host loss).
pub fn judge(task: &StoppedTask, ending: Ending) -> Outcome {
    match ending {
        Ending::Aborted(Abort::Deadline) => Outcome::TimedOut,
        Ending::Aborted(Abort::Signal) => Outcome::Interrupted,
        Ending::LostClaim => Outcome::Busy,
        Ending::LostTrack => Outcome::LostTrack,
        Ending::Exited => match task.exit_code {
            Some(0) => Outcome::Succeeded,
            Some(_) => Outcome::Failed,
            None if task.started => Outcome::NoExitCode,
            None => Outcome::NotStarted,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Outcome; 13] = Outcome::ALL;

    #[test]
    fn all_lists_every_outcome_once() {
        for (i, o) in ALL.iter().enumerate() {
            assert_eq!(o.index(), i, "{o:?}");
        }
    }

    fn stopped(code: Option<i32>, started: bool) -> StoppedTask {
        StoppedTask {
            exit_code: code,
            stop_code: Some("EssentialContainerExited".into()),
            started,
            ..Default::default()
        }
    }

    fn code_of(task: &StoppedTask, ending: Ending) -> i32 {
        judge(task, ending).exit_code(task.exit_code)
    }

    #[test]
    fn container_code_is_the_verdict() {
        assert_eq!(
            judge(&stopped(Some(0), true), Ending::Exited),
            Outcome::Succeeded
        );
        assert_eq!(code_of(&stopped(Some(0), true), Ending::Exited), 0);
        assert_eq!(
            judge(&stopped(Some(3), true), Ending::Exited),
            Outcome::Failed
        );
        assert_eq!(code_of(&stopped(Some(3), true), Ending::Exited), 3);
        assert_eq!(code_of(&stopped(Some(137), true), Ending::Exited), 137);
        assert_eq!(code_of(&stopped(Some(300), true), Ending::Exited), 1);
        assert_eq!(code_of(&stopped(Some(256), true), Ending::Exited), 1);
    }

    #[test]
    fn missing_exit_code_is_never_success_and_never_ran_only_when_not_started() {
        let pull = StoppedTask {
            stop_code: Some("TaskFailedToStart".into()),
            stopped_reason: Some("CannotPullContainerError: not found".into()),
            ..Default::default()
        };
        assert_eq!(judge(&pull, Ending::Exited), Outcome::NotStarted);
        assert_eq!(code_of(&pull, Ending::Exited), 126);
        // a stop code the SDK does not know yet, after the container ran
        let lost = StoppedTask {
            stop_code: Some("InfrastructureHealth".into()),
            started: true,
            ..Default::default()
        };
        assert_eq!(judge(&lost, Ending::Exited), Outcome::NoExitCode);
        assert_eq!(code_of(&lost, Ending::Exited), 122);
    }

    #[test]
    fn aborts_and_lost_states_win_over_the_container_code() {
        let t = stopped(Some(143), true);
        assert_eq!(code_of(&t, Ending::Aborted(Abort::Signal)), 130);
        assert_eq!(
            code_of(&stopped(Some(0), true), Ending::Aborted(Abort::Deadline)),
            124
        );
        assert_eq!(
            code_of(&stopped(None, false), Ending::Aborted(Abort::Deadline)),
            124
        );
        assert_eq!(code_of(&stopped(Some(0), true), Ending::LostTrack), 123);
        assert_eq!(code_of(&stopped(None, false), Ending::LostClaim), 121);
    }

    #[test]
    fn every_outcome_has_its_own_code_and_only_success_is_zero() {
        let mut codes: Vec<i32> = ALL.iter().map(|o| o.exit_code(Some(7))).collect();
        assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1);
        assert_eq!(
            Outcome::Failed.exit_code(Some(0)),
            1,
            "a failure is never 0"
        );
        assert_eq!(Outcome::Failed.exit_code(None), 1);
        codes.retain(|c| *c != 7);
        let n = codes.len();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), n, "reserved codes are distinct");
    }

    #[test]
    fn outcomes_serialise_as_their_names() {
        for o in ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), o.name());
        }
    }
}
