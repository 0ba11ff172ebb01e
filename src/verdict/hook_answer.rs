//! The Lambda hook's decision table (pure): what one invocation found → SUCCEEDED, FAILED or
//! IN_PROGRESS. As for `gate`, only a migration that ran and failed, or that this release's
//! task definition cannot start, fails the hook (ECS rolls back); whatever can still change
//! (a migration still running, another one of the family, AWS trouble before launch) is
//! IN_PROGRESS, and ECS asks again after `callBackDelay`, until the hook's own timeout.

use std::time::Duration;

use serde_json::json;

use crate::plan::hook_event::{Answer, DEADLINE_KEY, HookStatus, PRINTED_KEY, TASK_KEY};
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
    /// The migration's own deadline (`hookDetails.timeout`) has passed.
    pub deadline_passed: bool,
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
        Some(Outcome::TimedOut | Outcome::Interrupted) if f.deadline_passed => (
            Failed,
            "the migration's deadline (hookDetails.timeout or ECS_MIGRATE_TIMEOUT) passed before it could be launched; nothing was launched",
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

/// What one invocation's report says, as the answer needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Invocation {
    pub outcome: Option<Outcome>,
    pub release_defect: bool,
    /// The task followed now (launched, attached to, or resumed).
    pub task_arn: Option<String>,
    /// An earlier invocation launched one.
    pub earlier_task: bool,
    /// Left running, or its log's drain cut short by this invocation's time.
    pub running: bool,
    pub error: Option<String>,
    pub exit_code: Option<i32>,
    /// The log lines read (and printed) so far.
    pub log_lines: u64,
    /// The migration's own deadline has passed.
    pub deadline_passed: bool,
}

/// Pure: the answer ECS gets. IN_PROGRESS carries the task and how far its log was printed
/// (whenever a task is known, so the next invocation follows it rather than launching), the
/// migration's deadline, and when to ask again.
pub fn answer(inv: &Invocation, call_back_delay: Duration, deadline_epoch: Option<f64>) -> Answer {
    let (status, why) = hook_answer(Found {
        outcome: inv.outcome,
        release_defect: inv.release_defect,
        launched: inv.task_arn.is_some() || inv.earlier_task,
        running: inv.running && inv.task_arn.is_some(),
        deadline_passed: inv.deadline_passed,
    });
    let reason = match (&inv.error, inv.outcome) {
        (_, _) if status == HookStatus::InProgress && inv.running => why.to_string(),
        (Some(e), _) if status != HookStatus::Succeeded => format!("{why}: {e}"),
        (_, Some(Outcome::Failed)) => format!(
            "{why}: exit code {}",
            inv.exit_code.map_or("unknown".into(), |c| c.to_string())
        ),
        _ => why.to_string(),
    };
    let mut a = Answer::new(status, reason);
    if status == HookStatus::InProgress {
        a.call_back_delay = Some(call_back_delay.as_secs().max(1));
        if let Some(task) = &inv.task_arn {
            a.details.insert(TASK_KEY.into(), json!(task));
            a.details.insert(PRINTED_KEY.into(), json!(inv.log_lines));
        }
        if let Some(d) = deadline_epoch {
            a.details.insert(DEADLINE_KEY.into(), json!(d));
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use HookStatus::*;

    #[test]
    fn in_progress_keeps_the_task_whenever_one_is_known() {
        let delay = Duration::from_secs(30);
        let running = Invocation {
            outcome: Some(Outcome::TimedOut),
            task_arn: Some("arn:task".into()),
            running: true,
            error: Some("deadline reached (this invocation's time); left running".into()),
            log_lines: 12,
            ..Default::default()
        };
        let a = answer(&running, delay, Some(1_800_000_000.0));
        assert_eq!(a.status, InProgress);
        assert_eq!(
            a.to_json(),
            json!({"hookStatus": "IN_PROGRESS", "callBackDelay": 30, "hookDetails": {
                "ecsMigrateTask": "arn:task", "ecsMigrateLogLines": 12,
                "ecsMigrateDeadline": 1_800_000_000.0}})
        );
        assert!(!a.reason.contains("deadline reached"), "{}", a.reason);
        // lost track of a task it launched: looked at again, not launched again
        let lost = Invocation {
            outcome: Some(Outcome::LostTrack),
            task_arn: Some("arn:task".into()),
            log_lines: 3,
            ..Default::default()
        };
        let a = answer(&lost, delay, None);
        assert_eq!(a.status, InProgress);
        assert_eq!(a.details[TASK_KEY], "arn:task");
        assert_eq!(a.details[PRINTED_KEY], 3);
        let failed = Invocation {
            outcome: Some(Outcome::Failed),
            task_arn: Some("arn:task".into()),
            exit_code: Some(1),
            ..Default::default()
        };
        let a = answer(&failed, delay, None);
        assert_eq!(
            (a.status, a.reason.as_str()),
            (Failed, "the migration failed: exit code 1")
        );
        assert_eq!(a.to_json(), json!({"hookStatus": "FAILED"}));
    }

    #[test]
    fn the_hook_decision_table() {
        let f = |outcome, release_defect, launched, running| Found {
            outcome: Some(outcome),
            release_defect,
            launched,
            running,
            deadline_passed: false,
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
            (
                Found {
                    deadline_passed: true,
                    ..f(Outcome::TimedOut, false, false, false)
                },
                Failed,
            ),
            (
                Found {
                    deadline_passed: true,
                    ..f(Outcome::TimedOut, false, true, true)
                },
                InProgress,
            ),
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
                running: false,
                deadline_passed: false,
            })
            .0,
            InProgress
        );
    }

    /// Each row of docs/reliability.md's Lambda hook table says what `hook_answer` does.
    #[test]
    fn the_docs_hook_table_is_hook_answer() {
        let doc = include_str!("../../docs/reliability.md");
        let table = doc
            .split("| outcome | when | the Lambda hook answers |")
            .nth(1)
            .expect("the hook's table");
        let rows: Vec<&str> = table
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .collect();
        assert_eq!(rows.len(), 13, "{rows:?}");
        for row in rows {
            let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
            let (name, when, answer) = (cells[0], cells[1], cells[2]);
            let outcome = Outcome::ALL
                .into_iter()
                .find(|o| format!("`{}`", o.name()) == name)
                .unwrap_or_else(|| panic!("no outcome {name}"));
            let found = Found {
                outcome: Some(outcome),
                release_defect: when.starts_with("the preflight"),
                launched: !matches!(
                    outcome,
                    Outcome::LaunchFailed | Outcome::UsageError | Outcome::Busy
                ) && !when.contains("before the launch"),
                running: when.starts_with("this invocation's time")
                    && !when.contains("before the launch"),
                deadline_passed: when.contains("own deadline"),
            };
            let want = ["SUCCEEDED", "FAILED", "IN_PROGRESS"]
                .into_iter()
                .find(|s| answer.starts_with(s))
                .unwrap_or_else(|| panic!("{row}"));
            assert_eq!(hook_answer(found).0.as_str(), want, "{row}");
        }
    }
}
