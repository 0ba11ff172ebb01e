//! The gate's decision table (pure): a migration's outcome → the hook's answer. Only a
//! migration that ran and failed, or that this release's task definition cannot start,
//! answers ROLLBACK; a gate that did not run its migration leaves the hook to whoever can
//! still decide. docs/reliability.md shows the table; a test checks each of its rows here.

use crate::plan::migration::{OnAbort, OnFailure};
use crate::plan::stages::HookAction;
use crate::verdict::outcome::Outcome;

/// What the gate tells the hook, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// None: the hook is left to a rerun of the gate, or to its timeout action.
    pub action: Option<HookAction>,
    pub reason: String,
}

/// Pure: the decision table of docs/reliability.md. Only a migration that ran and failed, or
/// that this release's task definition cannot start, rolls back; a gate that did not run its
/// migration (busy, AWS trouble, its own bad input, an abort) leaves the hook to whoever can
/// still decide.
pub fn decide(
    outcome: Option<Outcome>,
    release_defect: bool,
    on_failure: OnFailure,
    on_abort: OnAbort,
) -> Decision {
    let failed = |why: &str| {
        let (action, then) = match on_failure {
            OnFailure::Rollback => (Some(HookAction::Rollback), ""),
            OnFailure::Leave => (None, "; --on-failure leave: the hook is left"),
        };
        Decision {
            action,
            reason: format!("{why}{then}"),
        }
    };
    let leave = |why: &str| Decision {
        action: None,
        reason: why.to_string(),
    };
    match outcome {
        Some(Outcome::Succeeded) => Decision {
            action: Some(HookAction::Continue),
            reason: "the migration succeeded".into(),
        },
        Some(Outcome::Failed) => failed("the migration failed"),
        Some(Outcome::NotStarted) => {
            failed("ECS could not start the migration with this release's task definition")
        }
        Some(Outcome::LaunchFailed) if release_defect => {
            failed("this release's task definition cannot run (its preflight failed)")
        }
        Some(Outcome::TimedOut | Outcome::Interrupted) if on_abort == OnAbort::Rollback => {
            Decision {
                action: Some(HookAction::Rollback),
                reason: "the migration was aborted; --on-abort rollback".into(),
            }
        }
        Some(Outcome::TimedOut | Outcome::Interrupted) => leave(
            "the migration was aborted before its verdict: rerun the gate, or its timeout action decides",
        ),
        Some(Outcome::Busy) => leave(
            "another migration of this family is running (another gate?): it answers the hook",
        ),
        Some(Outcome::LaunchFailed) => leave(
            "the gate failed before launching, not the release (an AWS error or RunTask failure): rerun the gate while the hook waits",
        ),
        Some(Outcome::UsageError) => {
            leave("the gate's own input is wrong: fix it and rerun while the hook waits")
        }
        Some(Outcome::NoExitCode) => leave(
            "the migration's task ended without an exit code (Spot or host loss): check it with the status preset and rerun the gate",
        ),
        Some(Outcome::LostTrack) => leave(
            "the gate lost track of its migration: check the task, then continue or roll back by hand",
        ),
        Some(Outcome::HookFailed | Outcome::WriteFailed | Outcome::StillRunning) | None => {
            leave("no verdict")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/reliability.md's decision table, row by row.
    #[test]
    fn the_decision_table() {
        use HookAction::*;
        use OnAbort::{Rollback as AbortRollback, Stop};
        use OnFailure::{Leave, Rollback as FailRollback};
        let rows = [
            (
                Outcome::Succeeded,
                false,
                FailRollback,
                Stop,
                Some(Continue),
            ),
            (Outcome::Succeeded, false, Leave, Stop, Some(Continue)),
            (Outcome::Failed, false, FailRollback, Stop, Some(Rollback)),
            (Outcome::Failed, false, Leave, Stop, None),
            (
                Outcome::NotStarted,
                false,
                FailRollback,
                Stop,
                Some(Rollback),
            ),
            (
                Outcome::LaunchFailed,
                true,
                FailRollback,
                Stop,
                Some(Rollback),
            ),
            (Outcome::LaunchFailed, true, Leave, Stop, None),
            (Outcome::LaunchFailed, false, FailRollback, Stop, None),
            (Outcome::UsageError, false, FailRollback, Stop, None),
            (Outcome::Busy, false, FailRollback, Stop, None),
            (Outcome::NoExitCode, false, FailRollback, Stop, None),
            (Outcome::LostTrack, false, FailRollback, Stop, None),
            (Outcome::TimedOut, false, FailRollback, Stop, None),
            (Outcome::Interrupted, false, FailRollback, Stop, None),
            (
                Outcome::TimedOut,
                false,
                Leave,
                AbortRollback,
                Some(Rollback),
            ),
            (
                Outcome::Interrupted,
                false,
                Leave,
                AbortRollback,
                Some(Rollback),
            ),
            (Outcome::Busy, false, FailRollback, AbortRollback, None),
        ];
        for (outcome, defect, on_failure, on_abort, want) in rows {
            let d = decide(Some(outcome), defect, on_failure, on_abort);
            assert_eq!(d.action, want, "{outcome:?} defect={defect}: {}", d.reason);
            assert!(!d.reason.is_empty());
        }
        for o in crate::verdict::outcome::Outcome::ALL {
            // every outcome has a row (the match above is exhaustive; this pins the list)
            let _ = decide(Some(o), false, FailRollback, Stop);
        }
    }

    /// Each row of docs/reliability.md's decision table says what `decide` does, with the
    /// default flags and with the flag the row names.
    #[test]
    fn the_docs_decision_table_is_decide() {
        let doc = include_str!("../../docs/reliability.md");
        let table = doc
            .split("| outcome | when | the hook gets |")
            .nth(1)
            .expect("the decision table");
        let rows: Vec<&str> = table
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .collect();
        assert_eq!(rows.len(), 10, "{rows:?}");
        let mut outcomes_seen = std::collections::BTreeSet::new();
        for row in rows {
            let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
            let (names, when, answer) = (cells[0], cells[1], cells[2]);
            let defect = names == "`launch_failed`" && when.starts_with("the preflight");
            for name in names.split(", ") {
                let outcome = Outcome::ALL
                    .into_iter()
                    .find(|o| format!("`{}`", o.name()) == name)
                    .unwrap_or_else(|| panic!("no outcome {name}"));
                outcomes_seen.insert(name.to_string());
                let d = decide(Some(outcome), defect, OnFailure::Rollback, OnAbort::Stop);
                let want = if answer.starts_with("CONTINUE") {
                    Some(HookAction::Continue)
                } else if answer.starts_with("ROLLBACK") {
                    Some(HookAction::Rollback)
                } else {
                    assert!(answer.starts_with("left"), "{row}");
                    None
                };
                assert_eq!(d.action, want, "{row}");
                if answer.contains("(`--on-failure leave`: left)") {
                    let d = decide(Some(outcome), defect, OnFailure::Leave, OnAbort::Stop);
                    assert_eq!(d.action, None, "{row}");
                }
                if answer.contains("(`--on-abort rollback`: ROLLBACK)") {
                    let d = decide(
                        Some(outcome),
                        defect,
                        OnFailure::Rollback,
                        OnAbort::Rollback,
                    );
                    assert_eq!(d.action, Some(HookAction::Rollback), "{row}");
                }
            }
        }
        // every outcome a migration can end with has a row (hook_failed is the answer failing,
        // write_failed belongs to render, still_running to logs)
        for o in Outcome::ALL {
            if !matches!(
                o,
                Outcome::HookFailed | Outcome::WriteFailed | Outcome::StillRunning
            ) {
                assert!(
                    outcomes_seen.contains(&format!("`{}`", o.name())),
                    "{o:?} has no row"
                );
            }
        }
    }
}
