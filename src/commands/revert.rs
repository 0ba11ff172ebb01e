//! `ecs-migrate revert TASK|latest`: undoes exactly the versions a recorded migration applied,
//! newest first, with the image that applied them, in one task: a migration like any other
//! (recorded too). It refuses, launching nothing, when a later migration applied versions
//! since. The versions reach Rails as argv; no shell string is built from the record.

use crate::aws::Clients;
use crate::error::Result;
use crate::output::Output;
use crate::plan::image::ImageRef;
use crate::plan::record::RevertPlan;
use crate::signals::Aborts;
use crate::steps::recorded;
use crate::verdict::record;
use crate::verdict::report::Report;
use crate::verdict::revert::{self, Revert};

use super::run::{self, Ran};

pub async fn revert(plan: &RevertPlan, out: &Output, aborts: &mut Aborts) -> Ran {
    // 1. The record, the migration to undo, and what undoes it
    let (clients, revert) = match choose(plan, out).await {
        Ok(chosen) => chosen,
        Err(e) => {
            let mut report = Report::default();
            report.fail(&e);
            return Ran::Report(Box::new(report));
        }
    };
    // 2. Exactly its versions, with its image: a migration like any other
    let mut run = plan.run.clone();
    match ImageRef::parse(&revert.image) {
        Ok(image) => run.target.image = Some(image),
        Err(e) => {
            let mut report = Report::default();
            report.fail(&e);
            return Ran::Report(Box::new(report));
        }
    }
    run.overrides.command = revert.command.clone();
    run.record.reverts = Some(revert.of.clone());
    let mut ran = run::run_with(&run, Some(clients), out, aborts).await;
    // 3. Rails reverted what was asked, no more and no less
    if let Ran::Report(report) = &mut ran
        && report.outcome == Some(crate::verdict::outcome::Outcome::Succeeded)
    {
        let mut done = report.logs.reverted_versions.clone();
        done.sort_by(|a, b| b.cmp(a));
        if done != revert.versions {
            let w = format!(
                "Rails reported reverting {} but {} were asked: check with the status preset",
                list(&done),
                list(&revert.versions)
            );
            out.warn(&w);
            report.warnings.push(w);
        }
    }
    ran
}

async fn choose(plan: &RevertPlan, out: &Output) -> Result<(Clients, Revert)> {
    let clients = Clients::load(&plan.run.connection).await?;
    let located = recorded::locate(&clients, &plan.locator).await?;
    let mut entries = record::entries(located.recorder.read().await?);
    let i = record::select(&entries, &plan.which).map_err(|why| {
        crate::error::Error::usage(format!("{why} (family {})", located.family))
            .with_hint("`ecs-migrate history` lists the recorded migrations")
    })?;
    // the migration and every later one: how those without a verdict ended
    recorded::settle(&clients, &mut entries[..=i]).await?;
    let revert = revert::plan(&entries, i)?;
    out.progress(format!(
        "reverting {} applied by {} with {}: {}",
        plural(revert.versions.len()),
        revert.of,
        revert.image,
        revert.versions.join(", ")
    ));
    Ok((clients, revert))
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 version".into()
    } else {
        format!("{n} versions")
    }
}
