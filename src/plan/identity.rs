//! What makes two runs the same migration (pure): the target container's image (by digest
//! when both are known), its command and its overrides. `--attach` follows only the same
//! migration; anything else running is another migration, and ours is busy.

use crate::plan::overrides::Overrides;

/// The tag naming who launched a migration (a CodeBuild build, a GitHub run, user@host).
pub const STARTED_BY_TAG: &str = "ecs-migrate:started-by";

/// One migration as launched: what the target container runs and who started it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Migration {
    pub image: Option<String>,
    /// `sha256:…`: the image's digest, when known.
    pub digest: Option<String>,
    pub command: Vec<String>,
    /// Environment overrides, sorted.
    pub environment: Vec<(String, String)>,
    pub cpu: Option<i32>,
    pub memory: Option<i32>,
    pub memory_reservation: Option<i32>,
    pub task_cpu: Option<String>,
    pub task_memory: Option<String>,
    /// Who started it (the `ecs-migrate:started-by` tag), when known.
    pub started_by: Option<String>,
}

impl Migration {
    /// Ours: the image we run and the resolved overrides.
    pub fn ours(image: Option<&str>, overrides: &Overrides) -> Self {
        let mut environment = overrides.environment.clone();
        environment.sort();
        Self {
            image: image.map(String::from),
            digest: image.and_then(digest_of),
            command: overrides.command.clone(),
            environment,
            cpu: overrides.cpu,
            memory: overrides.memory,
            memory_reservation: overrides.memory_reservation,
            task_cpu: overrides.task_cpu.clone(),
            task_memory: overrides.task_memory.clone(),
            started_by: None,
        }
    }

    /// The differences that make `other` another migration than `self` (empty: the same).
    pub fn differences(&self, other: &Migration) -> Vec<String> {
        let mut diff = vec![];
        let same_image = match (&self.digest, &other.digest) {
            (Some(a), Some(b)) => a == b,
            _ => self.image == other.image,
        };
        if !same_image {
            diff.push(format!(
                "image {} (ours: {})",
                other.image.as_deref().unwrap_or("unknown"),
                self.image.as_deref().unwrap_or("unknown")
            ));
        }
        if self.command != other.command {
            diff.push(format!(
                "command {} (ours: {})",
                argv(&other.command),
                argv(&self.command)
            ));
        }
        if self.environment != other.environment {
            diff.push("other environment overrides".into());
        }
        let sizes = |m: &Migration| {
            (
                m.cpu,
                m.memory,
                m.memory_reservation,
                m.task_cpu.clone(),
                m.task_memory.clone(),
            )
        };
        if sizes(self) != sizes(other) {
            diff.push("other cpu/memory overrides".into());
        }
        diff
    }

    /// `image …, command …, started by …`: what a busy error names.
    pub fn describe(&self) -> String {
        format!(
            "image {}, command {}, started by {}",
            self.image.as_deref().unwrap_or("unknown"),
            argv(&self.command),
            self.started_by.as_deref().unwrap_or("unknown")
        )
    }
}

/// `sha256:…` of an image reference pinned by digest.
pub fn digest_of(image: &str) -> Option<String> {
    image
        .split_once('@')
        .map(|(_, d)| d.to_string())
        .filter(|d| d.contains(':'))
}

/// An argv as a reader would type it (for messages only; never run by a shell).
fn argv(command: &[String]) -> String {
    if command.is_empty() {
        return "(the image's default)".into();
    }
    let quoted: Vec<String> = command
        .iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=./:@,+".contains(c))
            {
                a.clone()
            } else {
                format!("{a:?}")
            }
        })
        .collect();
    format!("`{}`", quoted.join(" "))
}

