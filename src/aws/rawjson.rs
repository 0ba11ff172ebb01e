//! ECS calls whose payload is JSON we own, not SDK structs, so that task-definition fields
//! the SDK does not know yet survive a describe → register round trip, and `--dry-run`
//! prints exactly the body that would be sent.
//!
//! The SDK still signs, retries and parses errors; only the request body is replaced
//! (before signing), or the response body is captured (after deserialisation).

use std::sync::{Arc, Mutex};

use aws_sdk_ecs::config::http::HttpRequest;
use aws_sdk_ecs::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_ecs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::TaskDefinitionField;
use aws_smithy_types::body::SdkBody;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::plan::taskdef::Described;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Keeps a copy of the raw response body.
#[derive(Debug, Clone, Default)]
struct CaptureBody(Arc<Mutex<Option<Vec<u8>>>>);

impl Intercept for CaptureBody {
    fn name(&self) -> &'static str {
        "ecs-migrate::CaptureBody"
    }

    fn read_after_deserialization(
        &self,
        ctx: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(bytes) = ctx.response().body().bytes() {
            *self.0.lock().expect("capture lock") = Some(bytes.to_vec());
        }
        Ok(())
    }
}

impl CaptureBody {
    fn json(&self, call: &str) -> Result<Value> {
        let body = self.0.lock().expect("capture lock").take();
        let body = body.ok_or_else(|| Error::before_run(format!("{call}: empty response")))?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::before_run(format!("{call}: response is not JSON: {e}")))
    }
}

/// A copy of a request body that is safe to log: environment values and secret `valueFrom`s
/// (which name where secrets live) are replaced.
fn redacted(body: &Value) -> Value {
    match body {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("value" | "valueFrom", Value::String(_)) if map.contains_key("name") => {
                            Value::String("<redacted>".into())
                        }
                        _ => redacted(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        other => other.clone(),
    }
}

/// Replaces the serialised request body with `body`.
fn body_replacer(body: &Value) -> impl Fn(&mut HttpRequest) + Send + Sync + 'static {
    let bytes = serde_json::to_vec(body).expect("JSON serialises");
    tracing::debug!(body = %redacted(body), "raw ECS request body");
    move |req| {
        req.headers_mut()
            .insert("content-length", bytes.len().to_string());
        *req.body_mut() = SdkBody::from(bytes.clone());
    }
}

/// DescribeTaskDefinition (with tags) as raw JSON; None when ECS does not know `td` (it
/// answers `ClientException` "Unable to describe task definition" for an unknown name).
async fn describe_raw(ecs: &aws_sdk_ecs::Client, td: &str) -> Result<Option<Described>> {
    let capture = CaptureBody::default();
    let result = ecs
        .describe_task_definition()
        .task_definition(td)
        .include(TaskDefinitionField::Tags)
        .customize()
        .interceptor(capture.clone())
        .send()
        .await;
    match result {
        Ok(_) => Ok(Some(Described::from_json(
            capture.json("DescribeTaskDefinition")?,
        )?)),
        Err(e) if e.code() == Some("ClientException") => Ok(None),
        Err(e) => Err(Error::aws("ecs:DescribeTaskDefinition", e)),
    }
}

/// The source task definition: an unknown name is a usage error naming it.
pub async fn describe_task_definition(ecs: &aws_sdk_ecs::Client, td: &str) -> Result<Described> {
    describe_raw(ecs, td).await?.ok_or_else(|| {
        Error::not_found(
            "task definition",
            td,
            ecs.config().region().map(|r| r.as_ref()),
        )
    })
}

/// A task definition (a family for its latest revision, `family:revision` or an ARN), or None
/// when ECS does not know it (a family that does not exist yet).
pub async fn task_definition(ecs: &aws_sdk_ecs::Client, td: &str) -> Result<Option<Described>> {
    describe_raw(ecs, td).await
}

/// RegisterTaskDefinition with our JSON as the body; returns the registered definition.
pub async fn register_task_definition(
    ecs: &aws_sdk_ecs::Client,
    input: &Value,
) -> Result<Described> {
    let capture = CaptureBody::default();
    let family = input["family"].as_str().unwrap_or_default();
    ecs.register_task_definition()
        .family(family)
        .customize()
        .mutate_request(body_replacer(input))
        .interceptor(capture.clone())
        .send()
        .await
        .map_err(|e| Error::aws("ecs:RegisterTaskDefinition", e))?;
    Described::from_json(capture.json("RegisterTaskDefinition")?)
}

/// RunTask with our JSON as the body. The body carries `clientToken`, and the SDK's retries
/// resend this same body, so a retried call cannot launch a second task.
pub async fn run_task(
    ecs: &aws_sdk_ecs::Client,
    request: &Value,
) -> Result<aws_sdk_ecs::operation::run_task::RunTaskOutput> {
    ecs.run_task()
        .task_definition(request["taskDefinition"].as_str().unwrap_or_default())
        .customize()
        .mutate_request(body_replacer(request))
        .send()
        .await
        .map_err(|e| Error::aws("ecs:RunTask", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_bodies_hide_environment_values_and_secret_sources() {
        let body = json!({
            "family": "app-migrate",
            "containerDefinitions": [{
                "name": "rails",
                "environment": [{"name": "DATABASE_URL", "value": "postgres://u:pw@db/app"}],
                "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:r:1:parameter/db/pw"}],
            }],
            "overrides": {"containerOverrides": [{"name": "rails",
                "environment": [{"name": "TOKEN", "value": "s3cr3t"}]}]},
        });
        let text = redacted(&body).to_string();
        for secret in ["pw@db", "parameter/db/pw", "s3cr3t"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("DATABASE_URL") && text.contains("app-migrate"));
    }
}
