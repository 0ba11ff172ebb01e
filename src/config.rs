//! Turns the command line into a validated plan. No AWS calls: every error here exits 2
//! before anything is touched.

use std::path::PathBuf;

use std::time::Duration;

use clap::Parser;

use crate::cli::{
    self, GateArgs, GateOnAbort, HistoryArgs, IamCommand, IamPolicyArgs, LogsArgs, MigrationArgs,
    RecordArgs, RenderArgs, RenderFormat, RevertArgs, RunArgs, RunOnAbort, TargetArgs,
};
use crate::error::{Error, Result};
use crate::plan::connection::Connection;
use crate::plan::duration::{POLL_CEILING, POLL_MIN, STOP_GRACE};
use crate::plan::hook_event::{self, HookEvent};
use crate::plan::iam;
use crate::plan::image::{self, ImageRef};
use crate::plan::job::{Ci, Job, Printing, Shape};
use crate::plan::migration::{
    GatePlan, Kind, OnAbort, OnFailure, Recording, RunPlan, Source, Target,
};
use crate::plan::network::NetworkFlags;
use crate::plan::overrides;
use crate::plan::record::{Following, HistoryPlan, Locator, LogsPlan, RevertPlan};
use crate::plan::render::{APPSPEC_HOOKS, ArtifactKind, RenderPlan};
use crate::plan::taskdef::Sidecars;

/// The command line, validated: how to print, and the command's plan (or why it has none).
pub fn job(command: cli::Command) -> (Printing, Result<Job>) {
    let github_actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    // GitHub's files only under GitHub Actions, and only when named
    let github_file = |name: &str| {
        github_actions
            .then(|| std::env::var_os(name))
            .flatten()
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let ci = |junit: Option<&PathBuf>| Ci {
        step_summary: github_file("GITHUB_STEP_SUMMARY"),
        step_outputs: github_file("GITHUB_OUTPUT"),
        junit: junit.cloned(),
    };
    let printing =
        |json: cli::OutputFormat, raw_logs: bool, shape: Shape, command: &'static str, ci: Ci| {
            Printing {
                json: json == cli::OutputFormat::Json,
                raw_logs,
                github_actions,
                shape,
                command,
                ci,
            }
        };
    let quiet = |shape, command| {
        printing(
            cli::OutputFormat::Text,
            false,
            shape,
            command,
            Ci::default(),
        )
    };
    match command {
        cli::Command::Run(args) => (
            printing(
                args.migration.output,
                args.migration.raw_logs,
                Shape::Migration,
                "run",
                ci(args.migration.junit.as_ref()),
            ),
            run_plan(&args).map(|p| Job::Run(Box::new(p))),
        ),
        cli::Command::Gate(args) => (
            printing(
                args.migration.output,
                args.migration.raw_logs,
                Shape::Migration,
                "gate",
                ci(args.migration.junit.as_ref()),
            ),
            gate_plan(&args).map(|p| Job::Gate(Box::new(p))),
        ),
        cli::Command::Render(args) => (
            printing(args.output, false, Shape::Render, "render", Ci::default()),
            render_plan(&args).map(|p| Job::Render(Box::new(p))),
        ),
        cli::Command::History(args) => (
            printing(args.output, false, Shape::History, "history", Ci::default()),
            history_plan(&args).map(|p| Job::History(Box::new(p))),
        ),
        cli::Command::Logs(args) => (
            printing(
                args.output,
                args.raw_logs,
                Shape::Migration,
                "logs",
                ci(None),
            ),
            logs_plan(&args).map(|p| Job::Logs(Box::new(p))),
        ),
        cli::Command::Revert(args) => (
            printing(
                args.migration.output,
                args.migration.raw_logs,
                Shape::Migration,
                "revert",
                ci(args.migration.junit.as_ref()),
            ),
            revert_plan(&args).map(|p| Job::Revert(Box::new(p))),
        ),
        cli::Command::IamPolicy(args) => (
            printing(
                cli::OutputFormat::Json,
                false,
                Shape::Policy,
                "iam-policy",
                Ci::default(),
            ),
            iam_plan(&args).map(|(commands, scope)| Job::IamPolicy(commands, Box::new(scope))),
        ),
        cli::Command::Completions(args) => (
            quiet(Shape::Policy, "completions"),
            Ok(Job::Text(cli::completions(args.shell))),
        ),
        cli::Command::Man => (quiet(Shape::Policy, "man"), Ok(Job::Text(cli::man_page()))),
    }
}

/// Whose record: `--service` (with `--cluster`) or `--migration-family`.
fn locator(args: &RecordArgs) -> Result<Locator> {
    let nonempty_opt =
        |flag: &str, v: &Option<String>| v.as_deref().map(|v| nonempty(flag, v)).transpose();
    let at = Locator {
        cluster: nonempty_opt("--cluster", &args.cluster)?,
        service: nonempty_opt("--service", &args.service)?,
        migration_family: args
            .migration_family
            .as_deref()
            .map(family_name)
            .transpose()?,
    };
    if at.service.is_none() && at.migration_family.is_none() {
        return Err(Error::usage(
            "whose migrations? give --service (with --cluster) or --migration-family",
        )
        .with_hint("or set ECS_MIGRATE_SERVICE and ECS_MIGRATE_CLUSTER"));
    }
    if at.service.is_some() && at.cluster.is_none() {
        return Err(Error::usage("--cluster is required with --service")
            .with_hint("or set ECS_MIGRATE_CLUSTER"));
    }
    Ok(at)
}

