//! `ecs-migrate run`, step by step: prepare (resolve → derive → preflight → register) →
//! launch → follow (the claim is checked until the container runs) → verdict.
//! See docs/ARCHITECTURE.md and docs/reliability.md.

use serde_json::{Value, json};

use crate::aws::Clients;
use crate::aws::rawjson;
use crate::cli::AwsArgs;
use crate::config::{RunPlan, Source};
use crate::error::{Error, Result};
use crate::guard;
use crate::output::Output;
use crate::plan::identity::Migration;
use crate::plan::network::{self, Placement};
use crate::plan::secret_ref;
use crate::plan::taskdef;
use crate::signals::{AbortEvent, Aborts};
use crate::steps::follow::machine::{OnAbort, Settings};
use crate::steps::follow::seam::{Sdk, TaskApi, TaskView};
use crate::steps::follow::{self, Followed};
use crate::steps::launch::{self, RunTaskInput};
use crate::steps::preflight::{self, LogTarget};
use crate::steps::resolve::{DuringDeployment, Resolved, resolve};
use crate::verdict::outcome::{self, Abort, Ending, Outcome, rails_version};
use crate::verdict::report::{self, Report};

/// What a run ended with: a dry run's plan was printed, or a result to report.
pub enum Ran {
    DryRun,
    Report(Box<Report>),
}

/// How the steps ended: a dry run's plan was printed, or the report is filled in.
pub(crate) enum Done {
    DryRun,
    Reported,
}

/// What the migration runs in and how it is followed, once prepared.
struct Ready {
    clients: Clients,
    cluster: String,
    container: String,
    /// The `startedBy` of the family (read-only runs have their own, outside the claim).
    started_by: String,
    /// Whether this run takes the family's claim (not read-only, not `--allow-concurrent`).
    claims: bool,
    log_target: Option<LogTarget>,
    /// What we run, to tell the same migration from another one.
    ours: Migration,
}

/// How the preparation (steps 1-4) ended.
enum Prepared {
    /// `--dry-run`: the plan was printed.
    DryRun,
    /// A migration of the family is already running: nothing was registered.
    Busy { ready: Ready, running: String },
    /// Registered and ready to launch with this RunTask request.
    Launch { ready: Ready, request: Value },
}

/// Where a migration's source comes from.
pub enum Start<'a> {
    /// `run`: load the SDK configuration and resolve the plan's source.
    Load(&'a AwsArgs),
    /// `gate`: already resolved (a deployment's target revision).
    Resolved(Box<(Clients, Resolved)>),
}

pub async fn run(plan: &RunPlan, aws: &AwsArgs, out: &Output, aborts: &mut Aborts) -> Ran {
    run_from(plan, Start::Load(aws), out, aborts).await
}

/// The migration from `start` on: prepare, launch, follow, verdict.
pub async fn run_from(plan: &RunPlan, start: Start<'_>, out: &Output, aborts: &mut Aborts) -> Ran {
    let mut report = Report {
        cluster: plan.target.cluster.clone().unwrap_or_default(),
        image: plan.target.image.as_ref().map(ToString::to_string),
        preset: plan.overrides.preset.clone(),
        command: plan.overrides.command.clone(),
        service: match &plan.target.source {
            Source::Service { service } => Some(service.clone()),
            _ => None,
        },
        ..Default::default()
    };
    match steps(plan, start, out, aborts, &mut report).await {
        Ok(Done::DryRun) => Ran::DryRun,
        Ok(Done::Reported) => Ran::Report(Box::new(report)),
        Err(e) => {
            report.fail(&e);
            Ran::Report(Box::new(report))
        }
    }
}

async fn steps(
    plan: &RunPlan,
    start: Start<'_>,
    out: &Output,
    aborts: &mut Aborts,
    report: &mut Report,
) -> Result<Done> {
    // 1-4. Resolve, derive, preflight, register: nothing runs yet, so an abort simply ends.
    let prepared = match aborts.race(prepare(plan, start, out, report)).await {
        Ok(p) => p?,
        Err(ev) => return Ok(not_launched(ev, aborts.label(), out, report)),
    };
    let (ready, request) = match prepared {
        Prepared::DryRun => return Ok(Done::DryRun),
        Prepared::Busy { ready, running } => {
            return busy_or_attach(plan, &ready, &running, aborts, out, report).await;
        }
        Prepared::Launch { ready, request } => (ready, request),
    };
    if let Some(ev) = aborts.ready() {
        return Ok(not_launched(ev, aborts.label(), out, report));
    }

    // 5. Launch (not raced: its answer is the ARN an abort needs; bounded by SDK timeouts)
    let task_arn = launch_task(&ready, &request, out, report).await?;
    guard::launched(
        &ready.clients.ecs,
        &ready.cluster,
        &task_arn,
        plan.on_abort.stops_task(),
    );

    // 6. Follow: claim, logs, abort, verdict
    let followed = follow_task(plan, &ready, &task_arn, true, aborts, out, report).await;
    guard::clear();
    if let Some(winner) = followed.winner.clone() {
        report.other_task_arn = Some(winner.arn.clone());
        if plan.attach && ready.ours.differences(&winner.migration).is_empty() {
            out.progress(format!(
                "attaching to {}, the same migration, which won the claim",
                winner.arn
            ));
            return attach(plan, &ready, &winner, aborts, out, report).await;
        }
    }

    // 7. Verdict
    verdict(&ready, &task_arn, followed, out, report);
    Ok(Done::Reported)
}

