//! `ecs-migrate iam-policy`: the least-privilege IAM policy for what each command calls (pure).
//! It is the one source: docs/iam-policy.json and the pipeline templates' roles are tested to
//! be this policy, and the integration tests compare its actions with the calls the emulator
//! served each command.

use serde_json::{Value, json};

/// A command whose calls the policy grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Command {
    Run,
    Render,
    Gate,
    /// `history` and `logs`: they read the record, the logs and ECS (`logs` records the
    /// verdict of a migration whose runner vanished). `revert` is `run` and `read`.
    Read,
    /// The Lambda lifecycle hook: `gate`'s migration, answered by its return value (ECS
    /// invokes it; it calls no deployment API but DescribeServiceRevisions).
    Hook,
}

impl Command {
    /// Every command a runner (a person, a CI job) runs; the hook has its function's own role.
    pub const ALL: [Command; 4] = [Command::Run, Command::Render, Command::Gate, Command::Read];
}

/// What the policy is scoped to; `*` where a value is not given.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub cluster: String,
    pub service: String,
    /// The migration task definition's family (`<family>-migrate`).
    pub migration_family: String,
    /// The container's awslogs group.
    pub log_group: String,
    /// Prefix of the SSM parameters the task reads (`/ass-staging/`), or empty for all.
    pub ssm_path: String,
    /// The task role and execution role the migration task definition names.
    pub roles: Vec<String>,
}

impl Default for Scope {
    fn default() -> Self {
        Self {
            partition: "aws".into(),
            region: "*".into(),
            account: "*".into(),
            cluster: "*".into(),
            service: "*".into(),
            migration_family: "*".into(),
            log_group: "*".into(),
            ssm_path: String::new(),
            roles: vec![],
        }
    }
}

/// One statement: the API actions it grants, whether ecs-migrate calls them or AWS checks them
/// on its behalf (`implied`), on what, under which condition.
struct Grant {
    sid: &'static str,
    actions: &'static [&'static str],
    resources: Vec<String>,
    condition: Option<Value>,
    commands: &'static [Command],
}

const RUN: &[Command] = &[Command::Run, Command::Gate, Command::Hook];
const RESOLVE: &[Command] = &[Command::Run, Command::Render, Command::Gate, Command::Read];
/// The commands that read the migrations' logs and write the record.
const RECORD: &[Command] = &[Command::Run, Command::Gate, Command::Read, Command::Hook];

