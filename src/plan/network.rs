//! Where the migration task runs (pure): the service's context as read from ECS, and the
//! RunTask placement that context and the flags make.

use serde_json::{Value, json};

use crate::error::{Error, Result};

/// Network pieces given on the command line; each replaces the service's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkFlags {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: Option<&'static str>,
    pub platform_version: Option<String>,
    pub capacity_provider: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Awsvpc {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: Option<String>,
}

/// Where a service's tasks run: what placement copies to the migration task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceNetwork {
    pub awsvpc: Option<Awsvpc>,
    pub launch_type: Option<String>,
    /// (capacity provider, weight, base)
    pub capacity_providers: Vec<(String, i32, i32)>,
    pub platform_version: Option<String>,
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
    ctx: Option<&ServiceNetwork>,
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
    use crate::aws::service::context_of;
    use aws_sdk_ecs::types::{
        AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, NetworkConfiguration,
        Service,
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
        let p = placement(Some(&ctx.network), &NetworkFlags::default(), Some("awsvpc")).unwrap();
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
        let p = placement(Some(&ctx.network), &flags, Some("awsvpc")).unwrap();
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
