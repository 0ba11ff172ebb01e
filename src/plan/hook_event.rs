//! The Lambda lifecycle hook (pure): ECS's invocation event → what to migrate, where, and the
//! state one invocation leaves the next in `hookDetails` (ECS merges an IN_PROGRESS answer's
//! `hookDetails` into the next invocation's), and the answer's shape.

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::plan::arn::id_of;

/// `hookDetails`' keys for the hook's own state between invocations.
pub const TASK_KEY: &str = "ecsMigrateTask";
pub const PRINTED_KEY: &str = "ecsMigrateLogLines";
pub const DEADLINE_KEY: &str = "ecsMigrateDeadline";

/// `hookDetails`' configuration keys (camelCase, as ECS's own), each a `gate` flag.
const FLAGS: [(&str, &str); 5] = [
    ("cluster", "--cluster"),
    ("container", "--container"),
    ("timeout", "--timeout"),
    ("stage", "--stage"),
    ("migrationFamily", "--migration-family"),
];

/// One invocation of the hook, as ECS sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct HookEvent {
    pub execution_id: String,
    pub stage: String,
    /// The service deployment (`resourceArn`).
    pub deployment_arn: String,
    pub service_arn: String,
    pub target_revision: String,
    pub details: Map<String, Value>,
}

impl HookEvent {
    /// The event ECS sends (ECS developer guide, "Lifecycle hooks for Amazon ECS service
    /// deployments"); anything else is refused.
    pub fn parse(v: &Value) -> Result<Self> {
        let text = |v: &Value, key: &str| -> Result<String> {
            v.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .ok_or_else(|| {
                    Error::usage(format!(
                        "not an ECS lifecycle hook event: it has no {key}"
                    ))
                    .with_hint("the function is invoked by ECS, as a service's AWS_LAMBDA lifecycle hook")
                })
        };
        let details = match v.get("hookDetails") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(Error::usage("the hook's hookDetails is not a JSON object")
                    .with_hint("set lifecycleHooks[].hookDetails to an object, e.g. {\"preset\": \"migrate\"}"));
            }
        };
        let exec = v.get("executionDetails").cloned().unwrap_or(Value::Null);
        Ok(Self {
            execution_id: text(v, "executionId")?,
            stage: text(v, "lifecycleStage")?,
            deployment_arn: text(v, "resourceArn")?,
            service_arn: text(&exec, "serviceArn")?,
            target_revision: text(&exec, "targetServiceRevisionArn")?,
            details,
        })
    }

    /// The service's cluster and name, from its ARN (`…:service/<cluster>/<name>`).
    pub fn cluster_and_service(&self) -> Result<(String, String)> {
        let path = self
            .service_arn
            .split_once(":service/")
            .map(|(_, p)| p)
            .unwrap_or_default();
        match path.split_once('/') {
            Some((c, s)) if !c.is_empty() && !s.is_empty() && !s.contains('/') => {
                Ok((c.to_string(), s.to_string()))
            }
            _ => Err(Error::usage(format!(
                "the event's serviceArn {} is not a service ARN with its cluster",
                self.service_arn
            ))),
        }
    }

    /// The migration task an earlier invocation launched (or attached to).
    pub fn task(&self) -> Option<&str> {
        self.details.get(TASK_KEY).and_then(Value::as_str)
    }

    /// The log lines earlier invocations printed.
    pub fn printed(&self) -> u64 {
        self.details
            .get(PRINTED_KEY)
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    /// The migration's deadline (`timeout` after the first invocation), as the first
    /// invocation set it.
    pub fn deadline(&self) -> Option<SystemTime> {
        let secs = self.details.get(DEADLINE_KEY).and_then(Value::as_f64)?;
        (secs.is_finite() && secs > 0.0)
            .then(|| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs))
    }

    /// `hookDetails`' configuration as `gate`'s command line (the function's ECS_MIGRATE_*
    /// environment applies under it, as for any command). `preset`: a preset name; `command`:
    /// the container's argv (no shell); the cluster defaults to the service's.
    pub fn argv(&self) -> Result<Vec<String>> {
        let (cluster, service) = self.cluster_and_service()?;
        let mut argv = vec!["ecs-migrate".to_string(), "gate".to_string()];
        let string = |key: &str, v: &Value| -> Result<String> {
            v.as_str()
                .map(String::from)
                .ok_or_else(|| Error::usage(format!("hookDetails.{key} must be a string, not {v}")))
        };
        for (key, value) in &self.details {
            if key.starts_with("ecsMigrate") || key == "command" {
                continue;
            }
            if key == "preset" {
                let preset = string(key, value)?;
                if preset.starts_with('-') {
                    return Err(Error::usage(format!(
                        "hookDetails.preset {preset:?} is not a preset name"
                    )));
                }
                argv.push(preset);
                continue;
            }
            let Some((_, flag)) = FLAGS.iter().find(|(k, _)| k == key) else {
                return Err(Error::usage(format!("hookDetails has an unknown key {key:?}"))
                    .with_hint("its keys: preset, command, cluster, container, timeout, stage, migrationFamily"));
            };
            argv.push(format!("{flag}={}", string(key, value)?));
        }
        if !self.details.contains_key("cluster") {
            argv.push(format!("--cluster={cluster}"));
        }
        argv.push(format!("--service={service}"));
        if let Some(command) = self.details.get("command") {
            let words: Option<Vec<String>> = command
                .as_array()
                .map(|a| a.iter().map(|w| w.as_str().map(String::from)).collect())
                .unwrap_or(None);
            match words {
                Some(words) if !words.is_empty() => {
                    argv.push("--".into());
                    argv.extend(words);
                }
                _ => {
                    return Err(Error::usage(
                        "hookDetails.command must be a non-empty array of strings (argv, no shell)",
                    ));
                }
            }
        }
        Ok(argv)
    }
}

