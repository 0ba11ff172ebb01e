//! `ecs-migrate run`: the live source, then the migration's steps (docs/ARCHITECTURE.md).

use crate::aws::Clients;
use crate::output::Output;
use crate::plan::migration::RunPlan;
use crate::signals::Aborts;
use crate::steps::migrate;
use crate::steps::resolve::{self, DuringDeployment};
use crate::verdict::report::Report;

/// What a run ended with: a dry run's plan was printed, or a result to report.
pub enum Ran {
    DryRun,
    Report(Box<Report>),
}

pub async fn run(plan: &RunPlan, out: &Output, aborts: &mut Aborts) -> Ran {
    // 1. Resolve: the service's live task definition and network (its PRIMARY task set, or its
    //    current service revision), a registered revision, or a file
    let loading = resolve::clients(&plan.connection, &plan.target.source, plan.dry_run);
    let clients = match aborts.race(loading).await {
        Ok(Ok(clients)) => clients,
        Ok(Err(e)) => return ended(migrate::unresolved(plan, None, Ok(e), out)),
        Err(ev) => {
            let aborted = migrate::not_launched(ev, aborts.label(), out);
            return ended(migrate::unresolved(plan, None, Err(aborted), out));
        }
    };
    run_with(plan, clients, out, aborts).await
}

/// `run` with the SDK clients already made (`revert` read the record with them).
pub async fn run_with(
    plan: &RunPlan,
    clients: Option<Clients>,
    out: &Output,
    aborts: &mut Aborts,
) -> Ran {
    let region = clients.as_ref().map(|c| c.region().to_string());
    let during = if plan.allow_during_deployment {
        DuringDeployment::Allow
    } else {
        DuringDeployment::Refuse
    };
    let cluster = plan.target.cluster.as_deref();
    let resolving = resolve::resolve(clients.as_ref(), cluster, &plan.target.source, during);
    let resolved = match aborts.race(resolving).await {
        Ok(Ok(resolved)) => resolved,
        Ok(Err(e)) => return ended(migrate::unresolved(plan, region, Ok(e), out)),
        Err(ev) => {
            let aborted = migrate::not_launched(ev, aborts.label(), out);
            return ended(migrate::unresolved(plan, region, Err(aborted), out));
        }
    };
    // --dry-run: the task definition and RunTask request, printed; nothing changes
    let Some(clients) = clients.filter(|_| !plan.dry_run) else {
        return migrate::dry_run(plan, &resolved, out).map_or(Ran::DryRun, ended);
    };
    // 2-7. Derive, preflight, register, launch, follow (the claim), verdict
    ended(migrate::migrate(plan, &clients, &resolved, out, aborts).await)
}

fn ended(report: Report) -> Ran {
    Ran::Report(Box::new(report))
}
