//! The emulator's fake Fargate agent, proven through the real AWS SDK clients.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::Task;
use common::World;

struct Ctx {
    world: World,
    ecs: aws_sdk_ecs::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    ssm: aws_sdk_ssm::Client,
}

async fn ctx(region: &str) -> Ctx {
    let world = World::new(region);
    let sdk = world.sdk().await;
    Ctx {
        ecs: aws_sdk_ecs::Client::new(&sdk),
        logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
        ssm: aws_sdk_ssm::Client::new(&sdk),
        world,
    }
}

impl Ctx {
    async fn run_task(&self, td: &str, command: &[&str]) -> Task {
        common::run_task(&self.ecs, &self.world, td, command).await
    }

    async fn describe(&self, arn: &str) -> Task {
        let out = self
            .ecs
            .describe_tasks()
            .cluster(self.world.s("cluster"))
            .tasks(arn)
            .send()
            .await
            .unwrap();
        out.tasks()[0].clone()
    }

    /// Polls until STOPPED; returns the statuses seen, in order, and the stopped task.
    async fn wait_stopped(&self, arn: &str) -> (Vec<String>, Task) {
        let start = Instant::now();
        let mut seen: Vec<String> = vec![];
        loop {
            let t = self.describe(arn).await;
            let s = t.last_status().unwrap().to_string();
            if seen.last() != Some(&s) {
                seen.push(s.clone());
            }
            if s == "STOPPED" {
                return (seen, t);
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "task never stopped: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn log_lines(&self, container: &str, task: &Task) -> Vec<String> {
        let id = task.task_arn().unwrap().rsplit('/').next().unwrap();
        common::log_messages(&self.logs, &format!("ecs/ass-staging/{container}/{id}")).await
    }

    fn td(&self) -> String {
        self.world.s("task_definition_arn")
    }
}

fn rails(t: &Task) -> &aws_sdk_ecs::types::Container {
    t.containers()
        .iter()
        .find(|c| c.name() == Some("rails"))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_creates_tables_streams_rails_output_and_exits_0() {
    let c = ctx("us-east-1").await;
    let task = c
        .run_task(&c.td(), &["bundle", "exec", "rails", "db:migrate"])
        .await;
    assert_eq!(task.last_status(), Some("PROVISIONING"));
    assert_eq!(task.containers().len(), 2, "every container has an entry");
    let (seen, stopped) = c.wait_stopped(task.task_arn().unwrap()).await;
    // The seed's nginx dependsOn rails HEALTHY, and rails' health check (curl :3000) cannot
    // pass while it runs a migration: as on ECS, nginx never starts and the task stays
    // PENDING until rails, essential, exits. (The migration task definition leaves nginx out.)
    assert_eq!(
        seen,
        ["PROVISIONING", "PENDING", "DEPROVISIONING", "STOPPED"]
    );
    assert_eq!(rails(&stopped).exit_code(), Some(0));
    assert_eq!(
        stopped.stop_code().map(|s| s.as_str()),
        Some("EssentialContainerExited")
    );
    assert!(stopped.stopped_at().is_some());
    assert_eq!(c.world.sql("SELECT name FROM sqlite_master WHERE type='table' AND name IN ('users','posts') ORDER BY name"), "posts\nusers");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lines = c.log_lines("rails", &stopped).await;
    assert_eq!(
        lines[0],
        "== 20240101000000 CreateUsers: migrating ======================================"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("== 20240301120000 CreatePosts: migrated (")),
        "{lines:?}"
    );
    let nginx = stopped
        .containers()
        .iter()
        .find(|c| c.name() == Some("nginx"))
        .unwrap();
    assert_eq!(nginx.last_status(), Some("STOPPED"));
    assert_eq!(nginx.exit_code(), None, "it never started");
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_come_through_describe_tasks() {
    let c = ctx("us-east-2").await;
    for (cmd, want) in [("exit 0", 0), ("exit 3", 3), ("kill -9 $$", 137)] {
        let task = c.run_task(&c.td(), &["sh", "-c", cmd]).await;
        let (_, stopped) = c.wait_stopped(task.task_arn().unwrap()).await;
        assert_eq!(rails(&stopped).exit_code(), Some(want), "{cmd}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn log_lines_arrive_in_order_in_the_right_stream() {
    let c = ctx("us-west-1").await;
    let task = c
        .run_task(
            &c.td(),
            &[
                "sh",
                "-c",
                "for i in $(seq 1 300); do echo line-$i; done; echo to-stderr >&2",
            ],
        )
        .await;
    let (_, stopped) = c.wait_stopped(task.task_arn().unwrap()).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut want: Vec<String> = (1..=300).map(|i| format!("line-{i}")).collect();
    want.push("to-stderr".into());
    assert_eq!(c.log_lines("rails", &stopped).await, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn environment_and_secrets_reach_the_process() {
    let c = ctx("us-west-2").await;
    let task = c
        .run_task(&c.td(), &["sh", "-c", "echo env=$RAILS_ENV host=$DB_HOST"])
        .await;
    let (_, stopped) = c.wait_stopped(task.task_arn().unwrap()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        c.log_lines("rails", &stopped).await,
        ["env=staging host=db.staging.internal"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secrets_manager_json_key_reaches_the_process() {
    let c = ctx("eu-south-2").await;
    let task = c
        .run_task(
            &c.td(),
            &[
                "sh",
                "-c",
                "test \"$RDS_DB_PASSWORD\" = rds-managed-staging-password && echo matched",
            ],
        )
        .await;
    let (_, stopped) = c.wait_stopped(task.task_arn().unwrap()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.log_lines("rails", &stopped).await, ["matched"]);
    assert_eq!(rails(&stopped).exit_code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_secrets_manager_secret_fails_to_start() {
    let c = ctx("il-central-1").await;
    let sm = aws_sdk_secretsmanager::Client::new(&c.world.sdk().await);
    sm.delete_secret()
        .secret_id(c.world.s("rds_secret_arn"))
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let task = c.run_task(&c.td(), &["true"]).await;
    let (seen, stopped) = c.wait_stopped(task.task_arn().unwrap()).await;
    assert!(!seen.contains(&"RUNNING".to_string()), "{seen:?}");
    let reason = stopped.stopped_reason().unwrap();
    assert!(
        reason.contains("unable to retrieve secret from asm") && reason.contains("rds!db-"),
        "{reason}"
    );
    assert_eq!(rails(&stopped).exit_code(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_secret_fails_to_start_without_exit_code() {
    let c = ctx("eu-west-1").await;
    c.ssm
        .delete_parameter()
        .name("/ass-staging/db/password")
        .send()
        .await
        .unwrap();
    let task = c
        .run_task(&c.td(), &["bundle", "exec", "rails", "db:migrate"])
        .await;
    let (seen, stopped) = c.wait_stopped(task.task_arn().unwrap()).await;
    assert!(!seen.contains(&"RUNNING".to_string()), "{seen:?}");
    assert_eq!(
        stopped.stop_code().map(|s| s.as_str()),
        Some("TaskFailedToStart")
    );
    let reason = stopped.stopped_reason().unwrap();
    assert!(
        reason.starts_with("ResourceInitializationError: unable to pull secrets"),
        "{reason}"
    );
    assert!(reason.contains("/ass-staging/db/password"), "{reason}");
    assert_eq!(rails(&stopped).exit_code(), None);
    assert!(!c.world.db().exists(), "the migration must not have run");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_image_fails_like_cannot_pull() {
    let c = ctx("eu-west-2").await;
    let sdk = c.world.sdk().await;
    let _ = sdk;
    // a copy of the seed task definition with an image that has no image directory
    let td = c
        .ecs
        .describe_task_definition()
        .task_definition(c.td())
        .send()
        .await
        .unwrap();
    let td = td.task_definition().unwrap();
    let mut containers = td.container_definitions().to_vec();
    containers[0].image = Some(c.world.s("image_missing"));
    let reg = c
        .ecs
        .register_task_definition()
        .family("broken-image")
        .set_container_definitions(Some(containers))
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .set_volumes(Some(td.volumes().to_vec()))
        .send()
        .await
        .unwrap();
    let arn = reg
        .task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap()
        .to_string();
    let task = c
        .run_task(&arn, &["bundle", "exec", "rails", "db:migrate"])
        .await;
    let (_, stopped) = c.wait_stopped(task.task_arn().unwrap()).await;
    assert_eq!(
        stopped.stop_code().map(|s| s.as_str()),
        Some("TaskFailedToStart")
    );
    assert!(
        stopped
            .stopped_reason()
            .unwrap()
            .starts_with("CannotPullContainerError"),
        "{:?}",
        stopped.stopped_reason()
    );
    assert_eq!(rails(&stopped).exit_code(), None);
    assert!(
        rails(&stopped)
            .reason()
            .unwrap()
            .contains("rails-does-not-exist")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_task_delivers_sigterm() {
    let c = ctx("eu-central-1").await;
    let script = "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.1; done";
    let task = c.run_task(&c.td(), &["sh", "-c", script]).await;
    let arn = task.task_arn().unwrap();
    let start = Instant::now();
    // rails runs (nginx waits for it to be HEALTHY, so the task itself stays PENDING)
    while rails(&c.describe(arn).await).last_status() != Some("RUNNING") {
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.ecs
        .stop_task()
        .cluster(c.world.s("cluster"))
        .task(arn)
        .reason("test says stop")
        .send()
        .await
        .unwrap();
    let (_, stopped) = c.wait_stopped(arn).await;
    assert_eq!(
        stopped.stop_code().map(|s| s.as_str()),
        Some("UserInitiated")
    );
    assert_eq!(stopped.stopped_reason(), Some("test says stop"));
    assert_eq!(rails(&stopped).exit_code(), Some(0), "the trap exited 0");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.log_lines("rails", &stopped).await, ["ready", "got TERM"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_task_kills_after_stop_timeout() {
    let c = ctx("eu-north-1").await;
    // ignores SIGTERM: SIGKILL follows after the emulator's stop timeout (3 s in tests)
    let task = c
        .run_task(
            &c.td(),
            &[
                "sh",
                "-c",
                "trap '' TERM; echo stubborn; while :; do sleep 0.1; done",
            ],
        )
        .await;
    let arn = task.task_arn().unwrap();
    while rails(&c.describe(arn).await).last_status() != Some("RUNNING") {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stop_sent = Instant::now();
    c.ecs
        .stop_task()
        .cluster(c.world.s("cluster"))
        .task(arn)
        .send()
        .await
        .unwrap();
    let (_, stopped) = c.wait_stopped(arn).await;
    assert_eq!(rails(&stopped).exit_code(), Some(137));
    assert!(stop_sent.elapsed() >= Duration::from_secs(3));
}
