//! The shared first step of every command: the source task definition and, for a service, its
//! live context (the PRIMARY task set's for CODE_DEPLOY/EXTERNAL controllers).

use serde_json::Value;

use crate::aws::Clients;
use crate::config::Source;
use crate::error::{Error, Result};
use crate::network::{self, ServiceContext};
use crate::rawjson;
use crate::taskdef::Described;

/// The source task definition and, for a service, its live context.
pub struct Resolved {
    pub described: Described,
    pub service: Option<ServiceContext>,
}

/// Reads the source task definition: live from the service, a registered revision, or a file.
pub async fn resolve(
    clients: Option<&Clients>,
    cluster: Option<&str>,
    source: &Source,
) -> Result<Resolved> {
    match (source, clients) {
        (Source::File { path }, _) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::usage(format!(
                    "cannot read task definition file {}: {e}",
                    path.display()
                ))
            })?;
            let doc: Value = serde_json::from_str(&text)
                .map_err(|e| Error::usage(format!("{} is not JSON: {e}", path.display())))?;
            Ok(Resolved {
                described: Described::from_json(doc)?,
                service: None,
            })
        }
        (Source::Service { service }, Some(c)) => {
            let ctx =
                network::resolve_service(&c.ecs, cluster.unwrap_or_default(), service).await?;
            let described = rawjson::describe_task_definition(&c.ecs, &ctx.task_definition).await?;
            Ok(Resolved {
                described,
                service: Some(ctx),
            })
        }
        (Source::TaskDefinition { task_definition }, Some(c)) => {
            let described = rawjson::describe_task_definition(&c.ecs, task_definition).await?;
            Ok(Resolved {
                described,
                service: None,
            })
        }
        (_, None) => Err(Error::usage("this source needs AWS access")),
    }
}
