//! A service as ECS describes it, read into the context a migration runs in: the PRIMARY task
//! set's for CODE_DEPLOY / EXTERNAL controllers, else the service's own.

use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, DeploymentControllerType, DeploymentLifecycleHookTargetType,
    DeploymentStrategy, LoadBalancer, NetworkConfiguration, Service, TaskSet,
};

use crate::error::{Error, Result};
use crate::plan::network::Awsvpc;
use crate::plan::service::ServiceContext;

pub async fn resolve_service(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<ServiceContext> {
    let region = ecs.config().region().map(|r| r.as_ref().to_string());
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(s) if s.is_cluster_not_found_exception() => {
                Error::not_found("cluster", cluster, region.as_deref())
            }
            _ => Error::aws("ecs:DescribeServices", e),
        })?;
    let Some(svc) = out.services().first() else {
        return Err(Error::not_found(
            "service",
            &format!("{service}' in cluster '{cluster}"),
            region.as_deref(),
        ));
    };
    if svc.status() == Some("INACTIVE") {
        return Err(
            Error::usage(format!("service '{service}' is INACTIVE (deleted)"))
                .with_hint("name a live service, or use --task-definition"),
        );
    }
    let ctx = context_of(svc);
    let controller = controller_of(svc);
    if controller != DeploymentControllerType::Ecs
        && !svc.task_sets().is_empty()
        && ctx.task_set.is_none()
    {
        let sets: Vec<String> = svc
            .task_sets()
            .iter()
            .map(|t| {
                format!(
                    "{} {}",
                    t.id().unwrap_or("?"),
                    t.status().unwrap_or("no status")
                )
            })
            .collect();
        return Err(Error::before_run(format!(
            "service {service} ({} controller) has no PRIMARY task set ({}): a deployment is in flight, so what it runs is not settled",
            controller.as_str(),
            sets.join(", ")
        ))
        .with_hint("wait for the deployment to finish (or stop it), then rerun"));
    }
    Ok(ctx)
}

/// Pure: the context of a described service.
/// The service's deployment controller (ECS when none is named).
fn controller_of(svc: &Service) -> DeploymentControllerType {
    svc.deployment_controller()
        .map(|c| c.r#type().clone())
        .unwrap_or(DeploymentControllerType::Ecs)
}

/// The status ECS gives a task set that serves production traffic (a string in the API).
const PRIMARY: &str = "PRIMARY";

pub fn context_of(svc: &Service) -> ServiceContext {
    let mut ctx = ServiceContext {
        service: svc.service_name().unwrap_or_default().to_string(),
        load_balancers: load_balancers(svc.load_balancers()),
        ..Default::default()
    };
    if let Some(conf) = svc.deployment_configuration() {
        ctx.blue_green = controller_of(svc) == DeploymentControllerType::Ecs
            && conf.strategy() == Some(&DeploymentStrategy::BlueGreen);
        ctx.pause_stages = conf
            .lifecycle_hooks()
            .iter()
            .filter(|h| h.target_type() == Some(&DeploymentLifecycleHookTargetType::Pause))
            .flat_map(|h| h.lifecycle_stages().iter().map(|s| s.as_str().to_string()))
            .collect();
    }
    let primary = svc.task_sets().iter().find(|t| t.status() == Some(PRIMARY));
    match primary {
        Some(ts) => {
            from_task_set(&mut ctx, ts);
            let others = svc
                .task_sets()
                .iter()
                .filter(|t| t.status() != Some(PRIMARY))
                .count();
            if others > 0 {
                ctx.warnings.push(format!(
                    "service {} has {others} non-PRIMARY task set(s): a deployment is in flight; using the PRIMARY one",
                    ctx.service
                ));
            }
        }
        None => {
            ctx.task_definition = svc.task_definition().unwrap_or_default().to_string();
            ctx.network.awsvpc = awsvpc(svc.network_configuration());
            ctx.network.launch_type = svc.launch_type().map(|l| l.as_str().to_string());
            ctx.network.capacity_providers = capacity_providers(svc.capacity_provider_strategy());
            ctx.network.platform_version = svc.platform_version().map(String::from);
        }
    }
    ctx
}

fn from_task_set(ctx: &mut ServiceContext, ts: &TaskSet) {
    ctx.task_definition = ts.task_definition().unwrap_or_default().to_string();
    ctx.network.awsvpc = awsvpc(ts.network_configuration());
    ctx.network.launch_type = ts.launch_type().map(|l| l.as_str().to_string());
    ctx.network.capacity_providers = capacity_providers(ts.capacity_provider_strategy());
    ctx.network.platform_version = ts.platform_version().map(String::from);
    ctx.task_set = ts.id().map(String::from);
    if !ts.load_balancers().is_empty() {
        ctx.load_balancers = load_balancers(ts.load_balancers());
    }
}

/// (capacity provider, weight, base) of a strategy.
pub fn capacity_providers(items: &[CapacityProviderStrategyItem]) -> Vec<(String, i32, i32)> {
    items
        .iter()
        .map(|c| (c.capacity_provider().to_string(), c.weight(), c.base()))
        .collect()
}

/// (container name, container port) of each load balancer.
pub fn load_balancers(lbs: &[LoadBalancer]) -> Vec<(String, i32)> {
    lbs.iter()
        .filter_map(|lb| Some((lb.container_name()?.to_string(), lb.container_port()?)))
        .collect()
}

pub fn awsvpc(nc: Option<&NetworkConfiguration>) -> Option<Awsvpc> {
    let c = nc?.awsvpc_configuration()?;
    Some(Awsvpc {
        subnets: c.subnets().to_vec(),
        security_groups: c.security_groups().to_vec(),
        assign_public_ip: c.assign_public_ip().map(|a| a.as_str().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::AssignPublicIp;
    use aws_sdk_ecs::types::AwsVpcConfiguration;

    fn net(subnet: &str, ip: AssignPublicIp) -> NetworkConfiguration {
        NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .subnets(subnet)
                    .security_groups("sg-1")
                    .assign_public_ip(ip)
                    .build()
                    .unwrap(),
            )
            .build()
    }

    #[test]
    fn primary_task_set_wins_over_service_level() {
        let svc = Service::builder()
            .service_name("bg")
            .task_definition("td:1")
            .network_configuration(net("subnet-service", AssignPublicIp::Disabled))
            .load_balancers(
                LoadBalancer::builder()
                    .container_name("nginx")
                    .container_port(80)
                    .build(),
            )
            .task_sets(
                TaskSet::builder()
                    .id("ts-old")
                    .status("ACTIVE")
                    .task_definition("td:1")
                    .network_configuration(net("subnet-old", AssignPublicIp::Disabled))
                    .build(),
            )
            .task_sets(
                TaskSet::builder()
                    .id("ts-new")
                    .status("PRIMARY")
                    .task_definition("td:2")
                    .platform_version("1.4.0")
                    .network_configuration(net("subnet-primary", AssignPublicIp::Enabled))
                    .build(),
            )
            .build();
        let ctx = context_of(&svc);
        assert_eq!(ctx.task_definition, "td:2");
        assert_eq!(ctx.task_set.as_deref(), Some("ts-new"));
        assert_eq!(
            ctx.network.awsvpc.as_ref().unwrap().subnets,
            ["subnet-primary"]
        );
        assert_eq!(
            ctx.network
                .awsvpc
                .as_ref()
                .unwrap()
                .assign_public_ip
                .as_deref(),
            Some("ENABLED")
        );
        assert_eq!(ctx.load_balancers, [("nginx".to_string(), 80)]);
        assert_eq!(ctx.warnings.len(), 1);
    }
}
