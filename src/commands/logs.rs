//! `ecs-migrate logs TASK|latest`: a recorded migration's complete output, read from
//! CloudWatch, then its verdict; the exit code is the migration's, hours after ECS forgot the
//! task. One still running is followed to its verdict with `--follow`, by `run`'s engine; an
//! abort then detaches: this process never stops a task it did not launch.

use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::plan::arn::id_of;
use crate::plan::duration::STOP_GRACE;
use crate::plan::record::{Following, LogsPlan};
use crate::signals::Aborts;
use crate::steps::follow::machine::{OnAbort, Settings};
use crate::steps::follow::seam::Sdk;
use crate::steps::follow::{self, Followed};
use crate::steps::record::Recorder;
use crate::steps::recorded::{self, Located};
use crate::verdict::history::when;
use crate::verdict::outcome::{self, Abort, Ending, Outcome};
use crate::verdict::record::{self, Entry, Event, Observer, Verdict};
use crate::verdict::report::Report;
use crate::verdict::transcript::Transcript;

pub async fn logs(plan: &LogsPlan, out: &Output, aborts: &mut Aborts) -> Report {
    steps(plan, out, aborts).await.unwrap_or_else(|e| {
        let mut report = Report::default();
        report.fail(&e);
        report
    })
}

async fn steps(plan: &LogsPlan, out: &Output, aborts: &mut Aborts) -> Result<Report> {
    // 1. The record, and the migration in it
    let clients = Clients::load(&plan.connection).await?;
    let located = recorded::locate(&clients, &plan.locator).await?;
    let entries = record::entries(located.recorder.read().await?);
    let i = record::select(&entries, &plan.which).map_err(|why| {
        Error::usage(format!("{why} (family {})", located.family))
            .with_hint("`ecs-migrate history` lists the recorded migrations")
    })?;
    let entry = entries[i].clone();
    let arn = entry.launch.task_arn.clone();
    out.progress(format!(
        "task {arn}: launched {} UTC by {}, image {}",
        when(entry.launched_ms, ' '),
        entry.launch.who.short(),
        entry.launch.image.as_deref().unwrap_or("unknown")
    ));
    // 2. Without a verdict: what ECS says
    let view = match entry.verdict {
        Some(_) => None,
        None => recorded::ecs_views(&clients, &[&entry]).await?.remove(&arn),
    };
    let running = view
        .as_ref()
        .is_some_and(|v| !v.container_exited() && !v.stopped());
    if running && let Some(following) = &plan.follow {
        // 3a. Follow it to its verdict, as `run` does
        return Ok(follow(&clients, &located, &entry, following, aborts, out).await);
    }
    // 3b. Its log, from the head
    let mut transcript = Transcript::default();
    out.logs_begin(&arn);
    let log = recorded::read_log(&clients, &entry.launch, |l| {
        out.log_line(l);
        transcript.read(l);
    })
    .await?;
    out.logs_end();
    let mut report = entry.report();
    // the record's verdict has the steps; the log has the one left unfinished, and its end
    report.logs.unfinished_migrations = transcript.unfinished();
    report.logs.tail = transcript.tail();
    match &log {
        Some((lines, _)) => report.logs.log_lines = *lines,
        None => {
            let w = format!(
                "the migration's log stream {} no longer exists (the log group's retention?)",
                entry.launch.log_stream.as_deref().unwrap_or("(none)")
            );
            out.warn(&w);
            report.warnings.push(w);
        }
    }
    // 4. Its verdict: recorded; seen from ECS (then recorded); or still to come, or unknown
    match (&entry.verdict, view) {
        (Some(_), _) => {}
        (None, Some(view)) if !running => {
            let verdict = recorded::observed_verdict(&view, log);
            verdict.apply(&mut report);
            report.logs.logs_complete = verdict.logs_complete;
            report.record = Some(write(&located.recorder, verdict, out, &mut report).await);
        }
        (None, Some(view)) => {
            report.outcome = Some(Outcome::StillRunning);
            report.record = None;
            report.error = Some(format!(
                "{arn} is still running ({}): its log so far is above; `ecs-migrate logs {} --follow` follows it to its verdict",
                view.last_status,
                id_of(&arn)
            ));
        }
        (None, None) => {
            report.outcome = Some(Outcome::LostTrack);
            report.record = None;
            report.error = Some(format!(
                "no verdict was recorded for {arn} and ECS no longer knows the task: its outcome is unknown (its log above is all there is)"
            ));
        }
    }
    Ok(report)
}

