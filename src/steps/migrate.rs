//! The migration, shared by `run`, `gate` and `revert`: derive → preflight → register → launch
//! (its record written beside the follow) → follow (the family's claim is checked until the
//! container runs) → verdict (recorded). Each step returns its value; `migrate` keeps them in
//! a `Trail`, and the report is assembled once, from it.

use serde_json::{Value, json};

use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::guard;
use crate::output::Output;
use crate::plan::arn::id_of;
use crate::plan::migration::{Kind, RunPlan, Source};
use crate::signals::{AbortEvent, Aborts};
use crate::steps::derive::{self, Derived};
use crate::steps::follow::machine::{OnAbort, Settings};
use crate::steps::follow::seam::{Sdk, TaskApi, TaskView};
use crate::steps::follow::{self, Followed};
use crate::steps::launch;
use crate::steps::preflight;
use crate::steps::record::{self, Recorder};
use crate::steps::register::{self, Registered};
use crate::steps::resolve::Resolved;
use crate::verdict::outcome::{self, Abort, Ending, Outcome};
use crate::verdict::record::{Event, Launch, Observer, Verdict, Who};
use crate::verdict::report::{self, LogFacts, Report, SecretsChecked};
use crate::verdict::transcript::Transcript;
use tokio::task::JoinHandle;

/// What the steps returned, in the order they ran; the report is assembled from it.
#[derive(Default)]
struct Trail {
    region: Option<String>,
    service: Option<String>,
    derived: Option<Derived>,
    secrets: Option<SecretsChecked>,
    registered: Option<Registered>,
    /// Our task, once launched: (ARN, console URL).
    launched: Option<(String, String)>,
    /// A migration of the family found running (busy), or followed (`--attach`).
    running: Option<TaskView>,
    attached: bool,
    logs: LogFacts,
    followed: Option<Followed>,
    warnings: Vec<String>,
    /// An abort before RunTask: what it was.
    not_launched: Option<(Outcome, String)>,
    error: Option<Error>,
    /// Where the record goes (None: `--no-record`, or no log group to keep it in).
    recorder: Option<Recorder>,
    /// The launch record's write, under way beside the follow.
    launch_written: Option<JoinHandle<Result<()>>>,
    /// The container exited but the deadline cut its log's drain short: a Lambda hook's next
    /// invocation reads it whole and records the verdict then.
    drain_cut: bool,
}

/// How the preparation ended.
enum Prepared {
    /// A migration of the family is already running: nothing was registered.
    Busy(String),
    /// Registered: launch with this RunTask request.
    Launch(Value),
}

/// `--dry-run`: prints the migration task definition and the RunTask request, changes
/// nothing. Some(report) when the migration cannot be derived.
pub fn dry_run(plan: &RunPlan, resolved: &Resolved, out: &Output) -> Option<Report> {
    let token = plan
        .client_token
        .clone()
        .unwrap_or_else(launch::new_client_token);
    match derive::derive(plan, resolved, token) {
        Ok(derived) => {
            let request = derived.request(plan, &derived.family);
            out.json(&json!({ "taskDefinition": derived.task_definition, "runTask": request }));
            None
        }
        Err(e) => Some(unresolved(plan, None, Ok(e), out)),
    }
}

/// The migration of a resolved source, to its report.
pub async fn migrate(
    plan: &RunPlan,
    clients: &Clients,
    resolved: &Resolved,
    out: &Output,
    aborts: &mut Aborts,
) -> Report {
    let mut trail = Trail {
        region: Some(clients.region().to_string()),
        service: resolved
            .service
            .as_ref()
            .map(|s| s.service.clone())
            .or_else(|| match &plan.target.source {
                Source::Service { service } => Some(service.clone()),
                _ => None,
            }),
        ..Default::default()
    };
    if let Err(e) = steps(plan, clients, resolved, out, aborts, &mut trail).await {
        trail.error = Some(e);
    }
    finish(plan, trail, out).await
}

