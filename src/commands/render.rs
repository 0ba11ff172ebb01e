//! `ecs-migrate render`: the CodeDeployToECS input artifacts, derived from what the service
//! runs now (PRIMARY task set for CODE_DEPLOY services), so no revision is ever hard-coded.
//!
//! * `taskdef.json`: a RegisterTaskDefinition input (describe-only fields stripped, tags kept,
//!   unknown fields kept, keys sorted) whose target container image is `<IMAGE1_NAME>` or the
//!   literal new image.
//! * `appspec.yaml`: `TaskDefinition: <TASK_DEFINITION>`, the load-balanced container and port.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::aws::Clients;
use crate::cli::AwsArgs;
use crate::config::{APPSPEC_HOOKS as HOOKS, Artifacts as Format, RenderPlan, Source};
use crate::error::{Error, Result};
use crate::exit;
use crate::output::Output;
use crate::plan::taskdef::Described;
use crate::steps::pin;
use crate::steps::resolve;
use crate::verdict::outcome::Outcome;

/// What `render` did: the text summary's facts and the `--output json` document.
#[derive(Debug, Default, Serialize)]
pub struct Rendered {
    pub outcome: Option<Outcome>,
    pub format: &'static str,
    pub out_dir: String,
    /// The files written (all or none).
    pub files: Vec<String>,
    pub service: Option<String>,
    /// The task definition the artifacts were rendered from.
    pub source_task_definition: Option<String>,
    pub container: Option<String>,
    /// The target container's image in the artifacts (`<IMAGE1_NAME>` or the new image).
    pub image: Option<String>,
    /// appspec.yaml's load balancer: `nginx:80`.
    pub load_balancer: Option<String>,
    /// Other containers pinned to their digests (`--pin-images`): `nginx=…@sha256:…`.
    pub pinned: Vec<String>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
}

impl Rendered {
    pub fn process_exit_code(&self) -> i32 {
        self.outcome
            .map_or(exit::LAUNCH_FAILED, |o| o.exit_code(None))
    }

    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.insert("process_exit_code".into(), self.process_exit_code().into());
        }
        v
    }

    fn warn(&mut self, out: &Output, w: String) {
        out.warn(&w);
        self.warnings.push(w);
    }
}