/// `history`.
pub fn history_plan(args: &HistoryArgs) -> Result<HistoryPlan> {
    if !(1..=1000).contains(&args.limit) {
        return Err(Error::usage("--limit must be between 1 and 1000"));
    }
    Ok(HistoryPlan {
        connection: connection(&args.record.aws)?,
        locator: locator(&args.record)?,
        limit: args.limit,
    })
}

/// `logs`.
pub fn logs_plan(args: &LogsArgs) -> Result<LogsPlan> {
    let which = nonempty("TASK", &args.task)?;
    let follow = if args.follow {
        for (flag, d) in [
            ("--poll-interval", args.poll_interval),
            ("--describe-interval", args.describe_interval),
        ] {
            if !(POLL_MIN..=POLL_CEILING).contains(&d) {
                return Err(Error::usage(format!("{flag} must be between 50ms and 5m")));
            }
        }
        if args.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::usage("--timeout must be positive"));
        }
        Some(Following {
            poll_interval: args.poll_interval,
            describe_interval: args.describe_interval,
            log_quiet: args.log_quiet,
            timeout: args.timeout,
        })
    } else {
        None
    };
    Ok(LogsPlan {
        connection: connection(&args.record.aws)?,
        locator: locator(&args.record)?,
        which,
        follow,
    })
}

/// `revert`: a migration plan for the service; its image and command come from the record.
pub fn revert_plan(args: &RevertArgs) -> Result<RevertPlan> {
    let which = nonempty("TASK", &args.task)?;
    let Some(service) = args.service.clone() else {
        return Err(
            Error::usage("revert runs in the service's network: give --service")
                .with_hint("or set ECS_MIGRATE_SERVICE"),
        );
    };
    let target = target(
        &TargetArgs {
            cluster: args.cluster.clone(),
            service: Some(service),
            container: args.container.clone(),
            ..Default::default()
        },
        true,
    )?;
    let on_abort = match args.on_abort {
        RunOnAbort::Stop => OnAbort::Stop,
        RunOnAbort::Detach => OnAbort::Detach,
    };
    // the command is the record's; this placeholder only passes the preset checks
    let placeholder = ["revert".to_string()];
    if !args.migration.sets.is_empty() {
        return Err(Error::usage(
            "revert takes no --set: its versions come from the record",
        ));
    }
    let mut run = migration_plan(target, None, &placeholder, &args.migration, on_abort)?;
    run.dry_run = args.dry_run;
    run.record.kind = Kind::Revert;
    run.overrides.preset = Some("revert".into());
    let locator = Locator {
        cluster: run.target.cluster.clone(),
        service: args.service.clone(),
        migration_family: run.migration_family.clone(),
    };
    Ok(RevertPlan {
        run,
        locator,
        which,
    })
}

/// `render`: every flag checked before any call.
pub fn render_plan(args: &RenderArgs) -> Result<RenderPlan> {
    let target = target(&args.target, false)?;
    let ph = &args.image_placeholder;
    if ph.is_empty() || !ph.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::usage(format!(
            "--image-placeholder {ph:?}: use letters, digits and _ (e.g. IMAGE1_NAME)"
        )));
    }
    let hooks = pairs("--hook", &args.hooks)?;
    for (hook, function) in &hooks {
        if !APPSPEC_HOOKS.contains(&hook.as_str()) {
            return Err(Error::usage(format!("--hook {hook}: unknown AppSpec hook"))
                .with_hint(format!("hooks: {}", APPSPEC_HOOKS.join(", "))));
        }
        let ok = !function.is_empty()
            && function
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c));
        if !ok {
            return Err(Error::usage(format!(
                "--hook {hook}={function}: not a Lambda function name or ARN"
            )));
        }
    }
    let format = match args.format {
        RenderFormat::Codedeploy => ArtifactKind::CodeDeploy,
        RenderFormat::Imagedefinitions => ArtifactKind::ImageDefinitions,
    };
    if format == ArtifactKind::ImageDefinitions && target.image.is_none() {
        return Err(
            Error::usage("--format imagedefinitions needs the new image")
                .with_hint("pass --image or --image-detail"),
        );
    }
    if args.pin_images && matches!(target.source, Source::File { .. }) {
        return Err(Error::usage(
            "--pin-images needs AWS access (ECR BatchGetImage), not a task definition file",
        ));
    }
    Ok(RenderPlan {
        connection: connection(&args.aws)?,
        target,
        out: args.out.clone(),
        format,
        placeholder: ph.clone(),
        pin_images: args.pin_images,
        lb: args.lb_container.clone().zip(args.lb_port.map(i32::from)),
        hooks,
        image_detail: args.target.image_detail.clone(),
    })
}

