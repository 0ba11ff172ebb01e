//! `ecs-migrate run`, step by step: resolve → derive → preflight → register → launch →
//! follow → verdict. See docs/ARCHITECTURE.md.

use std::time::Instant;

use aws_smithy_types::date_time::Format;
use serde_json::{Value, json};

use crate::aws::Clients;
use crate::cli::AwsArgs;
use crate::config::{RunPlan, Source};
use crate::error::{Error, Result};
use crate::follow::Follow;
use crate::launch::{self, RunTaskInput};
use crate::logs::LogFollower;
use crate::network::{self, ServiceContext};
use crate::outcome::{self, Outcome};
use crate::output::Output;
use crate::preflight;
use crate::rawjson;
use crate::report::{self, Report};
use crate::signals;
use crate::taskdef::{self, Described};

/// The source task definition and, for a service, its live context.
pub struct Resolved {
    pub described: Described,
    pub service: Option<ServiceContext>,
}

/// Reads the source task definition: live from the service (PRIMARY task set first), a
/// registered revision, or a file.
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

/// Returns the report, or None for a dry run (whose plan was printed).
pub async fn run(
    plan: &RunPlan,
    aws: &AwsArgs,
    out: &Output,
    signals: &mut signals::Receiver,
    report: &mut Report,
) -> Result<Option<()>> {
    let started = Instant::now();
    let offline = plan.dry_run && matches!(plan.target.source, Source::File { .. });
    let clients = if offline {
        None
    } else {
        Some(Clients::load(aws).await?)
    };
    let cluster = plan.target.cluster.as_deref();

    // 1. Resolve
    let resolved = resolve(clients.as_ref(), cluster, &plan.target.source).await?;
    if let Some(ctx) = &resolved.service {
        let from = ctx
            .task_set
            .as_ref()
            .map(|t| format!(" (PRIMARY task set {t})"))
            .unwrap_or_default();
        out.progress(format!(
            "service {} runs {}{from}",
            ctx.service, ctx.task_definition
        ));
        for w in &ctx.warnings {
            out.warn(w);
            report.warnings.push(w.clone());
        }
    }
    let described = &resolved.described;
    let container = described.pick_container(plan.target.container.as_deref())?;
    report.container = container.clone();
    report.cluster = cluster.unwrap_or_default().to_string();
    plan.overrides.check_size(&container)?;
    let source_container = described.container(&container).cloned().unwrap_or_default();
    let image = plan
        .target
        .image
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| source_container["image"].as_str().map(String::from));
    if plan.target.image.is_none() {
        let w = format!(
            "no --image/--image-detail: running the image the task definition has now ({}), which may lack the new migrations",
            image.as_deref().unwrap_or("none")
        );
        out.warn(&w);
        report.warnings.push(w);
    }
    report.image = image.clone();
    report.preset = plan.overrides.preset.clone();
    report.command = plan.overrides.command.clone();

    // 2. Derive
    let log_target = match preflight::log_target(&source_container) {
        Ok(t) => Some(t),
        Err(why) if plan.require_logs => {
            return Err(
                Error::usage(format!("container '{container}' cannot be followed: {why}"))
                    .with_hint(
                        "use the awslogs driver with awslogs-stream-prefix, or pass --no-logs",
                    ),
            );
        }
        Err(_) => None,
    };
    let family = taskdef::migration_family(described.family(), plan.migration_family.as_deref());
    let desired =
        taskdef::derive_migration(described, &container, plan.target.image.as_ref(), &family)?;
    let options = &desired["containerDefinitions"][0]["logConfiguration"]["options"];
    if log_target.is_some() && options["mode"] != "blocking" {
        let w = format!(
            "awslogs mode is {}: lines are dropped when its buffer fills, so the log may be incomplete",
            options["mode"]
        );
        out.warn(&w);
        report.warnings.push(w);
    }
    let network_mode = desired["networkMode"].as_str();
    let placement = network::placement(resolved.service.as_ref(), &plan.network, network_mode)?;
    for w in &placement.warnings {
        out.warn(w);
        report.warnings.push(w.clone());
    }
    let started_by = launch::started_by(&family);

    if plan.dry_run {
        let request = launch::request(&RunTaskInput {
            cluster,
            task_definition: &family,
            container: &container,
            overrides: &plan.overrides,
            placement: &placement,
            started_by: &started_by,
            tags: &plan.tags,
            client_token: plan.client_token.as_deref(),
        });
        out.json(&json!({ "taskDefinition": desired, "runTask": request }));
        return Ok(None);
    }
    let clients = clients.expect("online run has clients");
    let cluster = cluster.expect("config requires --cluster for a run");

    // 3. Preflight
    let (ssm, unchecked) = preflight::secret_sources(&source_container);
    let checked = preflight::check_secrets(&clients, &ssm).await?;
    out.progress(format!("preflight: {checked} SSM secret(s) exist"));
    for s in unchecked {
        let w = format!("secret {s} is not in SSM Parameter Store and was not checked");
        out.warn(&w);
        report.warnings.push(w);
    }
    if !plan.allow_concurrent {
        preflight::check_concurrency(&clients.ecs, cluster, &started_by).await?;
    }

    // 4. Register (or reuse an identical latest revision)
    let (td_arn, registered) = register_or_reuse(&clients.ecs, &family, &desired).await?;
    report.task_definition_arn = Some(td_arn.clone());
    report.task_definition_registered = registered;
    out.progress(format!(
        "{} task definition {td_arn}",
        if registered { "registered" } else { "reusing" }
    ));

    if let Ok(sig) = signals.try_recv() {
        report.outcome = Some(Outcome::Interrupted);
        report.process_exit_code = crate::exit::INTERRUPTED;
        out.progress(format!(
            "{} received before launch; nothing was started",
            sig.name()
        ));
        return Ok(Some(()));
    }

    // 5. Launch
    let request = launch::request(&RunTaskInput {
        cluster: Some(cluster),
        task_definition: &td_arn,
        container: &container,
        overrides: &plan.overrides,
        placement: &placement,
        started_by: &started_by,
        tags: &plan.tags,
        client_token: plan.client_token.as_deref(),
    });
    let task = launch::run(&clients.ecs, &request).await?;
    let task_arn = task.task_arn().unwrap_or_default().to_string();
    let task_id = task_arn.rsplit('/').next().unwrap_or_default().to_string();
    let region = clients.region().to_string();
    let console_url = report::task_console_url(&region, cluster, &task_arn);
    report.task_arn = Some(task_arn.clone());
    report.console_url = Some(console_url.clone());
    out.progress(format!("launched {task_arn}"));
    out.progress(format!("console: {console_url}"));

    // 6. Follow
    let logs = log_target.as_ref().map(|t| {
        let stream = t.stream(&container, &task_id);
        report.log_group = Some(t.group.clone());
        report.log_stream = Some(stream.clone());
        let log_region = t.region.clone().unwrap_or_else(|| region.clone());
        report.log_console_url = Some(report::log_console_url(&log_region, &t.group, &stream));
        LogFollower::new(
            clients.logs_in(t.region.as_deref()),
            t.group.clone(),
            stream,
        )
    });
    let deadline = plan.timeout.map(|t| (started + t, t));
    let followed = Follow {
        ecs: &clients.ecs,
        cluster,
        task_arn: &task_arn,
        container: &container,
        logs,
        poll_interval: plan.poll_interval,
        poll_max: plan.poll_max,
        deadline,
        on_abort: plan.on_abort,
        log_quiet: plan.log_quiet,
        log_drain_max: plan.log_drain_max,
        console_url,
    }
    .run(out, signals)
    .await?;

    // 7. Verdict
    let stopped = followed.stopped.clone().unwrap_or_default();
    let verdict = outcome::judge(&stopped, followed.abort);
    report.outcome = Some(verdict.outcome);
    report.process_exit_code = verdict.exit_code;
    report.exit_code = stopped.exit_code;
    report.stop_code = stopped.stop_code;
    report.stopped_reason = stopped.stopped_reason;
    report.container_reason = stopped.container_reason;
    report.detached = followed.detached;
    report.log_lines = followed.logs.as_ref().map_or(0, |l| l.lines);
    report.migrated_versions = followed.migrated;
    report.reverted_versions = followed.reverted;
    if let Some(t) = &followed.task {
        report.started_at = t.started_at().and_then(|d| d.fmt(Format::DateTime).ok());
        report.stopped_at = t.stopped_at().and_then(|d| d.fmt(Format::DateTime).ok());
        if let (Some(a), Some(b)) = (t.started_at(), t.stopped_at()) {
            report.duration_seconds =
                Some(((b.as_secs_f64() - a.as_secs_f64()) * 10.0).round() / 10.0);
        }
    }
    if verdict.outcome == Outcome::NotStarted {
        out.warn("the container never ran; see the stop code and reasons below");
    }
    if followed.logs.as_ref().is_some_and(|l| !l.exists) && stopped.exit_code.is_some() {
        out.warn("the container ran but its log stream never appeared");
    }
    Ok(Some(()))
}

/// Reuses the family's latest ACTIVE revision when it is identical, else registers.
async fn register_or_reuse(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    desired: &Value,
) -> Result<(String, bool)> {
    match rawjson::describe_task_definition(ecs, family).await {
        Ok(latest)
            if latest.task_definition["status"] == "ACTIVE"
                && taskdef::equivalent(&latest.register_input(), desired) =>
        {
            return Ok((latest.arn().unwrap_or_default().to_string(), false));
        }
        Ok(_) => {}
        Err(e)
            if e.message.contains("ClientException")
                || e.message.contains("Unable to describe") => {}
        Err(e) => return Err(e),
    }
    let registered = rawjson::register_task_definition(ecs, desired).await?;
    let arn = registered
        .arn()
        .ok_or_else(|| Error::before_run("RegisterTaskDefinition returned no ARN"))?;
    Ok((arn.to_string(), true))
}