/// Steps 1-4.
async fn prepare(
    plan: &RunPlan,
    start: Start<'_>,
    out: &Output,
    report: &mut Report,
) -> Result<Prepared> {
    let cluster = plan.target.cluster.as_deref();
    // 1. Resolve
    let (clients, resolved) = match start {
        Start::Resolved(both) => {
            let (clients, resolved) = *both;
            (Some(clients), resolved)
        }
        Start::Load(aws) => {
            let offline = plan.dry_run && matches!(plan.target.source, Source::File { .. });
            let clients = if offline {
                None
            } else {
                Some(Clients::load(aws).await?)
            };
            report.region = clients.as_ref().map(|c| c.region().to_string());
            let during = if plan.allow_during_deployment {
                DuringDeployment::Allow
            } else {
                DuringDeployment::Refuse
            };
            let resolved = resolve(clients.as_ref(), cluster, &plan.target.source, during).await?;
            (clients, resolved)
        }
    };
    report.region = clients.as_ref().map(|c| c.region().to_string());
    if let Some(ctx) = &resolved.service {
        report.service = Some(ctx.service.clone());
        let from = match (&ctx.task_set, &ctx.revision) {
            (Some(t), _) => format!(" (PRIMARY task set {t})"),
            (None, Some(r)) => format!(" (service revision {})", r.rsplit('/').next().unwrap_or(r)),
            (None, None) => String::new(),
        };
        let verb = if resolved.deploying {
            "is being deployed with"
        } else {
            "runs"
        };
        out.progress(format!(
            "service {} {verb} {}{from}",
            ctx.service, ctx.task_definition
        ));
        for w in &ctx.warnings {
            warn(out, report, w.clone());
        }
    }
    let described = &resolved.described;
    let container = described.pick_container(plan.target.container.as_deref())?;
    report.container = container.clone();
    plan.overrides.check_size(&container)?;
    let source_container = described.container(&container).cloned().unwrap_or_default();
    let image = plan
        .target
        .image
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| source_container["image"].as_str().map(String::from));
    if plan.target.image.is_none() && !resolved.deploying {
        warn(
            out,
            report,
            format!(
                "no --image/--image-detail: running the image the task definition has now ({}), which may lack the new migrations",
                image.as_deref().unwrap_or("none")
            ),
        );
    }
    report.image = image.clone();

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
    let derived = taskdef::derive_migration(
        described,
        &container,
        plan.target.image.as_ref(),
        &family,
        plan.sidecars,
    )?;
    let desired = derived.task_definition;
    if !derived.sidecars.is_empty() {
        out.progress(format!(
            "keeping {} beside '{container}', which depends on them (non-essential; --without-sidecars runs '{container}' alone)",
            derived.sidecars.join(", ")
        ));
    }
    if !derived.dropped.is_empty() {
        warn(
            out,
            report,
            format!(
                "--without-sidecars: '{container}' depends on {}, which the migration task leaves out; it may not reach what it needs",
                derived.dropped.join(", ")
            ),
        );
    }
    report.sidecars = derived.sidecars;
    taskdef::check_fargate(&desired, plan.network.capacity_provider.is_some())?;
    let secrets =
        preflight::plan_task_secrets(&desired, described.arn().and_then(secret_ref::arn_account))?;
    let options = &desired["containerDefinitions"][0]["logConfiguration"]["options"];
    if log_target.is_some() && options["mode"] != "blocking" {
        warn(
            out,
            report,
            format!(
                "awslogs mode is {}: lines are dropped when its buffer fills, so the log may be incomplete",
                options["mode"]
            ),
        );
    }
    let placement = network::placement(
        resolved.service.as_ref(),
        &plan.network,
        desired["networkMode"].as_str(),
    )?;
    for w in &placement.warnings {
        warn(out, report, w.clone());
    }
    // A read-only command (`status`) neither takes nor contests the family's claim: it is
    // launched under a startedBy of its own, which the claim never lists.
    let read_only = plan.overrides.read_only;
    let started_by = if read_only {
        launch::started_by_read_only(&family)
    } else {
        launch::started_by(&family)
    };
    let claims = !read_only && !plan.allow_concurrent;
    let token = plan
        .client_token
        .clone()
        .unwrap_or_else(launch::new_client_token);
    report.client_token = Some(token.clone());
    let request_for = |task_definition: &str| {
        run_task_request(
            plan,
            cluster,
            task_definition,
            &container,
            &placement,
            &started_by,
            &token,
        )
    };

    if plan.dry_run {
        let request = request_for(&family);
        out.json(&json!({ "taskDefinition": desired, "runTask": request }));
        return Ok(Prepared::DryRun);
    }
    let clients = clients.expect("online run has clients");
    let cluster = cluster
        .expect("config requires --cluster for a run")
        .to_string();

    // 3. Preflight
    let checked = preflight::check_secrets(&clients, &secrets).await?;
    out.progress(format!(
        "preflight: {} SSM parameter(s) exist",
        checked.ssm_parameters
    ));
    for s in &checked.secrets_manager {
        out.progress(format!(
            "preflight: Secrets Manager secret for {}: {}",
            s.name, s.status
        ));
    }
    report.secrets = Some(checked);
    let ready = Ready {
        clients,
        cluster,
        container: container.clone(),
        started_by: started_by.clone(),
        claims,
        log_target,
        ours: Migration::ours(image.as_deref(), &plan.overrides),
    };
    if read_only {
        out.progress(
            "read-only command: it neither waits for nor blocks a migration of this family",
        );
    }
    let running = if ready.claims {
        preflight::running_migration(&ready.clients.ecs, &ready.cluster, &ready.started_by).await?
    } else {
        None
    };
    if let Some(running) = running {
        // nothing to register: we will not launch
        return Ok(Prepared::Busy { ready, running });
    }

    // 4. Register (or reuse an identical latest revision)
    let (td_arn, registered) = register_or_reuse(&ready.clients.ecs, &family, &desired).await?;
    report.task_definition_arn = Some(td_arn.clone());
    report.task_definition_registered = registered;
    out.progress(format!(
        "{} task definition {td_arn}",
        if registered { "registered" } else { "reusing" }
    ));
    Ok(Prepared::Launch {
        request: request_for(&td_arn),
        ready,
    })
}

