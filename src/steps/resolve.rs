//! The shared first step of every command: the source task definition and, for a service, its
//! live context (the PRIMARY task set's for CODE_DEPLOY/EXTERNAL controllers; the current
//! service revision's for ECS native blue/green).

use serde_json::Value;

use crate::aws::Clients;
use crate::aws::deployments::{self, DeploymentApi};
use crate::aws::rawjson;
use crate::aws::service as network;
use crate::error::{Error, Result};
use crate::plan::arn::id_of;
use crate::plan::connection::Connection;
use crate::plan::migration::Source;
use crate::plan::service::ServiceContext;
use crate::plan::taskdef::Described;

/// The source task definition and, for a service, its live context.
pub struct Resolved {
    pub described: Described,
    pub service: Option<ServiceContext>,
    /// The source is a deployment's target revision: its images are the ones being deployed.
    pub deploying: bool,
}

/// What a native blue/green deployment in progress means to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuringDeployment {
    /// `run`: migrating now would race the deployment (`gate` is made for it).
    Refuse,
    /// Read the revision the deployment replaces, with a warning.
    Allow,
}

/// Step 1 for `run` and `render`: the SDK clients, or none when the source is a file and
/// nothing else needs AWS (`offline`).
pub async fn clients(
    connection: &Connection,
    source: &Source,
    offline: bool,
) -> Result<Option<Clients>> {
    if offline && matches!(source, Source::File { .. }) {
        return Ok(None);
    }
    Ok(Some(Clients::load(connection).await?))
}

/// Reads the source task definition: live from the service, a registered revision, or a file.
pub async fn resolve(
    clients: Option<&Clients>,
    cluster: Option<&str>,
    source: &Source,
    during: DuringDeployment,
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
                deploying: false,
            })
        }
        (Source::Service { service }, Some(c)) => {
            let cluster = cluster.unwrap_or_default();
            let mut ctx = network::resolve_service(&c.ecs, cluster, service).await?;
            if ctx.blue_green {
                ctx = current_revision(c, cluster, ctx, during).await?;
            }
            let described = rawjson::describe_task_definition(&c.ecs, &ctx.task_definition).await?;
            Ok(Resolved {
                described,
                service: Some(ctx),
                deploying: false,
            })
        }
        (Source::TaskDefinition { task_definition }, Some(c)) => {
            let described = rawjson::describe_task_definition(&c.ecs, task_definition).await?;
            Ok(Resolved {
                described,
                service: None,
                deploying: false,
            })
        }
        (_, None) => Err(Error::usage("this source needs AWS access")),
    }
}

/// A native blue/green service runs what its newest SUCCESSFUL deployment's target revision
/// holds; while a deployment is under way, the revision it replaces still serves.
async fn current_revision(
    c: &Clients,
    cluster: &str,
    ctx: ServiceContext,
    during: DuringDeployment,
) -> Result<ServiceContext> {
    let api = deployments::Sdk {
        ecs: &c.ecs,
        cluster,
        service: &ctx.service,
    };
    let mut warnings = ctx.warnings.clone();
    let revision = match api.active().await? {
        Some(d) if during == DuringDeployment::Refuse => {
            return Err(Error::before_run(format!(
                "service {} has a blue/green deployment in progress ({}, stage {}); a migration now would race it",
                ctx.service,
                id_of(&d.arn),
                d.stage.as_ref().map_or("unknown", |s| s.as_str())
            ))
            .with_hint("use `ecs-migrate gate` at its PAUSE hook, or pass --allow-during-deployment"));
        }
        Some(d) => {
            warnings.push(format!(
                "a blue/green deployment is in progress ({}): using the revision it replaces",
                d.arn
            ));
            d.source_revisions.first().cloned()
        }
        None => api
            .latest_successful()
            .await?
            .and_then(|d| d.target_revision),
    };
    let Some(revision) = revision else {
        return Ok(ctx);
    };
    let mut current = api.revision(&revision).await?;
    current.blue_green = true;
    current.pause_stages = ctx.pause_stages;
    current.warnings = warnings;
    Ok(current)
}
