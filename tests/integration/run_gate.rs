//! `ecs-migrate run` end to end: the real binary against the emulator's seeded world.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::{World, code, json_of, stats, stderr, stdout};
use serde_json::Value;

const MIGRATED: [&str; 3] = ["20240101000000", "20240215093000", "20240301120000"];

async fn ecs(w: &World) -> aws_sdk_ecs::Client {
    common::ecs(w).await
}

async fn describe_task(w: &World, arn: &str) -> aws_sdk_ecs::types::Task {
    let out = ecs(w)
        .await
        .describe_tasks()
        .cluster(w.s("cluster"))
        .tasks(arn)
        .send()
        .await
        .unwrap();
    out.tasks()[0].clone()
}

async fn task_count(w: &World) -> usize {
    common::tasks(w).await.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_succeeds_with_the_new_image_and_reuses_the_revision() {
    let w = World::new();
    let image = w.s("image");
    let o = w.run_on("ass-staging", "image", &["migrate", "--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["outcome"], "succeeded");
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["image"], image.as_str());
    assert_eq!(r["migrated_versions"], serde_json::json!(MIGRATED));
    assert_eq!(r["task_definition_registered"], true);
    assert_eq!(
        w.sql("SELECT version FROM schema_migrations ORDER BY version"),
        MIGRATED.join("\n")
    );
    // container logs went to stderr in JSON mode, in order
    let err = stderr(&o);
    let first = err.find("CreateUsers: migrated").unwrap();
    let last = err.find("CreatePosts: migrated").unwrap();
    assert!(first < last);

    // the registered migration task definition has exactly the expected shape
    let td_arn = r["task_definition_arn"].as_str().unwrap().to_string();
    assert!(
        td_arn.contains(":task-definition/ass-task-def-staging-migrate:1"),
        "{td_arn}"
    );
    let td = ecs(&w)
        .await
        .describe_task_definition()
        .task_definition(&td_arn)
        .send()
        .await
        .unwrap();
    let td = td.task_definition().unwrap();
    assert_eq!(td.container_definitions().len(), 1);
    let c = &td.container_definitions()[0];
    assert_eq!(c.name(), Some("rails"));
    assert_eq!(c.image(), Some(image.as_str()));
    assert_eq!(c.essential(), Some(true));
    assert!(
        c.health_check().is_none() && c.depends_on().is_empty() && c.port_mappings().is_empty()
    );
    assert_eq!(
        c.secrets().len(),
        7,
        "six SSM parameters and the RDS secret"
    );
    let options = c.log_configuration().unwrap().options().unwrap();
    assert_eq!(
        options.get("mode").map(String::as_str),
        Some("blocking"),
        "awslogs pinned to blocking"
    );
    assert_eq!(c.entry_point(), ["/usr/bin/entrypoint.sh"]);
    assert_eq!((td.cpu(), td.memory()), (Some("256"), Some("512")));
    assert_eq!(td.volumes().len(), 1);
    assert!(
        td.execution_role_arn()
            .unwrap()
            .ends_with("role/ass-ecs-task-execution")
    );

    // the task ran with the service's network, on FARGATE, tagged and startedBy the runner
    let task = describe_task(&w, r["task_arn"].as_str().unwrap()).await;
    assert_eq!(
        task.started_by(),
        Some("ecs-migrate/ass-task-def-staging-migrate")
    );
    assert_eq!(task.launch_type().map(|l| l.as_str()), Some("FARGATE"));
    let subnet = task.attachments()[0]
        .details()
        .iter()
        .find(|d| d.name() == Some("subnetId"))
        .unwrap()
        .value()
        .unwrap()
        .to_string();
    assert_eq!(subnet, w.subnet("private-a"));

    // a second run with the same image reuses the revision
    let o = w.run_on("ass-staging", "image", &["migrate", "--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r2 = json_of(&o);
    assert_eq!(r2["task_definition_arn"], td_arn.as_str());
    assert_eq!(r2["task_definition_registered"], false);
    assert_eq!(
        r2["migrated_versions"],
        serde_json::json!([]),
        "nothing left to migrate"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn code_deploy_service_runs_in_the_primary_task_sets_subnets() {
    let w = World::new();
    let o = w.run_on("ass-staging-bg", "image", &["--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("(PRIMARY task set ecs-svc/"),
        "{}",
        stderr(&o)
    );
    let r = json_of(&o);
    let task = describe_task(&w, r["task_arn"].as_str().unwrap()).await;
    let subnet = task.attachments()[0]
        .details()
        .iter()
        .find(|d| d.name() == Some("subnetId"))
        .unwrap()
        .value()
        .unwrap()
        .to_string();
    assert_eq!(
        subnet,
        w.subnet("bg-a"),
        "PRIMARY task set subnets, not the service-level ones"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_migration_passes_its_exit_code_through() {
    let w = World::new();
    let o = w.run_on("ass-staging", "image_broken", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(
            "StandardError: An error has occurred, this and all later migrations canceled:"
        ),
        "{out}"
    );
    // Rails' error report is on stderr, unbuffered; its stdout is buffered in a container, so
    // in the task's log the report lands before the migration lines it belongs to
    let report = out.find("rails aborted!").expect("Rails' error report");
    let migrating = out
        .find("AddUniqueIndexToUsers: migrating")
        .expect("the migration's lines");
    assert!(report < migrating, "{out}");
    assert!(
        out.contains("(See full trace by running task with --trace)"),
        "{out}"
    );
    assert!(
        stderr(&o).contains("result: failed (exit 1), container exit code 1"),
        "{}",
        stderr(&o)
    );
    // the three good migrations stayed applied; the failing one rolled back
    assert_eq!(w.sql("SELECT count(*) FROM schema_migrations"), "3");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_secret_is_caught_before_anything_is_launched() {
    let w = World::new();
    let ssm = aws_sdk_ssm::Client::new(&w.sdk().await);
    ssm.delete_parameter()
        .name("/ass-staging/rails-master-key")
        .send()
        .await
        .unwrap();
    ssm.delete_parameter()
        .name("/ass-staging/db/name")
        .send()
        .await
        .unwrap();
    let o = w.run_on("ass-staging", "image", &["--output", "json"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("2 secret(s) the task needs do not exist"),
        "{err}"
    );
    assert!(
        err.contains("/ass-staging/rails-master-key") && err.contains("/ass-staging/db/name"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains("error:")).count(),
        1,
        "one-line error: {err}"
    );
    let r = json_of(&o);
    assert_eq!(r["outcome"], "launch_failed");
    assert_eq!(r["task_arn"], Value::Null);
    assert_eq!(task_count(&w).await, 0, "no task launched");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_image_exits_126_with_the_reason() {
    let w = World::new();
    let o = w.run_on("ass-staging", "image_missing", &["--output", "json"]);
    assert_eq!(code(&o), 126, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["outcome"], "not_started");
    assert_eq!(r["exit_code"], Value::Null);
    assert_eq!(r["stop_code"], "TaskFailedToStart");
    assert!(
        r["stopped_reason"]
            .as_str()
            .unwrap()
            .starts_with("CannotPullContainerError")
    );
    assert!(
        r["container_reason"]
            .as_str()
            .unwrap()
            .contains("rails-does-not-exist")
    );
    let text = w.run_on("ass-staging", "image_missing", &[]);
    assert_eq!(code(&text), 126);
    assert!(
        stderr(&text).contains("stopped reason: CannotPullContainerError"),
        "{}",
        stderr(&text)
    );
}

/// A container that ignores SIGTERM: after StopTask it runs until the stop timeout's SIGKILL.
const IGNORES_SIGTERM: &[&str] = &[
    "--",
    "sh",
    "-c",
    "trap '' TERM; while :; do sleep 0.1; done",
];

/// Starts `ecs-migrate run` in the background and waits until the task is RUNNING.
fn spawn_running(
    w: &World,
    extra: &[&str],
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<String>,
    String,
) {
    let (child, rx) = common::spawn_migration(w, extra);
    let seen = common::wait_for(&rx, "task RUNNING");
    (child, rx, seen)
}

fn collect(rx: &std::sync::mpsc::Receiver<String>) -> String {
    common::rest(rx)
}

fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

fn task_arn_in(text: &str) -> String {
    let at = text.find("launched ").expect("launched line");
    text[at + 9..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_run_stops_the_task_and_exits_130() {
    let w = World::new();
    let (child, rx, before) = spawn_running(&w, &["--", "sh", "-c", "echo started; sleep 60"]);
    // the container's shell runs: its first line reached the log
    let logs = aws_sdk_cloudwatchlogs::Client::new(&w.sdk().await);
    let stream = format!("ecs/ass-staging/rails/{}", task_id(&task_arn_in(&before)));
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while !common::log_messages_if_any(&logs, &stream)
        .await
        .iter()
        .any(|l| l == "started")
    {
        assert!(
            std::time::Instant::now() < until,
            "the container never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = before + &collect(&rx);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted by SIGTERM; stopping task"),
        "{err}"
    );
    assert!(err.contains("container exited with code 143"), "{err}");
    let arn = task_arn_in(&err);
    let task = describe_task(&w, &arn).await;
    assert_eq!(task.desired_status(), Some("STOPPED"));
    assert_eq!(
        task.containers()[0].exit_code(),
        Some(143),
        "the container stopped"
    );
    assert_eq!(task.stop_code().map(|s| s.as_str()), Some("UserInitiated"));
    assert_eq!(
        task.stopped_reason(),
        Some("ecs-migrate: interrupted by SIGTERM")
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("started"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sigint_exits_at_once() {
    let w = World::new();
    // the container ignores SIGTERM, so after the first SIGINT the task takes the stop timeout
    let (child, rx, before) = spawn_running(&w, IGNORES_SIGTERM);
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let mut progress = String::new();
    while !progress.contains("StopTask sent") {
        progress += &rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    assert!(
        progress.contains("interrupted by SIGINT; stopping task"),
        "{progress}"
    );
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(collect(&rx).contains("second SIGINT, exiting now"));
    // it did not wait for the task: SIGKILL comes only after the stop timeout
    let task = describe_task(&w, &task_arn_in(&before)).await;
    assert_ne!(
        task.last_status(),
        Some("STOPPED"),
        "exited without waiting for STOPPED"
    );
    assert_eq!(
        task.desired_status(),
        Some("STOPPED"),
        "the first SIGINT sent StopTask"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_mode_answers_with_one_document_on_every_exit_path() {
    let w = World::new();
    // a usage error clap itself reports
    let o = w.run_on(
        "ass-staging",
        "image",
        &["--timeout", "garbage", "--output", "json"],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let doc = json_of(&o);
    assert_eq!(doc["outcome"], "usage_error");
    assert_eq!(doc["process_exit_code"], 2);
    assert!(doc["error"].as_str().unwrap().contains("garbage"), "{doc}");
    // a second SIGINT
    let (child, rx, before) =
        spawn_running(&w, &[&["--output", "json"][..], IGNORES_SIGTERM].concat());
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    common::wait_for(&rx, "StopTask sent");
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["outcome"], "interrupted");
    assert_eq!(doc["task_arn"], task_arn_in(&before).as_str());
    ecs(&w)
        .await
        .stop_task()
        .cluster(w.s("cluster"))
        .task(task_arn_in(&before))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deadline_stops_the_task_and_exits_124() {
    let w = World::new();
    let o = w.run_on(
        "ass-staging",
        "image",
        &[
            "--timeout",
            "10s",
            "--output",
            "json",
            "--",
            "sh",
            "-c",
            "echo working; sleep 60",
        ],
    );
    assert_eq!(code(&o), 124, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["outcome"], "timed_out");
    assert_eq!(r["stop_code"], "UserInitiated");
    assert!(
        stderr(&o).contains("deadline reached (--timeout 10s)"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("working"));
}

#[tokio::test(flavor = "multi_thread")]
async fn detach_on_deadline_leaves_the_task_running() {
    let w = World::new();
    let o = w.run_on(
        "ass-staging",
        "image",
        &[
            "--timeout",
            "8s",
            "--on-abort",
            "detach",
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
    assert_eq!(r["detached"], true);
    let task = describe_task(&w, r["task_arn"].as_str().unwrap()).await;
    assert_ne!(
        task.last_status(),
        Some("STOPPED"),
        "detached: the task was left running"
    );
    assert_eq!(
        task.desired_status(),
        Some("RUNNING"),
        "no StopTask was sent"
    );
    assert!(stderr(&o).contains("leaving task"), "{}", stderr(&o));
    ecs(&w)
        .await
        .stop_task()
        .cluster(w.s("cluster"))
        .task(task.task_arn().unwrap())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_concurrent_run_is_refused_naming_the_running_task() {
    let w = World::new();
    let (child, rx, _) = spawn_running(&w, &["--", "sh", "-c", "sleep 60"]);
    let o = w.run_on("ass-staging", "image", &[]);
    assert_eq!(code(&o), 121, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("another migration is running: arn:aws:ecs:"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("--allow-concurrent"));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", collect(&rx));
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_and_down_presets_change_the_database() {
    let w = World::new();
    let image = w.s("image");
    let o = w.run(&["migrate", "--service", "ass-staging", "--image", &image]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = w.run(&[
        "rollback",
        "--set",
        "STEP=2",
        "--service",
        "ass-staging",
        "--image",
        &image,
        "--output",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        json_of(&o)["reverted_versions"],
        serde_json::json!(["20240301120000", "20240215093000"])
    );
    assert_eq!(
        w.sql("SELECT version FROM schema_migrations"),
        "20240101000000"
    );
    let o = w.run(&[
        "down",
        "--set",
        "VERSION=20240101000000",
        "--service",
        "ass-staging",
        "--image",
        &image,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(w.sql("SELECT count(*) FROM schema_migrations"), "0");
    assert_eq!(
        w.sql("SELECT count(*) FROM sqlite_master WHERE name='users'"),
        "0"
    );
    let o = w.run(&["status", "--service", "ass-staging", "--image", &image]);
    assert!(
        stdout(&o).contains("  down    20240101000000  Create users"),
        "{}",
        stdout(&o)
    );
}

/// Bad input and what each gets (exit 2, nothing changed in AWS): `w.run` adds
/// `--cluster ass-staging --container rails`. docs/reliability.md shows the same rows
/// (`the_docs_show_the_bad_inputs`).
const BAD_INPUT: &[(&[&str], &str)] = &[
    (
        &["rollback", "--service", "ass-staging"],
        "needs --set STEP",
    ),
    (
        &["rollback", "--set", "STEP=abc", "--service", "ass-staging"],
        "STEP must be a positive integer",
    ),
    (
        &["migrat", "--service", "ass-staging"],
        "presets: down, migrate, rollback, status",
    ),
    (
        &["--service", "ass-staging", "--image", "not an image"],
        "invalid image reference",
    ),
    (
        &["--service", "ass-staging", "--subnets", ""],
        "is not a subnet ID",
    ),
    (
        &[
            "--service",
            "ass-staging",
            "--subnets",
            "subnet-0123abcd,,subnet-4567cdef",
        ],
        "is not a subnet ID",
    ),
    (
        &[
            "rollback",
            "--set",
            "STEP=abc",
            "--set",
            "STEP=1",
            "--service",
            "ass-staging",
        ],
        "--set STEP is given more than once",
    ),
    (
        &[
            "--task-definition",
            "ass-bridge",
            "--subnets",
            "subnet-0123abcd",
        ],
        "network mode bridge; Fargate needs awsvpc",
    ),
    (
        &["--service", "ass-staging", "--image", ".rails"],
        "invalid image reference '.rails'",
    ),
    (
        &["--service", "ass-staging", "--image", "rails..x"],
        "[a-z0-9] runs joined by one",
    ),
    (
        &["--service", "ass-staging", "--image", "rails-"],
        "invalid image reference 'rails-'",
    ),
    (
        &["--service", "ass-staging", "--image", "rails_"],
        "invalid image reference 'rails_'",
    ),
    (
        &["--service", "ass-staging", "--image", "=-rails"],
        "invalid image reference '=-rails'",
    ),
    (
        &["--service", "ass-staging", "--image", "Rails:v1"],
        "repository names are lower case",
    ),
    (
        &[
            "--service",
            "ass-staging",
            "--image",
            "rails@sha256:ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
        ],
        "a sha256 digest is 64 lower-case hex characters",
    ),
    (
        &[
            "--service",
            "ass-staging",
            "--image",
            "rails@md5:0123456789abcdef0123456789abcdef",
        ],
        "digest algorithm must be sha256 or sha512",
    ),
    (
        &[
            "--service",
            "ass-staging",
            "--image-detail",
            "/nonexistent/imageDetail.json",
        ],
        "cannot read image detail file /nonexistent/imageDetail.json",
    ),
    (
        &["--service", "ass-staging", "--timeout", "0s"],
        "--timeout must be positive",
    ),
    (
        &["--service", "ass-staging", "--timeout", "garbage"],
        "invalid value 'garbage' for '--timeout",
    ),
    (
        &["--service", "ass-staging", "--log-quiet", "10d"],
        "is longer than the maximum of 7days",
    ),
    (
        &["--service", "ass-staging", "--poll-interval", "1ms"],
        "--poll-interval must be between 50ms and 5m",
    ),
    (
        &[
            "--service",
            "ass-staging",
            "--poll-max",
            "1s",
            "--describe-interval",
            "3s",
        ],
        "--poll-max cannot be below --describe-interval",
    ),
    (
        &["--service", "ass-staging", "--lost-after", "200ms"],
        "--lost-after cannot be below --poll-max",
    ),
    (
        &["--service", "ass-staging", "--log-drain-max", "0s"],
        "--log-quiet cannot exceed --log-drain-max",
    ),
    (
        &["--service", "ass-staging", "--set", "FOO=bar"],
        "--set FOO is not used by preset 'migrate'",
    ),
    (
        &["rollback", "--set", "STEP=0", "--service", "ass-staging"],
        "STEP must be a positive integer",
    ),
    (
        &["down", "--service", "ass-staging"],
        "preset 'down' needs --set VERSION=",
    ),
    (
        &["down", "--set", "VERSION=abc", "--service", "ass-staging"],
        "VERSION must be a 14-digit migration version",
    ),
    (
        &["status", "--set", "STEP=1", "--service", "ass-staging"],
        "--set STEP is not used by preset 'status'",
    ),
    (
        &["--service", "ass-staging", "--", ""],
        "the command after -- is empty",
    ),
    (
        &["--service", "ass-staging", "--output", "yaml"],
        "invalid value 'yaml' for '--output",
    ),
    (
        &["--service", "ass-staging", "--on-abort", "maybe"],
        "invalid value 'maybe' for '--on-abort",
    ),
    (
        &["--service", "ass-staging", "--assign-public-ip", "maybe"],
        "invalid value 'maybe' for '--assign-public-ip",
    ),
    (
        &["--service", "ass-staging", "--tag", "badtag"],
        "expected KEY=VALUE",
    ),
    (
        &["--service", "ass-staging", "--tag", "aws:x=y"],
        "the aws: prefix is reserved",
    ),
    (
        &[
            "--service",
            "ass-staging",
            "--tag",
            "team=a",
            "--tag",
            "team=b",
        ],
        "--tag team is given more than once",
    ),
    (
        &["--service", "ass-staging", "--client-token", ""],
        "--client-token must be 1-64 printable ASCII characters",
    ),
    (
        &["--service", "ass-staging", "--capacity-provider", ""],
        "is not a capacity provider name",
    ),
    (
        &["--service", "ass-staging", "--platform-version", ""],
        "is not a platform version",
    ),
    (
        &["--service", "ass-staging", "--platform-version", "1.4"],
        "is not a platform version",
    ),
    (
        &[
            "--service",
            "ass-staging",
            "--migration-family",
            "bad family",
        ],
        "is not a valid family name",
    ),
    (
        &[
            "--service",
            "ass-staging",
            "--security-groups",
            "subnet-0123abcd",
        ],
        "is not a sg ID",
    ),
    (
        &["--service", "ass-staging", "--subnets", "subnet-0123abcz"],
        "is not a subnet ID",
    ),
    (
        &[
            "--service",
            "ass-staging",
            "--overrides-dir",
            "/nonexistent",
        ],
        "cannot read overrides dir /nonexistent",
    ),
    (
        &["--service", "ass-staging", "--region", "not a region"],
        "is not an AWS region name",
    ),
    (
        &["--service", "ass-staging", "--endpoint-url", "not a url"],
        "is not an http(s) URL",
    ),
    (&["--service", ""], "--service is empty"),
    (&["--image", "rails:v2"], "no target: give --service"),
    (
        &[
            "--task-definition-file",
            "/nonexistent/td.json",
            "--subnets",
            "subnet-0123abcd",
        ],
        "cannot read task definition file /nonexistent/td.json",
    ),
];

/// Targets that do not exist: one code (2), one line naming the target and the region.
const NOT_FOUND: &[(&[&str], &str)] = &[
    (
        &[
            "--cluster",
            "nope",
            "--service",
            "ass-staging",
            "--container",
            "rails",
        ],
        "cluster 'nope' not found in region",
    ),
    (
        &[
            "--cluster",
            "ass-staging",
            "--service",
            "nope",
            "--container",
            "rails",
        ],
        "service 'nope' in cluster 'ass-staging' not found",
    ),
    (
        &[
            "--cluster",
            "ass-staging",
            "--task-definition",
            "nope",
            "--container",
            "rails",
            "--subnets",
            "subnet-0123abcd",
        ],
        "task definition 'nope' not found",
    ),
    (
        &[
            "--cluster",
            "ass-staging",
            "--service",
            "ass-staging",
            "--container",
            "nope",
        ],
        "container 'nope' is not in task definition ass-task-def-staging",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_exits_2_and_mutates_nothing() {
    use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration, LogDriver, NetworkMode};
    let w = World::new();
    // an EC2-style task definition: bridge networking
    let logs = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", "/ecs/ass-staging")
        .options("awslogs-stream-prefix", "ecs")
        .build()
        .unwrap();
    ecs(&w)
        .await
        .register_task_definition()
        .family("ass-bridge")
        .network_mode(NetworkMode::Bridge)
        .container_definitions(
            ContainerDefinition::builder()
                .name("rails")
                .image(w.s("image"))
                .memory(256)
                .log_configuration(logs)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut lines = String::new();
    // what a row may call: nothing, or (to find that its target cannot work) only reads
    let calls = || {
        stats(&w.region)["calls"]
            .as_object()
            .cloned()
            .unwrap_or_default()
    };
    let delta = |before: &serde_json::Map<String, Value>| -> Vec<String> {
        calls()
            .iter()
            .filter(|(api, n)| before.get(*api) != Some(*n))
            .map(|(api, _)| api.clone())
            .collect()
    };
    let reads_only = |apis: &[String]| {
        apis.iter()
            .all(|a| a.starts_with("Describe") || a.starts_with("List") || a == "GetParameters")
    };
    for (args, needle) in BAD_INPUT {
        let before = calls();
        let o = w.run(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        let called = delta(&before);
        if needle.contains("network mode bridge") {
            assert!(reads_only(&called), "{args:?} called {called:?}");
        } else {
            assert!(called.is_empty(), "{args:?} called AWS: {called:?}");
        }
        let err = stderr(&o);
        let errors: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: exactly one error line: {err}");
        let line = errors[0];
        // ~200 characters besides the input it quotes back
        let quoted = args
            .iter()
            .copied()
            .max_by_key(|a| a.len())
            .unwrap_or_default();
        assert!(
            line.replace(quoted, "…").len() <= 200,
            "one short line: {line}"
        );
        lines.push_str(&format!("{}\n  {line}\n", args.join(" ")));
    }
    // a target that does not exist: one code (2), a line naming it and the region
    for (args, needle) in NOT_FOUND {
        let before = calls();
        let o = w.cmd().arg("run").args(*args).output().unwrap();
        let called = delta(&before);
        assert!(reads_only(&called), "{args:?} called {called:?}");
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(needle), "{args:?}: {err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
        assert_eq!(errors.len(), 1, "one error line: {err}");
        assert!(errors[0].len() < 200, "short: {}", errors[0]);
        lines.push_str(&format!("{}\n  {}\n", args.join(" "), errors[0]));
    }
    // the exact lines a user reads, reviewed as a whole (whichever region the world is in)
    let lines = lines.replace(&w.region, "REGION");
    insta::assert_snapshot!("bad_input_error_lines", lines);
    // several containers and no --container: the error lists them (checked after the live read)
    let cluster = w.s("cluster");
    let o = w
        .cmd()
        .args(["run", "--cluster", &cluster, "--service", "ass-staging"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--container rails | --container nginx"),
        "{}",
        stderr(&o)
    );
    let fams = ecs(&w)
        .await
        .list_task_definition_families()
        .send()
        .await
        .unwrap();
    assert!(
        !fams.families().iter().any(|f| f.ends_with("-migrate")),
        "nothing registered"
    );
    assert_eq!(task_count(&w).await, 0);
}

#[test]
fn dry_run_from_a_file_needs_no_aws() {
    let file = common::repo().join("tests/fixtures/taskdef-staging.json");
    let o = Command::new(env!("CARGO_BIN_EXE_ecs-migrate"))
        .env_clear()
        .args(["run", "--dry-run", "--container", "rails", "--subnets", "subnet-0123abcd,subnet-4567cdef", "--security-groups", "sg-0123abcd", "--task-definition-file"])
        .arg(&file)
        .args(["--image", "730335441282.dkr.ecr.ap-northeast-1.amazonaws.com/ass-rails-ecr-staging@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let plan: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        plan["taskDefinition"]["family"],
        "ass-task-def-staging-migrate"
    );
    assert_eq!(
        plan["taskDefinition"]["containerDefinitions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(plan["taskDefinition"].get("revision").is_none());
    assert_eq!(
        plan["runTask"]["networkConfiguration"]["awsvpcConfiguration"]["subnets"],
        serde_json::json!(["subnet-0123abcd", "subnet-4567cdef"])
    );
    assert_eq!(
        plan["runTask"]["overrides"]["containerOverrides"][0]["command"],
        serde_json::json!(["bundle", "exec", "rails", "db:migrate"])
    );
    assert_eq!(plan["runTask"]["launchType"], "FARGATE");
}

/// AWS trouble before anything runs: one short line whose hint fits the cause.
#[test]
fn no_credentials_and_no_endpoint_are_one_line_each() {
    let run = |creds: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ecs-migrate"));
        c.env_clear()
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args([
                "run",
                "--cluster",
                "c",
                "--service",
                "s",
                "--container",
                "rails",
            ]);
        if creds {
            c.env("AWS_ACCESS_KEY_ID", "x")
                .env("AWS_SECRET_ACCESS_KEY", "y");
        }
        c.output().unwrap()
    };
    for (creds, needle) in [
        (
            true,
            "cannot reach the endpoint (hint: check the network, AWS_ENDPOINT_URL",
        ),
        (false, "no usable credentials"),
    ] {
        let o = run(creds);
        assert_eq!(code(&o), 125, "{}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.len() < 200, "{err}");
        assert!(err.contains(needle), "{err}");
    }
}

/// Each bad input's row in docs/reliability.md: `| `ARGS` | 2 | MESSAGE |`.
#[test]
fn the_docs_show_the_bad_inputs() {
    let doc = std::fs::read_to_string(common::repo().join("docs/reliability.md")).unwrap();
    for (args, needle) in BAD_INPUT.iter().chain(NOT_FOUND) {
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                if a.is_empty() {
                    "''".to_string()
                } else {
                    a.to_string()
                }
            })
            .collect();
        let row = format!("| `{}` | 2 | {needle} |", shown.join(" "));
        assert!(
            doc.contains(&row),
            "docs/reliability.md lacks the row:\n{row}"
        );
    }
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let o = Command::new(env!("CARGO_BIN_EXE_ecs-migrate"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0);
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(common::repo())
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap();
    assert_eq!(
        stdout(&o).trim(),
        format!(
            "ecs-migrate {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            head.trim()
        )
    );
}
