//! Checks made before anything is launched: SSM secrets exist, logs can be followed, no other
//! migration of this family is running. Any failure here launches nothing.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::DesiredStatus;
use serde_json::Value;

use serde::Serialize;

use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::plan::secret_ref::{self, SecretRef, SmSecret};

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

/// The secrets a container needs, by where they live; built before any AWS call (pure).
#[derive(Debug, Default, PartialEq)]
pub struct SecretPlan {
    /// SSM parameters by region (None = the client's region), as the task definition names them.
    pub ssm: BTreeMap<Option<String>, Vec<String>>,
    /// Secrets Manager references with the environment variable each one fills.
    pub secrets_manager: Vec<(String, SmSecret)>,
}

/// What the preflight found: the count of SSM parameters, and each Secrets Manager secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SecretsChecked {
    pub ssm_parameters: usize,
    pub secrets_manager: Vec<SecretCheck>,
}

/// One secret as checked: what the JSON result lists (the variable name, never the value).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecretCheck {
    /// The environment variable it fills.
    pub name: String,
    pub status: String,
}

/// Pure: parses every `valueFrom` of the container. A malformed reference, or an SSM parameter
/// ARN of another account than the task definition's (ECS refuses those), fails here.
pub fn plan_secrets(container: &Value, account: Option<&str>) -> Result<SecretPlan> {
    let mut plan = SecretPlan::default();
    let secrets = container["secrets"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let refuse = |name: &str, why: String| {
        Error::before_run(format!("preflight: secret {name}: {why}"))
            .with_hint("fix the task definition's secrets; nothing was launched")
            .blaming_release()
    };
    for s in secrets {
        let name = s["name"].as_str().unwrap_or("(unnamed)");
        let from = s["valueFrom"].as_str().unwrap_or_default();
        match secret_ref::parse(from).map_err(|why| refuse(name, why))? {
            SecretRef::Ssm {
                account: Some(owner),
                ..
            } if account.is_some_and(|a| a != owner) => {
                return Err(refuse(
                    name,
                    format!(
                        "{from} belongs to account {owner}, not the task's account {}: ECS cannot read SSM parameters across accounts",
                        account.unwrap_or_default()
                    ),
                ));
            }
            SecretRef::Ssm { id, region, .. } => plan.ssm.entry(region).or_default().push(id),
            SecretRef::SecretsManager(sm) => plan.secrets_manager.push((name.to_string(), sm)),
        }
    }
    Ok(plan)
}

/// Pure: the secrets of every container of a task definition, plus each private image's
/// `repositoryCredentials` secret (a Secrets Manager ARN ECS reads before pulling).
pub fn plan_task_secrets(task_definition: &Value, account: Option<&str>) -> Result<SecretPlan> {
    let mut plan = SecretPlan::default();
    let containers = task_definition["containerDefinitions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for c in containers {
        let one = plan_secrets(c, account)?;
        for (region, names) in one.ssm {
            plan.ssm.entry(region).or_default().extend(names);
        }
        plan.secrets_manager.extend(one.secrets_manager);
        if let Some(from) = c["repositoryCredentials"]["credentialsParameter"].as_str() {
            let name = format!(
                "registry credentials of {}",
                c["name"].as_str().unwrap_or("(unnamed)")
            );
            match secret_ref::parse(from) {
                Ok(SecretRef::SecretsManager(sm)) => plan.secrets_manager.push((name, sm)),
                Ok(SecretRef::Ssm { .. }) | Err(_) => {
                    return Err(Error::before_run(format!(
                        "preflight: the {name} ({from}) is not a Secrets Manager secret ARN"
                    ))
                    .with_hint("repositoryCredentials.credentialsParameter takes the ARN of a Secrets Manager secret; nothing was launched")
                    .blaming_release());
                }
            }
        }
    }
    Ok(plan)
}

/// Every secret exists, checked without reading a value: SSM GetParameters (batches of 10,
/// never decrypting; missing names come back in `InvalidParameters`) and Secrets Manager
/// DescribeSecret (stage and version checked against `VersionIdsToStages`).
pub async fn check_secrets(clients: &Clients, plan: &SecretPlan) -> Result<SecretsChecked> {
    let mut missing = vec![];
    let mut ssm_found = 0;
    for (region, names) in &plan.ssm {
        let client = match region.as_deref() {
            Some(r) if r != clients.region() => aws_sdk_ssm::Client::new(&clients.sdk_in(r)),
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
            let invalid = out.invalid_parameters();
            ssm_found += batch.len() - invalid.len();
            missing.extend(invalid.iter().map(|p| format!("SSM parameter {p}")));
        }
    }
    let mut report = vec![];
    for (name, secret) in &plan.secrets_manager {
        let client = aws_sdk_secretsmanager::Client::new(&clients.sdk_in(&secret.region));
        match describe_secret(&client, secret).await? {
            Ok(()) => report.push(SecretCheck {
                name: name.clone(),
                status: match &secret.json_key {
                    Some(key) => {
                        format!("exists; JSON key {key} not verifiable without reading the value")
                    }
                    None => "exists".into(),
                },
            }),
            Err(why) => missing.push(format!("Secrets Manager secret {secret} for {name}: {why}")),
        }
    }
    if !missing.is_empty() {
        return Err(Error::before_run(format!(
            "preflight: {} secret(s) the task needs do not exist: {}",
            missing.len(),
            missing.join("; ")
        ))
        .with_hint("create them or fix the task definition's secrets; nothing was launched")
        .blaming_release());
    }
    Ok(SecretsChecked {
        ssm_parameters: ssm_found,
        secrets_manager: report,
    })
}

/// DescribeSecret reads metadata only. Ok(Err(why)) = the secret (or its stage/version) is not
/// there; Err = the check itself failed.
async fn describe_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret: &SmSecret,
) -> Result<std::result::Result<(), String>> {
    let out = match client.describe_secret().secret_id(&secret.arn).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(Err("not found".into()));
        }
        Err(e) => return Err(Error::aws("secretsmanager:DescribeSecret", e)),
    };
    if out.deleted_date().is_some() {
        return Ok(Err("scheduled for deletion".into()));
    }
    let versions = out.version_ids_to_stages().cloned().unwrap_or_default();
    if let Some(stage) = &secret.version_stage
        && !versions.values().any(|stages| stages.contains(stage))
    {
        return Ok(Err(format!("no version has stage {stage}")));
    }
    if let Some(id) = &secret.version_id
        && !versions.contains_key(id)
    {
        return Ok(Err(format!("no version {id} with a staging label")));
    }
    Ok(Ok(()))
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
        let sm = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1-AbCdEf";
        let c = json!({"secrets": [
            {"name": "A", "valueFrom": "/app/a"},
            {"name": "B", "valueFrom": "arn:aws:ssm:us-west-2:123456789012:parameter/app/b"},
            {"name": "C", "valueFrom": format!("{sm}:password::")}
        ]});
        let plan = plan_secrets(&c, Some("123456789012")).unwrap();
        assert_eq!(plan.ssm[&None], ["/app/a"]);
        assert_eq!(
            plan.ssm[&Some("us-west-2".to_string())],
            ["arn:aws:ssm:us-west-2:123456789012:parameter/app/b"]
        );
        let (name, secret) = &plan.secrets_manager[0];
        assert_eq!((name.as_str(), secret.arn.as_str()), ("C", sm));
        assert_eq!(secret.json_key.as_deref(), Some("password"));
        // without a known account (a task definition file), the account is not compared
        assert!(plan_secrets(&c, None).is_ok());
    }

    #[test]
    fn a_cross_account_parameter_or_a_malformed_reference_is_refused() {
        let c = json!({"secrets": [
            {"name": "B", "valueFrom": "arn:aws:ssm:us-west-2:999999999999:parameter/app/b"}
        ]});
        let e = plan_secrets(&c, Some("123456789012")).unwrap_err();
        assert!(e.message.contains("secret B"), "{}", e.message);
        assert!(e.message.contains("account 999999999999"), "{}", e.message);
        let c = json!({"secrets": [{"name": "K", "valueFrom": "arn:aws:kms:us-east-1:123456789012:key/x"}]});
        assert!(
            plan_secrets(&c, None)
                .unwrap_err()
                .message
                .contains("secret K")
        );
    }
}
