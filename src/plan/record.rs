//! The plans of the commands that read the record: `history`, `logs` and `revert`. Built and
//! validated by `config`; the record itself is found from the `Locator`.

use std::time::Duration;

use crate::plan::connection::Connection;
use crate::plan::migration::RunPlan;

/// Whose record: a service's migration family (`<family>-migrate`, or `--migration-family`),
/// or a migration family named alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Locator {
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub migration_family: Option<String>,
}

/// `history`.
#[derive(Debug, Clone)]
pub struct HistoryPlan {
    pub connection: Connection,
    pub locator: Locator,
    pub limit: usize,
}

/// `logs`: which migration, and whether to follow it to its verdict when it is still running.
#[derive(Debug, Clone)]
pub struct LogsPlan {
    pub connection: Connection,
    pub locator: Locator,
    /// `latest`, a task ARN or id, or a unique prefix of an id.
    pub which: String,
    pub follow: Option<Following>,
}

/// How `logs --follow` follows (the engine's cadence); an abort always detaches.
#[derive(Debug, Clone)]
pub struct Following {
    pub poll_interval: Duration,
    pub describe_interval: Duration,
    pub log_quiet: Duration,
    pub timeout: Option<Duration>,
}

/// `revert`: a migration plan whose image and command come from the record.
#[derive(Debug, Clone)]
pub struct RevertPlan {
    pub run: RunPlan,
    pub locator: Locator,
    pub which: String,
}
