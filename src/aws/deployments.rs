//! ECS native blue/green (deployment controller ECS, `strategy: BLUE_GREEN`): a service's
//! deployments, their PAUSE hooks and service revisions, read into plain values. Shared by
//! `run` (which refuses to migrate during a deployment) and `gate` (which migrates at its hook).

use std::future::Future;
use std::time::SystemTime;

use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, DeploymentLifecycleHookStatus,
    DeploymentLifecycleHookTargetType, ServiceDeployment, ServiceDeploymentLifecycleStage,
    ServiceDeploymentStatus, ServiceRevision,
};

use crate::aws::service as network;
use crate::error::{Error, Result};
use crate::plan::network::ServiceNetwork;
use crate::plan::service::ServiceContext;
use crate::plan::stages::HookAction;

/// Statuses of a deployment that is still under way.
const ACTIVE: [ServiceDeploymentStatus; 5] = [
    ServiceDeploymentStatus::Pending,
    ServiceDeploymentStatus::InProgress,
    ServiceDeploymentStatus::RollbackRequested,
    ServiceDeploymentStatus::RollbackInProgress,
    ServiceDeploymentStatus::StopRequested,
];

/// One lifecycle hook of a deployment, as DescribeServiceDeployments shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HookView {
    pub id: String,
    pub pause: bool,
    pub status: DeploymentLifecycleHookStatus,
    pub expires_at: Option<SystemTime>,
    pub timeout_action: Option<DeploymentLifecycleHookAction>,
}

impl HookView {
    pub fn awaiting(&self) -> bool {
        self.pause && self.status == DeploymentLifecycleHookStatus::AwaitingAction
    }
}

/// One service deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentView {
    pub arn: String,
    pub status: ServiceDeploymentStatus,
    pub stage: Option<ServiceDeploymentLifecycleStage>,
    pub target_revision: Option<String>,
    pub source_revisions: Vec<String>,
    pub hooks: Vec<HookView>,
}

impl DeploymentView {
    pub fn from_sdk(d: &ServiceDeployment) -> Self {
        Self {
            arn: d.service_deployment_arn().unwrap_or_default().to_string(),
            status: d
                .status()
                .cloned()
                .unwrap_or_else(|| ServiceDeploymentStatus::from("UNKNOWN")),
            stage: d.lifecycle_stage().cloned(),
            target_revision: d
                .target_service_revision()
                .and_then(|r| r.arn())
                .map(String::from),
            source_revisions: d
                .source_service_revisions()
                .iter()
                .filter_map(|r| r.arn().map(String::from))
                .collect(),
            hooks: d
                .lifecycle_hook_details()
                .iter()
                .map(|h| HookView {
                    id: h.hook_id().unwrap_or_default().to_string(),
                    pause: h.target_type() == Some(&DeploymentLifecycleHookTargetType::Pause),
                    status: h
                        .status()
                        .cloned()
                        .unwrap_or_else(|| DeploymentLifecycleHookStatus::from("UNKNOWN")),
                    expires_at: h.expires_at().and_then(|t| SystemTime::try_from(*t).ok()),
                    timeout_action: h.timeout_action().cloned(),
                })
                .collect(),
        }
    }

    /// The PAUSE hook awaiting an action, if any.
    pub fn awaiting_hook(&self) -> Option<&HookView> {
        self.hooks.iter().find(|h| h.awaiting())
    }
}

/// What `gate` needs from AWS while it waits. Every call may be dropped half-way.
pub(crate) trait DeploymentApi {
    /// The service's newest deployment that is still under way, described.
    fn active(&self) -> impl Future<Output = Result<Option<DeploymentView>>>;
}

/// The SDK side, for one service.
pub struct Sdk<'a> {
    pub ecs: &'a aws_sdk_ecs::Client,
    pub cluster: &'a str,
    pub service: &'a str,
}

impl DeploymentApi for Sdk<'_> {
    async fn active(&self) -> Result<Option<DeploymentView>> {
        self.newest(&ACTIVE).await
    }
}

