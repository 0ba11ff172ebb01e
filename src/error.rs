//! One error type for the whole tool: a one-line message, a hint saying what to do, and the
//! outcome (hence the exit code) it maps to.
//!
//! AWS errors are classified from the typed `SdkError` and `ProvideErrorMetadata::code()`,
//! never from a debug string; the SDK's full error context is logged at debug level only.

use std::fmt;

use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad flags or input files.
    Usage,
    /// Anything that fails before a task is launched: AWS errors, preflight, RunTask failures.
    BeforeRun,
    /// Another migration of the family is running.
    Busy,
    /// After launch: the task could not be followed or stopped.
    AfterLaunch,
    /// A file could not be written (a full disk, permissions): not bad input.
    Write,
}

#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
    /// For AWS errors: worth retrying (throttling, 5xx, timeouts, connection trouble).
    pub transient: bool,
    /// The release itself cannot run (its task definition names a secret that does not exist):
    /// a gate rolls such a deployment back, whereas any other failure leaves the hook.
    pub release_defect: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Error codes AWS uses for throttling (compared whole, never as substrings).
const THROTTLING: [&str; 6] = [
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottledException",
];

impl Error {
    fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
            transient: false,
            release_defect: false,
        }
    }

    /// Marks an error that the release's own task definition causes.
    pub fn blaming_release(mut self) -> Self {
        self.release_defect = true;
        self
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    pub fn before_run(message: impl Into<String>) -> Self {
        Self::new(Kind::BeforeRun, message)
    }

    pub fn busy(message: impl Into<String>) -> Self {
        Self::new(Kind::Busy, message)
    }

    pub fn after_launch(message: impl Into<String>) -> Self {
        Self::new(Kind::AfterLaunch, message)
    }

    pub fn write(message: impl Into<String>) -> Self {
        Self::new(Kind::Write, message)
    }

    /// An AWS call failed: says which call, with the service's code and message.
    pub fn aws<E>(call: &str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        tracing::debug!(call, error = %aws_sdk_ecs::error::DisplayErrorContext(&err), "AWS error");
        let code = err.code().map(String::from);
        let (message, transient, hint) = match &err {
            SdkError::ServiceError(ctx) => {
                let code = code.clone().unwrap_or_else(|| "UnknownError".into());
                let text = err.message().unwrap_or("no message");
                let throttled = THROTTLING.contains(&code.as_str());
                let server = ctx.raw().status().is_server_error();
                let hint = match code.as_str() {
                    "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => Some(
                        format!("grant {call} to the caller (see docs/iam-policy.json)"),
                    ),
                    _ if throttled => Some("AWS is throttling this account: retry later".into()),
                    "ConflictException" => Some(
                        "this client token was used in the last 24 h with other parameters: rerun with a new --client-token (or none)".into(),
                    ),
                    _ if server => Some(format!(
                        "AWS answered HTTP {} (its own error) after the SDK's retries: retry later",
                        ctx.raw().status().as_u16()
                    )),
                    _ => None,
                };
                (format!("{code}: {text}"), throttled || server, hint)
            }
            SdkError::TimeoutError(_) => (
                "timed out".to_string(),
                true,
                Some("check the network, AWS_ENDPOINT_URL and --region".into()),
            ),
            SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => (
                if d.is_timeout() {
                    "timed out connecting".to_string()
                } else {
                    "cannot reach the endpoint".to_string()
                },
                true,
                Some("check the network, AWS_ENDPOINT_URL and --region".into()),
            ),
            // what is left before a request goes out: no usable credentials (the chain found
            // none), or TLS/connector setup
            SdkError::DispatchFailure(_) => (
                "no usable credentials (or no connection)".to_string(),
                false,
                Some(
                    "set AWS_ACCESS_KEY_ID/…, --profile (SSO), or use the CodeBuild/ECS role"
                        .into(),
                ),
            ),
            SdkError::ResponseError(_) => ("unreadable response".to_string(), true, None),
            _ => ("the request could not be built".to_string(), false, None),
        };
        let mut e = Self::before_run(format!("{call} failed: {message}"));
        e.transient = transient;
        e.hint = hint;
        e
    }

    /// A named target (cluster, service, task definition, container) does not exist: bad input,
    /// one documented code (2) whichever it is.
    pub fn not_found(what: &str, name: &str, region: Option<&str>) -> Self {
        let place = region
            .map(|r| format!(" in region {r}"))
            .unwrap_or_default();
        Self::usage(format!("{what} '{name}' not found{place}"))
            .with_hint("check the name, --cluster and --region (or AWS_REGION)")
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The exit code this error ends with (`Outcome::of` decides it).
    #[cfg(test)]
    pub fn exit_code(&self) -> i32 {
        crate::verdict::outcome::Outcome::of(self).exit_code(None)
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
    use crate::exit;

    #[test]
    fn kinds_map_to_documented_codes() {
        assert_eq!(Error::usage("x").exit_code(), exit::USAGE);
        assert_eq!(Error::before_run("x").exit_code(), exit::LAUNCH_FAILED);
        assert_eq!(Error::busy("x").exit_code(), exit::BUSY);
        assert_eq!(Error::after_launch("x").exit_code(), exit::LOST_TRACK);
        assert_eq!(Error::write("x").exit_code(), exit::WRITE_FAILED);
    }

    fn service_error(status: u16, code: &str) -> Error {
        use aws_sdk_ecs::error::ErrorMetadata;
        use aws_sdk_ecs::operation::describe_tasks::DescribeTasksError;
        use aws_smithy_types::body::SdkBody;
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("from AWS")
            .build();
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        Error::aws(
            "ecs:DescribeTasks",
            SdkError::service_error(DescribeTasksError::generic(meta), raw),
        )
    }

    #[test]
    fn throttling_and_5xx_are_transient_by_code_and_status() {
        let e = service_error(400, "ThrottlingException");
        assert!(e.transient);
        assert_eq!(
            e.message,
            "ecs:DescribeTasks failed: ThrottlingException: from AWS"
        );
        assert!(e.hint.unwrap().contains("throttling"));
        let e = service_error(503, "ServiceUnavailable");
        assert!(e.transient);
        assert_eq!(
            e.hint.as_deref(),
            Some("AWS answered HTTP 503 (its own error) after the SDK's retries: retry later")
        );
        assert!(service_error(500, "InternalFailure").transient);
        assert!(
            service_error(400, "ConflictException")
                .hint
                .unwrap()
                .contains("new --client-token")
        );
        // a code that merely contains "Throttling" is not throttling
        assert!(!service_error(400, "NotThrottlingButBroken").transient);
    }

    #[test]
    fn client_errors_are_final_and_access_denied_names_the_action() {
        let e = service_error(400, "AccessDeniedException");
        assert!(!e.transient);
        assert_eq!(
            e.hint.as_deref(),
            Some("grant ecs:DescribeTasks to the caller (see docs/iam-policy.json)")
        );
        assert!(!service_error(400, "ClientException").transient);
        assert_eq!(
            service_error(400, "ClientException").exit_code(),
            exit::LAUNCH_FAILED
        );
    }

    #[test]
    fn timeouts_and_connection_failures_are_transient() {
        use aws_sdk_ecs::error::ConnectorError;
        use aws_sdk_ecs::operation::describe_tasks::DescribeTasksError;
        let timeout: SdkError<DescribeTasksError, HttpResponse> =
            SdkError::timeout_error("attempt timed out");
        assert!(Error::aws("ecs:DescribeTasks", timeout).transient);
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let dispatch: SdkError<DescribeTasksError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(io.into()));
        let e = Error::aws("ecs:DescribeTasks", dispatch);
        assert!(e.transient);
        assert_eq!(
            e.message,
            "ecs:DescribeTasks failed: cannot reach the endpoint"
        );
        assert!(!e.to_string().contains('\n'));
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
