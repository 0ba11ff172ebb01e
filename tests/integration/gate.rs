//! `ecs-migrate gate` against the emulator's native blue/green service `ass-staging-native`
//! (ECS controller, BLUE_GREEN, a PAUSE hook at PRE_SCALE_UP): the deployment is started with
//! UpdateService, the gate migrates at the hook and continues or rolls back the deployment.

use crate::common;

use std::time::{Duration, Instant};

use common::{World, code, json_of, rest, spawn, stderr, wait_for};
use serde_json::Value;

use common::{NATIVE, finished, gate, service_task_definition, start_deployment};

#[tokio::test(flavor = "multi_thread")]
async fn a_passing_migration_continues_the_deployment_to_the_new_revision() {
    let w = World::new();
    let new_td = start_deployment(&w, "image").await;
    let o = gate(&w, &["--hook-wait", "30s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["outcome"], "succeeded");
    assert_eq!(
        r["image"],
        w.s("image").as_str(),
        "the target revision's image"
    );
    let g = &r["gate"];
    assert_eq!(g["action"], "CONTINUE");
    assert_eq!(g["stage"], "PRE_SCALE_UP");
    assert_eq!(g["timeout_action"], "ROLLBACK");
    assert!(g["hook_id"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(g["hook_expires_at"].as_str().is_some());
    assert_eq!(w.sql("SELECT count(*) FROM schema_migrations"), "3");

    let d = finished(&w, g["service_deployment_arn"].as_str().unwrap()).await;
    assert_eq!(d.status().unwrap().as_str(), "SUCCESSFUL");
    assert_eq!(service_task_definition(&w).await, new_td);

    // with no deployment in progress, `run` migrates with the revision that now serves
    let o = w.run(&["--service", NATIVE, "status", "--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "service {NATIVE} runs {new_td} (service revision "
        )),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_migration_rolls_the_deployment_back() {
    let w = World::new();
    let before = service_task_definition(&w).await;
    start_deployment(&w, "image_broken").await;
    let o = gate(&w, &["--hook-wait", "30s"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["outcome"], "failed");
    assert_eq!(r["gate"]["action"], "ROLLBACK");
    let d = finished(&w, r["gate"]["service_deployment_arn"].as_str().unwrap()).await;
    assert_eq!(d.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
    assert_eq!(
        service_task_definition(&w).await,
        before,
        "back on the old revision"
    );

    // --on-failure leave: the hook is not answered
    start_deployment(&w, "image_broken").await;
    let o = gate(&w, &["--hook-wait", "30s", "--on-failure", "leave"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["gate"]["action"], Value::Null);
    assert!(
        r["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("else its timeout action (ROLLBACK) applies")),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_deployment_in_progress_is_a_clear_error_and_launches_nothing() {
    let w = World::new();
    let o = gate(&w, &["--hook-wait", "2s"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let err = stderr(&o);
    let line = err.lines().find(|l| l.contains("error:")).unwrap();
    assert!(
        line.contains("no blue/green deployment reached its PAUSE hook at PRE_SCALE_UP")
            && line.contains("nothing was launched"),
        "{line}"
    );
    assert!(common::tasks(&w).await.is_empty(), "no task launched");

    // a service that is not native blue/green: usage error before any wait
    let mut c = w.cmd();
    c.args([
        "gate",
        "--cluster",
        &w.s("cluster"),
        "--service",
        "ass-staging",
    ])
    .args(["--container", "rails"]);
    let o = c.output().unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is not an ECS native blue/green service"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hook_expiring_first_stops_the_migration_and_its_timeout_action_applies() {
    let w = World::new();
    w.faults(&format!(
        r#"{{"hook_timeout_seconds": {{"{}": 8}}}}"#,
        w.region
    ));
    start_deployment(&w, "image").await;
    let started = Instant::now();
    let o = gate(
        &w,
        &[
            "--hook-wait",
            "30s",
            "--",
            "sh",
            "-c",
            "echo migrating; sleep 60",
        ],
    );
    assert_eq!(code(&o), 124, "{}", stderr(&o));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "stopped before the hook expired"
    );
    let r = json_of(&o);
    assert_eq!(r["outcome"], "timed_out");
    assert_eq!(r["gate"]["action"], Value::Null);
    assert!(stderr(&o).contains("the hook expires at"), "{}", stderr(&o));
    let task = common::tasks(&w).await;
    assert!(
        task.iter().all(|t| t.desired_status() == Some("STOPPED")),
        "the migration task was stopped"
    );
    let d = finished(&w, r["gate"]["service_deployment_arn"].as_str().unwrap()).await;
    assert_eq!(d.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
    assert_eq!(
        d.lifecycle_hook_details()[0].status().unwrap().as_str(),
        "TIMED_OUT"
    );
}

/// A gate whose migration runs long, sent SIGTERM once its task runs: the task ARN, the
/// process output and its stderr.
fn gate_then_sigterm(w: &World, extra: &[&str]) -> (String, std::process::Output, String) {
    let mut args = vec!["--service", NATIVE, "--hook-wait", "30s"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", "echo migrating; sleep 60"]);
    let (child, rx) = spawn(w, "gate", &args);
    let seen = wait_for(&rx, "launched arn:");
    let task_arn = seen
        .lines()
        .find_map(|l| l.split("launched ").nth(1))
        .unwrap()
        .to_string();
    wait_for(&rx, "task RUNNING");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    (task_arn, out, rest(&rx))
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_migration_stops_the_task_and_leaves_the_hook() {
    let w = World::new();
    start_deployment(&w, "image").await;
    let (task_arn, out, err) = gate_then_sigterm(&w, &[]);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("the hook is left unanswered (the migration was aborted before its verdict"),
        "{err}"
    );
    let task = common::tasks(&w)
        .await
        .into_iter()
        .find(|t| t.task_arn() == Some(task_arn.as_str()))
        .unwrap();
    assert_eq!(task.desired_status(), Some("STOPPED"));
    // the deployment still waits at its hook (its own timeout decides)
    let listed = common::ecs(&w)
        .await
        .list_service_deployments()
        .cluster(w.s("cluster"))
        .service(NATIVE)
        .status(aws_sdk_ecs::types::ServiceDeploymentStatus::InProgress)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.service_deployments().len(), 1);

    // --on-abort rollback: the same hook, answered with ROLLBACK on the signal
    let (_, out, err) = gate_then_sigterm(&w, &["--on-abort", "rollback", "--output", "json"]);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["gate"]["action"], "ROLLBACK");
    let d = finished(&w, r["gate"]["service_deployment_arn"].as_str().unwrap()).await;
    assert_eq!(d.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_refuses_while_a_deployment_is_in_progress() {
    let w = World::new();
    start_deployment(&w, "image").await;
    common::awaiting_hook(&w).await;
    let o = w.run(&["--service", NATIVE, "--image", &w.s("image")]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("has a blue/green deployment in progress")
            && stderr(&o).contains("use `ecs-migrate gate`"),
        "{}",
        stderr(&o)
    );
    assert!(common::tasks(&w).await.is_empty(), "nothing launched");
    let o = w.run(&[
        "--service",
        NATIVE,
        "--image",
        &w.s("image"),
        "--allow-during-deployment",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("using the revision it replaces"),
        "{}",
        stderr(&o)
    );

    // a gate for another image does not answer this deployment's hook
    let launched = common::tasks(&w).await.len();
    let o = gate(&w, &["--hook-wait", "30s", "--image", &w.s("image_broken")]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let r = json_of(&o);
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("it is not this release's deployment"),
        "{r}"
    );
    assert_eq!(r["gate"]["action"], Value::Null);
    assert_eq!(common::tasks(&w).await.len(), launched, "nothing launched");
}

#[test]
fn bad_gate_input_is_refused_before_any_call() {
    let w = World::new();
    let cluster = w.s("cluster");
    for (args, says) in [
        (
            vec!["--task-definition", "ass-task-def-staging"],
            "unexpected argument '--task-definition'",
        ),
        (
            vec!["--image", "rails:v2"],
            "gate answers a service's deployment",
        ),
        (
            vec!["--service", NATIVE, "--dry-run"],
            "unexpected argument '--dry-run'",
        ),
        (
            vec!["--service", NATIVE, "--stage", "BAKE_TIME"],
            "invalid value 'BAKE_TIME'",
        ),
        (
            vec!["--service", NATIVE, "--on-failure", "ignore"],
            "invalid value 'ignore'",
        ),
        (
            vec!["--service", NATIVE, "--hook-wait", "8d"],
            "longer than the maximum",
        ),
    ] {
        let o = w
            .cmd()
            .args(["gate", "--cluster", &cluster, "--container", "rails"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    // and `run` does not offer --on-abort rollback, which answers a gate's hook
    let o = w.run(&["--service", "ass-staging", "--on-abort", "rollback"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("invalid value 'rollback' for '--on-abort"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_answered_by_someone_else_meanwhile_is_hook_failed() {
    let w = World::new();
    start_deployment(&w, "image").await;
    let (child, rx) = spawn(
        &w,
        "gate",
        &[
            "--service",
            NATIVE,
            "--hook-wait",
            "30s",
            "--output",
            "json",
            "--",
            "sh",
            "-c",
            "echo migrating; sleep 6",
        ],
    );
    wait_for(&rx, "launched arn:");
    // an operator rolls the deployment back by hand while the migration runs
    let ecs = common::ecs(&w).await;
    let listed = ecs
        .list_service_deployments()
        .cluster(w.s("cluster"))
        .service(NATIVE)
        .status(aws_sdk_ecs::types::ServiceDeploymentStatus::InProgress)
        .send()
        .await
        .unwrap();
    let arn = listed.service_deployments()[0]
        .service_deployment_arn()
        .unwrap()
        .to_string();
    let d = ecs
        .describe_service_deployments()
        .service_deployment_arns(&arn)
        .send()
        .await
        .unwrap();
    let hook = d.service_deployments()[0].lifecycle_hook_details()[0]
        .hook_id()
        .unwrap()
        .to_string();
    ecs.continue_service_deployment()
        .service_deployment_arn(&arn)
        .hook_id(hook)
        .action(aws_sdk_ecs::types::DeploymentLifecycleHookAction::Rollback)
        .send()
        .await
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = rest(&rx);
    assert_eq!(out.status.code(), Some(120), "{err}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["outcome"], "hook_failed");
    assert_eq!(r["exit_code"], 0, "the migration itself succeeded");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("the migration succeeded, but the deployment did not take CONTINUE"),
        "{r}"
    );
    assert_eq!(r["gate"]["action"], Value::Null);
}