/// The RunTask idempotency token of a deployment's migration: every invocation for the
/// deployment, duplicated or retried, asks for the same task (a UUID, within RunTask's 64).
pub fn client_token(deployment_arn: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, deployment_arn.as_bytes()).to_string()
}

/// Who launches, as the task's `ecs-migrate:started-by` tag and the record name it.
pub fn caller(deployment_arn: &str) -> String {
    format!("ecs-hook/{}", id_of(deployment_arn))
}

/// One invocation's time: `working`, until the follow ends (then the task is left running for
/// the next invocation), and `spare`, what is left after it for a stop's grace, the log's drain
/// and the record, before the function's deadline. A deadline that cannot be the function's
/// (past, or beyond Lambda's 15 minutes: local runtimes send a constant) is ignored: `budget`
/// alone bounds the work, and the spare is unknown.
pub fn invocation_time(
    deadline: SystemTime,
    now: SystemTime,
    budget: Duration,
) -> (Duration, Option<Duration>) {
    match deadline.duration_since(now) {
        Ok(left) if left > Duration::ZERO && left <= Duration::from_secs(16 * 60) => {
            let spare = (left / 5).max(Duration::from_secs(3)).min(left);
            let working = budget.min(left - spare);
            (working, Some(left - working))
        }
        _ => (budget, None),
    }
}

/// The hook's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookStatus {
    Succeeded,
    Failed,
    InProgress,
}

impl HookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::Succeeded => "SUCCEEDED",
            HookStatus::Failed => "FAILED",
            HookStatus::InProgress => "IN_PROGRESS",
        }
    }
}

/// What the function returns to ECS; the reason goes to the function's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: HookStatus,
    pub reason: String,
    /// IN_PROGRESS: the state the next invocation gets back.
    pub details: Map<String, Value>,
    pub call_back_delay: Option<u64>,
}