/// Who is launching: the CodeBuild build, the GitHub Actions run, or user@host, as an ECS tag
/// value (letters, digits, spaces and `+ - = . _ : / @`, at most 256 characters).
pub fn caller(env: impl Fn(&str) -> Option<String>) -> String {
    let who = if let Some(build) = env("CODEBUILD_BUILD_ID") {
        format!("codebuild:{build}")
    } else if env("GITHUB_ACTIONS").as_deref() == Some("true") {
        let server = env("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
        format!(
            "github:{server}/{}/actions/runs/{}",
            env("GITHUB_REPOSITORY").unwrap_or_default(),
            env("GITHUB_RUN_ID").unwrap_or_default()
        )
    } else {
        let user = env("USER")
            .or_else(|| env("LOGNAME"))
            .unwrap_or_else(|| "unknown".into());
        let host = env("HOSTNAME").unwrap_or_else(|| "unknown-host".into());
        format!("{user}@{host}")
    };
    who.chars()
        .map(|c| {
            if c.is_alphanumeric() || " +-=._:/@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrate(image: &str) -> Migration {
        Migration::ours(
            Some(image),
            &Overrides {
                command: vec![
                    "bundle".into(),
                    "exec".into(),
                    "rails".into(),
                    "db:migrate".into(),
                ],
                ..Default::default()
            },
        )
    }

    #[test]
    fn the_same_image_and_command_is_the_same_migration() {
        let a = migrate("repo/rails:v2");
        assert!(a.differences(&migrate("repo/rails:v2")).is_empty());
    }

    #[test]
    fn another_image_or_command_is_another_migration() {
        let a = migrate("repo/rails:v2");
        let d = a.differences(&migrate("repo/rails:v1"));
        assert_eq!(d, ["image repo/rails:v1 (ours: repo/rails:v2)"]);
        let mut status = migrate("repo/rails:v2");
        status.command = vec![
            "bundle".into(),
            "exec".into(),
            "rails".into(),
            "db:migrate:status".into(),
        ];
        let d = a.differences(&status);
        assert_eq!(d.len(), 1);
        assert!(
            d[0].starts_with("command `bundle exec rails db:migrate:status`"),
            "{d:?}"
        );
        let mut env = migrate("repo/rails:v2");
        env.environment = vec![("VERBOSE".into(), "true".into())];
        assert_eq!(a.differences(&env), ["other environment overrides"]);
        let mut sized = migrate("repo/rails:v2");
        sized.task_memory = Some("2048".into());
        assert_eq!(a.differences(&sized), ["other cpu/memory overrides"]);
    }

    #[test]
    fn digests_decide_when_both_are_known() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let ours = migrate(&format!("repo/rails@{digest}"));
        // the running task was launched by tag, and ECS reports the digest it pulled
        let mut theirs = migrate("repo/rails:v2");
        theirs.digest = Some(digest.clone());
        assert!(ours.differences(&theirs).is_empty());
        theirs.digest = Some(format!("sha256:{}", "b".repeat(64)));
        assert_eq!(ours.differences(&theirs).len(), 1);
        // without our digest, the references are compared as written
        let by_tag = migrate("repo/rails:v2");
        assert!(by_tag.differences(&theirs).is_empty());
    }

    #[test]
    fn busy_names_image_command_and_who() {
        let mut m = migrate("repo/rails:v1");
        m.started_by = Some("codebuild:proj:1234".into());
        assert_eq!(
            m.describe(),
            "image repo/rails:v1, command `bundle exec rails db:migrate`, started by codebuild:proj:1234"
        );
    }

    #[test]
    fn the_caller_is_a_valid_tag_value() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            caller(env(&[("CODEBUILD_BUILD_ID", "migrate:0f3c")])),
            "codebuild:migrate:0f3c"
        );
        assert_eq!(
            caller(env(&[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_REPOSITORY", "acme/app"),
                ("GITHUB_RUN_ID", "42")
            ])),
            "github:https://github.com/acme/app/actions/runs/42"
        );
        assert_eq!(
            caller(env(&[("USER", "ana"), ("HOSTNAME", "build#1")])),
            "ana@build_1"
        );
        assert_eq!(caller(env(&[])), "unknown@unknown-host");
    }
}
