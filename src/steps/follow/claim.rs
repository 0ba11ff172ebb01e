//! Exactly one migration per family: the claim rule (pure).
//!
//! Every run launches its task with `startedBy ecs-migrate/<family>`, then lists the family's
//! tasks whose desired status is RUNNING. Of those, the **oldest** (createdAt, then ARN) is the
//! winner. Every contender applies the same rule to the same facts, so they agree; a loser
//! stops its own task while it is still PROVISIONING/PENDING, before its container starts.
//! The check repeats on every describe until our container starts, which covers ListTasks'
//! eventual consistency for as long as Fargate takes to provision (tens of seconds).
//! docs/reliability.md says what this guarantees and what it does not.

use std::cmp::Ordering;

use aws_sdk_ecs::types::DesiredStatus;

use super::seam::TaskView;

/// The claimant that owns the family's migration, among `views` (ours included).
pub fn winner<'a>(views: &'a [TaskView], ours: &str) -> Option<&'a TaskView> {
    views
        .iter()
        .filter(|v| {
            v.arn == ours || (v.desired_status == Some(DesiredStatus::Running) && !v.stopped())
        })
        .min_by(|a, b| older(a, b))
}

fn older(a: &TaskView, b: &TaskView) -> Ordering {
    let at = |v: &TaskView| v.created_at.unwrap_or(f64::INFINITY);
    at(a)
        .partial_cmp(&at(b))
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.arn.cmp(&b.arn))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(arn: &str, created: f64, desired: &str) -> TaskView {
        TaskView {
            arn: arn.into(),
            created_at: Some(created),
            desired_status: Some(DesiredStatus::from(desired)),
            last_status: "PROVISIONING".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_oldest_running_claimant_wins_and_everyone_agrees() {
        let views = [
            task("arn:c", 10.2, "RUNNING"),
            task("arn:a", 10.1, "RUNNING"),
            task("arn:b", 10.3, "RUNNING"),
        ];
        for ours in ["arn:a", "arn:b", "arn:c"] {
            assert_eq!(winner(&views, ours).unwrap().arn, "arn:a");
        }
    }

    #[test]
    fn ties_are_broken_by_arn_and_stopped_tasks_do_not_count() {
        let views = [task("arn:b", 5.0, "RUNNING"), task("arn:a", 5.0, "RUNNING")];
        assert_eq!(winner(&views, "arn:b").unwrap().arn, "arn:a");
        let views = [
            task("arn:old", 1.0, "STOPPED"),
            task("arn:new", 2.0, "RUNNING"),
        ];
        assert_eq!(winner(&views, "arn:new").unwrap().arn, "arn:new");
    }

    #[test]
    fn alone_we_win() {
        let views = [task("arn:me", 1.0, "RUNNING")];
        assert_eq!(winner(&views, "arn:me").unwrap().arn, "arn:me");
        assert!(winner(&[], "arn:me").is_none());
    }
}
