//! The fault matrix of docs/reliability.md, one test per row, against the emulator's fault
//! knobs and through the real binary. Each test asserts the exit code, every log line once
//! and in order where there are lines, and that no task is left running unless detached.
//! The knobs are global to the emulator, so these tests run one at a time.

use crate::common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{World, code, json_of, rest, spawn_migration, stats, stderr, stdout, tasks, wait_for};

/// (row, what was done, exit code, what the user gets). docs/reliability.md holds the same
/// rows; `the_docs_show_this_matrix` keeps the two equal, and each test below asserts its
/// row's exit code, so the document cannot drift from what is tested.
const MATRIX: [(&str, &str, i32, &str); 12] = [
    (
        "concurrent",
        "5 runs of one migration family started at the same instant, 10 times",
        0,
        "exactly one container runs each time; the 4 others exit 121 naming the winner's ARN",
    ),
    (
        "runtask-5xx",
        "RunTask creates the task, then answers 503, twice",
        0,
        "one task: the SDK's 3 RunTask requests carry one clientToken and get the original task back",
    ),
    (
        "logs-5xx-at-stop",
        "GetLogEvents answers 503 ×12 around the task's stop",
        0,
        "all 2000 lines, once, in order; `logs_complete: true`",
    ),
    (
        "late-stream",
        "the log stream is created 8 s after the container started (default drain settings)",
        0,
        "all 2000 lines, once, in order",
    ),
    (
        "sigint-failing-logs",
        "SIGINT while every GetLogEvents is slow (5 s) and failing",
        130,
        "StopTask sent at once with the reason `interrupted by SIGINT`; the container stopped",
    ),
    (
        "deadline-before-launch",
        "`--timeout 2s` expires while RegisterTaskDefinition is slow and throttled",
        124,
        "no task is launched",
    ),
    (
        "huge-duration",
        "`--timeout 18000000000000000000s` or the same `--poll-interval`",
        2,
        "a usage error naming the 7-day maximum, before any AWS call",
    ),
    (
        "describe-5xx",
        "DescribeTasks answers 503 20 times in a row",
        7,
        "the container's own exit code",
    ),
    (
        "task-lost",
        "the task stops with no exit code after its container started (`InfrastructureHealth`)",
        122,
        "`no_exit_code`, with the stop code; not \"never ran\"",
    ),
    (
        "lost-track",
        "DescribeTasks fails for longer than `--lost-after`",
        123,
        "`lost_track`; StopTask sent and the exact stop command printed",
    ),
    (
        "teardown",
        "a 10 s Fargate teardown after the container exits 3",
        3,
        "the verdict at the container's exit, before the task is STOPPED",
    ),
    (
        "attach",
        "a second run of the same migration (image, command) with `--attach` while it runs",
        5,
        "it follows that migration: its lines and its exit code (5); another migration is 121",
    ),
];

fn row(id: &str) -> i32 {
    MATRIX.iter().find(|r| r.0 == id).expect("a matrix row").2
}

/// No task is left running: each one's desired status is STOPPED.
async fn assert_nothing_left_running(w: &World) {
    for t in tasks(w).await {
        assert_eq!(
            t.desired_status(),
            Some("STOPPED"),
            "task {} left running",
            t.task_arn().unwrap()
        );
    }
}

fn lines(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("line-{i}")).collect()
}

fn assert_lines_once_in_order(out: &str, want: &[String], context: &str) {
    let got: Vec<&str> = out.lines().filter(|l| l.starts_with("line-")).collect();
    assert_eq!(got.len(), want.len(), "line count; {context}");
    assert!(got.iter().zip(want).all(|(a, b)| a == b), "order");
}

const PRINT_2000: &str = "seq 1 2000 | sed 's/^/line-/'";