/// The Lambda hook's later invocations: our task, launched by an earlier one, followed to its
/// end or to this invocation's deadline (then left running). The log is read from its head, so
/// the verdict has the whole log's facts; only the lines after the first `printed` are printed.
pub async fn resume(
    plan: &RunPlan,
    clients: &Clients,
    resolved: &Resolved,
    task_arn: &str,
    printed: u64,
    out: &Output,
    aborts: &mut Aborts,
) -> Report {
    let mut trail = Trail {
        region: Some(clients.region().to_string()),
        service: resolved.service.as_ref().map(|s| s.service.clone()),
        ..Default::default()
    };
    let token = plan.client_token.clone().unwrap_or_default();
    match derive::derive(plan, resolved, token) {
        Err(e) => trail.error = Some(e),
        Ok(derived) => {
            trail.recorder = recorder(plan, clients, &derived);
            let cluster = plan.target.cluster.clone().unwrap_or_default();
            let url = report::task_console_url(clients.region(), &cluster, task_arn);
            trail.launched = Some((task_arn.to_string(), url));
            let (followed, logs) = follow_task(
                plan,
                clients,
                &derived,
                task_arn,
                Start {
                    launched_at: None,
                    printed,
                    ours: true,
                },
                aborts,
                out,
            )
            .await;
            trail.drain_cut = drain_cut(&logs, aborts);
            trail.derived = Some(derived);
            trail.logs = logs;
            trail.followed = Some(followed);
        }
    }
    finish(plan, trail, out).await
}

/// Step 7: the report, assembled from the trail, and the verdict recorded.
async fn finish(plan: &RunPlan, mut trail: Trail, out: &Output) -> Report {
    let recorder = trail.recorder.take();
    let launch_written = trail.launch_written.take();
    let drain_cut = trail.drain_cut;
    let observer = if trail.attached {
        Observer::Attached
    } else {
        Observer::Launcher
    };
    let digest = trail
        .followed
        .as_ref()
        .and_then(|f| f.task.as_ref())
        .and_then(|t| t.migration.digest.clone());
    let mut report = assemble(plan, trail, out);
    if report.task_arn.is_some() {
        report.record = Some(false);
    }
    let hold = plan.record.kind == Kind::Hook && drain_cut;
    if plan.record.enabled && report.task_arn.is_some() {
        let written =
            record_verdict(recorder, launch_written, &report, digest, observer, hold).await;
        if let Err(why) = &written {
            let w =
                format!("the migration's record could not be written ({why}); its verdict stands");
            out.warn(&w);
            report.warnings.push(w);
        }
        report.record = Some(written.is_ok());
    }
    report
}

/// The verdict's record, after the launch's (whose write ran beside the follow). A verdict is
/// written once the migration's fate is settled: not when it was left running (detach) or
/// could not be observed, nor by an attached follower before it ended, nor (`hold`) by a hook
/// invocation whose time cut the log's drain short.
async fn record_verdict(
    recorder: Option<Recorder>,
    launch_written: Option<JoinHandle<Result<()>>>,
    report: &Report,
    digest: Option<String>,
    observer: Observer,
    hold: bool,
) -> std::result::Result<(), String> {
    let recorder = recorder.ok_or("the container has no awslogs log group to keep it in")?;
    if let Some(handle) = launch_written {
        match handle.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("the launch record: {e}")),
            Err(e) => return Err(format!("the launch record: {e}")),
        }
    }
    let settled = !report.detached
        && !hold
        && report.outcome != Some(Outcome::LostTrack)
        && (observer == Observer::Launcher || report.ended.exit_code.is_some());
    let Some(verdict) = Verdict::of(report, digest, observer).filter(|_| settled) else {
        return Ok(());
    };
    recorder
        .write(&Event::from(verdict))
        .await
        .map_err(|e| e.to_string())
}

/// A migration that ended before its source was resolved: an error, or an abort.
pub fn unresolved(
    plan: &RunPlan,
    region: Option<String>,
    end: std::result::Result<Error, (Outcome, String)>,
    out: &Output,
) -> Report {
    let mut trail = Trail {
        region,
        service: match &plan.target.source {
            Source::Service { service } => Some(service.clone()),
            _ => None,
        },
        ..Default::default()
    };
    match end {
        Ok(e) => trail.error = Some(e),
        Err(aborted) => trail.not_launched = Some(aborted),
    }
    assemble(plan, trail, out)
}

