//! From a stopped task to a verdict and an exit code (pure).

use serde::Serialize;

use crate::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    NotStarted,
    TimedOut,
    Interrupted,
    LaunchFailed,
}

/// Why the run was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abort {
    Deadline,
    Signal,
}

/// What DescribeTasks said about the stopped task and its target container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoppedTask {
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub exit_code: Option<i32>,
    pub container_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub exit_code: i32,
}

/// An abort always wins (the container's code after StopTask is SIGTERM's, not the
/// migration's); otherwise the target container's exit code, and a missing one is never success.
pub fn judge(task: &StoppedTask, abort: Option<Abort>) -> Verdict {
    match (abort, task.exit_code) {
        (Some(Abort::Deadline), _) => Verdict {
            outcome: Outcome::TimedOut,
            exit_code: exit::TIMED_OUT,
        },
        (Some(Abort::Signal), _) => Verdict {
            outcome: Outcome::Interrupted,
            exit_code: exit::INTERRUPTED,
        },
        (None, Some(0)) => Verdict {
            outcome: Outcome::Succeeded,
            exit_code: exit::SUCCESS,
        },
        (None, Some(code)) => Verdict {
            outcome: Outcome::Failed,
            exit_code: exit::from_container(code),
        },
        (None, None) => Verdict {
            outcome: Outcome::NotStarted,
            exit_code: exit::NOT_STARTED,
        },
    }
}

/// The version in a Rails `== 20240101000000 CreateUsers: migrated (0.0012s) ===` line, for
/// `word` = "migrated" or "reverted".
pub fn rails_version<'a>(line: &'a str, word: &str) -> Option<&'a str> {
    let rest = line.strip_prefix("== ")?;
    let mut parts = rest.split_whitespace();
    let version = parts.next()?;
    let name = parts.next()?;
    let verb = parts.next()?;
    let is_version = version.len() >= 3 && version.chars().all(|c| c.is_ascii_digit());
    (is_version && name.ends_with(':') && verb == word).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stopped(code: Option<i32>) -> StoppedTask {
        StoppedTask {
            exit_code: code,
            stop_code: Some("EssentialContainerExited".into()),
            ..Default::default()
        }
    }

    #[test]
    fn container_code_is_the_verdict() {
        assert_eq!(
            judge(&stopped(Some(0)), None),
            Verdict {
                outcome: Outcome::Succeeded,
                exit_code: 0
            }
        );
        assert_eq!(
            judge(&stopped(Some(3)), None),
            Verdict {
                outcome: Outcome::Failed,
                exit_code: 3
            }
        );
        assert_eq!(judge(&stopped(Some(137)), None).exit_code, 137);
        assert_eq!(judge(&stopped(Some(300)), None).exit_code, 1);
    }

    #[test]
    fn missing_exit_code_is_never_success() {
        let t = StoppedTask {
            stop_code: Some("TaskFailedToStart".into()),
            stopped_reason: Some("CannotPullContainerError: not found".into()),
            ..Default::default()
        };
        assert_eq!(
            judge(&t, None),
            Verdict {
                outcome: Outcome::NotStarted,
                exit_code: 126
            }
        );
    }

    #[test]
    fn aborts_win_over_the_container_code() {
        assert_eq!(
            judge(&stopped(Some(143)), Some(Abort::Signal)).exit_code,
            130
        );
        assert_eq!(
            judge(&stopped(Some(0)), Some(Abort::Deadline)).outcome,
            Outcome::TimedOut
        );
        assert_eq!(judge(&stopped(None), Some(Abort::Deadline)).exit_code, 124);
    }

    #[test]
    fn rails_lines() {
        let l = "== 20240101000000 CreateUsers: migrated (0.0011s) =============================";
        assert_eq!(rails_version(l, "migrated"), Some("20240101000000"));
        assert_eq!(rails_version(l, "reverted"), None);
        assert_eq!(
            rails_version("== 20240101000000 CreateUsers: migrating ====", "migrated"),
            None
        );
        assert_eq!(
            rails_version(
                "== 20240101000000 CreateUsers: reverted (0.1s) ==",
                "reverted"
            ),
            Some("20240101000000")
        );
        assert_eq!(rails_version("-- create_table(:users)", "migrated"), None);
    }

    #[test]
    fn outcomes_serialise_as_documented() {
        let names: Vec<String> = [
            Outcome::Succeeded,
            Outcome::Failed,
            Outcome::NotStarted,
            Outcome::TimedOut,
            Outcome::Interrupted,
            Outcome::LaunchFailed,
        ]
        .iter()
        .map(|o| {
            serde_json::to_value(o)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
        assert_eq!(
            names,
            [
                "succeeded",
                "failed",
                "not_started",
                "timed_out",
                "interrupted",
                "launch_failed"
            ]
        );
    }
}
