//! The documented exit-code table (also in `--help` and docs/exit-codes.md).
//!
//! Any other code is the target container's own exit code, passed through unchanged (0–255).

/// The migration container exited 0.
pub const SUCCESS: i32 = 0;
/// Bad command line or input (clap uses 2 as well).
pub const USAGE: i32 = 2;
/// The deadline (`--timeout`) was reached; the task was stopped (or detached).
pub const TIMED_OUT: i32 = 124;
/// ecs-migrate failed before the task ran: config, AWS error, preflight, RunTask failures[].
pub const LAUNCH_FAILED: i32 = 125;
/// The task stopped but the target container has no exit code: it never ran (image pull,
/// secrets, capacity). Never success.
pub const NOT_STARTED: i32 = 126;
/// Interrupted by SIGINT or SIGTERM; the task was stopped (or detached).
pub const INTERRUPTED: i32 = 130;

#[cfg(test)]
/// Codes ecs-migrate itself uses; a container exiting with one of them is indistinguishable,
/// which is why the JSON report carries `outcome` as well.
pub const RESERVED: [i32; 5] = [USAGE, TIMED_OUT, LAUNCH_FAILED, NOT_STARTED, INTERRUPTED];

/// The table shown at the end of `ecs-migrate run --help`.
pub const HELP_TABLE: &str = "\
Exit codes:
  0        the migration container exited 0
  1-255    the migration container's own exit code, passed through
  2        usage error (bad flags or input); nothing was changed in AWS
  124      deadline (--timeout) reached; the task was stopped, or left running with --on-abort detach
  125      ecs-migrate failed before the task ran (config, AWS error, preflight, RunTask failures)
  126      the task stopped but the container never ran (no exit code: image pull, secrets, capacity)
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
}
