//! The record read back (`history`, `logs`, `revert`): where a family's record is, its
//! migrations, what ECS still says about those without a verdict, and a migration's own log
//! read from its head.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_ecs::types::TaskField;

use crate::aws::{Clients, rawjson};
use crate::error::{Error, Result};
use crate::plan::migration::Source;
use crate::plan::record::Locator;
use crate::plan::taskdef;
use crate::steps::follow::seam::TaskView;
use crate::steps::record::{self, Recorder};
use crate::steps::resolve::{self, DuringDeployment};
use crate::verdict::outcome::{self, Ending};
use crate::verdict::rails::{self, Step};
use crate::verdict::record::{Entry, Launch, Observer, Unrecorded, Verdict};

/// Where a family's migrations are recorded.
pub struct Located {
    pub family: String,
    pub recorder: Recorder,
}

/// The family (the service's `<family>-migrate`, or the one named), and from its latest
/// revision the migration's container and log group, where the record is.
pub async fn locate(clients: &Clients, at: &Locator) -> Result<Located> {
    let family = match (&at.migration_family, &at.service) {
        (Some(f), _) => f.clone(),
        (None, Some(service)) => {
            let source = Source::Service {
                service: service.clone(),
            };
            let resolved = resolve::resolve(
                Some(clients),
                at.cluster.as_deref(),
                &source,
                DuringDeployment::Allow,
            )
            .await?;
            taskdef::migration_family(resolved.described.family(), None)
        }
        (None, None) => return Err(Error::usage("give --service or --migration-family")),
    };
    let Some(described) = rawjson::task_definition(&clients.ecs, &family).await? else {
        return Err(Error::usage(format!(
            "no migration task definition family {family}: ecs-migrate has not run a migration here"
        ))
        .with_hint("check --service and --cluster, or name the family with --migration-family"));
    };
    // the migration's own container is its only essential one
    let container = described
        .containers()
        .iter()
        .find(|c| c["essential"] != false)
        .cloned()
        .unwrap_or_default();
    let name = container["name"].as_str().unwrap_or_default().to_string();
    let log = taskdef::log_target(&container).map_err(|why| {
        Error::usage(format!(
            "the migration's container '{name}' in {family} keeps no log to read: {why}"
        ))
    })?;
    let recorder = Recorder::new(clients.logs_in(log.region.as_deref()), &log.group, &family);
    Ok(Located { family, recorder })
}

/// What ECS says about each migration without a verdict (tasks it no longer knows are
/// absent), by task ARN.
pub async fn ecs_views(clients: &Clients, entries: &[&Entry]) -> Result<HashMap<String, TaskView>> {
    let mut by_cluster: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.verdict.is_none()) {
        by_cluster
            .entry((e.launch.cluster.as_str(), e.launch.container.as_str()))
            .or_default()
            .push(e.launch.task_arn.clone());
    }
    let mut views = HashMap::new();
    for ((cluster, container), arns) in by_cluster {
        for chunk in arns.chunks(100) {
            let out = clients
                .ecs
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(chunk.to_vec()))
                .include(TaskField::Tags)
                .send()
                .await
                .map_err(|e| Error::aws("ecs:DescribeTasks", e))?;
            for t in out.tasks() {
                let v = TaskView::from_sdk(t, container);
                views.insert(v.arn.clone(), v);
            }
        }
    }
    Ok(views)
}

/// A migration's own log, from its head: each line to `line`; the lines read and the steps
/// Rails reported. None when the stream does not exist (any more).
pub async fn read_log(
    clients: &Clients,
    launch: &Launch,
    mut line: impl FnMut(&str),
) -> Result<Option<(u64, Vec<Step>)>> {
    let (Some(group), Some(stream)) = (&launch.log_group, &launch.log_stream) else {
        return Ok(None);
    };
    let logs = clients.logs_in(launch.log_region.as_deref());
    let (mut count, mut steps) = (0u64, vec![]);
    let found = record::each_page(&logs, group, stream, |page| {
        for (_, message) in page {
            count += 1;
            steps.extend(rails::step(&message));
            line(&message);
        }
    })
    .await?;
    Ok(found.then_some((count, steps)))
}

/// A verdict from what ECS showed of a task whose container has exited (its runner wrote
/// none), with the steps its log holds.
pub fn observed_verdict(view: &TaskView, log: Option<(u64, Vec<Step>)>) -> Verdict {
    let outcome = outcome::judge(&view.summary(), Ending::Exited);
    let ended = view.ended();
    let complete = log.is_some();
    let (log_lines, migrations) = log.unwrap_or_default();
    Verdict {
        task_arn: view.arn.clone(),
        outcome,
        exit_code: ended.exit_code,
        process_exit_code: outcome.exit_code(ended.exit_code),
        stop_code: ended.stop_code,
        stopped_reason: ended.stopped_reason,
        started_at: ended.started_at,
        stopped_at: ended.stopped_at,
        duration_seconds: ended.duration_seconds,
        image_digest: view.migration.digest.clone(),
        migrations,
        log_lines,
        logs_complete: complete,
        error: None,
        observer: Observer::Follower,
    }
}

/// Settles the migrations without a verdict from what ECS says: ended ones get a verdict
/// (with the steps their log holds), running ones their status, the others are forgotten.
pub async fn settle(clients: &Clients, entries: &mut [Entry]) -> Result<()> {
    let views = ecs_views(clients, &entries.iter().collect::<Vec<_>>()).await?;
    for e in entries.iter_mut().filter(|e| e.verdict.is_none()) {
        e.unrecorded = match views.get(&e.launch.task_arn) {
            Some(v) if v.container_exited() || v.stopped() => {
                let log = read_log(clients, &e.launch, |_| {}).await?;
                e.verdict = Some(observed_verdict(v, log));
                Unrecorded::Unknown
            }
            Some(v) => Unrecorded::Running(v.last_status.clone()),
            None => Unrecorded::Forgotten,
        };
    }
    Ok(())
}
