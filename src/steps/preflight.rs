//! Checks made before anything is launched: every secret the task needs exists, and no other
//! migration of this family is running. Any failure here launches nothing.

use aws_sdk_ecs::types::DesiredStatus;

use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::plan::secret_ref::{SecretPlan, SmSecret};
use crate::verdict::report::{SecretCheck, SecretsChecked};

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

/// The Lambda hook's task for a deployment, launched by an earlier or a twin invocation: the
/// family's tasks (running and stopped: ECS keeps a stopped one for about an hour) tagged as
/// started by `caller` (`ecs-hook/<deployment id>`). One whose container ran wins over one
/// stopped before it started (a claim's loser); None when there is none.
pub async fn hook_task(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    started_by: &str,
    caller: &str,
) -> Result<Option<String>> {
    let mut arns = vec![];
    for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let out = ecs
            .list_tasks()
            .cluster(cluster)
            .started_by(started_by)
            .desired_status(status)
            .send()
            .await
            .map_err(|e| Error::aws("ecs:ListTasks", e))?;
        arns.extend(out.task_arns().iter().cloned());
    }
    if arns.is_empty() {
        return Ok(None);
    }
    arns.truncate(100); // DescribeTasks' limit
    let out = ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .include(aws_sdk_ecs::types::TaskField::Tags)
        .send()
        .await
        .map_err(|e| Error::aws("ecs:DescribeTasks", e))?;
    let ours = out.tasks().iter().filter(|t| {
        t.tags().iter().any(|tag| {
            tag.key() == Some(crate::plan::identity::STARTED_BY_TAG) && tag.value() == Some(caller)
        })
    });
    let ran = |t: &&aws_sdk_ecs::types::Task| {
        t.started_at().is_some()
            || t.containers()
                .iter()
                .any(|c| c.exit_code().is_some() || c.last_status() == Some("RUNNING"))
    };
    let mut ours: Vec<&aws_sdk_ecs::types::Task> = ours.collect();
    ours.sort_by_key(|t| (!ran(t), std::cmp::Reverse(t.created_at().map(|d| d.secs()))));
    Ok(ours.first().and_then(|t| t.task_arn()).map(String::from))
}