/// `iam-policy`: the commands and the scope, each value checked as the ARN part it becomes.
pub fn iam_plan(args: &IamPolicyArgs) -> Result<(Vec<iam::Command>, iam::Scope)> {
    let mut commands: Vec<iam::Command> = args
        .commands
        .iter()
        .flat_map(|c| match c {
            IamCommand::Run => vec![iam::Command::Run],
            IamCommand::Render => vec![iam::Command::Render],
            IamCommand::Gate => vec![iam::Command::Gate],
            IamCommand::Read => vec![iam::Command::Read],
            IamCommand::Hook => vec![iam::Command::Hook],
            IamCommand::All => iam::Command::ALL.to_vec(),
        })
        .collect();
    commands.sort();
    commands.dedup();
    let part = |flag: &str, value: &Option<String>, ok: fn(char) -> bool| -> Result<String> {
        match value {
            None => Ok("*".into()),
            Some(v) if !v.is_empty() && v.chars().all(ok) => Ok(v.clone()),
            Some(v) => Err(Error::usage(format!(
                "{flag} {v:?} cannot be part of an ARN"
            ))),
        }
    };
    let name = |c: char| c.is_ascii_alphanumeric() || "-_".contains(c);
    let account = part("--account", &args.account, |c| c.is_ascii_digit())?;
    if account != "*" && account.len() != 12 {
        return Err(Error::usage("--account takes the 12-digit account ID"));
    }
    for role in &args.roles {
        let ok =
            role.starts_with(&format!("arn:{}:iam::", args.partition)) && role.contains(":role/");
        if !ok {
            return Err(
                Error::usage(format!("--role {role:?} is not an IAM role ARN"))
                    .with_hint("e.g. arn:aws:iam::123456789012:role/app-task-execution"),
            );
        }
    }
    Ok((
        commands,
        iam::Scope {
            partition: part("--partition", &Some(args.partition.clone()), |c| {
                c.is_ascii_lowercase() || c == '-'
            })?,
            region: part("--region", &args.region, |c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
            })?,
            account,
            cluster: part("--cluster", &args.cluster, name)?,
            service: part("--service", &args.service, name)?,
            migration_family: part("--migration-family", &args.migration_family, name)?,
            log_group: part("--log-group", &args.log_group, |c| {
                c.is_ascii_alphanumeric() || "-_./#".contains(c)
            })?,
            ssm_path: args.ssm_path.clone().unwrap_or_default(),
            roles: args.roles.clone(),
        },
    ))
}

pub fn target(args: &TargetArgs, cluster_required: bool) -> Result<Target> {
    let source = match (
        &args.service,
        &args.task_definition,
        &args.task_definition_file,
    ) {
        (Some(s), None, None) => Source::Service {
            service: nonempty("--service", s)?,
        },
        (None, Some(t), None) => Source::TaskDefinition {
            task_definition: nonempty("--task-definition", t)?,
        },
        (None, None, Some(p)) => Source::File { path: p.clone() },
        (None, None, None) => {
            return Err(Error::usage(
                "no target: give --service (or --task-definition / --task-definition-file)",
            )
            .with_hint("e.g. --cluster my-cluster --service my-service"));
        }
        _ => {
            return Err(Error::usage(
                "give only one of --service, --task-definition, --task-definition-file",
            ));
        }
    };
    let cluster = args
        .cluster
        .as_deref()
        .map(|c| nonempty("--cluster", c))
        .transpose()?;
    if cluster.is_none() && (cluster_required || !matches!(source, Source::File { .. })) {
        return Err(Error::usage("--cluster is required").with_hint("or set ECS_MIGRATE_CLUSTER"));
    }
    let image = match (&args.image, &args.image_detail) {
        (Some(i), _) => Some(ImageRef::parse(i)?),
        (None, Some(p)) => Some(image::from_image_detail(p)?),
        (None, None) => None,
    };
    Ok(Target {
        cluster,
        source,
        container: args.container.clone(),
        image,
    })
}

/// `run`: a migration plan.
pub fn run_plan(args: &RunArgs) -> Result<RunPlan> {
    let target = target(&args.target, !args.dry_run)?;
    let on_abort = match args.on_abort {
        RunOnAbort::Stop => OnAbort::Stop,
        RunOnAbort::Detach => OnAbort::Detach,
    };
    let mut plan = migration_plan(
        target,
        args.preset.as_deref(),
        &args.command,
        &args.migration,
        on_abort,
    )?;
    plan.dry_run = args.dry_run;
    plan.allow_during_deployment = args.allow_during_deployment;
    Ok(plan)
}

