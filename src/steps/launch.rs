//! The RunTask request (built as JSON, pure) and the call itself.

use serde_json::{Value, json};

use crate::aws::rawjson;
use crate::error::{Error, Result};
use crate::plan::network::Placement;
use crate::plan::overrides::Overrides;

/// RunTask's limit for `startedBy`.
pub const STARTED_BY_MAX: usize = 128;

/// `ecs-migrate/<family>`: what the concurrency check looks for.
pub fn started_by(family: &str) -> String {
    let mut s = format!("ecs-migrate/{family}");
    s.truncate(STARTED_BY_MAX);
    s
}

/// `ecs-migrate-ro/<family>`: a read-only command's tasks, which the claim never lists (the
/// prefix differs, so truncation cannot make the two equal).
pub fn started_by_read_only(family: &str) -> String {
    let mut s = format!("ecs-migrate-ro/{family}");
    s.truncate(STARTED_BY_MAX);
    s
}

pub struct RunTaskInput<'a> {
    pub cluster: Option<&'a str>,
    pub task_definition: &'a str,
    pub container: &'a str,
    pub overrides: &'a Overrides,
    pub placement: &'a Placement,
    pub started_by: &'a str,
    pub tags: &'a [(String, String)],
    /// Who launches (`identity::caller`), tagged so that a busy error can name them.
    pub caller: &'a str,
    pub client_token: &'a str,
}

/// A fresh RunTask idempotency token (ECS allows up to 64 ASCII characters).
pub fn new_client_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn request(input: &RunTaskInput<'_>) -> Value {
    let mut req = json!({
        "taskDefinition": input.task_definition,
        "count": 1,
        "startedBy": input.started_by,
        "overrides": input.overrides.to_json(input.container),
    });
    if let Some(c) = input.cluster {
        req["cluster"] = json!(c);
    }
    for (k, v) in &input.placement.members {
        req[k] = v.clone();
    }
    let mut tags = vec![
        json!({"key": "ecs-migrate:container", "value": input.container}),
        json!({"key": crate::plan::identity::STARTED_BY_TAG, "value": input.caller}),
    ];
    if let Some(p) = &input.overrides.preset {
        tags.push(json!({"key": "ecs-migrate:preset", "value": p}));
    }
    tags.extend(
        input
            .tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v})),
    );
    req["tags"] = Value::Array(tags);
    req["clientToken"] = json!(input.client_token);
    req
}

/// Launches the task; `failures[]` in the response is an error naming each reason. When the
/// call fails in a way that may have created a task, the error says how to find it.
pub async fn run(
    ecs: &aws_sdk_ecs::Client,
    request: &Value,
    cluster: &str,
    started_by: &str,
) -> Result<aws_sdk_ecs::types::Task> {
    let out = rawjson::run_task(ecs, request).await.map_err(|e| {
        if e.transient {
            e.with_hint(format!(
                "a task may have been created: aws ecs list-tasks --cluster {cluster} --started-by {started_by}; rerun with --client-token {} to get it back",
                request["clientToken"].as_str().unwrap_or_default()
            ))
        } else {
            e
        }
    })?;
    if let Some(task) = out.tasks().first() {
        return Ok(task.clone());
    }
    let reasons: Vec<String> = out
        .failures()
        .iter()
        .map(|f| {
            let mut s = f.reason().unwrap_or("unknown reason").to_string();
            if let Some(d) = f.detail() {
                s.push_str(&format!(" ({d})"));
            }
            if let Some(a) = f.arn() {
                s.push_str(&format!(" [{a}]"));
            }
            s
        })
        .collect();
    let capacity = reasons
        .iter()
        .any(|r| r.contains("Capacity") || r.contains("RESOURCE"));
    let err = Error::before_run(format!(
        "RunTask launched no task: {}",
        if reasons.is_empty() {
            "no failures reported".to_string()
        } else {
            reasons.join("; ")
        }
    ));
    Err(if capacity {
        err.with_hint(
            "Fargate capacity is short: retry, or give subnets in more Availability Zones",
        )
    } else {
        err.with_hint("nothing is running; fix the reason above and retry")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_has_everything_runtask_needs() {
        let overrides = Overrides {
            preset: Some("migrate".into()),
            command: vec!["bundle".into(), "exec".into()],
            ..Default::default()
        };
        let mut members = serde_json::Map::new();
        members.insert("launchType".into(), json!("FARGATE"));
        let placement = Placement {
            members,
            warnings: vec![],
        };
        let req = request(&RunTaskInput {
            cluster: Some("ass"),
            task_definition: "arn:td:1",
            container: "rails",
            overrides: &overrides,
            placement: &placement,
            started_by: &started_by("ass-task-def-staging-migrate"),
            tags: &[("team".into(), "web".into())],
            caller: "codebuild:migrate:1",
            client_token: "exec-1",
        });
        assert_eq!(req["startedBy"], "ecs-migrate/ass-task-def-staging-migrate");
        assert_eq!(
            req["overrides"]["containerOverrides"][0],
            json!({"name": "rails", "command": ["bundle", "exec"]})
        );
        assert_eq!(req["launchType"], "FARGATE");
        assert_eq!(req["clientToken"], "exec-1");
        assert_eq!(req["tags"].as_array().unwrap().len(), 4);
        assert_eq!(
            req["tags"][1],
            json!({"key": "ecs-migrate:started-by", "value": "codebuild:migrate:1"})
        );
        assert_eq!(started_by(&"f".repeat(300)).len(), STARTED_BY_MAX);
        let (rw, ro) = (
            started_by(&"f".repeat(300)),
            started_by_read_only(&"f".repeat(300)),
        );
        assert_eq!(ro.len(), STARTED_BY_MAX);
        assert_ne!(rw, ro, "a read-only run is never listed as a claimant");
        let token = new_client_token();
        assert!(token.len() <= 64 && token.is_ascii());
        assert_ne!(token, new_client_token());
    }
}