/// The steps, each one's value kept in the trail.
async fn steps(
    plan: &RunPlan,
    clients: &Clients,
    resolved: &Resolved,
    out: &Output,
    aborts: &mut Aborts,
    trail: &mut Trail,
) -> Result<()> {
    // 2. Derive (pure)
    let token = plan
        .client_token
        .clone()
        .unwrap_or_else(launch::new_client_token);
    let derived = derive::derive(plan, resolved, token)?;
    derived.progress.iter().for_each(|p| out.progress(p));
    for w in &derived.warnings {
        out.warn(w);
        trail.warnings.push(w.clone());
    }
    trail.derived = Some(derived.clone());
    let derived = &derived;
    trail.recorder = recorder(plan, clients, derived);
    // who launches, looked up beside the preflight (it only names them in the record)
    let caller = trail.recorder.is_some().then(|| {
        let clients = clients.clone();
        tokio::spawn(async move { record::caller_arn(&clients).await })
    });
    // 3-4. Preflight and register: nothing runs yet, so an abort simply ends
    let prepared = match aborts.race(prepare(plan, clients, derived, out)).await {
        Ok(p) => p?,
        Err(ev) => {
            trail.not_launched = Some(not_launched(ev, aborts.label(), out));
            return Ok(());
        }
    };
    let (secrets, registered, prepared) = prepared;
    trail.secrets = Some(secrets);
    trail.registered = registered;
    let request = match prepared {
        Prepared::Busy(arn) => {
            return busy_or_attach(plan, clients, derived, &arn, aborts, out, trail).await;
        }
        Prepared::Launch(request) => request,
    };
    if let Some(ev) = aborts.ready() {
        trail.not_launched = Some(not_launched(ev, aborts.label(), out));
        return Ok(());
    }
    let cluster = plan.target.cluster.clone().unwrap_or_default();

    // 5. Launch (not raced: its answer is the ARN an abort needs; bounded by SDK timeouts)
    let task = launch::run(&clients.ecs, &request, &cluster, &derived.started_by).await?;
    let launched_at = tokio::time::Instant::now();
    let task_arn = task.task_arn().unwrap_or_default().to_string();
    let console_url = report::task_console_url(clients.region(), &cluster, &task_arn);
    out.progress(format!("launched {task_arn}"));
    out.progress(format!("console: {console_url}"));
    trail.launched = Some((task_arn.clone(), console_url));
    guard::launched(
        &clients.ecs,
        &cluster,
        &task_arn,
        plan.on_abort.stops_task(),
    );
    // the launch record, written beside the follow (never in its way): a runner killed now
    // still leaves it
    if let Some(recorder) = trail.recorder.clone() {
        let mut launch = launch_record(plan, clients, derived, trail, &task_arn);
        trail.launch_written = Some(tokio::spawn(async move {
            if let Some(caller) = caller {
                launch.who.caller_arn = caller.await.ok().flatten();
            }
            recorder.write(&Event::from(launch)).await
        }));
    }

    // 6. Follow: claim, logs, abort, verdict
    let (followed, logs) = follow_task(
        plan,
        clients,
        derived,
        &task_arn,
        Start {
            launched_at: Some(launched_at),
            ..Default::default()
        },
        aborts,
        out,
    )
    .await;
    guard::clear();
    trail.drain_cut = drain_cut(&logs, aborts);
    trail.logs = logs;
    if let Some(winner) = followed.winner.clone()
        && plan.attach
        && derived.ours.differences(&winner.migration).is_empty()
    {
        out.progress(format!(
            "attaching to {}, the same migration, which won the claim",
            winner.arn
        ));
        trail.warnings.extend(followed.warnings.iter().cloned());
        return attach(plan, clients, derived, winner, aborts, out, trail).await;
    }
    trail.followed = Some(followed);
    Ok(())
}

/// Where the record goes: the family's stream in the container's log group (None:
/// `--no-record`, or no awslogs log group to keep it in).
fn recorder(plan: &RunPlan, clients: &Clients, derived: &Derived) -> Option<Recorder> {
    let t = derived
        .log_target
        .as_ref()
        .filter(|_| plan.record.enabled)?;
    Some(Recorder::new(
        clients.logs_in(t.region.as_deref()),
        &t.group,
        &derived.family,
    ))
}