/// `--follow`: the engine, reading the log from its head, to the verdict; the verdict is
/// recorded, since the runner that launched the task did not.
async fn follow(
    clients: &Clients,
    located: &Located,
    entry: &Entry,
    f: &Following,
    aborts: &mut Aborts,
    out: &Output,
) -> Report {
    let launch = &entry.launch;
    let arn = launch.task_arn.as_str();
    let api = Sdk {
        ecs: &clients.ecs,
        logs: launch
            .log_group
            .as_ref()
            .map(|_| clients.logs_in(launch.log_region.as_deref())),
        cluster: &launch.cluster,
        container: &launch.container,
        log_group: launch.log_group.clone().unwrap_or_default(),
        log_stream: launch.log_stream.clone().unwrap_or_default(),
    };
    let settings = Settings {
        log_interval: f.poll_interval,
        describe_interval: f.describe_interval,
        backoff_max: f.describe_interval.max(std::time::Duration::from_secs(10)),
        log_quiet: f.log_quiet,
        log_drain_max: f.log_quiet.max(std::time::Duration::from_secs(30)),
        lost_after: std::time::Duration::from_secs(300),
        stop_grace: STOP_GRACE,
        on_abort: OnAbort::Detach,
        follow_logs: launch.log_group.is_some(),
        claim: false,
        deadline: aborts.deadline(),
        deadline_label: aborts.label().to_string(),
        launched_at: None,
    };
    out.progress(format!("following {arn} to its verdict"));
    let mut transcript = Transcript::default();
    let mut sink = |line: &str| {
        out.log_line(line);
        transcript.read(line);
    };
    out.logs_begin(arn);
    let followed = follow::follow(&api, arn, None, settings, aborts, out, &mut sink).await;
    out.logs_end();
    let mut report = entry.report();
    report.record = None;
    report.logs.log_lines = followed.log_lines;
    report.logs.logs_complete = followed.logs_complete;
    report.logs.set_transcript(&transcript);
    report.warnings.extend(followed.warnings.iter().cloned());
    verdict(&followed, &mut report);
    if followed.ending == Ending::Exited {
        let digest = followed
            .task
            .as_ref()
            .and_then(|t| t.migration.digest.clone());
        if let Some(v) = Verdict::of(&report, digest, Observer::Follower) {
            report.record = Some(write(&located.recorder, v, out, &mut report).await);
        }
    }
    report
}

/// What following found, in the report.
fn verdict(followed: &Followed, report: &mut Report) {
    let view = followed.task.clone().unwrap_or_default();
    let arn = report.task_arn.clone().unwrap_or_default();
    report.detached = followed.detached;
    match followed.ending {
        Ending::Exited => {
            report.outcome = Some(outcome::judge(&view.summary(), Ending::Exited));
            report.ended = view.ended();
        }
        Ending::Aborted(abort) => {
            report.outcome = Some(match abort {
                Abort::Deadline => Outcome::TimedOut,
                Abort::Signal => Outcome::Interrupted,
            });
            report.error = Some(format!(
                "{}; task {arn} was left running (logs never stops a task)",
                followed.abort_reason.as_deref().unwrap_or("aborted")
            ));
        }
        Ending::LostTrack | Ending::LostClaim => {
            report.outcome = Some(Outcome::LostTrack);
            report.error = Some(format!(
                "lost track of task {arn}: {}",
                followed.lost_reason.as_deref().unwrap_or("unknown")
            ));
        }
    }
}

/// Records a verdict its runner did not; a failed write is a warning.
async fn write(recorder: &Recorder, v: Verdict, out: &Output, report: &mut Report) -> bool {
    match recorder.write(&Event::from(v)).await {
        Ok(()) => true,
        Err(e) => {
            let w = format!("the verdict could not be recorded ({e}); it stands");
            out.warn(&w);
            report.warnings.push(w);
            false
        }
    }
}