/// What the target container's image becomes in taskdef.json.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageValue {
    /// `<NAME>`, replaced by CodeDeployToECS from an imageDetail.json (Image1ContainerName = NAME).
    Placeholder(String),
    Literal(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Artifacts {
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
) -> Result<Artifacts> {
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
    Ok(Artifacts {
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
        for hook in HOOKS {
            for (h, f) in hooks.iter().filter(|(h, _)| h == hook) {
                y.push_str(&format!("  - {h}: \"{f}\"\n"));
            }
        }
    }
    y
}

/// `render`: reads the live service (or a task definition), writes the artifacts, and says
/// what it did. Its files are all written, or none is replaced.
pub async fn command(plan: &RenderPlan, aws: &AwsArgs, out: &Output) -> Rendered {
    let mut r = Rendered {
        format: match plan.format {
            Format::CodeDeploy => "codedeploy",
            Format::ImageDefinitions => "imagedefinitions",
        },
        out_dir: plan.out.display().to_string(),
        ..Default::default()
    };
    match steps(plan, aws, out, &mut r).await {
        Ok(()) => r.outcome = Some(Outcome::Succeeded),
        Err(e) => {
            r.outcome = Some(e.outcome());
            r.error = Some(e.to_string());
            r.files.clear();
        }
    }
    r
}

async fn steps(plan: &RenderPlan, aws: &AwsArgs, out: &Output, r: &mut Rendered) -> Result<()> {
    let target = &plan.target;
    let offline = matches!(target.source, Source::File { .. });
    let clients = if offline {
        None
    } else {
        Some(Clients::load(aws).await?)
    };
    let resolved = resolve::resolve(
        clients.as_ref(),
        target.cluster.as_deref(),
        &target.source,
        resolve::DuringDeployment::Allow,
    )
    .await?;
    if let Some(ctx) = &resolved.service {
        r.service = Some(ctx.service.clone());
        r.source_task_definition = Some(ctx.task_definition.clone());
        for w in &ctx.warnings {
            r.warn(out, w.clone());
        }
    }
    let described = &resolved.described;
    r.source_task_definition = r
        .source_task_definition
        .take()
        .or_else(|| described.arn().map(String::from));
    let container = described.pick_container(target.container.as_deref())?;
    r.container = Some(container.clone());
    if plan.format == Format::ImageDefinitions {
        return image_definitions(plan, clients.as_ref(), described, &container, out, r).await;
    }
    let lb = match &plan.lb {
        Some(lb) => lb.clone(),
        None => {
            let lbs = resolved
                .service
                .as_ref()
                .map(|s| s.load_balancers.clone())
                .unwrap_or_default();
            let first = lbs.first().cloned().ok_or_else(|| {
                Error::usage("no load balancer to put in appspec.yaml")
                    .with_hint("the service has none: pass --lb-container NAME --lb-port PORT")
            })?;
            if lbs.len() > 1 {
                let all: Vec<String> = lbs.iter().map(|(c, p)| format!("{c}:{p}")).collect();
                r.warn(
                    out,
                    format!(
                        "the service has {} load balancer entries ({}); appspec.yaml takes the first, {}:{}: pass --lb-container/--lb-port to choose another",
                        lbs.len(),
                        all.join(", "),
                        first.0,
                        first.1
                    ),
                );
            }
            first
        }
    };
    r.load_balancer = Some(format!("{}:{}", lb.0, lb.1));
    let image = match &target.image {
        Some(i) => ImageValue::Literal(i.to_string()),
        None => ImageValue::Placeholder(plan.placeholder.clone()),
    };
    r.image = Some(match &image {
        ImageValue::Placeholder(p) => format!("<{p}>"),
        ImageValue::Literal(l) => l.clone(),
    });
    for w in lint(described) {
        r.warn(out, w);
    }
    let mut described = described.clone();
    let sidecars = pin::unpinned(&described.task_definition, &container);
    if plan.pin_images && !sidecars.is_empty() {
        let clients = clients
            .as_ref()
            .ok_or_else(|| Error::usage("--pin-images needs AWS access (ECR BatchGetImage)"))?;
        for (name, image) in pin::resolve(clients, &sidecars).await? {
            out.progress(format!("pinned container '{name}' to {image}"));
            r.pinned.push(format!("{name}={image}"));
            described.set_image(&name, &image);
        }
    } else {
        for s in &sidecars {
            r.warn(out, format!(
                "container '{}' runs {}, a mutable tag: the deploy is not pinned to what was tested; pass --pin-images to pin it to its digest",
                s.container, s.image
            ));
        }
    }
    let spec = AppSpec {
        lb: lb.clone(),
        hooks: plan.hooks.clone(),
        platform_version: resolved
            .service
            .as_ref()
            .and_then(|s| s.platform_version.clone()),
    };
    let artifacts = render(&described, &container, &image, &spec)?;
    let mut files = vec![
        ("taskdef.json".to_string(), artifacts.taskdef_json),
        ("appspec.yaml".to_string(), artifacts.appspec_yaml),
    ];
    if let Some(detail) = &plan.image_detail {
        let dest = plan.out.join("imageDetail.json");
        if std::fs::canonicalize(detail).ok() != std::fs::canonicalize(&dest).ok() {
            let text = std::fs::read_to_string(detail)
                .map_err(|e| Error::usage(format!("cannot read {}: {e}", detail.display())))?;
            files.push(("imageDetail.json".to_string(), text));
        }
    }
    r.files = write_all(&plan.out, &files)?;
    out.progress(format!(
        "rendered {} from {}: image of '{container}' = {}, load balancer {}:{}",
        plan.out.display(),
        r.service
            .as_ref()
            .map(|s| format!(
                "service {s} ({})",
                r.source_task_definition.as_deref().unwrap_or("?")
            ))
            .or_else(|| described.arn().map(String::from))
            .unwrap_or_else(|| described.family().to_string()),
        r.image.as_deref().unwrap_or_default(),
        lb.0,
        lb.1
    ));
    Ok(())
}

/// `--format imagedefinitions`: the target container's new image (and, with --pin-images, the
/// sidecars pinned to their digests) for CodePipeline's ECS (standard) deploy action.
async fn image_definitions(
    plan: &RenderPlan,
    clients: Option<&Clients>,
    described: &Described,
    container: &str,
    out: &Output,
    r: &mut Rendered,
) -> Result<()> {
    let image = plan.target.image.as_ref().ok_or_else(|| {
        Error::usage("--format imagedefinitions needs the new image")
            .with_hint("pass --image or --image-detail")
    })?;
    r.image = Some(image.to_string());
    let mut images = vec![(container.to_string(), image.to_string())];
    let sidecars = pin::unpinned(&described.task_definition, container);
    match clients {
        Some(c) if plan.pin_images => {
            let pinned = pin::resolve(c, &sidecars).await?;
            r.pinned = pinned.iter().map(|(n, i)| format!("{n}={i}")).collect();
            images.extend(pinned);
        }
        None if plan.pin_images => {
            return Err(Error::usage(
                "--pin-images needs AWS access (ECR BatchGetImage)",
            ));
        }
        _ => {
            for s in &sidecars {
                r.warn(
                    out,
                    format!(
                        "container '{}' keeps {}, a mutable tag; pass --pin-images to pin it",
                        s.container, s.image
                    ),
                );
            }
        }
    }
    let name = "imagedefinitions.json".to_string();
    r.files = write_all(&plan.out, &[(name, imagedefinitions_json(&images))])?;
    out.progress(format!(
        "rendered {}: {}",
        plan.out.join("imagedefinitions.json").display(),
        images
            .iter()
            .map(|(c, i)| format!("{c}={i}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
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

/// Writes every file, or replaces none: each is written to a temporary name in `dir`, and
/// only when all were written are they renamed over the old ones. Returns their paths.
pub fn write_all(dir: &Path, files: &[(String, String)]) -> Result<Vec<String>> {
    let failed = |what: &str, path: &Path, e: std::io::Error| {
        Error::write(format!("cannot {what} {}: {e}", path.display()))
            .with_hint("free space or fix the permissions of --out; no file was replaced")
    };
    std::fs::create_dir_all(dir).map_err(|e| failed("create", dir, e))?;
    for (name, _) in files {
        let path = dir.join(name);
        if path.is_dir() {
            return Err(Error::write(format!(
                "cannot write {}: it is a directory",
                path.display()
            ))
            .with_hint("remove it, or choose another --out; no file was replaced"));
        }
    }
    let mut temps = vec![];
    let cleanup = |temps: &[std::path::PathBuf]| {
        for t in temps {
            let _ = std::fs::remove_file(t);
        }
    };
    for (name, text) in files {
        let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        if let Err(e) = std::fs::write(&temp, text) {
            temps.push(temp.clone());
            cleanup(&temps);
            return Err(failed("write", &temp, e));
        }
        temps.push(temp);
    }
    let mut written = vec![];
    for ((name, _), temp) in files.iter().zip(&temps) {
        let path = dir.join(name);
        if let Err(e) = std::fs::rename(temp, &path) {
            cleanup(&temps);
            return Err(failed("replace", &path, e));
        }
        written.push(path.display().to_string());
    }
    Ok(written)
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
    fn seed_default() -> Artifacts {
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

    #[test]
    fn files_are_all_written_or_none_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("taskdef.json"), "old").unwrap();
        std::fs::create_dir(dir.path().join("appspec.yaml")).unwrap();
        let files = [
            ("taskdef.json".to_string(), "new".to_string()),
            ("appspec.yaml".to_string(), "new".to_string()),
        ];
        let e = write_all(dir.path(), &files).unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::WRITE_FAILED);
        assert!(e.message.contains("is a directory"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("taskdef.json")).unwrap(),
            "old"
        );
        std::fs::remove_dir(dir.path().join("appspec.yaml")).unwrap();
        let written = write_all(dir.path(), &files).unwrap();
        assert_eq!(written.len(), 2);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "no temporary file left: {left:?}");
    }
}