fn run_task_request(
    plan: &RunPlan,
    cluster: Option<&str>,
    task_definition: &str,
    container: &str,
    placement: &Placement,
    started_by: &str,
    token: &str,
) -> Value {
    launch::request(&RunTaskInput {
        cluster,
        task_definition,
        container,
        overrides: &plan.overrides,
        placement,
        started_by,
        tags: &plan.tags,
        caller: &plan.caller,
        client_token: token,
    })
}

pub(crate) fn warn(out: &Output, report: &mut Report, w: String) {
    out.warn(&w);
    report.warnings.push(w);
}

/// An abort before RunTask: nothing was launched. `label` names the deadline's source.
pub(crate) fn not_launched(ev: AbortEvent, label: &str, out: &Output, report: &mut Report) -> Done {
    let (outcome, why) = match ev {
        AbortEvent::Deadline => (Outcome::TimedOut, format!("deadline reached ({label})")),
        AbortEvent::Signal(s) => (Outcome::Interrupted, format!("{} received", s.name())),
    };
    let line = format!("{why} before launch; nothing was started");
    out.progress(&line);
    report.outcome = Some(outcome);
    report.error = Some(line);
    Done::Reported
}

async fn launch_task(
    ready: &Ready,
    request: &Value,
    out: &Output,
    report: &mut Report,
) -> Result<String> {
    let task = launch::run(
        &ready.clients.ecs,
        request,
        &ready.cluster,
        &ready.started_by,
    )
    .await?;
    let task_arn = task.task_arn().unwrap_or_default().to_string();
    let console_url = report::task_console_url(ready.clients.region(), &ready.cluster, &task_arn);
    report.task_arn = Some(task_arn.clone());
    report.console_url = Some(console_url.clone());
    out.progress(format!("launched {task_arn}"));
    out.progress(format!("console: {console_url}"));
    Ok(task_arn)
}

