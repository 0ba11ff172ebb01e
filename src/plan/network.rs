//! Where the migration task runs: the live service's network (or its PRIMARY task set's,
//! for CODE_DEPLOY / EXTERNAL controllers), with flags overriding each piece.

use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, LoadBalancer, NetworkConfiguration, Service, TaskSet,
};
use serde_json::{Value, json};

use crate::config::NetworkFlags;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Awsvpc {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: Option<String>,
}

/// What the service runs now, taken from the PRIMARY task set when there is one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceContext {
    pub service: String,
    pub task_definition: String,
    pub awsvpc: Option<Awsvpc>,
    pub launch_type: Option<String>,
    /// (capacity provider, weight, base)
    pub capacity_providers: Vec<(String, i32, i32)>,
    pub platform_version: Option<String>,
    /// (container name, container port) of the service's load balancers.
    pub load_balancers: Vec<(String, i32)>,
    /// The PRIMARY task set's id when the context came from one.
    pub task_set: Option<String>,
    /// ECS native blue/green: the ECS controller with `strategy: BLUE_GREEN`.
    pub blue_green: bool,
    /// The lifecycle stages with a PAUSE hook (native blue/green).
    pub pause_stages: Vec<String>,
    /// The service revision the context came from (native blue/green).
    pub revision: Option<String>,
    pub warnings: Vec<String>,
}

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
    let controller = svc
        .deployment_controller()
        .map(|c| c.r#type().as_str())
        .unwrap_or("ECS");
    if controller != "ECS" && !svc.task_sets().is_empty() && ctx.task_set.is_none() {
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
            "service {service} ({controller} controller) has no PRIMARY task set ({}): a deployment is in flight, so what it runs is not settled",
            sets.join(", ")
        ))
        .with_hint("wait for the deployment to finish (or stop it), then rerun"));
    }
    Ok(ctx)
}

