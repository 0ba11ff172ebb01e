//! ECS native blue/green's vocabulary (pure): the lifecycle stages a deployment walks, in
//! order, and what a gate answers a PAUSE hook.

/// The lifecycle stages a hook can be attached to, in the order a deployment walks them.
pub const HOOK_STAGES: [&str; 7] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
];

/// Every stage a deployment reports (`lifecycleStage`), in order.
const ALL_STAGES: [&str; 10] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// Pure: the position of a stage in a deployment's walk (unknown stages sort last).
pub fn stage_index(stage: &str) -> usize {
    ALL_STAGES
        .iter()
        .position(|s| *s == stage)
        .unwrap_or(ALL_STAGES.len())
}

/// What the gate tells a paused deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookAction {
    Continue,
    Rollback,
}

impl HookAction {
    pub fn as_str(self) -> &'static str {
        match self {
            HookAction::Continue => "CONTINUE",
            HookAction::Rollback => "ROLLBACK",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_ordered_and_hook_stages_are_among_them() {
        assert!(stage_index("RECONCILE_SERVICE") < stage_index("PRE_SCALE_UP"));
        assert!(stage_index("PRE_SCALE_UP") < stage_index("SCALE_UP"));
        assert_eq!(stage_index("NEW_STAGE"), ALL_STAGES.len());
        for s in HOOK_STAGES {
            assert!(ALL_STAGES.contains(&s), "{s}");
        }
    }
}
