//! The gate never makes the wrong call (docs/reliability.md, "The right call"): `--attach`
//! follows only the same migration, read-only runs never block a release, a gate that did not
//! run its migration leaves the hook, an exit just before the deadline keeps its verdict, and
//! the migration task keeps the sidecars its container needs.

use crate::common;

use std::process::Stdio;

use common::{
    NATIVE, World, awaiting_hook, code, finished, gate, hook_status, json_of, rest, spawn,
    start_deployment, stderr, stdout, wait_for,
};
use serde_json::{Value, json};

/// A migration that takes a few seconds, given as argv after `--`.
const SLOW: [&str; 4] = ["--", "sh", "-c", "echo migrating; sleep 4; echo done"];

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn attach_follows_only_the_same_migration() {
    let w = World::new();
    let image = w.s("image");
    // the first migration, launched by a CodeBuild build
    let mut c = w.cmd();
    c.args(["run", "--cluster", &w.s("cluster"), "--container", "rails"])
        .args([
            "--service",
            "ass-staging",
            "--image",
            &image,
            "--output",
            "json",
        ])
        .args(SLOW)
        .env("CODEBUILD_BUILD_ID", "migrate:0f3c")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut first = c.spawn().unwrap();
    let rx = common::lines_of(first.stderr.take().unwrap());
    wait_for(&rx, "launched arn:");

    // another image, the same command: busy, naming what runs and who started it
    let broken = w.s("image_broken");
    let mut args = vec!["--service", "ass-staging", "--image", &broken, "--attach"];
    args.extend(["--output", "json"]);
    args.extend(SLOW);
    let o = w.run(&args);
    assert_eq!(code(&o), 121, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["outcome"], "busy");
    assert_eq!(r["attached"], false);
    let error = r["error"].as_str().unwrap();
    for part in [
        format!("image {image}"),
        "command `sh -c \"echo migrating; sleep 4; echo done\"`".to_string(),
        "started by codebuild:migrate:0f3c".to_string(),
        "--attach follows only the same migration".to_string(),
    ] {
        assert!(error.contains(&part), "{part}: {error}");
    }

    // the same image, another command: busy too
    let o = w.run(&[
        "--service",
        "ass-staging",
        "--image",
        &image,
        "--attach",
        "--",
        "sh",
        "-c",
        "echo other",
    ]);
    assert_eq!(code(&o), 121, "{}", stderr(&o));

    // the same migration: followed to its verdict, reported as what it runs
    let mut args = vec!["--service", "ass-staging", "--image", &image, "--attach"];
    args.extend(["--output", "json"]);
    args.extend(SLOW);
    let o = w.run(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["attached"], true);
    assert_eq!(r["image"], image.as_str());
    assert_eq!(
        strings(&r["command"]),
        ["sh", "-c", "echo migrating; sleep 4; echo done"]
    );
    assert_eq!(r["client_token"], Value::Null, "not ours");

    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert_eq!(common::tasks(&w).await.len(), 1, "one migration in all");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_status_run_neither_waits_for_nor_blocks_a_migration() {
    let w = World::new();
    // Rails' db:migrate:status fails on a database that was never migrated
    let o = w.run_on("ass-staging", "image", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (mut migration, rx) = common::spawn_migration(&w, &SLOW);
    wait_for(&rx, "launched arn:");
    // an operator's status while the migration runs: not busy
    let o = w.run_on("ass-staging", "image", &["status", "--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json_of(&o)["outcome"], "succeeded");
    assert!(
        stderr(&o).contains("read-only command: it neither waits for nor blocks"),
        "{}",
        stderr(&o)
    );
    assert_eq!(migration.wait().unwrap().code(), Some(0), "{}", rest(&rx));

    // and a migration while a (slow, read-only) status runs: not busy either
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slow-status.json"),
        r#"{"command": ["sh", "-c", "echo checking; sleep 4"], "readOnly": true}"#,
    )
    .unwrap();
    let presets = dir.path().to_str().unwrap();
    let (mut status, rx) =
        common::spawn_migration(&w, &["slow-status", "--overrides-dir", presets]);
    wait_for(&rx, "launched arn:");
    let o = w.run_on("ass-staging", "image", &["--", "sh", "-c", "echo migrated"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(status.wait().unwrap().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gate_continues_while_an_operators_read_only_run_holds_the_family() {
    let w = World::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slow-status.json"),
        r#"{"command": ["sh", "-c", "echo checking; sleep 6"], "readOnly": true}"#,
    )
    .unwrap();
    let presets = dir.path().to_str().unwrap();
    let (mut status, rx) = common::spawn_run(
        &w,
        &[
            "slow-status",
            "--overrides-dir",
            presets,
            "--service",
            NATIVE,
        ],
    );
    wait_for(&rx, "launched arn:");
    start_deployment(&w, "image").await;
    let o = gate(&w, &["--hook-wait", "30s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["gate"]["action"], "CONTINUE");
    let d = finished(&w, r["gate"]["service_deployment_arn"].as_str().unwrap()).await;
    assert_eq!(d.status().unwrap().as_str(), "SUCCESSFUL");
    assert_eq!(status.wait().unwrap().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_gates_on_one_deployment_run_one_migration_and_continue_it() {
    let w = World::new();
    start_deployment(&w, "image").await;
    let args = [
        "--service",
        NATIVE,
        "--hook-wait",
        "30s",
        "--output",
        "json",
    ];
    let (a, rx_a) = spawn(&w, "gate", &args);
    let (b, rx_b) = spawn(&w, "gate", &args);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (err_a, err_b) = (rest(&rx_a), rest(&rx_b));
    let results: Vec<(i32, Value)> = [&a, &b]
        .iter()
        .map(|o| (code(o), serde_json::from_slice(&o.stdout).unwrap()))
        .collect();
    let winner = results.iter().find(|(c, _)| *c == 0);
    let loser = results.iter().find(|(c, _)| *c == 121);
    let (Some((_, won)), Some((_, lost))) = (winner, loser) else {
        panic!("want one 0 and one 121: {results:?}\n{err_a}\n{err_b}");
    };
    assert_eq!(won["gate"]["action"], "CONTINUE");
    assert_eq!(
        lost["gate"]["action"],
        Value::Null,
        "the loser leaves the hook"
    );
    assert_eq!(lost["gate"]["attempted_action"], Value::Null);
    assert!(
        lost["gate"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("another migration of this family is running"),
        "{lost}"
    );
    let d = finished(&w, won["gate"]["service_deployment_arn"].as_str().unwrap()).await;
    assert_eq!(d.status().unwrap().as_str(), "SUCCESSFUL");
    assert_eq!(w.sql("SELECT count(*) FROM schema_migrations"), "3");
    let ran: Vec<_> = common::tasks(&w)
        .await
        .into_iter()
        .filter(|t| {
            t.containers()
                .iter()
                .any(|c| c.name() == Some("rails") && c.exit_code() == Some(0))
        })
        .collect();
    assert_eq!(ran.len(), 1, "exactly one migration ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_5xx_burst_before_launch_leaves_the_hook_and_a_rerun_continues() {
    let w = World::new();
    start_deployment(&w, "image").await;
    let (deployment, hook) = awaiting_hook(&w).await;
    // more 503s than the SDK retries (6 attempts)
    w.faults(&format!(
        r#"{{"error_burst": {{"GetParameters": {{"count": 6, "status": 503, "region": "{}"}}}}}}"#,
        w.region
    ));
    let o = gate(&w, &["--hook-wait", "30s"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let served = &common::fault_knobs(&w.region)["error_burst"]["GetParameters"]["served"];
    assert_eq!(served, 6, "the burst fired: {served}");
    let r = json_of(&o);
    assert_eq!(r["outcome"], "launch_failed");
    assert_eq!(r["gate"]["action"], Value::Null);
    assert_eq!(r["gate"]["attempted_action"], Value::Null);
    assert!(
        r["gate"]["reason"]
            .as_str()
            .unwrap()
            .contains("rerun the gate"),
        "{r}"
    );
    assert!(
        r["error"].as_str().unwrap().contains("HTTP 503"),
        "the hint says it is AWS's own error: {r}"
    );
    assert_eq!(hook_status(&w, &deployment, &hook).await, "AWAITING_ACTION");
    assert!(common::tasks(&w).await.is_empty(), "nothing launched");

    let o = gate(&w, &["--hook-wait", "30s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json_of(&o)["gate"]["action"], "CONTINUE");
    let d = finished(&w, &deployment).await;
    assert_eq!(d.status().unwrap().as_str(), "SUCCESSFUL");
}

#[test]
fn an_exit_in_the_last_describe_interval_before_the_timeout_succeeds() {
    let w = World::new();
    // describes every 60 s: at launch, then only after the 12 s deadline; the container exits
    // ~6.5 s after launch, before the deadline: seen by the describe one second before it (or
    // by the last look at it), never by the regular cadence
    let o = w.run_on(
        "ass-staging",
        "image",
        &[
            "--describe-interval",
            "60s",
            "--poll-max",
            "60s",
            "--timeout",
            "12s",
            "--output",
            "json",
            "--",
            "sh",
            "-c",
            "sleep 6; echo done",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["outcome"], "succeeded");
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["stop_code"], "EssentialContainerExited");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exit_just_before_the_hooks_expiry_is_continued_in_time() {
    let w = World::new();
    w.faults(&format!(
        r#"{{"hook_timeout_seconds": {{"{}": 20}}}}"#,
        w.region
    ));
    start_deployment(&w, "image").await;
    let (deployment, _) = awaiting_hook(&w).await;
    // the deadline is the expiry less 2 s (~18 s after the hook); describes every 60 s would
    // see the exit (~11 s after the hook) only long after it
    let o = gate(
        &w,
        &[
            "--hook-wait",
            "30s",
            "--describe-interval",
            "60s",
            "--poll-max",
            "60s",
            "--",
            "sh",
            "-c",
            "sleep 10; echo done",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["outcome"], "succeeded");
    assert_eq!(r["gate"]["action"], "CONTINUE");
    let d = finished(&w, &deployment).await;
    assert_eq!(d.status().unwrap().as_str(), "SUCCESSFUL");
}

/// The seed's account, from its task definition ARN.
fn account(w: &World) -> String {
    w.s("task_definition_arn")
        .split(':')
        .nth(4)
        .unwrap()
        .to_string()
}

/// A revision whose rails reaches its database through a pgbouncer sidecar on localhost
/// (dependsOn HEALTHY); `extra` changes the sidecar's definition.
fn with_pgbouncer(w: &World, extra: Value) -> String {
    let mut sidecar = json!({
        "name": "pgbouncer",
        "image": format!("{}.dkr.ecr.{}.amazonaws.com/pgbouncer:1.23", account(w), w.region),
        "essential": true,
        "healthCheck": {"command": ["CMD", "pgbouncer-check"], "interval": 5, "timeout": 2, "retries": 3},
        "secrets": [{"name": "DB_NAME", "valueFrom": "/ass-staging/db/name"}],
    });
    for (k, v) in extra.as_object().unwrap() {
        sidecar[k] = v.clone();
    }
    let image = format!("rails={}", w.s("image"));
    let sidecar = sidecar.to_string();
    common::revision(
        w,
        &[
            "--image",
            &image,
            "--add-container",
            &sidecar,
            "--depends-on",
            "rails:pgbouncer:HEALTHY",
            "--env",
            "rails:DATABASE_HOST=127.0.0.1",
            "--env",
            "rails:DATABASE_PORT=6432",
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_migration_task_keeps_the_proxy_its_container_needs() {
    let w = World::new();
    let td = with_pgbouncer(&w, json!({}));
    let (subnet, image) = (w.subnet("private-a"), w.s("image"));
    let base = [
        "--task-definition",
        &td,
        "--subnets",
        &subnet,
        "--output",
        "json",
    ];
    let mut args = base.to_vec();
    args.extend(["--image", &image]);
    let o = w.run(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(strings(&r["sidecars"]), ["pgbouncer (HEALTHY)"]);
    assert_eq!(w.sql("SELECT count(*) FROM schema_migrations"), "3");
    let migration_td = common::ecs(&w)
        .await
        .describe_task_definition()
        .task_definition(r["task_definition_arn"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let containers = migration_td
        .task_definition()
        .unwrap()
        .container_definitions();
    let names: Vec<_> = containers.iter().filter_map(|c| c.name()).collect();
    assert_eq!(names, ["rails", "pgbouncer"]);
    assert_eq!(containers[1].essential(), Some(false));

    // without the sidecar, rails cannot reach its database: it fails, and was warned
    let mut args = base.to_vec();
    args.extend(["--image", &image, "status", "--without-sidecars"]);
    let o = w.run(&args);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ConnectionNotEstablished"),
        "{}",
        stderr(&o)
    );
    let r = json_of(&o);
    assert!(
        r["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("--without-sidecars: 'rails' depends on pgbouncer")),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_images_registry_credentials_are_checked_before_launch() {
    let w = World::new();
    let missing = format!(
        "arn:aws:secretsmanager:{}:{}:secret:registry-creds-AbCdEf",
        w.region,
        account(&w)
    );
    let td = with_pgbouncer(
        &w,
        json!({"repositoryCredentials": {"credentialsParameter": missing}}),
    );
    let subnet = w.subnet("private-a");
    let image = w.s("image");
    let o = w.run(&[
        "--task-definition",
        &td,
        "--subnets",
        &subnet,
        "--image",
        &image,
        "--output",
        "json",
    ]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let error = json_of(&o)["error"].as_str().unwrap().to_string();
    assert!(
        error.contains(&format!(
            "Secrets Manager secret {missing} for registry credentials of pgbouncer: not found"
        )),
        "{error}"
    );
    assert!(common::tasks(&w).await.is_empty(), "nothing launched");
}

#[test]
fn each_command_offers_only_its_own_flags() {
    let w = World::new();
    let help = |sub: &str| stdout(&w.cmd().args([sub, "--help"]).output().unwrap());
    let gate_help = help("gate");
    for absent in [
        "--dry-run",
        "--task-definition",
        "--allow-during-deployment",
    ] {
        assert!(!gate_help.contains(absent), "gate --help offers {absent}");
    }
    assert!(gate_help.contains("rollback: Stop the task and roll the deployment back"));
    let run_help = help("run");
    assert!(run_help.contains("--dry-run"));
    assert!(
        !run_help.contains("roll the deployment back"),
        "run --help offers --on-abort rollback"
    );
    let o = w.run(&["--service", "ass-staging", "--on-abort", "rollback"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = w
        .cmd()
        .args(["gate", "--cluster", "c", "--task-definition", "x"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_json_result_says_what_is_known_on_every_path() {
    let w = World::new();
    // gate, nothing to gate: 125 with the gate, the image, the service and the region
    let image = w.s("image");
    let o = gate(&w, &["--hook-wait", "1s", "--image", &image]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["gate"]["stage"], "PRE_SCALE_UP");
    assert_eq!(r["gate"]["service_deployment_arn"], Value::Null);
    assert_eq!(r["image"], image.as_str());
    assert_eq!(r["service"], NATIVE);
    assert_eq!(r["region"], w.region.as_str());

    // a deadline: 124 with the error naming it
    let o = w.run_on(
        "ass-staging",
        "image",
        &[
            "--timeout",
            "8s",
            "--output",
            "json",
            "--",
            "sh",
            "-c",
            "sleep 30",
        ],
    );
    assert_eq!(code(&o), 124, "{}", stderr(&o));
    let r = json_of(&o);
    let error = r["error"].as_str().unwrap();
    assert!(
        error.starts_with("deadline reached (--timeout 8s); task arn:")
            && error.ends_with("was stopped"),
        "{error}"
    );
    assert_eq!(r["service"], "ass-staging");
    assert!(
        !stderr(&o).contains("ecs-migrate: ecs-migrate:"),
        "{}",
        stderr(&o)
    );

    // one log line is "1 line"
    let o = w.run_on("ass-staging", "image", &["--", "echo", "one"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("(1 line)"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_continue_names_what_was_attempted() {
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
            "echo migrating; sleep 4",
        ],
    );
    wait_for(&rx, "launched arn:");
    let (deployment, hook) = awaiting_hook(&w).await;
    common::ecs(&w)
        .await
        .continue_service_deployment()
        .service_deployment_arn(&deployment)
        .hook_id(hook)
        .action(aws_sdk_ecs::types::DeploymentLifecycleHookAction::Rollback)
        .send()
        .await
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(120), "{}", rest(&rx));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["gate"]["attempted_action"], "CONTINUE");
    assert_eq!(r["gate"]["action"], Value::Null);
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("aws ecs describe-service-deployments --service-deployment-arns"),
        "{r}"
    );
}