/// The preflight found a running migration of the family: follow it if it is the same
/// migration and `--attach` was given, else refuse, naming what runs.
async fn busy_or_attach(
    plan: &RunPlan,
    ready: &Ready,
    arn: &str,
    aborts: &mut Aborts,
    out: &Output,
    report: &mut Report,
) -> Result<Done> {
    report.other_task_arn = Some(arn.to_string());
    let seam = seam_for(ready);
    let running = match aborts.race(seam.describe(&[arn.to_string()])).await {
        Ok(Ok(views)) => views.into_iter().find(|v| v.arn == arn),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "describing the running migration");
            None
        }
        Err(ev) => return Ok(not_launched(ev, aborts.label(), out, report)),
    };
    let Some(running) = running else {
        return Err(busy(arn, None, &ready.started_by, plan.attach));
    };
    let differences = ready.ours.differences(&running.migration);
    if plan.attach && differences.is_empty() {
        out.progress(format!(
            "the same migration is already running; attaching to {arn}"
        ));
        return attach(plan, ready, &running, aborts, out, report).await;
    }
    Err(busy(
        arn,
        Some(&running),
        &ready.started_by,
        plan.attach && !differences.is_empty(),
    ))
}

/// Another migration of the family is running: exit 121, naming it and what it runs.
fn busy(arn: &str, running: Option<&TaskView>, started_by: &str, not_same: bool) -> Error {
    let what = running
        .map(|r| format!(" ({})", r.migration.describe()))
        .unwrap_or_default();
    let hint = if not_same {
        "--attach follows only the same migration (image, command, overrides): wait for this one to end, then rerun"
    } else {
        "wait for it, pass --attach to follow it if it is the same migration, or --allow-concurrent"
    };
    Error::busy(format!(
        "another migration is running: {arn}{what}; startedBy {started_by}"
    ))
    .with_hint(hint)
}

/// Follows another run's migration to its verdict; an abort leaves it running. The report
/// names what that task runs, never what we would have run.
async fn attach(
    plan: &RunPlan,
    ready: &Ready,
    running: &TaskView,
    aborts: &mut Aborts,
    out: &Output,
    report: &mut Report,
) -> Result<Done> {
    let arn = running.arn.as_str();
    report.attached = true;
    report.task_arn = Some(arn.to_string());
    report.console_url = Some(report::task_console_url(
        ready.clients.region(),
        &ready.cluster,
        arn,
    ));
    report.image = running.migration.image.clone();
    report.command = running.migration.command.clone();
    report.preset = None;
    report.client_token = None;
    report.task_definition_arn = running.task_definition_arn.clone();
    report.task_definition_registered = false;
    let followed = follow_task(plan, ready, arn, false, aborts, out, report).await;
    verdict(ready, arn, followed, out, report);
    Ok(Done::Reported)
}

/// The engine's AWS seam for this migration's task (no logs yet).
fn seam_for(ready: &Ready) -> Sdk<'_> {
    Sdk {
        ecs: &ready.clients.ecs,
        logs: None,
        cluster: &ready.cluster,
        container: &ready.container,
        log_group: String::new(),
        log_stream: String::new(),
    }
}

/// Step 6: the engine over the SDK seam, with the run's settings.
async fn follow_task(
    plan: &RunPlan,
    ready: &Ready,
    task_arn: &str,
    owned: bool,
    aborts: &mut Aborts,
    out: &Output,
    report: &mut Report,
) -> Followed {
    let task_id = task_arn.rsplit('/').next().unwrap_or_default();
    let mut api = seam_for(ready);
    if let Some(t) = &ready.log_target {
        let stream = t.stream(&ready.container, task_id);
        let region = t
            .region
            .clone()
            .unwrap_or_else(|| ready.clients.region().to_string());
        report.log_group = Some(t.group.clone());
        report.log_stream = Some(stream.clone());
        report.log_console_url = Some(report::log_console_url(&region, &t.group, &stream));
        api.logs = Some(ready.clients.logs_in(t.region.as_deref()));
        api.log_group = t.group.clone();
        api.log_stream = stream;
    }
    let settings = Settings {
        log_interval: plan.poll_interval,
        describe_interval: plan.describe_interval,
        backoff_max: plan.poll_max,
        log_quiet: plan.log_quiet,
        log_drain_max: plan.log_drain_max,
        lost_after: plan.lost_after,
        stop_grace: plan.stop_grace,
        // someone else's migration is never stopped by us
        on_abort: if owned && plan.on_abort.stops_task() {
            OnAbort::Stop
        } else {
            OnAbort::Detach
        },
        follow_logs: ready.log_target.is_some(),
        claim: owned && ready.claims,
        deadline: aborts.deadline(),
        deadline_label: aborts.label().to_string(),
    };
    let (mut migrated, mut reverted) = (vec![], vec![]);
    let mut sink = |line: &str| {
        out.log_line(line);
        if let Some(v) = rails_version(line, "migrated") {
            migrated.push(v.to_string());
        } else if let Some(v) = rails_version(line, "reverted") {
            reverted.push(v.to_string());
        }
    };
    let started_by = owned.then_some(ready.started_by.as_str());
    out.logs_begin();
    let followed =
        follow::follow(&api, task_arn, started_by, settings, aborts, out, &mut sink).await;
    out.logs_end();
    report.migrated_versions = migrated;
    report.reverted_versions = reverted;
    report.warnings.extend(followed.warnings.iter().cloned());
    followed
}