impl Sdk<'_> {
    /// The newest deployment in one of `statuses`, described.
    async fn newest(&self, statuses: &[ServiceDeploymentStatus]) -> Result<Option<DeploymentView>> {
        let listed = self
            .ecs
            .list_service_deployments()
            .cluster(self.cluster)
            .service(self.service)
            .set_status(Some(statuses.to_vec()))
            .send()
            .await
            .map_err(|e| Error::aws("ecs:ListServiceDeployments", e))?;
        let newest = listed
            .service_deployments()
            .iter()
            .max_by(|a, b| {
                let at = |d: &aws_sdk_ecs::types::ServiceDeploymentBrief| {
                    d.created_at().map(|t| t.as_secs_f64()).unwrap_or_default()
                };
                at(a).total_cmp(&at(b))
            })
            .and_then(|d| d.service_deployment_arn());
        let Some(arn) = newest else {
            return Ok(None);
        };
        let described = self
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(arn)
            .send()
            .await
            .map_err(|e| Error::aws("ecs:DescribeServiceDeployments", e))?;
        Ok(described
            .service_deployments()
            .first()
            .map(DeploymentView::from_sdk))
    }

    /// One deployment, described (None: ECS does not know it).
    pub async fn describe(&self, arn: &str) -> Result<Option<DeploymentView>> {
        let described = self
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(arn)
            .send()
            .await
            .map_err(|e| Error::aws("ecs:DescribeServiceDeployments", e))?;
        Ok(described
            .service_deployments()
            .first()
            .map(DeploymentView::from_sdk))
    }

    /// The newest SUCCESSFUL deployment: its target revision is what the service runs.
    pub async fn latest_successful(&self) -> Result<Option<DeploymentView>> {
        self.newest(&[ServiceDeploymentStatus::Successful]).await
    }

    /// A service revision's task definition and network, as a service context.
    pub async fn revision(&self, arn: &str) -> Result<ServiceContext> {
        let out = self
            .ecs
            .describe_service_revisions()
            .service_revision_arns(arn)
            .send()
            .await
            .map_err(|e| Error::aws("ecs:DescribeServiceRevisions", e))?;
        let rev = out.service_revisions().first().ok_or_else(|| {
            Error::before_run(format!("service revision {arn} was not found"))
                .with_hint("the deployment may have been replaced; rerun")
        })?;
        Ok(context_of_revision(self.service, rev))
    }

    /// ContinueServiceDeployment: the hook's answer.
    pub async fn answer(&self, deployment: &str, hook: &str, action: HookAction) -> Result<()> {
        self.ecs
            .continue_service_deployment()
            .service_deployment_arn(deployment)
            .hook_id(hook)
            .action(match action {
                HookAction::Continue => DeploymentLifecycleHookAction::Continue,
                HookAction::Rollback => DeploymentLifecycleHookAction::Rollback,
            })
            .send()
            .await
            .map_err(|e| Error::aws("ecs:ContinueServiceDeployment", e))?;
        Ok(())
    }
}

/// Pure: a service revision as the context a migration runs in.
pub fn context_of_revision(service: &str, rev: &ServiceRevision) -> ServiceContext {
    ServiceContext {
        service: service.to_string(),
        task_definition: rev.task_definition().unwrap_or_default().to_string(),
        network: ServiceNetwork {
            awsvpc: network::awsvpc(rev.network_configuration()),
            launch_type: rev.launch_type().map(|l| l.as_str().to_string()),
            capacity_providers: network::capacity_providers(rev.capacity_provider_strategy()),
            platform_version: rev.platform_version().map(String::from),
        },
        load_balancers: network::load_balancers(rev.load_balancers()),
        revision: rev.service_revision_arn().map(String::from),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_becomes_the_migrations_context() {
        use aws_sdk_ecs::types::{AwsVpcConfiguration, LaunchType, NetworkConfiguration};
        let rev = ServiceRevision::builder()
            .service_revision_arn("arn:aws:ecs:r:1:service-revision/c/s/9")
            .task_definition("arn:aws:ecs:r:1:task-definition/app:7")
            .launch_type(LaunchType::Fargate)
            .platform_version("1.4.0")
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        AwsVpcConfiguration::builder()
                            .subnets("subnet-0123abcd")
                            .security_groups("sg-0123abcd")
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .build();
        let ctx = context_of_revision("s", &rev);
        assert_eq!(ctx.task_definition, "arn:aws:ecs:r:1:task-definition/app:7");
        assert_eq!(ctx.network.awsvpc.unwrap().subnets, ["subnet-0123abcd"]);
        assert_eq!(ctx.network.launch_type.as_deref(), Some("FARGATE"));
        assert_eq!(
            ctx.revision.as_deref(),
            Some("arn:aws:ecs:r:1:service-revision/c/s/9")
        );
    }
}
