//! A service as the migration sees it (pure): what it runs, where, and how it deploys (the
//! PRIMARY task set's for CODE_DEPLOY / EXTERNAL controllers, the current service revision's
//! for ECS native blue/green).

use crate::plan::network::ServiceNetwork;

/// What the service runs now, taken from the PRIMARY task set when there is one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceContext {
    pub service: String,
    pub task_definition: String,
    /// Where its tasks run.
    pub network: ServiceNetwork,
    /// (container name, container port) of the service's load balancers.
    pub load_balancers: Vec<(String, i32)>,
    /// The PRIMARY task set's id when the context came from one.
    pub task_set: Option<String>,
    /// ECS native blue/green: the ECS controller with `strategy: BLUE_GREEN`.
    pub blue_green: bool,
    /// The lifecycle stages with a PAUSE hook (native blue/green).
    pub pause_stages: Vec<String>,
    /// The service revision the context came from (native blue/green).
    pub revision: Option<String>,
    pub warnings: Vec<String>,
}