/// Step 7: from what the engine found to the report.
fn verdict(ready: &Ready, task_arn: &str, followed: Followed, out: &Output, report: &mut Report) {
    let view = followed.task.clone().unwrap_or_default();
    let stopped = view.summary();
    let outcome = outcome::judge(&stopped, followed.ending);
    report.outcome = Some(outcome);
    report.exit_code = stopped.exit_code;
    report.stop_code = stopped.stop_code.clone();
    report.stopped_reason = stopped.stopped_reason.clone();
    report.container_reason = stopped.container_reason.clone();
    report.started_at = view.started_at.clone();
    report.stopped_at = view.stopped_at.clone();
    report.duration_seconds = view.duration_seconds;
    report.detached = followed.detached;
    report.log_lines = followed.log_lines;
    report.logs_complete = followed.logs_complete;
    match followed.ending {
        Ending::LostClaim => {
            let winner = followed.winner.as_ref();
            let what = winner
                .map(|w| format!(" ({})", w.migration.describe()))
                .unwrap_or_default();
            report.error = Some(format!(
                "another migration is running: {}{what}; ours ({task_arn}) was stopped",
                winner.map_or("?", |w| w.arn.as_str())
            ));
        }
        Ending::LostTrack => {
            let why = followed.lost_reason.clone().unwrap_or_default();
            report.error = Some(format!("lost track of task {task_arn}: {why}"));
            report.stop_command = Some(format!(
                "aws ecs stop-task --cluster {} --task {task_arn} --region {}",
                ready.cluster,
                ready.clients.region()
            ));
        }
        Ending::Aborted(Abort::Deadline | Abort::Signal) => {
            let why = followed
                .abort_reason
                .clone()
                .unwrap_or_else(|| "aborted".into());
            let fate = if followed.detached {
                "was left running (--on-abort detach)"
            } else {
                "was stopped"
            };
            report.error = Some(format!("{why}; task {task_arn} {fate}"));
        }
        Ending::Exited => {}
    }
    if outcome == Outcome::NotStarted {
        warn(
            out,
            report,
            "the container never ran; see the stop code and reasons below".into(),
        );
    }
    if outcome == Outcome::NoExitCode {
        warn(out, report, "the container started but the task ended without an exit code (Spot or host loss): the migration may be half done; check it with the status preset".into());
    }
}

/// Reuses the family's latest ACTIVE revision when it is identical, else registers.
async fn register_or_reuse(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    desired: &Value,
) -> Result<(String, bool)> {
    match rawjson::latest_task_definition(ecs, family).await? {
        Some(latest)
            if latest.task_definition["status"] == "ACTIVE"
                && taskdef::equivalent(&latest.register_input(), desired) =>
        {
            return Ok((latest.arn().unwrap_or_default().to_string(), false));
        }
        _ => {}
    }
    let registered = rawjson::register_task_definition(ecs, desired).await?;
    let arn = registered
        .arn()
        .ok_or_else(|| Error::before_run("RegisterTaskDefinition returned no ARN"))?;
    Ok((arn.to_string(), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_names_what_runs_and_says_why_attach_did_not_follow() {
        let running = TaskView {
            arn: "arn:aws:ecs:r:1:task/c/a".into(),
            migration: Migration {
                image: Some("repo/rails:v1".into()),
                command: vec![
                    "bundle".into(),
                    "exec".into(),
                    "rails".into(),
                    "db:migrate".into(),
                ],
                started_by: Some("ana@laptop".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let e = busy(
            &running.arn,
            Some(&running),
            "ecs-migrate/app-migrate",
            true,
        );
        assert_eq!(e.exit_code(), crate::exit::BUSY);
        assert_eq!(
            e.message,
            "another migration is running: arn:aws:ecs:r:1:task/c/a (image repo/rails:v1, command `bundle exec rails db:migrate`, started by ana@laptop); startedBy ecs-migrate/app-migrate"
        );
        assert!(e.hint.unwrap().contains("only the same migration"));
    }
}