/// `gate`: the service whose deployment it answers.
pub fn gate_plan(args: &GateArgs) -> Result<GatePlan> {
    let t = &args.target;
    let Some(service) = t.service.clone() else {
        return Err(
            Error::usage("gate answers a service's deployment: give --service")
                .with_hint("or set ECS_MIGRATE_SERVICE"),
        );
    };
    let target = target(
        &TargetArgs {
            cluster: t.cluster.clone(),
            service: Some(service.clone()),
            container: t.container.clone(),
            image: t.image.clone(),
            image_detail: t.image_detail.clone(),
            ..Default::default()
        },
        true,
    )?;
    let on_abort = match args.on_abort {
        GateOnAbort::Stop => OnAbort::Stop,
        GateOnAbort::Detach => OnAbort::Detach,
        GateOnAbort::Rollback => OnAbort::Rollback,
    };
    let mut run = migration_plan(
        target,
        args.preset.as_deref(),
        &args.command,
        &args.migration,
        on_abort,
    )?;
    run.record.kind = Kind::Gate;
    Ok(GatePlan {
        service,
        run,
        stage: args.stage.clone(),
        on_failure: match args.on_failure {
            cli::OnFailure::Rollback => OnFailure::Rollback,
            cli::OnFailure::Leave => OnFailure::Leave,
        },
        hook_wait: args.hook_wait,
    })
}

/// The Lambda hook's plan for one invocation: `hookDetails` as `gate`'s command line
/// (plan::hook_event), the function's ECS_MIGRATE_* environment under it; the RunTask token
/// and the started-by tag are the deployment's, and a duplicate invocation follows the same
/// migration rather than refusing it.
pub fn hook_plan(event: &HookEvent, env_set: impl Fn(&str) -> bool) -> Result<GatePlan> {
    let mut argv = event.argv()?;
    // at the stage ECS invokes it at, unless a stage is set (a hook at several stages)
    if !event.details.contains_key("stage") && !env_set("ECS_MIGRATE_HOOK_STAGE") {
        argv.insert(2, format!("--stage={}", event.stage));
    }
    let cli = cli::Cli::try_parse_from(&argv).map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        Error::usage(format!(
            "the hook's configuration: {}",
            first.strip_prefix("error: ").unwrap_or(first)
        ))
        .with_hint("check hookDetails and the function's ECS_MIGRATE_* environment")
    })?;
    let cli::Command::Gate(args) = cli.command else {
        return Err(Error::usage("the hook's configuration is not a gate's"));
    };
    let mut plan = gate_plan(&args)?;
    if let Some(image) = &plan.run.target.image {
        return Err(Error::usage(format!(
            "the hook migrates the image of the deployment's target revision, not {image}"
        ))
        .with_hint(
            "unset ECS_MIGRATE_IMAGE and ECS_MIGRATE_IMAGE_DETAIL in the function's environment",
        ));
    }
    plan.run.record.kind = Kind::Hook;
    plan.run.client_token = Some(hook_event::client_token(&event.deployment_arn));
    plan.run.caller = hook_event::caller(&event.deployment_arn);
    plan.run.attach = true;
    // nothing stops a migration left running once ECS gives up on the hook: a deadline always
    plan.run.timeout = Some(plan.run.timeout.unwrap_or(HOOK_TIMEOUT));
    Ok(plan)
}

/// The hook's migration deadline when neither hookDetails.timeout nor ECS_MIGRATE_TIMEOUT sets one.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The hook function's own settings, from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct HookSettings {
    /// The longest one invocation works (the function's remaining time bounds it too).
    pub budget: Duration,
    /// IN_PROGRESS: when ECS asks again.
    pub call_back_delay: Duration,
}

pub fn hook_settings(env: impl Fn(&str) -> Option<String>) -> Result<HookSettings> {
    let read = |name: &str, default: Duration| -> Result<Duration> {
        match env(name) {
            None => Ok(default),
            Some(v) => crate::plan::duration::duration(&v).map_err(|e| {
                Error::usage(format!("{name}={v}: {e}"))
                    .with_hint("set it to a duration such as 30s or 10m")
            }),
        }
    };
    let settings = HookSettings {
        budget: read(
            "ECS_MIGRATE_HOOK_INVOCATION_BUDGET",
            Duration::from_secs(14 * 60),
        )?,
        call_back_delay: read("ECS_MIGRATE_HOOK_CALLBACK_DELAY", Duration::from_secs(30))?,
    };
    if settings.budget < Duration::from_secs(1) || settings.budget > Duration::from_secs(15 * 60) {
        return Err(Error::usage(
            "ECS_MIGRATE_HOOK_INVOCATION_BUDGET must be between 1s and 15m (a Lambda invocation's longest)",
        ));
    }
    if settings.call_back_delay < Duration::from_secs(1) {
        return Err(Error::usage(
            "ECS_MIGRATE_HOOK_CALLBACK_DELAY must be at least 1s (ECS counts it in seconds)",
        ));
    }
    Ok(settings)
}