/// What the launch record says: what runs, where, and who launched it.
fn launch_record(
    plan: &RunPlan,
    clients: &Clients,
    derived: &Derived,
    trail: &Trail,
    task_arn: &str,
) -> Launch {
    let log = derived.log_target.as_ref();
    Launch {
        task_arn: task_arn.to_string(),
        kind: plan.record.kind,
        reverts: plan.record.reverts.clone(),
        client_token: Some(derived.client_token.clone()),
        cluster: plan.target.cluster.clone().unwrap_or_default(),
        service: trail.service.clone(),
        region: Some(clients.region().to_string()),
        task_definition_arn: trail.registered.as_ref().map(|r| r.arn.clone()),
        container: derived.container.clone(),
        image: derived.image.clone(),
        image_digest: derived.ours.digest.clone(),
        preset: plan.overrides.preset.clone(),
        command: plan.overrides.command.clone(),
        log_group: log.map(|t| t.group.clone()),
        log_stream: log.map(|t| t.stream(&derived.container, id_of(task_arn))),
        log_region: log.map(|t| {
            t.region
                .clone()
                .unwrap_or_else(|| clients.region().to_string())
        }),
        who: Who::from_env(&plan.caller, |k| std::env::var(k).ok()),
        tool: crate::plan::VERSION.to_string(),
    }
}

/// Steps 3-4: the secrets exist, no other migration of the family runs, the task definition
/// is registered.
async fn prepare(
    plan: &RunPlan,
    clients: &Clients,
    derived: &Derived,
    out: &Output,
) -> Result<(SecretsChecked, Option<Registered>, Prepared)> {
    let cluster = plan.target.cluster.as_deref().unwrap_or_default();
    // 3. Preflight
    let checked = preflight::check_secrets(clients, &derived.secrets).await?;
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
    if derived.read_only {
        out.progress(
            "read-only command: it neither waits for nor blocks a migration of this family",
        );
    }
    if derived.claims
        && let Some(running) =
            preflight::running_migration(&clients.ecs, cluster, &derived.started_by).await?
    {
        // nothing to register: we will not launch
        return Ok((checked, None, Prepared::Busy(running)));
    }
    // 4. Register (or reuse an identical latest revision)
    let registered =
        register::register_or_reuse(&clients.ecs, &derived.family, &derived.task_definition)
            .await?;
    out.progress(format!(
        "{} task definition {}",
        if registered.new {
            "registered"
        } else {
            "reusing"
        },
        registered.arn
    ));
    let request = derived.request(plan, &registered.arn);
    Ok((checked, Some(registered), Prepared::Launch(request)))
}

/// An abort before RunTask: nothing was launched. `label` names the deadline's source.
pub fn not_launched(ev: AbortEvent, label: &str, out: &Output) -> (Outcome, String) {
    let (outcome, why) = match ev {
        AbortEvent::Deadline => (Outcome::TimedOut, format!("deadline reached ({label})")),
        AbortEvent::Signal(s) => (Outcome::Interrupted, format!("{} received", s.name())),
    };
    let line = format!("{why} before launch; nothing was started");
    out.progress(&line);
    (outcome, line)
}

/// The preflight found a running migration of the family: follow it if it is the same
/// migration and `--attach` was given, else refuse, naming what runs.
async fn busy_or_attach(
    plan: &RunPlan,
    clients: &Clients,
    derived: &Derived,
    arn: &str,
    aborts: &mut Aborts,
    out: &Output,
    trail: &mut Trail,
) -> Result<()> {
    let cluster = plan.target.cluster.as_deref().unwrap_or_default();
    let seam = seam_for(clients, cluster, &derived.container);
    let running = match aborts.race(seam.describe(&[arn.to_string()])).await {
        Ok(Ok(views)) => views.into_iter().find(|v| v.arn == arn),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "describing the running migration");
            None
        }
        Err(ev) => {
            trail.not_launched = Some(not_launched(ev, aborts.label(), out));
            return Ok(());
        }
    };
    let Some(running) = running else {
        trail.running = Some(TaskView {
            arn: arn.to_string(),
            ..Default::default()
        });
        return Err(busy(arn, None, &derived.started_by, false));
    };
    let differences = derived.ours.differences(&running.migration);
    if plan.attach && differences.is_empty() {
        out.progress(format!(
            "the same migration is already running; attaching to {arn}"
        ));
        return attach(plan, clients, derived, running, aborts, out, trail).await;
    }
    let e = busy(
        arn,
        Some(&running),
        &derived.started_by,
        plan.attach && !differences.is_empty(),
    );
    trail.running = Some(running);
    Err(e)
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

