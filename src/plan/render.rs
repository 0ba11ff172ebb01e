//! `render`'s plan, and its pure core: the CodeDeployToECS artifacts (taskdef.json, appspec.yaml)
//! and imagedefinitions.json, derived from a task definition.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::plan::connection::Connection;
use crate::plan::migration::Target;
use crate::plan::taskdef::Described;

/// `render`: where the artifacts come from, what they say, and where they go.
#[derive(Debug, Clone)]
pub struct RenderPlan {
    pub connection: Connection,
    pub target: Target,
    pub out: PathBuf,
    pub format: ArtifactKind,
    /// `IMAGE1_NAME`: CodeDeployToECS replaces `<IMAGE1_NAME>` with the new image.
    pub placeholder: String,
    pub pin_images: bool,
    /// `--lb-container`/`--lb-port`, else the service's load balancer.
    pub lb: Option<(String, i32)>,
    pub hooks: Vec<(String, String)>,
    /// Copied beside the artifacts (CodeDeployToECS reads it as the image artifact).
    pub image_detail: Option<PathBuf>,
}

/// What `render` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    /// taskdef.json + appspec.yaml (+ imageDetail.json) for CodeDeployToECS.
    CodeDeploy,
    /// imagedefinitions.json for CodePipeline's ECS (standard) deploy action.
    ImageDefinitions,
}

/// AppSpec lifecycle hooks for ECS, in the order CodeDeploy runs them.
pub const APPSPEC_HOOKS: [&str; 5] = [
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
];

/// What the target container's image becomes in taskdef.json.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageValue {
    /// `<NAME>`, replaced by CodeDeployToECS from an imageDetail.json (Image1ContainerName = NAME).
    Placeholder(String),
    Literal(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CodeDeployFiles {
    pub taskdef_json: String,
    pub appspec_yaml: String,
}

/// What appspec.yaml says besides the task definition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppSpec {
    /// The load-balanced container and port.
    pub lb: (String, i32),
    pub hooks: Vec<(String, String)>,
    /// The service's platform version: without it a pinned service drifts to LATEST.
    pub platform_version: Option<String>,
}

/// Pure: renders both files.
pub fn render(
    described: &Described,
    container: &str,
    image: &ImageValue,
    spec: &AppSpec,
) -> Result<CodeDeployFiles> {
    let mut td = described.register_input();
    let containers = td["containerDefinitions"]
        .as_array_mut()
        .expect("validated");
    let target = containers
        .iter_mut()
        .find(|c| c["name"] == container)
        .ok_or_else(|| {
            Error::usage(format!(
                "container '{container}' is not in the task definition"
            ))
        })?;
    target["image"] = Value::String(match image {
        ImageValue::Placeholder(name) => format!("<{name}>"),
        ImageValue::Literal(uri) => uri.clone(),
    });
    let (lb_container, lb_port) = (spec.lb.0.as_str(), spec.lb.1);
    let lb_def = described.container(lb_container).ok_or_else(|| {
        Error::usage(format!(
            "the load-balanced container '{lb_container}' is not in the task definition"
        ))
        .with_hint(format!(
            "containers: {}",
            described.container_names().join(", ")
        ))
    })?;
    let ports: Vec<i64> = lb_def["portMappings"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter_map(|m| m["containerPort"].as_i64())
                .collect()
        })
        .unwrap_or_default();
    if !ports.contains(&i64::from(lb_port)) {
        return Err(Error::usage(format!(
            "container '{lb_container}' has no portMapping with containerPort {lb_port} (it has: {ports:?})"
        ))
        .with_hint("pass --lb-container/--lb-port matching the target group"));
    }
    let mut taskdef_json = serde_json::to_string_pretty(&sorted(&td)).expect("JSON");
    taskdef_json.push('\n');
    Ok(CodeDeployFiles {
        taskdef_json,
        appspec_yaml: appspec(spec),
    })
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn appspec(spec: &AppSpec) -> String {
    let ((container, port), hooks) = (&spec.lb, &spec.hooks);
    let mut y = String::from(
        "# Rendered by ecs-migrate. CodeDeployToECS replaces <TASK_DEFINITION> with the ARN of the\n\
         # revision it registers from taskdef.json: no revision number is ever written here.\n",
    );
    y.push_str("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n");
    y.push_str("        TaskDefinition: <TASK_DEFINITION>\n        LoadBalancerInfo:\n");
    y.push_str(&format!(
        "          ContainerName: \"{container}\"\n          ContainerPort: {port}\n"
    ));
    if let Some(p) = &spec.platform_version {
        y.push_str(&format!("        PlatformVersion: \"{p}\"\n"));
    }
    if !hooks.is_empty() {
        y.push_str("Hooks:\n");
        for hook in APPSPEC_HOOKS {
            for (h, f) in hooks.iter().filter(|(h, _)| h == hook) {
                y.push_str(&format!("  - {h}: \"{f}\"\n"));
            }
        }
    }
    y
}

