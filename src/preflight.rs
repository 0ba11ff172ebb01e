//! Checks made before anything is launched: SSM secrets exist, logs can be followed, no other
//! migration of this family is running. Any failure here launches nothing.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::DesiredStatus;
use serde_json::Value;

use crate::aws::Clients;
use crate::error::{Error, Result};

/// The awslogs stream a container writes to: `<prefix>/<container>/<task-id>`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogTarget {
    pub group: String,
    pub prefix: String,
    pub region: Option<String>,
    /// awslogs `mode` (`blocking` / `non-blocking`), if pinned.
    pub mode: Option<String>,
}

impl LogTarget {
    pub fn stream(&self, container: &str, task_id: &str) -> String {
        format!("{}/{container}/{task_id}", self.prefix)
    }
}

/// Pure: the container's awslogs target, or why there is none.
pub fn log_target(container: &Value) -> Result<LogTarget, String> {
    let conf = &container["logConfiguration"];
    let driver = conf["logDriver"].as_str().unwrap_or("none");
    if driver != "awslogs" {
        return Err(format!("its log driver is {driver}, not awslogs"));
    }
    let opts = &conf["options"];
    let group = opts["awslogs-group"]
        .as_str()
        .ok_or("awslogs has no awslogs-group")?;
    let prefix = opts["awslogs-stream-prefix"]
        .as_str()
        .filter(|p| !p.is_empty())
        .ok_or("awslogs has no awslogs-stream-prefix, so the stream name cannot be known")?;
    Ok(LogTarget {
        group: group.to_string(),
        prefix: prefix.to_string(),
        region: opts["awslogs-region"].as_str().map(String::from),
        mode: opts["mode"].as_str().map(String::from),
    })
}

/// Pure: the container's secrets, split into SSM parameters (grouped by region; None = the
/// client's region) and sources this tool cannot check (Secrets Manager).
pub fn secret_sources(container: &Value) -> (BTreeMap<Option<String>, Vec<String>>, Vec<String>) {
    let mut ssm: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
    let mut other = vec![];
    let secrets = container["secrets"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for s in secrets {
        let Some(from) = s["valueFrom"].as_str() else {
            continue;
        };
        if from.starts_with("arn:") {
            let parts: Vec<&str> = from.splitn(6, ':').collect();
            match parts.as_slice() {
                [_, _, "ssm", region, _, _] => ssm
                    .entry(Some(region.to_string()))
                    .or_default()
                    .push(from.to_string()),
                _ => other.push(from.to_string()),
            }
        } else {
            ssm.entry(None).or_default().push(from.to_string());
        }
    }
    (ssm, other)
}

/// Every SSM secret exists: GetParameters in batches of 10, never decrypting.
/// GetParameters reports missing names in `InvalidParameters` without an error; each is named.
pub async fn check_secrets(
    clients: &Clients,
    by_region: &BTreeMap<Option<String>, Vec<String>>,
) -> Result<usize> {
    let mut missing = vec![];
    let mut checked = 0;
    for (region, names) in by_region {
        let client = match region.as_deref() {
            Some(r) if r != clients.region() => aws_sdk_ssm::Client::from_conf(
                aws_sdk_ssm::config::Builder::from(&clients.sdk)
                    .region(aws_config::Region::new(r.to_string()))
                    .build(),
            ),
            _ => clients.ssm.clone(),
        };
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        for batch in unique.chunks(10) {
            let out = client
                .get_parameters()
                .set_names(Some(batch.to_vec()))
                .with_decryption(false)
                .send()
                .await
                .map_err(|e| Error::aws("ssm:GetParameters", e))?;
            missing.extend(out.invalid_parameters().iter().cloned());
            checked += batch.len();
        }
    }
    if !missing.is_empty() {
        return Err(Error::before_run(format!(
            "preflight: {} SSM parameter(s) the task needs do not exist: {}",
            missing.len(),
            missing.join(", ")
        ))
        .with_hint("create them (aws ssm put-parameter) or fix the task definition's secrets; nothing was launched"));
    }
    Ok(checked)
}

/// A task started by this runner for this family that is still running, if any.
pub async fn running_migration(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    started_by: &str,
) -> Result<Option<String>> {
    let out = ecs
        .list_tasks()
        .cluster(cluster)
        .started_by(started_by)
        .desired_status(DesiredStatus::Running)
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(s) if s.is_cluster_not_found_exception() => Error::not_found(
                "cluster",
                cluster,
                ecs.config().region().map(|r| r.as_ref()),
            ),
            _ => Error::aws("ecs:ListTasks", e),
        })?;
    Ok(out.task_arns().first().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn awslogs_with_prefix_is_required() {
        let c = json!({"logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/a", "awslogs-stream-prefix": "ecs", "awslogs-region": "ap-northeast-1"}}});
        let t = log_target(&c).unwrap();
        assert_eq!(t.stream("rails", "abc"), "ecs/rails/abc");
        assert_eq!(t.region.as_deref(), Some("ap-northeast-1"));
        let no_prefix = json!({"logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/a"}}});
        assert!(
            log_target(&no_prefix)
                .unwrap_err()
                .contains("stream-prefix")
        );
        let firelens = json!({"logConfiguration": {"logDriver": "awsfirelens"}});
        assert!(log_target(&firelens).unwrap_err().contains("awsfirelens"));
        assert!(log_target(&json!({})).is_err());
    }

    #[test]
    fn secrets_are_grouped_by_source() {
        let c = json!({"secrets": [
            {"name": "A", "valueFrom": "/app/a"},
            {"name": "B", "valueFrom": "arn:aws:ssm:us-west-2:1:parameter/app/b"},
            {"name": "C", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf:password::"}
        ]});
        let (ssm, other) = secret_sources(&c);
        assert_eq!(ssm[&None], ["/app/a"]);
        assert_eq!(
            ssm[&Some("us-west-2".to_string())],
            ["arn:aws:ssm:us-west-2:1:parameter/app/b"]
        );
        assert_eq!(other.len(), 1);
    }
}