/// Pure: the context of a described service.
pub fn context_of(svc: &Service) -> ServiceContext {
    let mut ctx = ServiceContext {
        service: svc.service_name().unwrap_or_default().to_string(),
        load_balancers: load_balancers(svc.load_balancers()),
        ..Default::default()
    };
    let controller = svc
        .deployment_controller()
        .map(|c| c.r#type().as_str())
        .unwrap_or("ECS");
    if let Some(conf) = svc.deployment_configuration() {
        ctx.blue_green =
            controller == "ECS" && conf.strategy().is_some_and(|s| s.as_str() == "BLUE_GREEN");
        ctx.pause_stages = conf
            .lifecycle_hooks()
            .iter()
            .filter(|h| h.target_type().is_some_and(|t| t.as_str() == "PAUSE"))
            .flat_map(|h| h.lifecycle_stages().iter().map(|s| s.as_str().to_string()))
            .collect();
    }
    let primary = svc
        .task_sets()
        .iter()
        .find(|t| t.status() == Some("PRIMARY"));
    match primary {
        Some(ts) => {
            from_task_set(&mut ctx, ts);
            let others = svc
                .task_sets()
                .iter()
                .filter(|t| t.status() != Some("PRIMARY"))
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
            ctx.awsvpc = awsvpc(svc.network_configuration());
            ctx.launch_type = svc.launch_type().map(|l| l.as_str().to_string());
            ctx.capacity_providers = capacity_providers(svc.capacity_provider_strategy());
            ctx.platform_version = svc.platform_version().map(String::from);
        }
    }
    ctx
}

fn from_task_set(ctx: &mut ServiceContext, ts: &TaskSet) {
    ctx.task_definition = ts.task_definition().unwrap_or_default().to_string();
    ctx.awsvpc = awsvpc(ts.network_configuration());
    ctx.launch_type = ts.launch_type().map(|l| l.as_str().to_string());
    ctx.capacity_providers = capacity_providers(ts.capacity_provider_strategy());
    ctx.platform_version = ts.platform_version().map(String::from);
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

/// The RunTask placement members: networkConfiguration, launchType or
/// capacityProviderStrategy, platformVersion.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub members: serde_json::Map<String, Value>,
    pub warnings: Vec<String>,
}

/// Pure: combines the service's context with the flags.
pub fn placement(
    ctx: Option<&ServiceContext>,
    flags: &NetworkFlags,
    network_mode: Option<&str>,
) -> Result<Placement> {
    let mut members = serde_json::Map::new();
    let mut warnings = vec![];
    let base = ctx.and_then(|c| c.awsvpc.clone()).unwrap_or_default();
    let subnets = if flags.subnets.is_empty() {
        base.subnets
    } else {
        flags.subnets.clone()
    };
    let groups = if flags.security_groups.is_empty() {
        base.security_groups
    } else {
        flags.security_groups.clone()
    };
    let public_ip = flags
        .assign_public_ip
        .map(String::from)
        .or(base.assign_public_ip);
    if network_mode.unwrap_or("awsvpc") == "awsvpc" {
        if subnets.is_empty() {
            return Err(Error::usage("no subnets for the awsvpc task").with_hint(
                "pass --subnets (and --security-groups), or use --service to copy them",
            ));
        }
        let mut vpc = json!({ "subnets": subnets });
        if !groups.is_empty() {
            vpc["securityGroups"] = json!(groups);
        }
        if let Some(ip) = public_ip {
            vpc["assignPublicIp"] = json!(ip);
        }
        members.insert(
            "networkConfiguration".into(),
            json!({ "awsvpcConfiguration": vpc }),
        );
    }
    match &flags.capacity_provider {
        Some(cp) => {
            members.insert(
                "capacityProviderStrategy".into(),
                json!([{ "capacityProvider": cp, "weight": 1 }]),
            );
        }
        None => {
            if let Some(c) = ctx {
                let providers: Vec<&str> =
                    c.capacity_providers.iter().map(|p| p.0.as_str()).collect();
                if !providers.is_empty() && providers != ["FARGATE"] {
                    warnings.push(format!(
                        "the service runs on capacity providers [{}]; the migration uses launch type FARGATE instead (a Spot interruption mid-migration is worse than a slow start). Pass --capacity-provider to choose",
                        providers.join(", ")
                    ));
                }
                if c.launch_type.as_deref().is_some_and(|l| l != "FARGATE") {
                    warnings.push(format!(
                        "the service uses launch type {}; the migration uses FARGATE",
                        c.launch_type.as_deref().unwrap_or_default()
                    ));
                }
            }
            members.insert("launchType".into(), json!("FARGATE"));
        }
    }
    let platform = flags
        .platform_version
        .clone()
        .or_else(|| ctx.and_then(|c| c.platform_version.clone()));
    if let Some(p) = platform {
        members.insert("platformVersion".into(), json!(p));
    }
    Ok(Placement { members, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{
        AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, LoadBalancer,
    };

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
        assert_eq!(ctx.awsvpc.as_ref().unwrap().subnets, ["subnet-primary"]);
        assert_eq!(
            ctx.awsvpc.as_ref().unwrap().assign_public_ip.as_deref(),
            Some("ENABLED")
        );
        assert_eq!(ctx.load_balancers, [("nginx".to_string(), 80)]);
        assert_eq!(ctx.warnings.len(), 1);
    }

    #[test]
    fn spot_is_never_inherited_silently() {
        let svc = Service::builder()
            .service_name("s")
            .task_definition("td:1")
            .network_configuration(net("subnet-a", AssignPublicIp::Disabled))
            .capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE_SPOT")
                    .weight(1)
                    .build()
                    .unwrap(),
            )
            .build();
        let ctx = context_of(&svc);
        let p = placement(Some(&ctx), &NetworkFlags::default(), Some("awsvpc")).unwrap();
        assert_eq!(p.members["launchType"], "FARGATE");
        assert!(p.members.get("capacityProviderStrategy").is_none());
        assert!(p.warnings[0].contains("FARGATE_SPOT"), "{:?}", p.warnings);
        assert_eq!(
            p.members["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"],
            "DISABLED"
        );
        let flags = NetworkFlags {
            capacity_provider: Some("FARGATE_SPOT".into()),
            ..Default::default()
        };
        let p = placement(Some(&ctx), &flags, Some("awsvpc")).unwrap();
        assert!(p.members.get("launchType").is_none());
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn flags_override_each_piece_and_awsvpc_needs_subnets() {
        let flags = NetworkFlags {
            subnets: vec!["subnet-x".into()],
            assign_public_ip: Some("ENABLED"),
            platform_version: Some("1.4.0".into()),
            ..Default::default()
        };
        let p = placement(None, &flags, Some("awsvpc")).unwrap();
        assert_eq!(
            Value::Object(p.members),
            json!({"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-x"], "assignPublicIp": "ENABLED"}}, "launchType": "FARGATE", "platformVersion": "1.4.0"})
        );
        let e = placement(None, &NetworkFlags::default(), Some("awsvpc")).unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::USAGE);
    }
}
