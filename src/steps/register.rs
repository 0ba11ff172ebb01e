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
    match rawjson::latest_task_definition(ecs, family).await? {
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
        arn: arn.to_string(),
        new: true,
    })
}
