//! `ecs-migrate history`: the record's migrations, newest first; those whose runner vanished
//! settled from ECS while it still knows them.

use crate::aws::Clients;
use crate::error::Result;
use crate::output::{Format, Output};
use crate::plan::record::HistoryPlan;
use crate::steps::recorded;
use crate::verdict::history;
use crate::verdict::record;

pub async fn history(plan: &HistoryPlan, out: &Output) -> Result<()> {
    // 1. Where the family's record is
    let clients = Clients::load(&plan.connection).await?;
    let located = recorded::locate(&clients, &plan.locator).await?;
    // 2. Its migrations, newest first
    let mut entries = record::entries(located.recorder.read().await?);
    entries.truncate(plan.limit);
    // 3. Those without a verdict, from ECS
    recorded::settle(&clients, &mut entries).await?;
    // 4. The table, or the JSON document
    match out.format {
        Format::Json => out.json(&history::to_json(
            &located.family,
            &located.recorder.group,
            &located.recorder.stream,
            &entries,
        )),
        Format::Text if entries.is_empty() => out.progress(format!(
            "no migration of {} is recorded yet (stream {} in {})",
            located.family, located.recorder.stream, located.recorder.group
        )),
        Format::Text => out.table(&history::table(&entries)),
    }
    Ok(())
}