fn migration_plan(
    target: Target,
    preset: Option<&str>,
    command: &[String],
    args: &MigrationArgs,
    on_abort: OnAbort,
) -> Result<RunPlan> {
    let sets = pairs("--set", &args.sets)?;
    if let Some(key) = repeated_key(&sets) {
        return Err(Error::usage(format!("--set {key} is given more than once"))
            .with_hint("give each placeholder once"));
    }
    let catalogue = overrides::catalogue(args.overrides_dir.as_deref())?;
    let argv = (!command.is_empty()).then(|| command.to_vec());
    let overrides = overrides::resolve(&catalogue, preset, &sets, argv)?;
    // Checked again with the resolved container name; here so that nothing is called at all.
    overrides.check_size(target.container.as_deref().unwrap_or("container"))?;
    if let Some(token) = &args.client_token {
        let ok =
            !token.is_empty() && token.len() <= 64 && token.chars().all(|c| c.is_ascii_graphic());
        if !ok {
            return Err(
                Error::usage("--client-token must be 1-64 printable ASCII characters").with_hint(
                    "CodeBuild: use ${CODEPIPELINE_EXECUTION_ID}-${CODEBUILD_BUILD_NUMBER}",
                ),
            );
        }
    }
    for (flag, d) in [
        ("--poll-interval", args.poll_interval),
        ("--describe-interval", args.describe_interval),
        ("--poll-max", args.poll_max),
    ] {
        if !(POLL_MIN..=POLL_CEILING).contains(&d) {
            return Err(Error::usage(format!("{flag} must be between 50ms and 5m")));
        }
    }
    if args.poll_max < args.describe_interval {
        return Err(Error::usage(
            "--poll-max cannot be below --describe-interval",
        ));
    }
    if args.lost_after < args.poll_max {
        return Err(Error::usage("--lost-after cannot be below --poll-max"));
    }
    if args.log_quiet > args.log_drain_max {
        return Err(Error::usage("--log-quiet cannot exceed --log-drain-max"));
    }
    if args.timeout.is_some_and(|t| t.is_zero()) {
        return Err(Error::usage("--timeout must be positive"));
    }
    if let Some(f) = &args.migration_family {
        family_name(f)?;
    }
    let tags = checked_tags(pairs("--tag", &args.tags)?)?;
    let platform_version = args
        .platform_version
        .as_deref()
        .map(platform_version)
        .transpose()?;
    let capacity_provider = args
        .capacity_provider
        .as_deref()
        .map(capacity_provider)
        .transpose()?;
    Ok(RunPlan {
        connection: connection(&args.aws)?,
        target,
        overrides,
        network: NetworkFlags {
            subnets: ec2_ids("--subnets", "subnet", &args.subnets)?,
            security_groups: ec2_ids("--security-groups", "sg", &args.security_groups)?,
            assign_public_ip: args.assign_public_ip.map(|p| p.as_str()),
            platform_version,
            capacity_provider,
        },
        migration_family: args.migration_family.clone(),
        tags,
        caller: crate::plan::identity::caller(|k| std::env::var(k).ok()),
        client_token: args.client_token.clone(),
        allow_concurrent: args.allow_concurrent,
        attach: args.attach,
        sidecars: if args.without_sidecars {
            Sidecars::Drop
        } else {
            Sidecars::Keep
        },
        require_logs: !args.no_logs,
        timeout: args.timeout,
        on_abort,
        log_quiet: args.log_quiet,
        log_drain_max: args.log_drain_max,
        poll_interval: args.poll_interval,
        describe_interval: args.describe_interval,
        poll_max: args.poll_max,
        lost_after: args.lost_after,
        stop_grace: STOP_GRACE,
        dry_run: false,
        allow_during_deployment: false,
        record: Recording {
            enabled: !args.no_record,
            kind: Kind::Run,
            reverts: None,
        },
    })
}

/// A task definition family name, as ECS takes it.
fn family_name(f: &str) -> Result<String> {
    let ok = !f.is_empty()
        && f.len() <= 255
        && f.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(Error::usage(format!(
            "--migration-family '{f}' is not a valid family name (letters, digits, - and _; up to 255)"
        )));
    }
    Ok(f.to_string())
}

/// `--region`, `--profile`, `--endpoint-url`, checked.
fn connection(args: &cli::AwsArgs) -> Result<Connection> {
    Connection::new(
        args.region.clone(),
        args.profile.clone(),
        args.endpoint_url.clone(),
    )
}

/// Task tags as ECS takes them: keys 1-128 characters without the reserved `aws:` prefix,
/// values up to 256, no key twice, at most 50 (the ecs-migrate tags count too, so 45 here).
fn checked_tags(tags: Vec<(String, String)>) -> Result<Vec<(String, String)>> {
    for (k, v) in &tags {
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(Error::usage(format!(
                "--tag {k}: the aws: prefix is reserved"
            )));
        }
        if k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(Error::usage(format!(
                "--tag {}…: keys are at most 128 characters, values 256",
                k.chars().take(20).collect::<String>()
            )));
        }
    }
    if let Some(k) = repeated_key(&tags) {
        return Err(Error::usage(format!("--tag {k} is given more than once")));
    }
    if tags.len() > 45 {
        return Err(Error::usage(
            "at most 45 --tag (ECS allows 50 tags; ecs-migrate adds its own)",
        ));
    }
    Ok(tags)
}

