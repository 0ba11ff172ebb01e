//! `ecs-migrate iam-policy` grants exactly what each command calls: the emulator records the
//! IAM action of every call ecs-migrate makes (its User-Agent says `app/ecs-migrate`), and each
//! test drives one command down all of its paths, then compares that record with the policy.

use crate::common;

use std::collections::BTreeSet;

use common::{NATIVE, World, code, stats, stderr};
use serde_json::Value;

/// Checked by AWS on ecs-migrate's calls, never called: PassRole (the task definition names
/// roles) and TagResource (RegisterTaskDefinition and RunTask carry tags).
const IMPLIED: [&str; 2] = ["iam:PassRole", "ecs:TagResource"];

/// The actions `ecs-migrate iam-policy COMMAND` grants.
fn granted(w: &World, command: &str) -> BTreeSet<String> {
    let o = w.cmd().args(["iam-policy", command]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// Called, but needs no permission: "No permissions are required to perform this operation"
/// (STS API reference, GetCallerIdentity); the record names who launched with it.
const FREE: [&str; 1] = ["sts:GetCallerIdentity"];

/// The actions of the calls ecs-migrate made in the world's region.
fn called(w: &World) -> BTreeSet<String> {
    stats(&w.region)["ecs_migrate_actions"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|a| !FREE.contains(&a.as_str()))
        .cloned()
        .collect()
}

fn assert_policy_is_the_calls(w: &World, command: &str, implied: &[&str]) {
    let granted = granted(w, command);
    let called = called(w);
    let not_granted: Vec<_> = called.difference(&granted).collect();
    assert!(
        not_granted.is_empty(),
        "{command} calls what its policy does not grant: {not_granted:?}"
    );
    let never_called: Vec<_> = granted
        .iter()
        .filter(|a| !called.contains(*a) && !implied.contains(&a.as_str()))
        .collect();
    assert!(
        never_called.is_empty(),
        "{command}'s policy grants what it never called: {never_called:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn run_is_granted_exactly_what_it_calls() {
    let w = World::new();
    // a migration, a read of a native service's current revision, and an abort (StopTask)
    let o = w.run_on("ass-staging", "image", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = w.run_on(NATIVE, "image", &["status"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = w.run_on(
        "ass-staging",
        "image",
        &["--timeout", "8s", "--", "sh", "-c", "sleep 30"],
    );
    assert_eq!(code(&o), 124, "{}", stderr(&o));
    assert_policy_is_the_calls(&w, "run", &IMPLIED);
}

#[tokio::test(flavor = "multi_thread")]
async fn render_is_granted_exactly_what_it_calls() {
    let w = World::new();
    let out = tempfile::tempdir().unwrap();
    let cluster = w.s("cluster");
    let o = w
        .cmd()
        .args([
            "render",
            "--cluster",
            &cluster,
            "--service",
            "ass-staging-bg",
        ])
        .args(["--container", "rails", "--pin-images", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let image = w.s("image");
    let o = w
        .cmd()
        .args([
            "render",
            "--format",
            "imagedefinitions",
            "--cluster",
            &cluster,
        ])
        .args([
            "--service",
            NATIVE,
            "--container",
            "rails",
            "--image",
            &image,
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_policy_is_the_calls(&w, "render", &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn gate_is_granted_exactly_what_it_calls() {
    let w = World::new();
    common::start_deployment(&w, "image").await;
    let o = common::gate(&w, &["--hook-wait", "30s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // the next deployment's gate is stopped by its deadline: StopTask
    common::start_deployment(&w, "image").await;
    let o = common::gate(
        &w,
        &[
            "--hook-wait",
            "30s",
            "--timeout",
            "8s",
            "--",
            "sh",
            "-c",
            "sleep 30",
        ],
    );
    assert_eq!(code(&o), 124, "{}", stderr(&o));
    assert_policy_is_the_calls(&w, "gate", &IMPLIED);
}

#[tokio::test(flavor = "multi_thread")]
async fn read_is_granted_exactly_what_it_calls() {
    let w = World::new();
    // a recorded migration of the native service, then one whose runner died mid-way
    let o = w.run_on(NATIVE, "image", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let image = w.s("image");
    let (mut child, rx) = common::spawn(
        &w,
        "run",
        &[
            "--service",
            NATIVE,
            "--image",
            &image,
            "--",
            "sh",
            "-c",
            "echo started; sleep 3",
        ],
    );
    common::wait_for(&rx, "task RUNNING");
    std::thread::sleep(std::time::Duration::from_secs(1));
    child.kill().unwrap();
    child.wait().unwrap();
    common::clear_stats(&w);
    // history (a native service's current revision, the record, ECS for the unsettled one) and
    // logs --follow (which records the verdict the dead runner did not)
    let cluster = w.s("cluster");
    let o = w
        .cmd()
        .args(["history", "--cluster", &cluster, "--service", NATIVE])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = w
        .cmd()
        .args([
            "logs",
            "latest",
            "--follow",
            "--cluster",
            &cluster,
            "--service",
            NATIVE,
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_policy_is_the_calls(&w, "read", &[]);
}

#[test]
fn the_docs_policy_is_the_commands_policy() {
    let w = World::new();
    let o = w
        .cmd()
        .args([
            "iam-policy",
            "all",
            "--region",
            "ap-northeast-1",
            "--account",
            "730335441282",
            "--cluster",
            "ass-staging",
            "--service",
            "ass-staging",
            "--migration-family",
            "ass-task-def-staging-migrate",
            "--log-group",
            "/ecs/ass-staging",
            "--ssm-path",
            "/ass-staging/",
            "--role",
            "arn:aws:iam::730335441282:role/ass-ecs-task",
            "--role",
            "arn:aws:iam::730335441282:role/ass-ecs-task-execution",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let printed: Value = serde_json::from_slice(&o.stdout).unwrap();
    let doc: Value =
        serde_json::from_str(&common::file(&common::repo().join("docs/iam-policy.json"))).unwrap();
    assert_eq!(
        doc, printed,
        "docs/iam-policy.json is `ecs-migrate iam-policy all …` as docs/pipeline.md shows it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hook_is_granted_exactly_what_it_calls() {
    use crate::common::finished_within;
    use crate::hook::{deploy, function};
    use serde_json::json;
    use std::time::Duration;
    let w = World::new();
    let f = function(&w, 60, 1, &[]);
    // a migration past its deadline (StopTask, FAILED), then one that succeeds
    let slow = common::revision(
        &w,
        &[
            "--image",
            &format!("rails={}", w.s("image_next")),
            "--env",
            "rails:SLOW_MIGRATION_SECONDS=30",
        ],
    );
    let d = deploy(
        &w,
        &slow,
        &f,
        json!({"container": "rails", "timeout": "3s"}),
    )
    .await;
    let d = finished_within(&w, &d, Duration::from_secs(60)).await;
    assert_eq!(d.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
    assert!(stats(&w.region)["calls"]["StopTask"].as_u64().unwrap_or(0) >= 1);
    let good = common::register_revision(&w, &w.s("image"), None);
    let d = deploy(&w, &good, &f, json!({"container": "rails"})).await;
    let d = finished_within(&w, &d, Duration::from_secs(60)).await;
    assert_eq!(d.status().unwrap().as_str(), "SUCCESSFUL");
    assert_policy_is_the_calls(&w, "hook", &IMPLIED);
}