/// Follows another run's migration to its verdict; an abort leaves it running.
async fn attach(
    plan: &RunPlan,
    clients: &Clients,
    derived: &Derived,
    running: TaskView,
    aborts: &mut Aborts,
    out: &Output,
    trail: &mut Trail,
) -> Result<()> {
    let (followed, logs) = follow_task(
        plan,
        clients,
        derived,
        &running.arn,
        Start::default(),
        aborts,
        out,
    )
    .await;
    trail.attached = true;
    trail.running = Some(running);
    trail.logs = logs;
    trail.followed = Some(followed);
    Ok(())
}

/// The engine's AWS seam for one task of the cluster (no logs yet).
fn seam_for<'a>(clients: &'a Clients, cluster: &'a str, container: &'a str) -> Sdk<'a> {
    Sdk {
        ecs: &clients.ecs,
        logs: None,
        cluster,
        container,
        log_group: String::new(),
        log_stream: String::new(),
    }
}

/// The log was left incomplete because the deadline came (not the drain's own bound).
fn drain_cut(logs: &LogFacts, aborts: &Aborts) -> bool {
    !logs.logs_complete
        && aborts
            .deadline()
            .is_some_and(|d| tokio::time::Instant::now() >= d)
}

/// Where a follow starts: `launched_at`, when RunTask answered, if we launched the task here
/// (else another run or invocation did); `printed`, the log lines printed before.
#[derive(Default)]
struct Start {
    launched_at: Option<tokio::time::Instant>,
    printed: u64,
    /// Ours though launched elsewhere (an earlier hook invocation): an abort may stop it.
    ours: bool,
}

/// Step 6: the engine over the SDK seam, with the run's settings, from `start`.
async fn follow_task(
    plan: &RunPlan,
    clients: &Clients,
    derived: &Derived,
    task_arn: &str,
    start: Start,
    aborts: &mut Aborts,
    out: &Output,
) -> (Followed, LogFacts) {
    let Start {
        launched_at,
        printed,
        ours,
    } = start;
    let owned = launched_at.is_some();
    let cluster = plan.target.cluster.as_deref().unwrap_or_default();
    let mut api = seam_for(clients, cluster, &derived.container);
    let mut logs = LogFacts::default();
    if let Some(t) = &derived.log_target {
        let stream = t.stream(&derived.container, id_of(task_arn));
        let region = t
            .region
            .clone()
            .unwrap_or_else(|| clients.region().to_string());
        logs.log_group = Some(t.group.clone());
        logs.log_stream = Some(stream.clone());
        logs.log_console_url = Some(report::log_console_url(&region, &t.group, &stream));
        api.logs = Some(clients.logs_in(t.region.as_deref()));
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
        on_abort: if (owned || ours) && plan.on_abort.stops_task() {
            OnAbort::Stop
        } else {
            OnAbort::Detach
        },
        follow_logs: derived.log_target.is_some(),
        claim: owned && derived.claims,
        deadline: aborts.deadline(),
        deadline_label: aborts.label().to_string(),
        launched_at,
    };
    let mut transcript = Transcript::default();
    let mut read = 0u64;
    let mut sink = |line: &str| {
        if read >= printed {
            out.log_line(line);
        }
        read += 1;
        transcript.read(line);
    };
    let started_by = owned.then_some(derived.started_by.as_str());
    out.logs_begin(task_arn);
    let followed =
        follow::follow(&api, task_arn, started_by, settings, aborts, out, &mut sink).await;
    out.logs_end();
    logs.log_lines = followed.log_lines;
    logs.logs_complete = followed.logs_complete;
    logs.set_transcript(&transcript);
    (followed, logs)
}

