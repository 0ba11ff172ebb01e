//! The Lambda lifecycle hook: the unmodified binary registered as a function of the emulator's
//! local Lambda service (cargo-lambda's Runtime API, docs/emulator.md), set as the native
//! service's AWS_LAMBDA hook at PRE_SCALE_UP. UpdateService starts a deployment; the emulator,
//! as ECS, invokes the hook and goes on, or rolls back, by its answers.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use aws_smithy_types::Document;
use common::{NATIVE, World, emulator, service_task_definition, settled, stats};
use serde_json::{Value, json};

const FUNCTION: &str = "migrate-hook";
const MIGRATE_FAMILY: &str = "ass-task-def-staging-migrate";

/// Registers the binary as the hook function in the world's region; its ARN.
/// `timeout`: the function's (seconds); `env`: more of its environment.
pub fn function(w: &World, timeout: u64, concurrency: u64, env: &[(&str, &str)]) -> String {
    let mut environment = json!({
        "AWS_ENDPOINT_URL": emulator().url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "ECS_MIGRATE_POLL_INTERVAL": "100ms",
        "ECS_MIGRATE_DESCRIBE_INTERVAL": "100ms",
        "ECS_MIGRATE_POLL_MAX": "300ms",
        "ECS_MIGRATE_LOG_QUIET": "1s",
        "ECS_MIGRATE_HOOK_CALLBACK_DELAY": "1s",
    });
    for (k, v) in env {
        environment[*k] = json!(v);
    }
    let body = json!({
        "name": FUNCTION,
        "command": [env!("CARGO_BIN_EXE_ecs-migrate")],
        "environment": environment,
        "timeout": timeout,
        "concurrency": concurrency,
    });
    let resp = common::control(
        "POST",
        &format!("/_emulator/lambda?region={}", w.region),
        &body,
    );
    resp["functionArn"].as_str().unwrap().to_string()
}