fn grants(s: &Scope) -> Vec<Grant> {
    let arn = |service: &str, resource: String| {
        let (region, account) = match service {
            "iam" => ("", s.account.as_str()),
            _ => (s.region.as_str(), s.account.as_str()),
        };
        format!(
            "arn:{}:{service}:{region}:{account}:{resource}",
            s.partition
        )
    };
    let cluster_arn = arn("ecs", format!("cluster/{}", s.cluster));
    let on_cluster = json!({"ArnEquals": {"ecs:cluster": cluster_arn}});
    let service_path = format!("{}/{}", s.cluster, s.service);
    let ssm = if s.ssm_path.is_empty() {
        "parameter/*".to_string()
    } else {
        format!("parameter/{}*", s.ssm_path.trim_start_matches('/'))
    };
    let record = arn(
        "logs",
        format!(
            "log-group:{}:log-stream:ecs-migrate/{}",
            s.log_group, s.migration_family
        ),
    );
    let roles = if s.roles.is_empty() {
        vec![arn("iam", "role/*".into())]
    } else {
        s.roles.clone()
    };
    vec![
        Grant {
            sid: "ReadTheService",
            actions: &["ecs:DescribeServices"],
            resources: vec![arn("ecs", format!("service/{service_path}"))],
            condition: None,
            commands: RESOLVE,
        },
        Grant {
            // DescribeTaskDefinition has no resource-level permissions
            sid: "ReadTaskDefinitions",
            actions: &["ecs:DescribeTaskDefinition"],
            resources: vec!["*".into()],
            condition: None,
            commands: &[
                Command::Run,
                Command::Render,
                Command::Gate,
                Command::Read,
                Command::Hook,
            ],
        },
        Grant {
            sid: "ReadNativeBlueGreenDeployments",
            actions: &[
                "ecs:ListServiceDeployments",
                "ecs:DescribeServiceDeployments",
                "ecs:DescribeServiceRevisions",
            ],
            resources: vec![
                arn("ecs", format!("service/{service_path}")),
                arn("ecs", format!("service-deployment/{service_path}/*")),
                arn("ecs", format!("service-revision/{service_path}/*")),
            ],
            condition: None,
            commands: RESOLVE,
        },
        Grant {
            // the hook: the deployment's target revision
            sid: "ReadTheTargetRevision",
            actions: &["ecs:DescribeServiceRevisions"],
            resources: vec![arn("ecs", format!("service-revision/{service_path}/*"))],
            condition: None,
            commands: &[Command::Hook],
        },
        Grant {
            sid: "PinSidecarImages",
            actions: &["ecr:BatchGetImage"],
            resources: vec![arn("ecr", "repository/*".into())],
            condition: None,
            commands: &[Command::Render],
        },
        Grant {
            sid: "PreflightSecretsExist",
            actions: &["ssm:GetParameters"],
            resources: vec![arn("ssm", ssm)],
            condition: None,
            commands: RUN,
        },
        Grant {
            sid: "PreflightSecretsManagerSecretsExist",
            actions: &["secretsmanager:DescribeSecret"],
            resources: vec![arn("secretsmanager", "secret:*".into())],
            condition: None,
            commands: RUN,
        },
        Grant {
            // RegisterTaskDefinition has no resource-level permissions
            sid: "RegisterTheMigrationTaskDefinition",
            actions: &["ecs:RegisterTaskDefinition"],
            resources: vec!["*".into()],
            condition: None,
            commands: RUN,
        },
        Grant {
            sid: "TagOnlyWhatItCreates",
            actions: &["ecs:TagResource"],
            resources: vec!["*".into()],
            condition: Some(json!({
                "StringEquals": {"ecs:CreateAction": ["RegisterTaskDefinition", "RunTask"]}
            })),
            commands: RUN,
        },
        Grant {
            sid: "RunTheMigration",
            actions: &["ecs:RunTask"],
            resources: vec![arn(
                "ecs",
                format!("task-definition/{}:*", s.migration_family),
            )],
            condition: Some(on_cluster.clone()),
            commands: RUN,
        },
        Grant {
            sid: "FollowAndStopTheMigration",
            actions: &["ecs:DescribeTasks", "ecs:StopTask"],
            resources: vec![arn("ecs", format!("task/{}/*", s.cluster))],
            condition: Some(on_cluster.clone()),
            commands: RUN,
        },
        Grant {
            sid: "ListTheFamilysMigrations",
            actions: &["ecs:ListTasks"],
            resources: vec!["*".into()],
            condition: Some(on_cluster.clone()),
            commands: RUN,
        },
        Grant {
            sid: "PassTheTaskRolesToEcsOnly",
            actions: &["iam:PassRole"],
            resources: roles,
            condition: Some(json!({
                "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
            })),
            commands: RUN,
        },
        Grant {
            // history and logs: how a migration whose runner vanished ended
            sid: "SeeHowMigrationsEnded",
            actions: &["ecs:DescribeTasks"],
            resources: vec![arn("ecs", format!("task/{}/*", s.cluster))],
            condition: Some(on_cluster.clone()),
            commands: &[Command::Read],
        },
        Grant {
            // the migrations' own streams and the record's
            sid: "StreamTheMigrationLogs",
            actions: &["logs:GetLogEvents"],
            resources: vec![arn(
                "logs",
                format!("log-group:{}:log-stream:*", s.log_group),
            )],
            condition: None,
            commands: RECORD,
        },
        Grant {
            // the record: one stream of its own, `ecs-migrate/<migration family>`, created by
            // the first migration
            sid: "CreateTheRecord",
            actions: &["logs:CreateLogStream"],
            resources: vec![record.clone()],
            condition: None,
            commands: RUN,
        },
        Grant {
            sid: "WriteTheRecord",
            actions: &["logs:PutLogEvents"],
            resources: vec![record],
            condition: None,
            commands: RECORD,
        },
        Grant {
            sid: "AnswerTheHook",
            actions: &["ecs:ContinueServiceDeployment"],
            resources: vec![arn("ecs", format!("service-deployment/{service_path}/*"))],
            condition: None,
            commands: &[Command::Gate],
        },
    ]
}

