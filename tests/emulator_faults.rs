//! The emulator's fault knobs, and ecs-migrate surviving them. The knobs are global to the
//! emulator, so these tests run one at a time (this binary has its own emulator).

mod common;

use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use common::{World, code, faults, reset_faults, stderr, stdout};
use tokio::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::const_new(());

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    let g = SERIAL.lock().await;
    reset_faults();
    g
}

async fn ecs_without_retries(w: &World) -> aws_sdk_ecs::Client {
    let conf = aws_sdk_ecs::config::Builder::from(&w.sdk().await)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_ecs::Client::from_conf(conf)
}

fn error_code<E: aws_sdk_ecs::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn throttle_knob_throttles_that_share_of_one_api() {
    let _g = serial().await;
    let w = World::new("us-east-1");
    let ecs = ecs_without_retries(&w).await;
    faults(r#"{"throttle": {"ListClusters": 0.5}}"#);
    let mut throttled = 0;
    for _ in 0..10 {
        if let Err(e) = ecs.list_clusters().send().await {
            assert_eq!(
                error_code(e.as_service_error().unwrap()),
                "ThrottlingException"
            );
            throttled += 1;
        }
    }
    assert_eq!(throttled, 5);
    // other APIs are untouched
    ecs.describe_clusters()
        .clusters(w.s("cluster"))
        .send()
        .await
        .unwrap();
    reset_faults();
}

#[tokio::test(flavor = "multi_thread")]
async fn error_burst_knob_fails_the_next_calls_with_5xx() {
    let _g = serial().await;
    let w = World::new("us-east-2");
    let ecs = ecs_without_retries(&w).await;
    faults(r#"{"error_burst": {"ListClusters": {"count": 2, "status": 503}}}"#);
    for _ in 0..2 {
        let e = ecs.list_clusters().send().await.unwrap_err();
        let raw = e.raw_response().map(|r| r.status().as_u16());
        assert_eq!(raw, Some(503));
    }
    ecs.list_clusters().send().await.unwrap();
    reset_faults();
}

#[tokio::test(flavor = "multi_thread")]
async fn run_task_failures_knob_makes_ecs_migrate_exit_125_with_the_reason() {
    let _g = serial().await;
    let w = World::new("us-west-1");
    faults(
        r#"{"run_task_failures": "Capacity is unavailable at this time. Please try again later or in a different availability zone"}"#,
    );
    let o = w.run_on("ass-staging", "image", &[]);
    reset_faults();
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("RunTask launched no task: Capacity is unavailable"),
        "{err}"
    );
    assert!(err.contains("more Availability Zones"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn delayed_log_stream_and_flush_lag_lose_no_line() {
    let _g = serial().await;
    let w = World::new("us-west-2");
    faults(r#"{"log_stream_delay": 1.5, "log_flush_lag": 2.0, "log_flush_tail_lines": 3}"#);
    let script =
        "for i in $(seq 1 400); do echo line-$i; done; echo last-1; echo last-2; echo last-3";
    let o = w.run_on(
        "ass-staging",
        "image",
        &["--log-quiet", "3s", "--", "sh", "-c", script],
    );
    reset_faults();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut want: Vec<String> = (1..=400).map(|i| format!("line-{i}")).collect();
    want.extend(["last-1", "last-2", "last-3"].map(String::from));
    let got: Vec<String> = stdout(&o).lines().map(String::from).collect();
    assert_eq!(got, want, "every line once, in order");
    assert!(stderr(&o).contains("(403 lines)"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn flush_lag_knob_delivers_the_tail_after_stopped() {
    let _g = serial().await;
    let w = World::new("eu-west-1");
    faults(r#"{"log_flush_lag": 1.5, "log_flush_tail_lines": 2}"#);
    let sdk = w.sdk().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let task = common::run_task(
        &ecs,
        &w,
        &w.s("task_definition_arn"),
        &["sh", "-c", "echo a; echo b; echo c; echo d"],
    )
    .await;
    let arn = task.task_arn().unwrap().to_string();
    let stream = format!("ecs/ass-staging/rails/{}", arn.rsplit('/').next().unwrap());
    let start = Instant::now();
    loop {
        let t = ecs
            .describe_tasks()
            .cluster(w.s("cluster"))
            .tasks(&arn)
            .send()
            .await
            .unwrap();
        if t.tasks()[0].last_status() == Some("STOPPED") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let read = || async { common::log_messages(&logs, &stream).await };
    assert_eq!(
        read().await,
        ["a", "b"],
        "the tail is still in flight when STOPPED"
    );
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(read().await, ["a", "b", "c", "d"]);
    reset_faults();
}

#[tokio::test(flavor = "multi_thread")]
async fn ecs_migrate_rides_out_throttling_and_5xx() {
    let _g = serial().await;
    let w = World::new("eu-west-2");
    faults(
        r#"{"throttle": {"DescribeTasks": 0.5, "GetLogEvents": 0.5}, "error_burst": {"DescribeTasks": {"count": 2, "status": 500}, "GetParameters": {"count": 1, "status": 503}}}"#,
    );
    let o = w.run_on("ass-staging", "image", &["--output", "json"]);
    reset_faults();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["migrated_versions"].as_array().unwrap().len(), 3);
    assert_eq!(
        r["log_lines"], 14,
        "every non-empty line of the migration output"
    );
}