/// `LATEST` or a version such as `1.4.0`.
fn platform_version(v: &str) -> Result<String> {
    let numeric = v.split('.').count() == 3
        && v.split('.')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if v == "LATEST" || numeric {
        return Ok(v.to_string());
    }
    Err(Error::usage(format!(
        "--platform-version {v:?} is not a platform version"
    ))
    .with_hint("use LATEST or a version such as 1.4.0"))
}

/// A capacity provider name: FARGATE, FARGATE_SPOT or a provider's name.
fn capacity_provider(name: &str) -> Result<String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        return Ok(name.to_string());
    }
    Err(Error::usage(format!(
        "--capacity-provider {name:?} is not a capacity provider name"
    ))
    .with_hint("e.g. FARGATE or FARGATE_SPOT"))
}

/// The first key given twice, if any.
fn repeated_key(pairs: &[(String, String)]) -> Option<&str> {
    let mut seen = std::collections::BTreeSet::new();
    pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .find(|k| !seen.insert(*k))
}

/// EC2 IDs given on the command line: `<prefix>-` and 8 or 17 lowercase hex digits, none
/// empty (`--subnets ''` or `a,,b` would otherwise reach RunTask).
fn ec2_ids(flag: &str, prefix: &str, ids: &[String]) -> Result<Vec<String>> {
    for id in ids {
        let hex = id.strip_prefix(prefix).and_then(|r| r.strip_prefix('-'));
        let ok = hex.is_some_and(|h| {
            (h.len() == 8 || h.len() == 17)
                && h.chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        });
        if !ok {
            return Err(
                Error::usage(format!("{flag}: {id:?} is not a {prefix} ID")).with_hint(format!(
                    "IDs look like {prefix}-0123456789abcdef0, comma separated, none empty"
                )),
            );
        }
    }
    Ok(ids.to_vec())
}

fn nonempty(flag: &str, value: &str) -> Result<String> {
    if value.trim().is_empty() {
        return Err(Error::usage(format!("{flag} is empty")));
    }
    Ok(value.to_string())
}