#[test]
fn the_docs_show_this_matrix() {
    let doc = std::fs::read_to_string(common::repo().join("docs/reliability.md")).unwrap();
    for (id, what, exit, result) in MATRIX {
        let line = format!("| {id} | {what} | {exit} | {result} |");
        assert!(
            doc.contains(&line),
            "docs/reliability.md lacks the row:\n{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_runs_launch_one_migration() {
    let w = World::new();
    // Fargate provisions for tens of seconds; 4 s is plenty for the losers' claim check to
    // stop their tasks, even with five runs at once on a starved machine
    w.faults(r#"{"provisioning_delay": 4.0}"#);
    let image = w.s("image");
    const ROUNDS: usize = 7;
    for round in 0..ROUNDS {
        let script = format!("echo ran-{round}; sleep 0.5");
        let children: Vec<_> = (0..5)
            .map(|_| {
                let cluster = w.s("cluster");
                let mut c = w.cmd();
                c.arg("run")
                    .args(["--cluster", &cluster, "--container", "rails"])
                    .args(["--service", "ass-staging", "--image", &image])
                    .args(["--output", "json", "--", "sh", "-c", &script])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                c.spawn().unwrap()
            })
            .collect();
        let outs: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let mut codes: Vec<i32> = outs.iter().map(code).collect();
        codes.sort();
        assert_eq!(
            codes,
            [row("concurrent"), 121, 121, 121, 121],
            "round {round}: {}",
            outs.iter().map(stderr).collect::<String>()
        );
        let winner = outs.iter().find(|o| code(o) == 0).unwrap();
        let winner_arn = json_of(winner)["task_arn"].as_str().unwrap().to_string();
        for loser in outs.iter().filter(|o| code(o) == 121) {
            let r = json_of(loser);
            assert_eq!(r["outcome"], "busy");
            assert_eq!(
                r["other_task_arn"],
                winner_arn.as_str(),
                "{}",
                stderr(loser)
            );
        }
    }
    let ran = tasks(&w)
        .await
        .iter()
        .filter(|t| t.started_at().is_some())
        .count();
    assert_eq!(ran, ROUNDS, "one container ran per round");
    assert_nothing_left_running(&w).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runtask_that_created_the_task_then_failed_is_not_launched_twice() {
    let w = World::new();
    w.faults(r#"{"run_task_created_then_fail": {"count": 2, "status": 503}}"#);
    let o = w.run_on(
        "ass-staging",
        "image",
        &["--output", "json", "--", "echo", "once"],
    );
    assert_eq!(code(&o), row("runtask-5xx"), "{}", stderr(&o));
    assert_eq!(
        common::faults_served(&w, "RunTask"),
        2,
        "both 503s were served"
    );
    assert_eq!(tasks(&w).await.len(), 1, "exactly one task");
    let s = stats(&w.region);
    let tokens = s["run_task_tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 3, "the SDK retried RunTask twice");
    assert!(tokens.iter().all(|t| t == &tokens[0] && t.is_string()));
    assert_eq!(json_of(&o)["client_token"], tokens[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_given_client_token_with_other_parameters_is_a_conflict() {
    let w = World::new();
    let first = w.run_on(
        "ass-staging",
        "image",
        &["--client-token", "exec-1", "--", "echo", "a"],
    );
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let other = w.run_on(
        "ass-staging",
        "image",
        &["--client-token", "exec-1", "--", "echo", "b"],
    );
    assert_eq!(code(&other), 125, "{}", stderr(&other));
    assert!(
        stderr(&other).contains("ConflictException"),
        "{}",
        stderr(&other)
    );
    assert_eq!(tasks(&w).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_log_reads_around_the_stop_lose_no_line() {
    let w = World::new();
    // the container prints once the faults are set, and outlives them by 1.5 s even on a
    // loaded machine
    let go = common::Go::new(&w);
    let script = format!("{}; {PRINT_2000}; sleep 1.5", go.start());
    let (child, rx) = spawn_migration(&w, &["--output", "json", "--", "sh", "-c", &script]);
    let seen = wait_for(&rx, "task RUNNING");
    w.faults(r#"{"error_burst": {"GetLogEvents": {"count": 12, "status": 503}}}"#);
    go.go();
    let o = child.wait_with_output().unwrap();
    let err = seen + &rest(&rx);
    assert_eq!(code(&o), row("logs-5xx-at-stop"), "{err}");
    assert_eq!(
        common::faults_served(&w, "GetLogEvents"),
        12,
        "every 503 was served"
    );
    // the failures straddle the container's exit (ECS's executionStoppedAt)
    let exit = tasks(&w).await[0]
        .execution_stopped_at()
        .map(|t| t.as_secs_f64())
        .expect("executionStoppedAt");
    let failed = common::fault_times(&w, "GetLogEvents");
    assert!(
        failed.first().is_some_and(|t| *t < exit) && failed.last().is_some_and(|t| *t > exit),
        "the 503s ({failed:?}) do not span the exit at {exit}"
    );
    let r = json_of(&o);
    assert_eq!(r["log_lines"], 2000);
    assert_eq!(r["logs_complete"], true);
    // with --output json the container's lines go to stderr
    let progress: String = err
        .lines()
        .filter(|l| !l.starts_with("line-"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_lines_once_in_order(&err, &lines(2000), &progress);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_log_stream_is_read_whole_with_the_default_drain() {
    let w = World::new();
    w.faults(r#"{"log_stream_delay": 8.0}"#);
    let defaults = [
        "--log-quiet",
        "2s",
        "--log-drain-max",
        "30s",
        "--poll-interval",
        "2s",
        "--describe-interval",
        "3s",
        "--poll-max",
        "10s",
    ];
    let mut args = defaults.to_vec();
    args.extend(["--", "sh", "-c", PRINT_2000]);
    let o = w.run_on("ass-staging", "image", &args);
    assert_eq!(code(&o), row("late-stream"), "{}", stderr(&o));
    assert_lines_once_in_order(&stdout(&o), &lines(2000), &stderr(&o));
    assert!(!stderr(&o).contains("may be incomplete"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_while_log_reads_hang_and_fail_stops_the_task() {
    let w = World::new();
    let (child, rx) = spawn_migration(&w, &["--", "sh", "-c", "echo started; sleep 60"]);
    wait_for(&rx, "task RUNNING");
    let set = common::now_epoch();
    w.faults(
        r#"{"latency": {"GetLogEvents": 5.0}, "error_burst": {"GetLogEvents": {"count": 1000, "status": 503}}}"#,
    );
    // a read is in flight: one arrived after the faults were set (it answers 5 s late)
    common::wait_for_call(&w, "GetLogEvents", set);
    let signalled = common::now_epoch();
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let err = rest(&rx);
    assert_eq!(code(&o), row("sigint-failing-logs"), "{err}");
    let stops = stats(&w.region)["stop_task_times"].clone();
    let first_stop = stops[0].as_f64().expect("a StopTask call");
    assert!(
        first_stop - signalled < 1.0,
        "StopTask {:.2} s after SIGINT",
        first_stop - signalled
    );
    assert!(
        common::faults_served(&w, "GetLogEvents") >= 1,
        "the reads failed"
    );
    let t = &tasks(&w).await[0];
    assert_eq!(t.desired_status(), Some("STOPPED"));
    assert_eq!(
        t.stopped_reason(),
        Some("ecs-migrate: interrupted by SIGINT")
    );
    assert_eq!(
        t.containers()[0].exit_code(),
        Some(143),
        "SIGTERM reached the container"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_that_passes_before_runtask_launches_nothing() {
    let w = World::new();
    w.faults(
        r#"{"latency": {"RegisterTaskDefinition": 1.0}, "throttle": {"RegisterTaskDefinition": 1.0}}"#,
    );
    let o = w.run_on(
        "ass-staging",
        "image",
        &["--timeout", "2s", "--output", "json"],
    );
    assert_eq!(code(&o), row("deadline-before-launch"), "{}", stderr(&o));
    // the deadline came while RegisterTaskDefinition was in flight (it arrived, slow)
    assert!(
        stats(&w.region)["calls"]["RegisterTaskDefinition"].as_u64() >= Some(1),
        "RegisterTaskDefinition was called"
    );
    assert_eq!(json_of(&o)["outcome"], "timed_out");
    assert!(stderr(&o).contains("nothing was started"), "{}", stderr(&o));
    assert!(tasks(&w).await.is_empty(), "no task launched");
    assert_eq!(stats(&w.region)["calls"].get("RunTask"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn absurd_durations_are_refused_before_any_call() {
    let w = World::new();
    let seeded = stats(&w.region)["calls"].clone();
    for flag in ["--timeout", "--poll-interval"] {
        let o = w.run_on("ass-staging", "image", &[flag, "18000000000000000000s"]);
        assert_eq!(code(&o), row("huge-duration"), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("longer than the maximum of 7days"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(stats(&w.region)["calls"], seeded, "no AWS call");
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_describes_do_not_hide_the_containers_exit_code() {
    let w = World::new();
    let (child, rx) = spawn_migration(&w, &["--", "sh", "-c", "echo working; sleep 2; exit 7"]);
    wait_for(&rx, "launched");
    w.faults(r#"{"error_burst": {"DescribeTasks": {"count": 20, "status": 503}}}"#);
    let o = child.wait_with_output().unwrap();
    let err = rest(&rx);
    assert_eq!(code(&o), row("describe-5xx"), "{err}");
    assert_eq!(
        common::faults_served(&w, "DescribeTasks"),
        20,
        "every 503 was served"
    );
    w.reset_faults();
    assert_eq!(stdout(&o), "working\n");
    assert_nothing_left_running(&w).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_lost_after_it_started_is_not_never_ran() {
    let w = World::new();
    w.faults(r#"{"task_lost": {"after": 1.0, "stop_code": "InfrastructureHealth"}}"#);
    let o = w.run_on(
        "ass-staging",
        "image",
        &[
            "--output",
            "json",
            "--",
            "sh",
            "-c",
            "echo migrating; sleep 30",
        ],
    );
    assert_eq!(code(&o), row("task-lost"), "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["outcome"], "no_exit_code");
    assert_eq!(r["stop_code"], "InfrastructureHealth");
    assert!(r["started_at"].is_string());
    assert!(!stderr(&o).contains("never ran"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn describes_failing_past_lost_after_stop_the_task_and_exit_123() {
    let w = World::new();
    let (child, rx) = spawn_migration(
        &w,
        &[
            "--lost-after",
            "2s",
            "--poll-max",
            "1s",
            "--output",
            "json",
            "--",
            "sh",
            "-c",
            "sleep 60",
        ],
    );
    wait_for(&rx, "task RUNNING");
    w.faults(r#"{"error_burst": {"DescribeTasks": {"count": 100000, "status": 503}}}"#);
    let o = child.wait_with_output().unwrap();
    let err = rest(&rx);
    assert_eq!(code(&o), row("lost-track"), "{err}");
    assert!(
        common::faults_served(&w, "DescribeTasks") >= 2,
        "DescribeTasks kept failing"
    );
    w.reset_faults();
    let r = json_of(&o);
    assert_eq!(r["outcome"], "lost_track");
    let arn = r["task_arn"].as_str().unwrap();
    assert!(r["stop_command"].as_str().unwrap().contains(arn));
    assert_nothing_left_running(&w).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_verdict_does_not_wait_for_the_fargate_teardown() {
    let w = World::new();
    w.faults(r#"{"teardown_delay": 10.0}"#);
    let o = w.run_on(
        "ass-staging",
        "image",
        &[
            "--output",
            "json",
            "--",
            "sh",
            "-c",
            "echo one; echo two; exit 3",
        ],
    );
    let r = json_of(&o);
    let t = &tasks(&w).await[0];
    assert_eq!(code(&o), row("teardown"), "{}", stderr(&o));
    assert_eq!(r["log_lines"], 2);
    assert_eq!(r["stop_code"], "EssentialContainerExited");
    assert_ne!(
        t.last_status(),
        Some("STOPPED"),
        "returned during the teardown"
    );
    assert_eq!(t.desired_status(), Some("STOPPED"));
}

#[tokio::test(flavor = "multi_thread")]
async fn attach_follows_the_running_migration() {
    let w = World::new();
    let script = [
        "--",
        "sh",
        "-c",
        "echo from-first; sleep 8; echo bye; exit 5",
    ];
    let (first, rx) = spawn_migration(&w, &script);
    let seen = wait_for(&rx, "launched ");
    let first_arn = seen
        .lines()
        .find_map(|l| l.split("launched ").nth(1))
        .unwrap()
        .to_string();
    wait_for(&rx, "task RUNNING");
    // another command is another migration: not followed
    let other = w.run_on("ass-staging", "image", &["--attach", "--", "echo", "mine"]);
    assert_eq!(code(&other), 121, "{}", stderr(&other));
    let mut same = vec!["--attach", "--output", "json"];
    same.extend(script);
    let o = w.run_on("ass-staging", "image", &same);
    let first = first.wait_with_output().unwrap();
    assert_eq!(code(&first), 5);
    assert_eq!(code(&o), row("attach"), "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["attached"], true);
    assert_eq!(r["task_arn"], first_arn.as_str());
    let err = stderr(&o);
    let got: Vec<&str> = err
        .lines()
        .filter(|l| ["from-first", "bye"].contains(l))
        .collect();
    assert_eq!(got, ["from-first", "bye"]);
    let mut by_arn = BTreeMap::new();
    for t in tasks(&w).await {
        by_arn.insert(t.task_arn().unwrap().to_string(), t.started_at().is_some());
    }
    assert_eq!(by_arn.len(), 1, "the attached run launched nothing");
}