/// Step 7: the report, assembled once from what the steps returned.
fn assemble(plan: &RunPlan, trail: Trail, out: &Output) -> Report {
    let derived = trail.derived.as_ref();
    let mut report = Report {
        cluster: plan.target.cluster.clone().unwrap_or_default(),
        service: trail.service,
        region: trail.region,
        container: derived.map(|d| d.container.clone()).unwrap_or_default(),
        sidecars: derived.map(|d| d.sidecars.clone()).unwrap_or_default(),
        image: derived
            .and_then(|d| d.image.clone())
            .or_else(|| plan.target.image.as_ref().map(ToString::to_string)),
        preset: plan.overrides.preset.clone(),
        command: plan.overrides.command.clone(),
        client_token: derived.map(|d| d.client_token.clone()),
        secrets: trail.secrets,
        task_definition_arn: trail.registered.as_ref().map(|r| r.arn.clone()),
        task_definition_registered: trail.registered.as_ref().is_some_and(|r| r.new),
        logs: trail.logs,
        warnings: trail.warnings,
        ..Default::default()
    };
    if let Some((arn, url)) = trail.launched {
        report.task_arn = Some(arn);
        report.console_url = Some(url);
    }
    if let Some(running) = &trail.running {
        report.other_task_arn = Some(running.arn.clone());
    }
    if trail.attached
        && let Some(running) = trail.running
    {
        // the attached task's migration, never ours
        report.attached = true;
        report.console_url = report
            .region
            .as_deref()
            .map(|r| report::task_console_url(r, &report.cluster, &running.arn));
        report.task_arn = Some(running.arn.clone());
        report.image = running.migration.image.clone();
        report.command = running.migration.command.clone();
        report.preset = None;
        report.client_token = None;
        report.task_definition_arn = running.task_definition_arn.clone();
        report.task_definition_registered = false;
    }
    if let Some((outcome, why)) = trail.not_launched {
        report.outcome = Some(outcome);
        report.error = Some(why);
    }
    if let Some(followed) = trail.followed {
        verdict(plan, followed, out, &mut report);
    }
    if let Some(e) = &trail.error {
        report.fail(e);
    }
    report
}

/// From what the engine found to the report's verdict.
fn verdict(plan: &RunPlan, followed: Followed, out: &Output, report: &mut Report) {
    let view = followed.task.clone().unwrap_or_default();
    let outcome = outcome::judge(&view.summary(), followed.ending);
    let task_arn = report.task_arn.clone().unwrap_or_default();
    report.outcome = Some(outcome);
    report.ended = view.ended();
    report.detached = followed.detached;
    report.warnings.extend(followed.warnings);
    match followed.ending {
        Ending::LostClaim => {
            let winner = followed.winner.as_ref();
            let what = winner
                .map(|w| format!(" ({})", w.migration.describe()))
                .unwrap_or_default();
            report.other_task_arn = winner.map(|w| w.arn.clone());
            report.error = Some(format!(
                "another migration is running: {}{what}; ours ({task_arn}) was stopped",
                winner.map_or("?", |w| w.arn.as_str())
            ));
        }
        Ending::LostTrack => {
            let why = followed.lost_reason.unwrap_or_default();
            report.error = Some(format!("lost track of task {task_arn}: {why}"));
            report.stop_command = Some(format!(
                "aws ecs stop-task --cluster {} --task {task_arn} --region {}",
                plan.target.cluster.as_deref().unwrap_or_default(),
                report.region.as_deref().unwrap_or_default()
            ));
        }
        Ending::Aborted(Abort::Deadline | Abort::Signal) => {
            let why = followed.abort_reason.unwrap_or_else(|| "aborted".into());
            let fate = if followed.detached {
                "was left running (--on-abort detach)"
            } else {
                "was stopped"
            };
            report.error = Some(format!("{why}; task {task_arn} {fate}"));
        }
        Ending::Exited => {}
    }
    let mut warn = |w: &str| {
        out.warn(w);
        report.warnings.push(w.to_string());
    };
    if outcome == Outcome::NotStarted {
        warn("the container never ran; see the stop code and reasons below");
    }
    if outcome == Outcome::NoExitCode {
        warn(
            "the container started but the task ended without an exit code (Spot or host loss): the migration may be half done; check it with the status preset",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::identity::Migration;

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