impl Answer {
    pub fn new(status: HookStatus, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            details: Map::new(),
            call_back_delay: None,
        }
    }

    /// The answer in ECS's shape: `hookStatus`, and for IN_PROGRESS `callBackDelay` and
    /// `hookDetails`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({ "hookStatus": self.status.as_str() });
        if self.status == HookStatus::InProgress {
            if let Some(d) = self.call_back_delay {
                v["callBackDelay"] = json!(d);
            }
            if !self.details.is_empty() {
                v["hookDetails"] = Value::Object(self.details.clone());
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str =
        "arn:aws:ecs:eu-west-1:123456789012:service-deployment/staging/web/0a1b2c3d4e5f6a7b8c9d0e";

    fn event(details: Value) -> Value {
        json!({
            "executionId": "e-1",
            "lifecycleStage": "PRE_SCALE_UP",
            "resourceArn": DEPLOYMENT,
            "executionDetails": {
                "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/staging/web",
                "targetServiceRevisionArn": "arn:aws:ecs:eu-west-1:123456789012:service-revision/staging/web/1",
                "testTrafficWeights": {}, "productionTrafficWeights": {}
            },
            "hookDetails": details
        })
    }

    #[test]
    fn the_event_gives_the_deployment_its_service_and_the_state_left_before() {
        let e = HookEvent::parse(&event(json!({
            "preset": "migrate",
            "ecsMigrateTask": "arn:aws:ecs:eu-west-1:123456789012:task/staging/abc",
            "ecsMigrateLogLines": 40,
            "ecsMigrateDeadline": 1_800_000_000.5
        })))
        .unwrap();
        assert_eq!(e.stage, "PRE_SCALE_UP");
        assert_eq!(e.deployment_arn, DEPLOYMENT);
        assert_eq!(
            e.cluster_and_service().unwrap(),
            ("staging".into(), "web".into())
        );
        assert_eq!(
            e.task(),
            Some("arn:aws:ecs:eu-west-1:123456789012:task/staging/abc")
        );
        assert_eq!(e.printed(), 40);
        assert_eq!(
            e.deadline(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(1_800_000_000.5))
        );
        let fresh = HookEvent::parse(&event(Value::Null)).unwrap();
        assert_eq!(
            (fresh.task(), fresh.printed(), fresh.deadline()),
            (None, 0, None)
        );
    }

    #[test]
    fn anything_but_a_hook_event_is_refused_naming_what_is_missing() {
        let mut no_target = event(json!({}));
        no_target["executionDetails"]
            .as_object_mut()
            .unwrap()
            .remove("targetServiceRevisionArn");
        let e = HookEvent::parse(&no_target).unwrap_err();
        assert!(e.message.contains("targetServiceRevisionArn"), "{e}");
        assert!(HookEvent::parse(&json!({"key": "value"})).is_err());
        let e = HookEvent::parse(&event(json!("migrate"))).unwrap_err();
        assert!(e.message.contains("not a JSON object"), "{e}");
    }

    #[test]
    fn hook_details_become_gate_flags_and_the_command_stays_argv() {
        let e = HookEvent::parse(&event(json!({
            "container": "rails",
            "timeout": "20m",
            "command": ["bin/rails", "db:migrate", "; rm -rf /"],
            "ecsMigrateTask": "ignored"
        })))
        .unwrap();
        assert_eq!(
            e.argv().unwrap(),
            [
                "ecs-migrate",
                "gate",
                "--container=rails",
                "--timeout=20m",
                "--cluster=staging",
                "--service=web",
                "--",
                "bin/rails",
                "db:migrate",
                "; rm -rf /"
            ]
        );
        let e = HookEvent::parse(&event(json!({"preset": "status", "cluster": "other"}))).unwrap();
        assert_eq!(
            e.argv().unwrap(),
            [
                "ecs-migrate",
                "gate",
                "status",
                "--cluster=other",
                "--service=web"
            ]
        );
    }

    #[test]
    fn bad_hook_details_are_usage_errors_that_name_the_key() {
        for (details, says) in [
            (json!({"contaner": "rails"}), "unknown key \"contaner\""),
            (
                json!({"timeout": 20}),
                "hookDetails.timeout must be a string",
            ),
            (json!({"command": "rails db:migrate"}), "array of strings"),
            (json!({"command": []}), "array of strings"),
            (json!({"preset": "--dry-run"}), "not a preset name"),
        ] {
            let e = HookEvent::parse(&event(details))
                .unwrap()
                .argv()
                .unwrap_err();
            assert!(e.message.contains(says), "{e}");
            assert_eq!(e.exit_code(), crate::exit::USAGE);
        }
    }

    #[test]
    fn one_deployment_one_token_whoever_asks() {
        let t = client_token(DEPLOYMENT);
        assert_eq!(t, client_token(DEPLOYMENT));
        assert_ne!(t, client_token(&DEPLOYMENT.replace("0a1b", "ffff")));
        assert_eq!(t.len(), 36);
        assert_eq!(caller(DEPLOYMENT), "ecs-hook/0a1b2c3d4e5f6a7b8c9d0e");
    }

    #[test]
    fn an_invocation_ends_before_the_function_does() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let budget = Duration::from_secs(600);
        let at = |s| now + Duration::from_secs(s);
        let secs = Duration::from_secs;
        let t = |deadline| invocation_time(deadline, now, budget);
        assert_eq!(t(at(300)), (secs(240), Some(secs(60))));
        assert_eq!(t(at(10)), (secs(7), Some(secs(3))));
        assert_eq!(t(at(900)), (budget, Some(secs(300))));
        assert_eq!(t(at(2)), (secs(0), Some(secs(2))));
        // a deadline no Lambda has (past, or a constant a local runtime sends): the budget
        assert_eq!(t(now - secs(5)), (budget, None));
        assert_eq!(t(at(3600)), (budget, None));
    }

    #[test]
    fn the_answer_has_ecs_shape() {
        let mut a = Answer::new(HookStatus::InProgress, "still running");
        a.details.insert(TASK_KEY.into(), json!("arn:task"));
        a.call_back_delay = Some(15);
        assert_eq!(
            a.to_json(),
            json!({"hookStatus": "IN_PROGRESS", "callBackDelay": 15, "hookDetails": {"ecsMigrateTask": "arn:task"}})
        );
        assert_eq!(
            Answer::new(HookStatus::Failed, "the migration failed").to_json(),
            json!({"hookStatus": "FAILED"})
        );
    }
}