/// Pure: `[{"name": CONTAINER, "imageUri": URI}, …]`.
pub fn imagedefinitions_json(images: &[(String, String)]) -> String {
    let doc: Vec<Value> = images
        .iter()
        .map(|(name, uri)| serde_json::json!({"name": name, "imageUri": uri}))
        .collect();
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON");
    text.push('\n');
    text
}

/// Pure: problems in the task definition worth a warning (they are rendered unchanged).
pub fn lint(described: &Described) -> Vec<String> {
    let mut warnings = vec![];
    for c in described.containers() {
        let cmd = c["healthCheck"]["command"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if cmd.first().and_then(Value::as_str) == Some("CMD-SHELL") && cmd.len() > 2 {
            warnings.push(format!(
                "container '{}': healthCheck CMD-SHELL takes one shell string, but has {} (the extra ones are not part of the command)",
                c["name"].as_str().unwrap_or("?"),
                cmd.len() - 1
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Described {
        Described::from_json(
            serde_json::from_str(include_str!("../../tests/fixtures/taskdef-staging.json"))
                .unwrap(),
        )
        .unwrap()
    }

    /// The seed with the defaults the pipeline uses: placeholder image, nginx:80, no hooks.
    fn seed_default() -> CodeDeployFiles {
        render(
            &seed(),
            "rails",
            &ImageValue::Placeholder("IMAGE1_NAME".into()),
            &spec("nginx", 80),
        )
        .unwrap()
    }

    fn spec(container: &str, port: i32) -> AppSpec {
        AppSpec {
            lb: (container.to_string(), port),
            ..AppSpec::default()
        }
    }

    #[test]
    fn seed_renders_to_the_snapshots() {
        let a = seed_default();
        insta::assert_snapshot!("taskdef_json", a.taskdef_json);
        insta::assert_snapshot!("appspec_yaml", a.appspec_yaml);
    }

    #[test]
    fn output_is_deterministic_and_has_no_revision() {
        let a = seed_default();
        let b = seed_default();
        assert_eq!(a, b);
        assert!(!a.taskdef_json.contains(":52") && !a.appspec_yaml.contains(":52"));
        let td: Value = serde_json::from_str(&a.taskdef_json).unwrap();
        assert_eq!(td["containerDefinitions"][0]["image"], "<IMAGE1_NAME>");
        assert_eq!(
            td["containerDefinitions"][1]["image"],
            "730335441282.dkr.ecr.ap-northeast-1.amazonaws.com/ass-nginx-ecr-staging:stg"
        );
        assert_eq!(
            td["containerDefinitions"].as_array().unwrap().len(),
            2,
            "both containers kept"
        );
    }

    /// The error of rendering the seed with load balancer `container:port`.
    fn lb_error(container: &str, port: i32) -> Error {
        render(
            &seed(),
            "rails",
            &ImageValue::Placeholder("X".into()),
            &spec(container, port),
        )
        .unwrap_err()
    }

    #[test]
    fn image_definitions_are_what_the_ecs_deploy_action_reads() {
        let text = imagedefinitions_json(&[
            ("rails".into(), "r@sha256:ab".into()),
            ("nginx".into(), "n@sha256:cd".into()),
        ]);
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            doc,
            serde_json::json!([
                {"name": "rails", "imageUri": "r@sha256:ab"},
                {"name": "nginx", "imageUri": "n@sha256:cd"}
            ])
        );
    }

    #[test]
    fn the_seeds_broken_health_check_is_flagged() {
        let w = lint(&seed());
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with(
            "container 'rails': healthCheck CMD-SHELL takes one shell string, but has 2"
        ));
    }

    #[test]
    fn literal_image_hooks_and_validation() {
        let a = render(
            &seed(),
            "rails",
            &ImageValue::Literal("1.dkr.ecr.ap-northeast-1.amazonaws.com/r@sha256:ab".into()),
            &AppSpec {
                hooks: vec![
                    ("AfterAllowTestTraffic".into(), "smoke".into()),
                    ("BeforeInstall".into(), "pre".into()),
                ],
                platform_version: Some("1.4.0".into()),
                ..spec("nginx", 80)
            },
        )
        .unwrap();
        assert!(
            a.appspec_yaml
                .contains("ContainerPort: 80\n        PlatformVersion: \"1.4.0\"\nHooks:"),
            "{}",
            a.appspec_yaml
        );
        assert!(
            a.taskdef_json
                .contains("\"image\": \"1.dkr.ecr.ap-northeast-1.amazonaws.com/r@sha256:ab\"")
        );
        assert!(a.appspec_yaml.ends_with(
            "Hooks:\n  - BeforeInstall: \"pre\"\n  - AfterAllowTestTraffic: \"smoke\"\n"
        ));
        let e = lb_error("nginx", 8080);
        assert!(
            e.to_string()
                .contains("no portMapping with containerPort 8080"),
            "{e}"
        );
        let e = lb_error("web", 80);
        assert!(e.to_string().contains("containers: rails, nginx"), "{e}");
        assert!(
            render(
                &seed(),
                "sidekiq",
                &ImageValue::Placeholder("X".into()),
                &spec("nginx", 80),
            )
            .is_err()
        );
    }
}
