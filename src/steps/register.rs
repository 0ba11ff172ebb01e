//! Step 4: the migration task definition, registered, or the family's latest revision reused
//! when it is the same.

use serde_json::Value;

use crate::aws::rawjson;
use crate::error::{Error, Result};
use crate::plan::taskdef;

/// The task definition the migration runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    pub arn: String,
    /// False when an identical latest ACTIVE revision was reused.
    pub new: bool,
}

/// Reuses the family's latest ACTIVE revision when it is identical, else registers.
pub async fn register_or_reuse(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    desired: &Value,
) -> Result<Registered> {
    match rawjson::task_definition(ecs, family).await? {
        Some(latest)
            if latest.task_definition["status"] == "ACTIVE"
                && taskdef::equivalent(&latest.register_input(), desired) =>
        {
            return Ok(Registered {
                arn: latest.arn().unwrap_or_default().to_string(),
                new: false,
            });
        }
        _ => {}
    }
    let registered = rawjson::register_task_definition(ecs, desired).await?;
    let arn = registered
        .arn()
        .ok_or_else(|| Error::before_run("RegisterTaskDefinition returned no ARN"))?;
    Ok(Registered {
        arn: oldest_twin(ecs, family, arn, desired).await,
        new: true,
    })
}

/// How far below a new revision a twin's is looked for.
const TWINS: u32 = 3;

/// A twin (a duplicate hook invocation, a retried step with the same client token) may have
/// registered the same definition a moment before: every twin runs the oldest of the identical
/// revisions just below its own, so their RunTask requests agree and the shared token launches
/// one task. `arn` itself when there is none (or it cannot be told).
async fn oldest_twin(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    arn: &str,
    desired: &Value,
) -> String {
    let mut oldest = arn.to_string();
    let Some(revision) = revision_of(arn) else {
        return oldest;
    };
    for below in (revision.saturating_sub(TWINS).max(1)..revision).rev() {
        match rawjson::task_definition(ecs, &format!("{family}:{below}")).await {
            Ok(Some(td))
                if td.task_definition["status"] == "ACTIVE"
                    && taskdef::equivalent(&td.register_input(), desired) =>
            {
                oldest = td.arn().unwrap_or(arn).to_string();
            }
            _ => break,
        }
    }
    oldest
}

/// `family:N` → N.
fn revision_of(arn: &str) -> Option<u32> {
    arn.rsplit_once(':')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revision_is_the_arns_last_field() {
        let arn = "arn:aws:ecs:eu-west-1:1:task-definition/app-migrate:12";
        assert_eq!(revision_of(arn), Some(12));
        assert_eq!(revision_of("app-migrate"), None);
        assert_eq!(revision_of("app-migrate:latest"), None);
    }
}
