//! One error type for the whole tool: a one-line message, a hint saying what to do, and the
//! exit code it maps to.

use std::fmt;

use crate::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad flags or input files.
    Usage,
    /// Anything that fails before the task runs: AWS errors, preflight, RunTask failures.
    BeforeRun,
}

#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Usage,
            message: message.into(),
            hint: None,
        }
    }

    pub fn before_run(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::BeforeRun,
            message: message.into(),
            hint: None,
        }
    }

    /// An AWS call failed: says which call, with the service's code and message.
    pub fn aws<E>(call: &str, err: E) -> Self
    where
        E: std::error::Error + 'static,
    {
        let detail = aws_sdk_ecs::error::DisplayErrorContext(&err).to_string();
        let mut e = Self::before_run(format!("{call} failed: {detail}"));
        if detail.contains("dispatch failure") || detail.contains("Connection refused") {
            e.hint = Some("check the network, AWS_ENDPOINT_URL and --region".into());
        } else if detail.contains("AccessDenied") || detail.contains("not authorized") {
            e.hint = Some(format!(
                "grant {call} to the caller (see docs/iam-policy.json)"
            ));
        } else if detail.contains("NoCredentials") || detail.contains("no credentials") {
            e.hint = Some(
                "configure AWS credentials (env, --profile, SSO or the CodeBuild role)".into(),
            );
        }
        e
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn exit_code(&self) -> i32 {
        match self.kind {
            Kind::Usage => exit::USAGE,
            Kind::BeforeRun => exit::LAUNCH_FAILED,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_documented_codes() {
        assert_eq!(Error::usage("x").exit_code(), exit::USAGE);
        assert_eq!(Error::before_run("x").exit_code(), exit::LAUNCH_FAILED);
    }

    #[test]
    fn display_is_one_line_with_the_hint() {
        let e = Error::usage("unknown preset 'migrat'").with_hint("presets: migrate, rollback");
        let text = e.to_string();
        assert_eq!(
            text,
            "unknown preset 'migrat' (hint: presets: migrate, rollback)"
        );
        assert!(!text.contains('\n'));
    }
}
