//! Container output is untrusted: it cannot drive the terminal or the CI runner, and debug
//! tracing does not print secrets' sources or environment values.

use crate::common;

use common::{World, code, stderr, stdout};

const HOSTILE: &str = r"printf 'before\n\033[1A\033[2Kresult: succeeded (fake)\n\033]0;owned\007\n\033]8;;https://evil.example\033\\link\033]8;;\033\\\nbell\007 cr\rnul\n::error::injected\n::add-mask::x\n'";

#[tokio::test(flavor = "multi_thread")]
async fn escape_sequences_print_as_visible_text() {
    let w = World::new();
    let o = w.run_on("ass-staging", "image", &["--", "sh", "-c", HOSTILE]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        !out.bytes().any(|b| b == 0x1b || b == 0x07 || b == b'\r'),
        "{out:?}"
    );
    assert!(
        out.contains("\\x1b[1A\\x1b[2Kresult: succeeded (fake)"),
        "{out}"
    );
    assert!(out.contains("\\x1b]0;owned\\x07"), "{out}");
    assert!(out.contains("bell\\x07 cr\\x0dnul"), "{out}");
    // --raw-logs is the explicit way to get the bytes as they are
    let raw = w.run_on(
        "ass-staging",
        "image",
        &["--raw-logs", "--", "sh", "-c", HOSTILE],
    );
    assert!(stdout(&raw).contains("\x1b[1A\x1b[2Kresult"));
}

#[tokio::test(flavor = "multi_thread")]
async fn under_github_actions_container_output_cannot_issue_workflow_commands() {
    let w = World::new();
    let gha = [("GITHUB_ACTIONS", "true")];
    let o = w.run_with_env(&gha, &["--", "sh", "-c", HOSTILE]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    // our group opens first and closes last, both outside the fence (tests/integration/ci.rs)
    assert!(lines[0].starts_with("::group::"), "{out}");
    let token = lines[1]
        .strip_prefix("::stop-commands::")
        .unwrap_or_else(|| panic!("second line {:?}", lines[1]));
    assert_eq!(token.len(), 32, "a random token");
    assert_eq!(lines[lines.len() - 2], format!("::{token}::"));
    assert_eq!(*lines.last().unwrap(), "::endgroup::");
    let inside = &lines[2..lines.len() - 2];
    assert!(inside.contains(&"::error::injected"), "{out}");
    // a token is fresh per run
    let again = w.run_with_env(&gha, &["--", "echo", "x"]);
    assert!(!stdout(&again).contains(token));
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_tracing_hides_environment_values_and_secret_sources() {
    let w = World::new();
    let o = w.run_with_env(
        &[("ECS_MIGRATE_LOG", "ecs_migrate=debug")],
        &["--", "echo", "x"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("raw ECS request body"), "debug tracing is on");
    assert!(err.contains("<redacted>"), "{err}");
    for secret in [
        "\"staging\"",
        "/ass-staging/db/password",
        "/ass-staging/rails-master-key",
    ] {
        assert!(!err.contains(secret), "{secret} in debug output");
    }
    assert!(!err.contains('\x1b'), "no colour on a non-terminal");
}

/// `run --dry-run` from the fixture file, with `ECS_MIGRATE_DRY_RUN=value` instead of the flag.
fn dry_run_env(value: &str) -> std::process::Output {
    let file = common::repo().join("tests/fixtures/taskdef-staging.json");
    std::process::Command::new(env!("CARGO_BIN_EXE_ecs-migrate"))
        .env_clear()
        .env("ECS_MIGRATE_DRY_RUN", value)
        .args([
            "run",
            "--container",
            "rails",
            "--subnets",
            "subnet-0123abcd",
        ])
        .arg("--task-definition-file")
        .arg(&file)
        .output()
        .unwrap()
}

#[test]
fn boolean_env_vars_take_the_usual_spellings() {
    for value in ["1", "yes", "true", "on"] {
        let o = dry_run_env(value);
        assert_eq!(code(&o), 0, "ECS_MIGRATE_DRY_RUN={value}: {}", stderr(&o));
        assert!(stdout(&o).contains("\"runTask\""));
    }
    let o = dry_run_env("0");
    assert_eq!(
        code(&o),
        2,
        "0 means no dry run, which needs --cluster: {}",
        stderr(&o)
    );
}
