//! The durable record: every migration's launch and verdict in `ecs-migrate/<family>` beside its
//! log; `history`, `logs` and `revert` read it back, also after the runner died and after ECS
//! forgot the task. The rails images run real ActiveRecord (emulator/images/rails*).

use crate::common;

use std::time::{Duration, Instant};

use common::{NATIVE, World, code, json_of, spawn, stats, stderr, stdout, wait_for};
use serde_json::Value;

const STREAM: &str = "ecs-migrate/ass-task-def-staging-migrate";
const RELEASE_1: [&str; 3] = ["20240101000000", "20240215093000", "20240301120000"];
const RELEASE_2: [&str; 2] = ["20240501000000", "20240502000000"];

/// The record's events so far, parsed.
async fn record(w: &World) -> Vec<Value> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&w.sdk().await);
    common::log_messages_if_any(&logs, STREAM)
        .await
        .iter()
        .map(|m| serde_json::from_str(m).unwrap_or_else(|e| panic!("{e}: {m}")))
        .collect()
}

/// `ecs-migrate SUBCOMMAND --cluster … --service ass-staging <args>`.
fn cli(w: &World, subcommand: &str, args: &[&str]) -> std::process::Output {
    let cluster = w.s("cluster");
    w.cmd()
        .args([
            subcommand,
            "--cluster",
            &cluster,
            "--service",
            "ass-staging",
        ])
        .args(args)
        .output()
        .unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

/// Runs release `image_key` to completion; its JSON result.
fn release(w: &World, image_key: &str) -> Value {
    let o = w.run_on("ass-staging", image_key, &["--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    json_of(&o)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_leaves_its_launch_and_its_verdict() {
    let w = World::new();
    let o = w.run_with_env(
        &[("CODEBUILD_BUILD_ID", "migrate:0f3c")],
        &["--output", "json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["record"], true);
    let events = record(&w).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let (launch, verdict) = (&events[0], &events[1]);
    assert_eq!(launch["event"], "launch");
    assert_eq!(launch["ecs_migrate_record"], 1);
    assert_eq!(launch["task_arn"], r["task_arn"]);
    assert_eq!(launch["client_token"], r["client_token"]);
    assert_eq!(launch["task_definition_arn"], r["task_definition_arn"]);
    assert_eq!(launch["kind"], "run");
    assert_eq!(launch["cluster"], "ass-staging");
    assert_eq!(launch["service"], "ass-staging");
    assert_eq!(launch["image"], w.s("image").as_str());
    assert_eq!(launch["preset"], "migrate");
    assert_eq!(
        strings(&launch["command"]),
        ["bundle", "exec", "rails", "db:migrate"]
    );
    assert_eq!(launch["log_group"], "/ecs/ass-staging");
    assert_eq!(launch["log_stream"], r["log_stream"]);
    assert_eq!(launch["who"]["codebuild_build_id"], "migrate:0f3c");
    assert_eq!(launch["who"]["started_by"], "codebuild:migrate:0f3c");
    assert!(
        launch["who"]["caller_arn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:")),
        "{launch}"
    );

    assert_eq!(verdict["event"], "verdict");
    assert_eq!(verdict["task_arn"], r["task_arn"]);
    assert_eq!(verdict["outcome"], "succeeded");
    assert_eq!(verdict["exit_code"], 0);
    assert_eq!(verdict["process_exit_code"], 0);
    assert_eq!(verdict["logs_complete"], true);
    assert_eq!(verdict["observer"], "launcher");
    assert!(
        verdict["image_digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    let steps = verdict["migrations"].as_array().unwrap();
    let versions: Vec<&str> = steps
        .iter()
        .map(|s| s["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, RELEASE_1);
    for s in steps {
        assert_eq!(s["direction"], "up");
        assert!(s["seconds"].as_f64().is_some_and(|d| d >= 0.0), "{s}");
        assert!(s["name"].as_str().is_some_and(|n| !n.is_empty()), "{s}");
    }
    // the durations are in the result too
    assert_eq!(r["migrations"], verdict["migrations"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_killed_mid_migration_is_settled_by_history_and_logs_follow() {
    let w = World::new();
    release(&w, "image");
    // release 2, whose first new migration takes 5 s
    let presets = w.dir.path().join("presets");
    std::fs::create_dir_all(&presets).unwrap();
    std::fs::write(
        presets.join("slow.json"),
        r#"{"command": ["bundle", "exec", "rails", "db:migrate"], "environment": {"SLOW_MIGRATION_SECONDS": "5"}}"#,
    )
    .unwrap();
    let image = w.s("image_next");
    let (mut child, rx) = spawn(
        &w,
        "run",
        &[
            "--service",
            "ass-staging",
            "--image",
            &image,
            "--overrides-dir",
            presets.to_str().unwrap(),
            "slow",
        ],
    );
    wait_for(&rx, "task RUNNING");
    // the launch record is written beside the follow: there before the kill
    let until = Instant::now() + Duration::from_secs(20);
    while record(&w).await.len() < 2 {
        assert!(Instant::now() < until, "no launch record");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let events = record(&w).await;
    assert_eq!(
        events.len(),
        3,
        "release 1 (launch, verdict), release 2 (launch)"
    );
    let arn = events[2]["task_arn"].as_str().unwrap().to_string();
    assert_eq!(events[2]["event"], "launch");

    // history: still running, no verdict
    let o = cli(&w, "history", &["--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let h = json_of(&o);
    let newest = &h["migrations"][0];
    assert_eq!(newest["task_arn"], arn.as_str());
    assert!(
        newest["status"].as_str().unwrap().starts_with("running"),
        "{newest}"
    );
    assert_eq!(newest["verdict"], Value::Null);

    // logs --follow: to its verdict, which it records
    let o = cli(&w, "logs", &[task_id(&arn), "--follow", "--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["outcome"], "succeeded");
    assert_eq!(r["task_arn"], arn.as_str());
    assert_eq!(strings(&r["migrated_versions"]), RELEASE_2);
    assert!(
        stderr(&o).contains("AddRoleToUsers: migrated"),
        "{}",
        stderr(&o)
    );
    let events = record(&w).await;
    assert_eq!(events.len(), 4);
    assert_eq!(events[3]["event"], "verdict");
    assert_eq!(events[3]["observer"], "follower");
    assert_eq!(events[3]["outcome"], "succeeded");

    // history now has both releases' verdicts, newest first, as a table on a terminal
    let o = cli(&w, "history", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let table: Vec<String> = stdout(&o).lines().map(String::from).collect();
    assert_eq!(table.len(), 3, "{table:?}");
    assert!(table[0].starts_with("LAUNCHED (UTC)"), "{table:?}");
    assert!(table[1].contains(&task_id(&arn)[..8]), "{table:?}");
    assert!(
        table[1].contains("rails-next:v4")
            && table[1].contains("succeeded")
            && table[1].contains("+2"),
        "{table:?}"
    );
    assert!(table[2].contains("+3"), "{table:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_replays_a_migration_after_ecs_forgot_it_and_exits_with_its_code() {
    let w = World::new();
    w.faults(r#"{"forget_stopped_after": 1}"#);
    let o = w.run_on(
        "ass-staging",
        "image",
        &[
            "--output",
            "json",
            "--",
            "sh",
            "-c",
            "for i in $(seq 1 300); do echo line-$i; done; exit 3",
        ],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let arn = json_of(&o)["task_arn"].as_str().unwrap().to_string();
    // ECS forgets the stopped task
    let ecs = common::ecs(&w).await;
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let d = ecs
            .describe_tasks()
            .cluster(w.s("cluster"))
            .tasks(&arn)
            .send()
            .await
            .unwrap();
        if d.tasks().is_empty() {
            assert_eq!(d.failures()[0].reason(), Some("MISSING"));
            break;
        }
        assert!(Instant::now() < until, "ECS still knows {arn}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let o = cli(&w, "logs", &["latest"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let want: Vec<String> = (1..=300).map(|i| format!("line-{i}")).collect();
    let got: Vec<String> = stdout(&o).lines().map(String::from).collect();
    assert_eq!(got, want, "every line once, in order");
    assert!(
        stderr(&o).contains("result: failed (exit 3), container exit code 3"),
        "{}",
        stderr(&o)
    );
    // by id, as JSON: the recorded verdict
    let o = cli(&w, "logs", &[task_id(&arn), "--output", "json"]);
    assert_eq!(code(&o), 3);
    let r = json_of(&o);
    assert_eq!(r["outcome"], "failed");
    assert_eq!(r["log_lines"], 300);
    assert_eq!(r["logs_complete"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn revert_undoes_exactly_the_newer_release_with_its_image_and_refuses_the_older() {
    let w = World::new();
    let first = release(&w, "image");
    let second = release(&w, "image_next");
    assert_eq!(strings(&second["migrated_versions"]), RELEASE_2);
    assert_eq!(w.sql("SELECT count(*) FROM schema_migrations"), "5");
    let first_arn = first["task_arn"].as_str().unwrap();
    let second_arn = second["task_arn"].as_str().unwrap();

    // the older release: a later one applied versions since
    let run_tasks = |w: &World| stats(&w.region)["calls"]["RunTask"].as_u64().unwrap_or(0);
    let before = run_tasks(&w);
    let o = cli(&w, "revert", &[task_id(first_arn), "--container", "rails"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(second_arn) && err.contains("applied 2 versions since"),
        "{err}"
    );
    assert_eq!(run_tasks(&w), before, "nothing launched");

    // --dry-run shows what it would run, and runs nothing
    let o = cli(
        &w,
        "revert",
        &["latest", "--container", "rails", "--dry-run"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("reverting 2 versions applied by")
            && stderr(&o).contains("20240502000000, 20240501000000"),
        "{}",
        stderr(&o)
    );
    let plan: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let over = &plan["runTask"]["overrides"]["containerOverrides"][0];
    assert_eq!(
        strings(&over["command"])[5..],
        ["20240502000000", "20240501000000"]
    );
    assert_eq!(run_tasks(&w), before);

    // the newer release: exactly its two versions, newest first, with its image
    let o = cli(
        &w,
        "revert",
        &["latest", "--container", "rails", "--output", "json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["outcome"], "succeeded");
    assert_eq!(
        strings(&r["reverted_versions"]),
        ["20240502000000", "20240501000000"]
    );
    assert!(r["migrated_versions"].as_array().unwrap().is_empty());
    let image = r["image"].as_str().unwrap();
    assert!(image.contains("/rails-next@sha256:"), "{image}");
    let command = strings(&r["command"]);
    assert_eq!(command[..4], ["bundle", "exec", "rails", "runner"]);
    assert_eq!(command[5..], ["20240502000000", "20240501000000"]);
    assert_eq!(
        w.sql("SELECT version FROM schema_migrations ORDER BY version"),
        RELEASE_1.join("\n")
    );
    let events = record(&w).await;
    let launch = &events[events.len() - 2];
    assert_eq!(launch["kind"], "revert");
    assert_eq!(launch["reverts"], second_arn);
    assert_eq!(launch["preset"], "revert");

    // with the newer one undone, the older can be reverted (its own image, its 3 versions)
    let o = cli(
        &w,
        "revert",
        &[task_id(first_arn), "--container", "rails", "--dry-run"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("reverting 3 versions"),
        "{}",
        stderr(&o)
    );
    // but a revert is not revertible
    let o = cli(&w, "revert", &["latest", "--container", "rails"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("is itself a revert"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_record_write_leaves_the_verdict_unchanged() {
    let w = World::new();
    w.faults(r#"{"refuse_log_writes": {"prefix": "ecs-migrate/"}}"#);
    let o = w.run_on("ass-staging", "image_broken", &["--output", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["outcome"], "failed");
    assert_eq!(r["exit_code"], 1);
    assert_eq!(r["record"], false);
    assert!(
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("record could not be written")),
        "{r}"
    );
    assert!(stderr(&o).contains("warning: the migration's record could not be written"));
    assert!(record(&w).await.is_empty());
    let served = stats(&w.region)["faults_served"].clone();
    assert!(
        served["PutLogEvents"].as_u64().unwrap_or(0)
            + served["CreateLogStream"].as_u64().unwrap_or(0)
            > 0,
        "{served}"
    );
    // and a successful one stays 0
    let o = w.run_on("ass-staging", "image", &["--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json_of(&o)["record"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_record_writes_nothing_and_gate_records_too() {
    let w = World::new();
    let o = w.run_on("ass-staging", "image", &["--output", "json", "--no-record"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json_of(&o)["record"], false);
    assert!(record(&w).await.is_empty());

    common::start_deployment(&w, "image_next").await;
    let o = common::gate(&w, &["--hook-wait", "30s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let g = json_of(&o);
    assert_eq!(g["record"], true);
    let cluster = w.s("cluster");
    let o = w
        .cmd()
        .args([
            "history",
            "--cluster",
            &cluster,
            "--service",
            NATIVE,
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let h = json_of(&o);
    let m = &h["migrations"][0];
    assert_eq!(m["kind"], "gate");
    assert_eq!(m["task_arn"], g["task_arn"]);
    assert_eq!(m["verdict"]["outcome"], "succeeded");
}

/// The record's commands on bad input: exit 2, one line that says what to do, and at most
/// reads (to find that what they name does not exist).
#[tokio::test(flavor = "multi_thread")]
async fn bad_input_to_the_record_commands_is_one_line_and_changes_nothing() {
    let w = World::new();
    release(&w, "image");
    let cluster = w.s("cluster");
    let at = ["--cluster", cluster.as_str(), "--service", "ass-staging"];
    let with = |cmd: &[&str], extra: &[&str]| -> Vec<String> {
        cmd.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let rows: Vec<(Vec<String>, &str)> = vec![
        (
            with(&["history"], &[]),
            "whose migrations? give --service (with --cluster) or --migration-family",
        ),
        (
            with(&["history", "--service", "ass-staging"], &[]),
            "--cluster is required with --service",
        ),
        (
            with(&["history", "--migration-family", "bad name"], &[]),
            "--migration-family 'bad name' is not a valid family name",
        ),
        (
            with(&["history", "--limit", "0"], &at),
            "--limit must be between 1 and 1000",
        ),
        (
            with(&["history", "--migration-family", "never-migrated"], &[]),
            "no migration task definition family never-migrated",
        ),
        (
            with(&["logs", "0123456789abcdef"], &at),
            "no recorded migration has task 0123456789abcdef",
        ),
        (
            with(&["revert", "latest", "--cluster", &cluster], &[]),
            "revert runs in the service's network: give --service",
        ),
        (
            with(&["revert", "latest", "--set", "STEP=1"], &at),
            "revert takes no --set",
        ),
    ];
    let calls = || stats(&w.region)["calls"].clone();
    for (args, needle) in rows {
        let before = calls();
        let o = w.cmd().args(&args).output().unwrap();
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.len() < 260, "{args:?}: short: {err}");
        let after = calls();
        for (api, n) in after.as_object().unwrap() {
            if before.get(api) != Some(n) {
                assert!(
                    api.starts_with("Describe") || api.starts_with("List") || api == "GetLogEvents",
                    "{args:?} called {api}"
                );
            }
        }
    }
}

/// `logs --follow` never stops a task it did not launch: a signal detaches.
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_detaches_logs_follow_and_the_task_runs_on() {
    let w = World::new();
    let image = w.s("image");
    let (mut runner, rx) = spawn(
        &w,
        "run",
        &[
            "--service",
            "ass-staging",
            "--image",
            &image,
            "--",
            "sh",
            "-c",
            "echo working; sleep 30",
        ],
    );
    wait_for(&rx, "task RUNNING");
    let until = Instant::now() + Duration::from_secs(20);
    while record(&w).await.is_empty() {
        assert!(Instant::now() < until, "no launch record");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    runner.kill().unwrap();
    runner.wait().unwrap();
    let cluster = w.s("cluster");
    let mut follower = w
        .cmd()
        .args([
            "logs",
            "latest",
            "--follow",
            "--cluster",
            &cluster,
            "--service",
            "ass-staging",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let err = common::lines_of(follower.stderr.take().unwrap());
    let out = common::lines_of(follower.stdout.take().unwrap());
    wait_for(&err, "following");
    wait_for(&out, "working");
    let pid = follower.id().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let status = follower.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let rest = common::rest(&err);
    assert!(
        rest.contains("was left running (logs never stops a task)"),
        "{rest}"
    );
    assert_eq!(
        stats(&w.region)["calls"]["StopTask"].as_u64().unwrap_or(0),
        0
    );
    let tasks = common::tasks(&w).await;
    assert_eq!(tasks[0].last_status(), Some("RUNNING"));
    // no verdict was recorded for it: it has none yet
    assert_eq!(record(&w).await.len(), 1);
}
