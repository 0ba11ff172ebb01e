//! The secrets preflight against the emulator: SSM parameters and Secrets Manager secrets are
//! checked without reading a value, and a missing one launches nothing.

use crate::common;

use common::{World, code, json_of, stderr, stdout};
use serde_json::Value;

const RDS_PASSWORD: &str = "rds-managed-staging-password";

/// A new revision whose `RDS_DB_PASSWORD` reads `value_from`.
fn register_with_secret(w: &World, value_from: &str) -> String {
    common::register_revision(w, &w.s("image"), Some(("RDS_DB_PASSWORD", value_from)))
}

/// `run --task-definition TD` in the service's network, JSON output.
fn run_revision(w: &World, td: &str) -> std::process::Output {
    let subnets = w.subnet("private-a");
    let sg = w.s("security_group");
    w.run(&[
        "--task-definition",
        td,
        "--image",
        &w.s("image"),
        "--subnets",
        &subnets,
        "--security-groups",
        &sg,
        "--output",
        "json",
    ])
}

async fn launched(w: &World) -> usize {
    common::tasks(w).await.len()
}

fn one_error_line(err: &str) -> &str {
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(lines.len(), 1, "one error line: {err}");
    lines[0]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secrets_manager_secret_read_by_key_is_checked_and_reaches_the_task() {
    let w = World::new();
    let o = w.run_on("ass-staging", "image", &["--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["secrets"]["ssm_parameters"], 6);
    assert_eq!(
        r["secrets"]["secrets_manager"][0]["name"],
        "RDS_DB_PASSWORD"
    );
    assert_eq!(
        r["secrets"]["secrets_manager"][0]["status"],
        "exists; JSON key password not verifiable without reading the value"
    );
    let err = stderr(&o);
    assert!(
        err.contains("preflight: Secrets Manager secret for RDS_DB_PASSWORD: exists; JSON key password not verifiable"),
        "{err}"
    );
    assert!(
        !err.contains(RDS_PASSWORD) && !stdout(&o).contains(RDS_PASSWORD),
        "a secret value was printed"
    );
    // the emulator resolved the key into the container's environment, as ECS does
    assert_eq!(w.sql("SELECT count(*) FROM schema_migrations"), "3");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_secrets_manager_secret_launches_nothing() {
    let w = World::new();
    let sm = aws_sdk_secretsmanager::Client::new(&w.sdk().await);
    sm.delete_secret()
        .secret_id(w.s("rds_secret_arn"))
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let o = w.run_on("ass-staging", "image", &["--output", "json"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let err = stderr(&o);
    let line = one_error_line(&err);
    assert!(
        line.contains("1 secret(s) the task needs do not exist")
            && line.contains(&w.s("rds_secret_arn"))
            && line.contains("for RDS_DB_PASSWORD: not found"),
        "{line}"
    );
    let r = json_of(&o);
    assert_eq!(r["outcome"], "launch_failed");
    assert_eq!(r["task_definition_arn"], Value::Null, "nothing registered");
    assert_eq!(launched(&w).await, 0, "nothing launched");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_stage_the_secret_lacks_launches_nothing() {
    let w = World::new();
    let td = register_with_secret(
        &w,
        &format!("{}:password:AWSPREVIOUS:", w.s("rds_secret_arn")),
    );
    let o = run_revision(&w, &td);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let line = stderr(&o);
    let line = one_error_line(&line);
    assert!(line.contains("no version has stage AWSPREVIOUS"), "{line}");
    assert_eq!(launched(&w).await, 0, "nothing launched");

    // the stage the secret has passes, and ECS (the emulator) resolves it
    let td = register_with_secret(
        &w,
        &format!("{}:password:AWSCURRENT:", w.s("rds_secret_arn")),
    );
    let o = run_revision(&w, &td);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_secret_without_a_key_exists_plainly() {
    let w = World::new();
    let td = register_with_secret(&w, &w.s("rds_secret_arn"));
    let o = run_revision(&w, &td);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        json_of(&o)["secrets"]["secrets_manager"][0]["status"],
        "exists"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ssm_parameter_of_another_account_is_refused_before_anything() {
    let w = World::new();
    let td = register_with_secret(
        &w,
        "arn:aws:ssm:ca-west-1:999999999999:parameter/ass-staging/db/password",
    );
    let o = run_revision(&w, &td);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let err = stderr(&o);
    let line = one_error_line(&err);
    assert!(
        line.contains("secret RDS_DB_PASSWORD")
            && line.contains("account 999999999999, not the task's account 123456789012"),
        "{line}"
    );
    assert!(err.contains("nothing was launched"), "{err}");
    assert_eq!(json_of(&o)["task_definition_arn"], Value::Null);
    assert_eq!(launched(&w).await, 0, "nothing launched");
}
