//! The Lambda hook's decision table (pure): what one invocation found → SUCCEEDED, FAILED or
//! IN_PROGRESS. As for `gate`, only a migration that ran and failed, or that this release's
//! task definition cannot start, fails the hook (ECS rolls back); whatever can still change
//! (a migration still running, another one of the family, AWS trouble before launch) is
//! IN_PROGRESS, and ECS asks again after `callBackDelay`, until the hook's own timeout.

use crate::plan::hook_event::HookStatus;
use crate::verdict::outcome::Outcome;

/// What an invocation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub outcome: Option<Outcome>,
    /// The failure is the release's own (its task definition names a missing secret).
    pub release_defect: bool,
    /// A task of ours was launched (now or before).
    pub launched: bool,
    /// That task was left running at this invocation's end, or its log was cut short by the
    /// invocation's time (its verdict waits for the whole log).
    pub running: bool,
}

/// Pure: the hook's answer and why.
pub fn hook_answer(f: Found) -> (HookStatus, &'static str) {
    use HookStatus::*;
    if f.running {
        return (
            InProgress,
            "the migration is still running, or its log still being read: the next invocation follows it",
        );
    }
    match f.outcome {
        Some(Outcome::Succeeded) => (Succeeded, "the migration succeeded"),
        Some(Outcome::Failed) => (Failed, "the migration failed"),
        Some(Outcome::NotStarted) => (
            Failed,
            "ECS could not start the migration with this release's task definition",
        ),
        Some(Outcome::LaunchFailed) if f.release_defect => (
            Failed,
            "this release's task definition cannot run (its preflight failed); nothing was launched",
        ),
        Some(Outcome::UsageError) => (
            Failed,
            "the hook's configuration is wrong (hookDetails or the function's environment); nothing was launched",
        ),
        Some(Outcome::NoExitCode) => (
            Failed,
            "the migration's task ended without an exit code (Spot or host loss): it may be half done",
        ),
        Some(Outcome::TimedOut | Outcome::Interrupted) if f.launched => (
            Failed,
            "the migration's deadline (hookDetails.timeout or ECS_MIGRATE_TIMEOUT) passed; it was stopped",
        ),
        Some(Outcome::TimedOut | Outcome::Interrupted) => (
            InProgress,
            "this invocation's time ran out before the launch; the next one launches",
        ),
        Some(Outcome::Busy) => (
            InProgress,
            "another migration of the family is running; the hook waits for it to end",
        ),
        Some(Outcome::LaunchFailed) => (
            InProgress,
            "AWS failed before the launch (not the release): the next invocation retries",
        ),
        Some(Outcome::LostTrack) => (
            InProgress,
            "the migration's task could not be observed: the next invocation looks again",
        ),
        Some(Outcome::HookFailed | Outcome::WriteFailed | Outcome::StillRunning) | None => {
            (InProgress, "no verdict yet")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HookStatus::*;

    #[test]
    fn the_hook_decision_table() {
        let f = |outcome, release_defect, launched, running| Found {
            outcome: Some(outcome),
            release_defect,
            launched,
            running,
        };
        let rows = [
            (f(Outcome::Succeeded, false, true, false), Succeeded),
            (f(Outcome::Failed, false, true, false), Failed),
            (f(Outcome::NotStarted, false, true, false), Failed),
            (f(Outcome::LaunchFailed, true, false, false), Failed),
            (f(Outcome::LaunchFailed, false, false, false), InProgress),
            (f(Outcome::UsageError, false, false, false), Failed),
            (f(Outcome::NoExitCode, false, true, false), Failed),
            (f(Outcome::TimedOut, false, true, true), InProgress),
            (f(Outcome::Succeeded, false, true, true), InProgress),
            (f(Outcome::Failed, false, true, true), InProgress),
            (f(Outcome::TimedOut, false, true, false), Failed),
            (f(Outcome::TimedOut, false, false, false), InProgress),
            (f(Outcome::Busy, false, false, false), InProgress),
            (f(Outcome::LostTrack, false, true, false), InProgress),
        ];
        for (found, want) in rows {
            let (got, why) = hook_answer(found);
            assert_eq!(got, want, "{found:?}: {why}");
        }
        // never SUCCEEDED without a migration that succeeded
        for o in Outcome::ALL {
            for (defect, launched, running) in [(false, false, false), (true, true, false)] {
                let (got, why) = hook_answer(f(o, defect, launched, running));
                assert!(!why.is_empty());
                assert_eq!(got == Succeeded, o == Outcome::Succeeded, "{o:?}");
            }
        }
        assert_eq!(
            hook_answer(Found {
                outcome: None,
                release_defect: false,
                launched: false,
                running: false
            })
            .0,
            InProgress
        );
    }
}
