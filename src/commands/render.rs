//! `ecs-migrate render`: the CodeDeployToECS input artifacts (taskdef.json, appspec.yaml) or
//! imagedefinitions.json, from what the service runs now, so no revision is ever hard-coded.
//! The same first step as `run` (resolve), the pure renderers of `plan::render`, then the
//! files, all written or none replaced.

use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::plan::render::{
    AppSpec, ArtifactKind, ImageValue, RenderPlan, imagedefinitions_json, lint, render,
};
use crate::plan::taskdef::Described;
use crate::steps::pin;
use crate::steps::resolve;
use crate::steps::write::write_all;
use crate::verdict::outcome::Outcome;
use crate::verdict::rendered::Rendered;

/// `render`: reads the live service (or a task definition), writes the artifacts, and says
/// what it did. Its files are all written, or none is replaced.
pub async fn render_command(plan: &RenderPlan, out: &Output) -> Rendered {
    let mut r = Rendered {
        format: match plan.format {
            ArtifactKind::CodeDeploy => "codedeploy",
            ArtifactKind::ImageDefinitions => "imagedefinitions",
        },
        out_dir: plan.out.display().to_string(),
        ..Default::default()
    };
    match steps(plan, out, &mut r).await {
        Ok(()) => r.outcome = Some(Outcome::Succeeded),
        Err(e) => {
            r.outcome = Some(Outcome::of(&e));
            r.error = Some(e.to_string());
            r.files.clear();
        }
    }
    r
}

/// The steps; `r` keeps what each one found.
async fn steps(plan: &RenderPlan, out: &Output, r: &mut Rendered) -> Result<()> {
    let target = &plan.target;
    // 1. Resolve, as `run` does (a native service mid-deployment: the revision it replaces)
    let clients = resolve::clients(&plan.connection, &target.source, true).await?;
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
            warn(r, out, w.clone());
        }
    }
    let described = &resolved.described;
    r.source_task_definition = r
        .source_task_definition
        .take()
        .or_else(|| described.arn().map(String::from));
    let container = described.pick_container(target.container.as_deref())?;
    r.container = Some(container.clone());
    if plan.format == ArtifactKind::ImageDefinitions {
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
                warn(
                    r,
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
        warn(r, out, w);
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
            warn(
                r,
                out,
                format!(
                    "container '{}' runs {}, a mutable tag: the deploy is not pinned to what was tested; pass --pin-images to pin it to its digest",
                    s.container, s.image
                ),
            );
        }
    }
    let spec = AppSpec {
        lb: lb.clone(),
        hooks: plan.hooks.clone(),
        platform_version: resolved
            .service
            .as_ref()
            .and_then(|s| s.network.platform_version.clone()),
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
                warn(
                    r,
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

fn warn(r: &mut Rendered, out: &Output, w: String) {
    out.warn(&w);
    r.warnings.push(w);
}