fn document(v: &Value) -> Document {
    match v {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(aws_smithy_types::Number::PosInt(n.as_u64().unwrap())),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(a) => Document::Array(a.iter().map(document).collect()),
        Value::Object(m) => Document::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), document(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// Deploys a revision to the native service with the hook function in place of its PAUSE
/// hook (`hookDetails`: `details`); the new task definition.
pub async fn deploy(w: &World, td: &str, function_arn: &str, details: Value) -> String {
    use aws_sdk_ecs::types::{
        DeploymentConfiguration, DeploymentLifecycleHook, DeploymentLifecycleHookStage,
        DeploymentLifecycleHookTargetType, DeploymentStrategy,
    };
    let hook = DeploymentLifecycleHook::builder()
        .target_type(DeploymentLifecycleHookTargetType::AwsLambda)
        .hook_target_arn(function_arn)
        .role_arn("arn:aws:iam::123456789012:role/ecs-invokes-the-migration-hook")
        .lifecycle_stages(DeploymentLifecycleHookStage::PreScaleUp)
        .hook_details(document(&details))
        .build();
    let config = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::BlueGreen)
        .bake_time_in_minutes(0)
        .lifecycle_hooks(hook)
        .build();
    common::ecs(w)
        .await
        .update_service()
        .cluster(w.s("cluster"))
        .service(NATIVE)
        .task_definition(td)
        .deployment_configuration(config)
        .send()
        .await
        .unwrap();
    let listed = common::ecs(w)
        .await
        .list_service_deployments()
        .cluster(w.s("cluster"))
        .service(NATIVE)
        .send()
        .await
        .unwrap();
    listed.service_deployments()[0]
        .service_deployment_arn()
        .unwrap()
        .to_string()
}

/// The hook's invocations in the world's region (emulator stats), in order.
fn invocations(w: &World) -> Vec<Value> {
    stats(&w.region)["lambda_invocations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The next release (rails-next, with two more migrations) as a revision of the service's
/// family, its migration taking `seconds` longer.
fn next_release(w: &World, seconds: u64) -> String {
    let image = format!("rails={}", w.s("image_next"));
    let slow = format!("rails:SLOW_MIGRATION_SECONDS={seconds}");
    common::revision(w, &["--image", &image, "--env", &slow])
}

/// The migration tasks launched in the world's cluster.
async fn migrations(w: &World) -> Vec<aws_sdk_ecs::types::Task> {
    common::tasks(w)
        .await
        .into_iter()
        .filter(|t| {
            t.task_definition_arn()
                .is_some_and(|a| a.contains(&format!("/{MIGRATE_FAMILY}:")))
        })
        .collect()
}

/// The function's log (stdout and stderr), as the emulator keeps it.
fn function_log(w: &World) -> String {
    let path = stats(&w.region)["lambda_log_files"][FUNCTION]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::read_to_string(path).unwrap()
}

/// The deployment once it has finished within `limit`; if it has not, the test fails with what
/// the hook did: its invocations and answers, the function's log and the migration tasks.
async fn finished_within(
    w: &World,
    deployment: &str,
    limit: Duration,
) -> aws_sdk_ecs::types::ServiceDeployment {
    match settled(w, deployment, limit).await {
        Ok(d) => d,
        Err(status) => panic!(
            "deployment still {status} after {limit:?}\ninvocations: {:#?}\ntasks: {:#?}\nfunction log:\n{}",
            invocations(w),
            migrations(w).await,
            function_log(w)
        ),
    }
}

async fn finished(w: &World, deployment: &str) -> aws_sdk_ecs::types::ServiceDeployment {
    finished_within(w, deployment, Duration::from_secs(30)).await
}

fn stages(w: &World, deployment: &str) -> Vec<String> {
    stats(&w.region)["deployment_stages"][deployment]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_deployment_is_gated_by_one_migration_even_with_duplicate_invocations() {
    let w = World::new();
    // ECS delivers each invocation twice, at once, to two execution environments
    w.faults(r#"{"lambda_duplicate_invocations": 2}"#);
    let f = function(&w, 60, 2, &[]);
    let td = common::register_revision(&w, &w.s("image"), None);
    let deployment = deploy(&w, &td, &f, json!({"container": "rails"})).await;

    let d = finished(&w, &deployment).await;
    assert_eq!(
        d.status().unwrap().as_str(),
        "SUCCESSFUL",
        "{:?}\n{}",
        d.status_reason(),
        function_log(&w)
    );
    assert_eq!(service_task_definition(&w).await, td);
    // twins that launch at once run the same revision with the deployment's token: RunTask
    // answers both with one task (a twin's own registration is left unused); exactly one
    // migration ran
    let tasks = migrations(&w).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}\n{}", function_log(&w));
    let ran: Vec<_> = tasks
        .iter()
        .filter(|t| t.containers().iter().any(|c| c.exit_code().is_some()))
        .collect();
    assert_eq!(
        ran.len(),
        1,
        "exactly one migration ran: {tasks:?}\n{}",
        function_log(&w)
    );
    assert_eq!(ran[0].containers()[0].exit_code(), Some(0), "{:?}", ran[0]);
    assert_eq!(w.sql("SELECT count(*) FROM schema_migrations"), "3");
    let calls = invocations(&w);
    assert!(calls.len() >= 2, "{calls:?}");
    assert!(
        calls.iter().all(|c| c["error"].is_null()),
        "no invocation failed: {calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c["answer"]["hookStatus"] == "SUCCEEDED"),
        "{calls:?}"
    );
    let log = function_log(&w);
    assert!(
        log.contains("hook answer: SUCCEEDED (the migration succeeded)"),
        "{log}"
    );
    // the record: `history` shows the hook's migration
    let o = w
        .cmd()
        .args(["history", "--cluster", &w.s("cluster"), "--service", NATIVE])
        .args(["--output", "json"])
        .output()
        .unwrap();
    assert_eq!(common::code(&o), 0, "{}", common::stderr(&o));
    let h = common::json_of(&o);
    let ours = h["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["task_arn"] == ran[0].task_arn().unwrap())
        .unwrap_or_else(|| panic!("the migration that ran is in the record: {h}"));
    assert_eq!(ours["kind"], "hook", "{h}");
    assert_eq!(ours["status"], "succeeded", "{h}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_migration_rolls_back_before_any_green_task() {
    let w = World::new();
    let before = service_task_definition(&w).await;
    let f = function(&w, 60, 1, &[]);
    let td = common::register_revision(&w, &w.s("image_broken"), None);
    let deployment = deploy(&w, &td, &f, json!({"container": "rails"})).await;

    let d = finished(&w, &deployment).await;
    assert_eq!(d.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
    assert!(
        d.status_reason().unwrap_or_default().contains("FAILED"),
        "{:?}",
        d.status_reason()
    );
    assert_eq!(service_task_definition(&w).await, before);
    let reached = stages(&w, &deployment);
    assert!(
        !reached.iter().any(|s| s == "SCALE_UP"),
        "no green task was started: {reached:?}"
    );
    let tasks = migrations(&w).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].containers()[0].exit_code(), Some(1));
    let log = function_log(&w);
    assert!(
        log.contains("hook answer: FAILED (the migration failed: exit code 1)"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_secret_fails_the_hook_before_run_task() {
    let w = World::new();
    let f = function(&w, 60, 1, &[]);
    let td = common::register_revision(
        &w,
        &w.s("image"),
        Some(("DB_PASSWORD", "/ass-staging/NOT_THERE")),
    );
    let deployment = deploy(&w, &td, &f, json!({"container": "rails"})).await;

    let d = finished(&w, &deployment).await;
    assert_eq!(d.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
    assert_eq!(
        stats(&w.region)["calls"]["RunTask"].as_u64().unwrap_or(0),
        0,
        "nothing was launched"
    );
    let log = function_log(&w);
    let answer = log
        .lines()
        .find(|l| l.contains("hook answer:"))
        .unwrap_or_default();
    assert!(
        answer.contains("FAILED (this release's task definition cannot run")
            && answer.contains("/ass-staging/NOT_THERE"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_longer_than_an_invocation_spans_several_within_the_functions_time() {
    let w = World::new();
    // a 6 s function and no invocation budget: the function's own deadline bounds each one
    // (3 s of work, 3 s kept for the answer)
    let f = function(&w, 6, 1, &[]);
    let td = next_release(&w, 8);
    let deployment = deploy(&w, &td, &f, json!({"container": "rails"})).await;

    let d = finished_within(&w, &deployment, Duration::from_secs(90)).await;
    assert_eq!(
        d.status().unwrap().as_str(),
        "SUCCESSFUL",
        "{}",
        function_log(&w)
    );
    let calls = invocations(&w);
    assert!(
        calls.iter().all(|c| c["error"].is_null()),
        "none outlived the function: {calls:?}"
    );
    assert!(
        calls
            .iter()
            .all(|c| c["executionId"] == calls[0]["executionId"]),
        "one hook execution"
    );
    // the invocation that launched it (the first, unless its time ran out before the launch)
    let launcher = calls
        .iter()
        .position(|c| c["answer"]["hookDetails"]["ecsMigrateTask"].is_string())
        .unwrap_or_else(|| panic!("no invocation launched it: {calls:?}"));
    let task = calls[launcher]["answer"]["hookDetails"]["ecsMigrateTask"].clone();
    assert!(
        calls.len() >= launcher + 3,
        "several invocations: {calls:?}"
    );
    assert!(
        calls[launcher + 1..]
            .iter()
            .all(|c| c["hookDetails"]["ecsMigrateTask"] == task),
        "later invocations follow the launcher's task: {calls:?}"
    );
    assert_eq!(migrations(&w).await.len(), 1);
    assert_eq!(w.sql("SELECT count(*) FROM schema_migrations"), "5");
    // each log line once in the function's log, however many invocations read it
    let log = function_log(&w);
    assert_eq!(log.matches("AddRoleToUsers: migrated").count(), 1, "{log}");
    assert_eq!(log.matches("CreateComments: migrated").count(), 1, "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_that_crashes_rolls_the_deployment_back() {
    let w = World::new();
    let f = function(&w, 60, 1, &[]);
    let td = next_release(&w, 30);
    let deployment = deploy(&w, &td, &f, json!({"container": "rails"})).await;
    // the function is following the migration when its process dies
    let mut waited = 0;
    while migrations(&w).await.is_empty() {
        waited += 1;
        assert!(waited < 300, "no migration launched");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let listed = common::control_get(&format!("/_emulator/lambda?region={}", w.region));
    let pid = listed["functions"][0]["processes"][0]["function"]
        .as_i64()
        .unwrap();
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();

    let d = finished_within(&w, &deployment, Duration::from_secs(60)).await;
    assert_eq!(d.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
    assert!(
        d.status_reason()
            .unwrap_or_default()
            .contains("Runtime.ExitError"),
        "{:?}",
        d.status_reason()
    );
    assert!(!stages(&w, &deployment).iter().any(|s| s == "SCALE_UP"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_migrations_timeout_stops_it_across_invocations() {
    let w = World::new();
    // each invocation works 3 s; the migration's timeout (10 s) falls in a later one
    let f = function(&w, 60, 1, &[("ECS_MIGRATE_HOOK_INVOCATION_BUDGET", "3s")]);
    let td = next_release(&w, 60);
    let deployment = deploy(&w, &td, &f, json!({"container": "rails", "timeout": "10s"})).await;

    let d = finished_within(&w, &deployment, Duration::from_secs(90)).await;
    assert_eq!(d.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
    let calls = invocations(&w);
    assert!(calls.len() >= 2, "{calls:?}");
    assert!(
        calls[..calls.len() - 1]
            .iter()
            .all(|c| c["answer"]["hookStatus"] == "IN_PROGRESS"),
        "{calls:?}"
    );
    assert!(
        stats(&w.region)["calls"]["StopTask"].as_u64().unwrap_or(0) >= 1,
        "the migration was stopped"
    );
    let tasks = migrations(&w).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].desired_status(), Some("STOPPED"));
    let log = function_log(&w);
    assert!(
        log.contains("hook answer: FAILED (the migration's deadline (hookDetails.timeout or ECS_MIGRATE_TIMEOUT) passed; it was stopped"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_launched_once_the_migrations_deadline_has_passed() {
    let w = World::new();
    // the deadline (2 s) passes while the first invocation looks for an earlier launch
    w.faults(r#"{"latency": {"ListTasks": 3.0}}"#);
    let f = function(&w, 20, 1, &[]);
    let td = next_release(&w, 60);
    let deployment = deploy(&w, &td, &f, json!({"container": "rails", "timeout": "2s"})).await;

    let d = finished_within(&w, &deployment, Duration::from_secs(30)).await;
    assert_eq!(d.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
    let runs = stats(&w.region)["calls"]["RunTask"].as_u64().unwrap_or(0);
    assert_eq!(runs, 0, "nothing launched\n{}", function_log(&w));
    let calls = invocations(&w);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0]["error"].is_null(), "{calls:?}");
    assert_eq!(calls[0]["answer"]["hookStatus"], "FAILED");
    let log = function_log(&w);
    assert!(
        log.contains("hook answer: FAILED (the migration's deadline (hookDetails.timeout or ECS_MIGRATE_TIMEOUT) passed before it could be launched; nothing was launched"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_that_passed_between_invocations_stops_the_migration_at_once() {
    let w = World::new();
    // the first invocation works 5 s; ECS asks again 3 s later, after the 6 s deadline
    let f = function(
        &w,
        60,
        1,
        &[
            ("ECS_MIGRATE_HOOK_INVOCATION_BUDGET", "5s"),
            ("ECS_MIGRATE_HOOK_CALLBACK_DELAY", "3s"),
        ],
    );
    let td = next_release(&w, 60);
    let deployment = deploy(&w, &td, &f, json!({"container": "rails", "timeout": "6s"})).await;

    let d = finished_within(&w, &deployment, Duration::from_secs(60)).await;
    assert_eq!(d.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
    let calls = invocations(&w);
    assert_eq!(calls.len(), 2, "{calls:#?}\n{}", function_log(&w));
    assert_eq!(calls[0]["answer"]["hookStatus"], "IN_PROGRESS");
    assert!(calls[1]["hookDetails"]["ecsMigrateTask"].is_string());
    assert_eq!(calls[1]["answer"]["hookStatus"], "FAILED", "{calls:#?}");
    let tasks = migrations(&w).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].desired_status(), Some("STOPPED"));
    assert!(
        tasks[0]
            .stopped_reason()
            .unwrap_or_default()
            .contains("the migration's timeout"),
        "{:?}",
        tasks[0].stopped_reason()
    );
}