/// Parses repeated `KEY=VALUE` flags.
pub fn pairs(flag: &str, items: &[String]) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(Error::usage(format!("{flag} {item:?}: expected KEY=VALUE"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::plan::duration::DURATION_MAX;
    use clap::Parser;

    fn hook_event(details: serde_json::Value, stage: &str) -> HookEvent {
        HookEvent::parse(&serde_json::json!({
            "executionId": "e", "lifecycleStage": stage,
            "resourceArn": "arn:aws:ecs:eu-west-1:123456789012:service-deployment/c/web/0a1b2c",
            "executionDetails": {
                "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/c/web",
                "targetServiceRevisionArn": "arn:aws:ecs:eu-west-1:123456789012:service-revision/c/web/1"
            },
            "hookDetails": details
        }))
        .unwrap()
    }

    #[test]
    fn the_hooks_plan_is_the_deployments() {
        let none = |_: &str| false;
        let p = hook_plan(
            &hook_event(serde_json::json!({"container": "rails"}), "POST_SCALE_UP"),
            none,
        )
        .unwrap();
        assert_eq!(p.stage, "POST_SCALE_UP", "the stage ECS invokes it at");
        assert_eq!(p.service, "web");
        assert_eq!(p.run.target.cluster.as_deref(), Some("c"));
        assert_eq!(p.run.record.kind, Kind::Hook);
        assert_eq!(p.run.caller, "ecs-hook/0a1b2c");
        assert!(p.run.attach);
        assert_eq!(
            p.run.timeout,
            Some(HOOK_TIMEOUT),
            "never without a deadline"
        );
        assert_eq!(
            p.run.client_token,
            Some(hook_event::client_token(
                "arn:aws:ecs:eu-west-1:123456789012:service-deployment/c/web/0a1b2c"
            ))
        );
        // a stage set in hookDetails (or the environment) holds at any other stage
        let p = hook_plan(
            &hook_event(
                serde_json::json!({"stage": "PRE_SCALE_UP", "timeout": "5m"}),
                "POST_SCALE_UP",
            ),
            none,
        )
        .unwrap();
        assert_eq!(p.stage, "PRE_SCALE_UP");
        assert_eq!(p.run.timeout, Some(Duration::from_secs(300)));
        let p = hook_plan(&hook_event(serde_json::json!({}), "POST_SCALE_UP"), |k| {
            k == "ECS_MIGRATE_HOOK_STAGE"
        })
        .unwrap();
        assert_eq!(
            p.stage, "PRE_SCALE_UP",
            "ECS_MIGRATE_HOOK_STAGE's default when set"
        );
    }

    #[test]
    fn the_hook_refuses_an_image_of_its_own_and_bad_details() {
        let e = hook_plan(
            &hook_event(serde_json::json!({"timeout": "soon"}), "PRE_SCALE_UP"),
            |_| false,
        )
        .unwrap_err();
        assert!(
            e.message
                .starts_with("the hook's configuration: invalid value 'soon'"),
            "{e}"
        );
        assert_eq!(e.exit_code(), crate::exit::USAGE);
        assert!(
            hook_settings(|k| (k == "ECS_MIGRATE_HOOK_INVOCATION_BUDGET").then(|| "20m".into()))
                .is_err()
        );
        assert!(
            hook_settings(|k| (k == "ECS_MIGRATE_HOOK_CALLBACK_DELAY").then(|| "0s".into()))
                .is_err()
        );
        let s = hook_settings(|_| None).unwrap();
        assert_eq!(
            (s.budget, s.call_back_delay),
            (Duration::from_secs(14 * 60), Duration::from_secs(30))
        );
    }

    fn plan(args: &[&str]) -> Result<RunPlan> {
        let mut argv = vec!["ecs-migrate", "run"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| Error::usage(e.to_string()))?;
        match cli.command {
            Command::Run(a) => run_plan(&a),
            _ => unreachable!(),
        }
    }

    #[test]
    fn service_run_defaults_to_migrate() {
        let p = plan(&["--cluster", "c", "--service", "s"]).unwrap();
        assert_eq!(
            p.target.source,
            Source::Service {
                service: "s".into()
            }
        );
        assert_eq!(
            p.overrides.command,
            ["bundle", "exec", "rails", "db:migrate"]
        );
        assert_eq!(
            (p.log_quiet, p.log_drain_max),
            (Duration::from_secs(3), Duration::from_secs(30))
        );
        assert_eq!(p.on_abort, OnAbort::Stop);
    }

    #[test]
    fn preset_set_and_argv() {
        let p = plan(&[
            "rollback",
            "--cluster",
            "c",
            "--service",
            "s",
            "--set",
            "STEP=3",
        ])
        .unwrap();
        assert_eq!(p.overrides.command.last().unwrap(), "STEP=3");
        let p = plan(&[
            "--cluster",
            "c",
            "--service",
            "s",
            "--",
            "bin/rails",
            "db:migrate:status",
        ])
        .unwrap();
        assert_eq!(p.overrides.command, ["bin/rails", "db:migrate:status"]);
    }

    /// How a command line is refused: by clap (its parser) or by config, with the message.
    #[derive(Debug, PartialEq)]
    enum Refused {
        Clap(String),
        Config(String),
    }

    fn refused(args: &[&str]) -> Refused {
        let mut argv = vec!["ecs-migrate", "run"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv) {
            Err(e) => Refused::Clap(e.to_string().lines().next().unwrap_or_default().to_string()),
            Ok(cli) => match cli.command {
                Command::Run(a) => {
                    let e = run_plan(&a).expect_err("refused");
                    assert_eq!(e.exit_code(), crate::exit::USAGE, "{args:?}: {e}");
                    Refused::Config(e.message)
                }
                _ => unreachable!(),
            },
        }
    }

    /// Each row: the arguments after `--cluster c --service s` (unless the row names its own
    /// target), and exactly how it is refused.
    #[test]
    fn each_bad_input_has_its_own_message() {
        let long = "x".repeat(9000);
        let long_key = format!("{}=v", "k".repeat(129));
        let token = "x".repeat(65);
        let config = |m: &str| Refused::Config(m.to_string());
        let clap = |m: &str| Refused::Clap(m.to_string());
        let own_target: Vec<(Vec<&str>, Refused)> = vec![
            (vec!["--service", "s"], config("--cluster is required")),
            (
                vec!["--cluster", "c"],
                config("no target: give --service (or --task-definition / --task-definition-file)"),
            ),
            (
                vec!["--cluster", "c", "--service", "s", "--task-definition", "t"],
                clap(
                    "error: the argument '--service <SERVICE>' cannot be used with '--task-definition <TASK_DEFINITION>'",
                ),
            ),
            (
                vec!["--task-definition-file", "x.json"],
                config("--cluster is required"),
            ),
        ];
        let rows: Vec<(Vec<&str>, Refused)> = vec![
            (
                vec!["--image", "Bad Image"],
                config("invalid image reference 'Bad Image': empty or contains whitespace"),
            ),
            (
                vec!["--client-token", &token],
                config("--client-token must be 1-64 printable ASCII characters"),
            ),
            (
                vec!["--tag", "novalue"],
                config("--tag \"novalue\": expected KEY=VALUE"),
            ),
            (
                vec!["--tag", "aws:x=1"],
                config("--tag aws:x: the aws: prefix is reserved"),
            ),
            (
                vec!["--tag", "team=a", "--tag", "team=b"],
                config("--tag team is given more than once"),
            ),
            (
                vec!["--tag", &long_key],
                config("--tag kkkkkkkkkkkkkkkkkkkk…: keys are at most 128 characters, values 256"),
            ),
            (
                vec!["--log-quiet", "40s"],
                config("--log-quiet cannot exceed --log-drain-max"),
            ),
            (vec!["nope"], config("unknown preset 'nope'")),
            (
                vec!["--", "sh", "-c", &long],
                config("the RunTask overrides are 9070 characters, over the API limit of 8192"),
            ),
            (
                vec!["--subnets", ""],
                config("--subnets: \"\" is not a subnet ID"),
            ),
            (
                vec!["--subnets", "subnet-0123abcd,,subnet-4567cdef"],
                config("--subnets: \"\" is not a subnet ID"),
            ),
            (
                vec!["--subnets", "subnet-xyz"],
                config("--subnets: \"subnet-xyz\" is not a subnet ID"),
            ),
            (
                vec!["--subnets", "Subnet-0123ABCD"],
                config("--subnets: \"Subnet-0123ABCD\" is not a subnet ID"),
            ),
            (
                vec!["--security-groups", "sg-123"],
                config("--security-groups: \"sg-123\" is not a sg ID"),
            ),
            (
                vec!["--security-groups", "subnet-0123abcd"],
                config("--security-groups: \"subnet-0123abcd\" is not a sg ID"),
            ),
            (
                vec!["rollback", "--set", "STEP=abc", "--set", "STEP=1"],
                config("--set STEP is given more than once"),
            ),
            (
                vec!["--platform-version", ""],
                config("--platform-version \"\" is not a platform version"),
            ),
            (
                vec!["--platform-version", "1.4"],
                config("--platform-version \"1.4\" is not a platform version"),
            ),
            (
                vec!["--capacity-provider", ""],
                config("--capacity-provider \"\" is not a capacity provider name"),
            ),
            (
                vec!["--capacity-provider", "FARGATE SPOT"],
                config("--capacity-provider \"FARGATE SPOT\" is not a capacity provider name"),
            ),
            (
                vec!["--timeout", "18000000000000000000s"],
                clap(
                    "error: invalid value '18000000000000000000s' for '--timeout <TIMEOUT>': 18000000000000000000s is longer than the maximum of 7days",
                ),
            ),
            (
                vec!["--poll-interval", "18000000000000000000s"],
                clap(
                    "error: invalid value '18000000000000000000s' for '--poll-interval <POLL_INTERVAL>': 18000000000000000000s is longer than the maximum of 7days",
                ),
            ),
            (
                vec!["--timeout", "8d"],
                clap(
                    "error: invalid value '8d' for '--timeout <TIMEOUT>': 8d is longer than the maximum of 7days",
                ),
            ),
            (
                vec!["--timeout", "0s"],
                config("--timeout must be positive"),
            ),
            (
                vec!["--poll-interval", "0s"],
                config("--poll-interval must be between 50ms and 5m"),
            ),
            (
                vec!["--poll-max", "1s"],
                config("--poll-max cannot be below --describe-interval"),
            ),
            (
                vec!["--lost-after", "1s"],
                config("--lost-after cannot be below --poll-max"),
            ),
            (
                vec!["--describe-interval", "10m"],
                config("--describe-interval must be between 50ms and 5m"),
            ),
            (
                vec!["--attach", "--allow-concurrent"],
                clap("error: the argument '--attach' cannot be used with '--allow-concurrent'"),
            ),
            (
                vec!["--on-abort", "rollback"],
                clap("error: invalid value 'rollback' for '--on-abort <ON_ABORT>'"),
            ),
            (
                vec!["--migration-family", "bad family"],
                config(
                    "--migration-family 'bad family' is not a valid family name (letters, digits, - and _; up to 255)",
                ),
            ),
        ];
        let base = ["--cluster", "c", "--service", "s"];
        let mut all = own_target;
        all.extend(rows.into_iter().map(|(extra, want)| {
            let mut args = base.to_vec();
            args.extend(extra);
            (args, want)
        }));
        let mut wrong = vec![];
        for (args, want) in all {
            let got = refused(&args);
            if got != want {
                wrong.push(format!("{args:?}\n  got:  {got:?}\n  want: {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn good_input_makes_the_plan_it_says() {
        let p = plan(&[
            "--cluster",
            "c",
            "--service",
            "s",
            "--subnets",
            "subnet-0123abcd,subnet-0123456789abcdef0",
            "--security-groups",
            "sg-0123456789abcdef0",
        ])
        .unwrap();
        assert_eq!(
            p.network.subnets,
            ["subnet-0123abcd", "subnet-0123456789abcdef0"]
        );
        assert_eq!(p.network.security_groups, ["sg-0123456789abcdef0"]);
        let p = plan(&["--cluster", "c", "--service", "s", "--timeout", "7d"]).unwrap();
        assert_eq!(p.timeout, Some(DURATION_MAX));
    }

    #[test]
    fn file_source_needs_no_cluster_in_dry_run() {
        let p = plan(&["--task-definition-file", "x.json", "--dry-run"]).unwrap();
        assert!(p.target.cluster.is_none());
        assert!(plan(&["--task-definition-file", "x.json"]).is_err());
    }
}