/// The policy document granting what `commands` call, and nothing else.
pub fn policy(commands: &[Command], scope: &Scope) -> Value {
    let statements: Vec<Value> = grants(scope)
        .into_iter()
        .filter(|g| g.commands.iter().any(|c| commands.contains(c)))
        .map(|g| {
            let mut st = json!({
                "Sid": g.sid,
                "Effect": "Allow",
                "Action": g.actions,
                "Resource": g.resources,
            });
            if let Some(c) = g.condition {
                st["Condition"] = c;
            }
            st
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Every action the policy for `commands` grants, sorted: API calls, and the two AWS checks on
/// ecs-migrate's calls (iam:PassRole when RegisterTaskDefinition/RunTask name the task's roles,
/// ecs:TagResource when they carry tags).
#[cfg(test)]
pub fn actions(commands: &[Command]) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = grants(&Scope::default())
        .into_iter()
        .filter(|g| g.commands.iter().any(|c| commands.contains(c)))
        .flat_map(|g| g.actions.iter().copied())
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_command_gets_what_it_calls() {
        let run = actions(&[Command::Run]);
        assert!(run.contains(&"ecs:RunTask") && run.contains(&"logs:GetLogEvents"));
        assert!(!run.contains(&"ecs:ContinueServiceDeployment"));
        assert!(!run.contains(&"ecr:BatchGetImage"));
        let render = actions(&[Command::Render]);
        assert_eq!(
            render,
            [
                "ecr:BatchGetImage",
                "ecs:DescribeServiceDeployments",
                "ecs:DescribeServiceRevisions",
                "ecs:DescribeServices",
                "ecs:DescribeTaskDefinition",
                "ecs:ListServiceDeployments",
            ],
            "render only reads"
        );
        let gate = actions(&[Command::Gate]);
        assert!(gate.contains(&"ecs:ContinueServiceDeployment"));
        // the hook answers by its return value and reads only its target revision
        let hook = actions(&[Command::Hook]);
        assert!(hook.contains(&"ecs:RunTask") && hook.contains(&"ecs:DescribeServiceRevisions"));
        for not_needed in [
            "ecs:ContinueServiceDeployment",
            "ecs:DescribeServices",
            "ecs:ListServiceDeployments",
        ] {
            assert!(!hook.contains(&not_needed), "{not_needed}");
        }
        assert!(gate.iter().all(|a| !a.starts_with("ecr:")));
        for never in [
            "secretsmanager:GetSecretValue",
            "ssm:GetParameter",
            "kms:Decrypt",
        ] {
            let all = actions(&Command::ALL);
            assert!(!all.contains(&never), "{never}");
        }
    }

    #[test]
    fn the_scope_narrows_every_arn_and_condition() {
        let scope = Scope {
            region: "ap-northeast-1".into(),
            account: "730335441282".into(),
            cluster: "ass-staging".into(),
            service: "ass-staging".into(),
            migration_family: "ass-task-def-staging-migrate".into(),
            log_group: "/ecs/ass-staging".into(),
            ssm_path: "/ass-staging/".into(),
            roles: vec!["arn:aws:iam::730335441282:role/ass-ecs-task-execution".into()],
            ..Scope::default()
        };
        let doc = policy(&[Command::Gate], &scope);
        let by_sid = |sid: &str| {
            doc["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["Sid"] == sid)
                .unwrap_or_else(|| panic!("{sid}"))
                .clone()
        };
        assert_eq!(
            by_sid("RunTheMigration")["Resource"],
            json!([
                "arn:aws:ecs:ap-northeast-1:730335441282:task-definition/ass-task-def-staging-migrate:*"
            ])
        );
        assert_eq!(
            by_sid("RunTheMigration")["Condition"]["ArnEquals"]["ecs:cluster"],
            "arn:aws:ecs:ap-northeast-1:730335441282:cluster/ass-staging"
        );
        assert_eq!(
            by_sid("PreflightSecretsExist")["Resource"],
            json!(["arn:aws:ssm:ap-northeast-1:730335441282:parameter/ass-staging/*"])
        );
        assert_eq!(
            by_sid("AnswerTheHook")["Resource"],
            json!([
                "arn:aws:ecs:ap-northeast-1:730335441282:service-deployment/ass-staging/ass-staging/*"
            ])
        );
        let default = policy(&[Command::Run], &Scope::default());
        assert!(
            default.to_string().contains("arn:aws:iam::*:role/*"),
            "unscoped, PassRole still names roles: {default}"
        );
    }
}
