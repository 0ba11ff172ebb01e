//! The documented exit-code table (also in `--help` and docs/exit-codes.md).
//!
//! Any other code is the target container's own exit code, passed through unchanged (0–255).
//! Which code a run ends with is decided in one place: `Outcome::exit_code`.

/// The migration container exited 0.
pub const SUCCESS: i32 = 0;
/// Bad command line or input (clap uses 2 as well).
pub const USAGE: i32 = 2;
/// `logs`: the migration has no verdict yet and is still running (`--follow` waits for it).
pub const STILL_RUNNING: i32 = 118;
/// `render`: a file could not be written (disk full, permissions); no file was replaced.
pub const WRITE_FAILED: i32 = 119;
/// `gate`: the migration ran, but its verdict could not be handed to the deployment
/// (ContinueServiceDeployment refused, or the hook had expired); the hook's timeout action
/// decides the deployment.
pub const HOOK_FAILED: i32 = 120;
/// Another migration of this family is running; ours was not started (or stopped before its
/// container ran).
pub const BUSY: i32 = 121;
/// The container started but the task ended without an exit code (Spot, host failure).
pub const NO_EXIT_CODE: i32 = 122;
/// After launch, ecs-migrate lost track of the task or StopTask was refused; the task may
/// still be running (its ARN and the stop command are printed).
pub const LOST_TRACK: i32 = 123;
/// The deadline (`--timeout`) was reached; the task was stopped (or detached).
pub const TIMED_OUT: i32 = 124;
/// ecs-migrate failed before any task was launched: AWS error, preflight, RunTask failures[].
pub const LAUNCH_FAILED: i32 = 125;
/// The task stopped but the target container never ran (image pull, secrets). Never success.
pub const NOT_STARTED: i32 = 126;
/// Interrupted by SIGINT or SIGTERM; the task was stopped (or detached).
pub const INTERRUPTED: i32 = 130;

#[cfg(test)]
/// Codes ecs-migrate itself uses; a container exiting with one of them is indistinguishable,
/// which is why the JSON report carries `outcome` as well.
pub const RESERVED: [i32; 11] = [
    USAGE,
    STILL_RUNNING,
    WRITE_FAILED,
    HOOK_FAILED,
    BUSY,
    NO_EXIT_CODE,
    LOST_TRACK,
    TIMED_OUT,
    LAUNCH_FAILED,
    NOT_STARTED,
    INTERRUPTED,
];

/// The table shown at the end of `ecs-migrate run --help`.
pub const HELP_TABLE: &str = "\
Exit codes:
  0        the migration container exited 0
  1-255    the migration container's own exit code, passed through
  2        usage error (bad flags or input); nothing was changed in AWS
  118      logs: the migration is still running and has no verdict yet (--follow waits for it)
  119      render: a file could not be written (disk full, permissions); none was replaced
  120      gate: the migration ran, but the deployment did not take its verdict (the hook decides)
  121      another migration of this family is running (its task ARN is printed); ours did not run
  122      the container started but the task ended without an exit code (Spot or host loss)
  123      lost track of the task after launch, or StopTask failed; it may still be running
  124      deadline (--timeout) reached; the task was stopped, or left running with --on-abort detach
  125      ecs-migrate failed before launching a task (AWS error, preflight, RunTask failures)
  126      the task stopped but the container never ran (no exit code: image pull, secrets)
  130      interrupted (SIGINT/SIGTERM); the task was stopped, or left running with --on-abort detach";

/// Maps a container exit code to a process exit code. Codes outside 0–255 cannot be passed
/// through (the OS would truncate 256 to 0, i.e. success), so they become 1.
pub fn from_container(code: i32) -> i32 {
    if (0..=255).contains(&code) { code } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_codes_are_distinct_and_in_the_help_table() {
        let mut codes = RESERVED.to_vec();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), RESERVED.len());
        for code in RESERVED {
            assert!(
                HELP_TABLE.contains(&format!("\n  {code} ")),
                "{code} missing from help"
            );
        }
    }

    #[test]
    fn container_codes_pass_through_and_out_of_range_never_becomes_success() {
        assert_eq!(from_container(0), 0);
        assert_eq!(from_container(3), 3);
        assert_eq!(from_container(137), 137);
        assert_eq!(from_container(255), 255);
        assert_eq!(from_container(256), 1);
        assert_eq!(from_container(-1), 1);
    }

    #[test]
    fn docs_table_matches() {
        let doc = include_str!("../docs/exit-codes.md");
        for code in RESERVED {
            assert!(
                doc.contains(&format!("| {code} ")),
                "docs/exit-codes.md lacks {code}"
            );
        }
    }

    /// Each reserved code's docs row names the outcome that `Outcome::exit_code` maps to it.
    #[test]
    fn docs_rows_name_the_outcome_of_each_code() {
        use crate::verdict::outcome::Outcome;
        let doc = include_str!("../docs/exit-codes.md");
        for o in [
            Outcome::UsageError,
            Outcome::StillRunning,
            Outcome::WriteFailed,
            Outcome::HookFailed,
            Outcome::Busy,
            Outcome::NoExitCode,
            Outcome::LostTrack,
            Outcome::TimedOut,
            Outcome::LaunchFailed,
            Outcome::NotStarted,
            Outcome::Interrupted,
        ] {
            let row = format!("| {} | `{}` |", o.exit_code(None), o.name());
            assert!(doc.contains(&row), "docs/exit-codes.md lacks the row {row}");
        }
    }
}
