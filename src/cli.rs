//! The command line (clap only). Validation lives in config.rs.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::exit::HELP_TABLE;
use crate::plan::VERSION;
use crate::plan::duration::duration;
use crate::plan::stages::HOOK_STAGES;

#[derive(Debug, Parser)]
#[command(
    name = "ecs-migrate",
    version = VERSION,
    about = "Run database migrations as a dedicated Amazon ECS one-off task, and render the CodeDeploy artifacts",
    after_help = HELP_TABLE
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a migration task with the new image and exit with the container's exit code.
    #[command(after_help = HELP_TABLE)]
    Run(Box<RunArgs>),
    /// Write taskdef.json and appspec.yaml for a CodeDeployToECS action (no revision hard-coded).
    Render(Box<RenderArgs>),
    /// ECS native blue/green: wait for the deployment's PAUSE hook, migrate with its target
    /// revision, then continue the deployment or roll it back.
    #[command(after_help = HELP_TABLE)]
    Gate(Box<GateArgs>),
    /// The recent migrations of a service, newest first, from their record.
    History(Box<HistoryArgs>),
    /// Replay a migration's complete output and its verdict; exit with its exit code.
    Logs(Box<LogsArgs>),
    /// Undo exactly the versions a migration applied, newest first, with its image.
    #[command(after_help = HELP_TABLE)]
    Revert(Box<RevertArgs>),
    /// Print the least-privilege IAM policy for what a command calls (JSON).
    IamPolicy(Box<IamPolicyArgs>),
    /// Print a shell completion script (bash, zsh, fish) on stdout.
    #[command(hide = true)]
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout.
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: CompletionShell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// Whose record to read.
#[derive(Debug, Args, Clone, Default)]
pub struct RecordArgs {
    /// ECS cluster name or ARN.
    #[arg(long, env = "ECS_MIGRATE_CLUSTER")]
    pub cluster: Option<String>,
    /// The service whose migrations to read (its migration family is <family>-migrate).
    #[arg(long, env = "ECS_MIGRATE_SERVICE")]
    pub service: Option<String>,
    /// The migration task definition's family, instead of (or beside) --service.
    #[arg(long, env = "ECS_MIGRATE_FAMILY")]
    pub migration_family: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub record: RecordArgs,
    /// How many migrations to show, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// text: a table on stdout. json: one JSON document on stdout.
    #[arg(long, env = "ECS_MIGRATE_OUTPUT", default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// `latest`, a task ARN, a task id, or the first characters of one (at least 6).
    pub task: String,
    #[command(flatten)]
    pub record: RecordArgs,
    /// When the migration is still running, follow it to its verdict (a signal detaches:
    /// the task is never stopped).
    #[arg(long)]
    pub follow: bool,
    /// --follow: how often the log is read.
    #[arg(long, env = "ECS_MIGRATE_POLL_INTERVAL", default_value = "2s", value_parser = duration)]
    pub poll_interval: Duration,
    /// --follow: how often DescribeTasks runs.
    #[arg(long, env = "ECS_MIGRATE_DESCRIBE_INTERVAL", default_value = "3s", value_parser = duration)]
    pub describe_interval: Duration,
    /// --follow: after the container exited, read the log until it was quiet this long.
    #[arg(long, env = "ECS_MIGRATE_LOG_QUIET", default_value = "3s", value_parser = duration)]
    pub log_quiet: Duration,
    /// --follow: stop following after this long (the task is left running).
    #[arg(long, env = "ECS_MIGRATE_TIMEOUT", value_parser = duration)]
    pub timeout: Option<Duration>,
    /// Print container lines as they are (see `run --help`).
    #[arg(long, env = "ECS_MIGRATE_RAW_LOGS", value_parser = BoolishValueParser::new())]
    pub raw_logs: bool,
    /// text: logs on stdout, summary on stderr. json: the result on stdout, logs on stderr.
    #[arg(long, env = "ECS_MIGRATE_OUTPUT", default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct RevertArgs {
    /// The migration to undo: `latest`, a task ARN, a task id, or the first characters of one.
    pub task: String,
    /// ECS cluster name or ARN.
    #[arg(long, env = "ECS_MIGRATE_CLUSTER")]
    pub cluster: Option<String>,
    /// The service whose migration to undo (its network runs the revert).
    #[arg(long, env = "ECS_MIGRATE_SERVICE")]
    pub service: Option<String>,
    /// The container to run (default: the only container; required when there are several).
    #[arg(long, env = "ECS_MIGRATE_CONTAINER")]
    pub container: Option<String>,
    #[command(flatten)]
    pub migration: MigrationArgs,
    /// What a deadline, SIGINT or SIGTERM does to the running task.
    #[arg(long, env = "ECS_MIGRATE_ON_ABORT", default_value = "stop")]
    pub on_abort: RunOnAbort,
    /// Show what it would run (the versions, the image, the task definition and RunTask
    /// request); change nothing.
    #[arg(long, env = "ECS_MIGRATE_DRY_RUN", value_parser = BoolishValueParser::new())]
    pub dry_run: bool,
}

/// `iam-policy`: which command, scoped to what (each value left out is `*`).
#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// The commands whose calls to grant (`run render` for a role that runs both).
    #[arg(default_value = "all")]
    pub commands: Vec<IamCommand>,
    /// The region of every ARN.
    #[arg(long)]
    pub region: Option<String>,
    /// The 12-digit account of every ARN.
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long, default_value = "aws")]
    pub partition: String,
    /// The cluster (RunTask, DescribeTasks, StopTask and ListTasks are conditioned on it).
    #[arg(long)]
    pub cluster: Option<String>,
    /// The service the migration reads (and, for gate, whose deployments it answers).
    #[arg(long)]
    pub service: Option<String>,
    /// The migration task definition's family (default: any; ecs-migrate uses <family>-migrate).
    #[arg(long)]
    pub migration_family: Option<String>,
    /// The container's awslogs group.
    #[arg(long)]
    pub log_group: Option<String>,
    /// The path of the SSM parameters the task reads (e.g. /ass-staging/).
    #[arg(long)]
    pub ssm_path: Option<String>,
    /// A role the migration task definition names (task role, execution role); repeatable.
    #[arg(long = "role", value_name = "ARN")]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IamCommand {
    Run,
    Render,
    Gate,
    /// history and logs (revert needs run and read)
    Read,
    /// the Lambda lifecycle hook function's role
    Hook,
    /// run, render, gate and read (everything but the hook, whose function has its own role)
    All,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// Command preset from task-overrides/ (migrate, rollback, down, status, or --overrides-dir).
    /// Default: migrate, unless a command is given after --.
    #[arg(env = "ECS_MIGRATE_PRESET")]
    pub preset: Option<String>,
    /// The command to run instead of the preset's, as argv (no shell is added).
    #[arg(last = true)]
    pub command: Vec<String>,
    #[command(flatten)]
    pub target: GateTargetArgs,
    #[command(flatten)]
    pub migration: MigrationArgs,
    /// What a deadline, SIGINT or SIGTERM does: stop the task and leave the hook to its timeout
    /// action, leave the task running (detach), or stop it and roll the deployment back.
    #[arg(long, env = "ECS_MIGRATE_ON_ABORT", default_value = "stop")]
    pub on_abort: GateOnAbort,
    /// The lifecycle stage whose PAUSE hook the gate answers.
    #[arg(long, env = "ECS_MIGRATE_HOOK_STAGE", default_value = "PRE_SCALE_UP",
          value_parser = clap::builder::PossibleValuesParser::new(HOOK_STAGES))]
    pub stage: String,
    /// A failed migration: roll the deployment back, or leave the hook to its timeout action.
    #[arg(long, env = "ECS_MIGRATE_ON_FAILURE", default_value = "rollback")]
    pub on_failure: OnFailure,
    /// How long to wait for a deployment to reach the hook (the --timeout deadline still holds).
    #[arg(long, env = "ECS_MIGRATE_HOOK_WAIT", default_value = "15m", value_parser = duration)]
    pub hook_wait: Duration,
}

/// The service whose deployment `gate` answers.
#[derive(Debug, Args, Clone, Default)]
pub struct GateTargetArgs {
    /// ECS cluster name or ARN.
    #[arg(long, env = "ECS_MIGRATE_CLUSTER")]
    pub cluster: Option<String>,
    /// The ECS native blue/green service whose deployment the gate answers.
    #[arg(long, env = "ECS_MIGRATE_SERVICE")]
    pub service: Option<String>,
    /// The container to run (default: the only container; required when there are several).
    #[arg(long, env = "ECS_MIGRATE_CONTAINER")]
    pub container: Option<String>,
    /// The image the deployment must deploy for the container (else the gate leaves it alone).
    #[arg(long, env = "ECS_MIGRATE_IMAGE", conflicts_with = "image_detail")]
    pub image: Option<String>,
    /// CodePipeline ECR source artifact's imageDetail.json (its ImageURI is the new image).
    #[arg(long, env = "ECS_MIGRATE_IMAGE_DETAIL")]
    pub image_detail: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    Codedeploy,
    Imagedefinitions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnFailure {
    /// ContinueServiceDeployment with ROLLBACK.
    Rollback,
    /// Do not answer the hook: its timeout action applies.
    Leave,
}

/// AWS connection settings (the SDK's standard chain supplies credentials).
#[derive(Debug, Args, Clone, Default)]
pub struct AwsArgs {
    /// AWS region (default: the SDK chain: AWS_REGION, profile, ...).
    #[arg(long, env = "AWS_REGION", global = true)]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config (SSO profiles work).
    #[arg(long, env = "AWS_PROFILE", global = true)]
    pub profile: Option<String>,
    /// Endpoint for every AWS service (e.g. the local emulator); AWS_ENDPOINT_URL is honoured too.
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true)]
    pub endpoint_url: Option<String>,
}

/// Where the source task definition comes from.
#[derive(Debug, Args, Clone, Default)]
pub struct TargetArgs {
    /// ECS cluster name or ARN.
    #[arg(long, env = "ECS_MIGRATE_CLUSTER")]
    pub cluster: Option<String>,
    /// Service whose live task definition and network are used (PRIMARY task set for CODE_DEPLOY).
    #[arg(long, env = "ECS_MIGRATE_SERVICE", conflicts_with_all = ["task_definition", "task_definition_file"])]
    pub service: Option<String>,
    /// Task definition FAMILY[:REVISION] or ARN instead of a service (needs network flags).
    #[arg(
        long,
        env = "ECS_MIGRATE_TASK_DEFINITION",
        conflicts_with = "task_definition_file"
    )]
    pub task_definition: Option<String>,
    /// A describe-task-definition JSON file (with or without the "taskDefinition" wrapper).
    #[arg(long, env = "ECS_MIGRATE_TASK_DEFINITION_FILE")]
    pub task_definition_file: Option<PathBuf>,
    /// The container to run (default: the only container; required when there are several).
    #[arg(long, env = "ECS_MIGRATE_CONTAINER")]
    pub container: Option<String>,
    /// The new image for the container.
    #[arg(long, env = "ECS_MIGRATE_IMAGE", conflicts_with = "image_detail")]
    pub image: Option<String>,
    /// CodePipeline ECR source artifact's imageDetail.json (its ImageURI is the new image).
    #[arg(long, env = "ECS_MIGRATE_IMAGE_DETAIL")]
    pub image_detail: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Command preset from task-overrides/ (migrate, rollback, down, status, or --overrides-dir).
    /// Default: migrate, unless a command is given after --.
    #[arg(env = "ECS_MIGRATE_PRESET")]
    pub preset: Option<String>,
    /// The command to run instead of the preset's, as argv (no shell is added).
    #[arg(last = true)]
    pub command: Vec<String>,

    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub migration: MigrationArgs,

    /// What a deadline, SIGINT or SIGTERM does to the running task.
    #[arg(long, env = "ECS_MIGRATE_ON_ABORT", default_value = "stop")]
    pub on_abort: RunOnAbort,
    /// On an ECS native blue/green service, run even while a deployment is in progress (with the
    /// revision it replaces); `gate` is the way to migrate during a deployment.
    #[arg(long, env = "ECS_MIGRATE_ALLOW_DURING_DEPLOYMENT", value_parser = BoolishValueParser::new())]
    pub allow_during_deployment: bool,
    /// Print the migration task definition and the RunTask request as JSON; change nothing.
    #[arg(long, env = "ECS_MIGRATE_DRY_RUN", value_parser = BoolishValueParser::new())]
    pub dry_run: bool,
}

/// What `run` and `gate` share: the migration's command, network, claim, deadline, polling and
/// output settings.
#[derive(Debug, Args)]
pub struct MigrationArgs {
    /// Fill a preset placeholder: STEP=<n> (rollback), VERSION=<14 digits> (down), ...
    #[arg(
        long = "set",
        value_name = "KEY=VALUE",
        env = "ECS_MIGRATE_SET",
        value_delimiter = ','
    )]
    pub sets: Vec<String>,
    /// Extra preset directory (its presets replace built-in ones of the same name).
    #[arg(long, env = "ECS_MIGRATE_OVERRIDES_DIR")]
    pub overrides_dir: Option<PathBuf>,
    /// Family of the migration task definition (default: <family>-migrate).
    #[arg(long, env = "ECS_MIGRATE_FAMILY")]
    pub migration_family: Option<String>,
    /// Run the target container alone, without the containers it dependsOn (by default they
    /// are kept, non-essential: a database proxy the migration connects through, say).
    #[arg(long, env = "ECS_MIGRATE_WITHOUT_SIDECARS", value_parser = BoolishValueParser::new())]
    pub without_sidecars: bool,

    /// Subnets (comma separated) instead of the service's.
    #[arg(long, env = "ECS_MIGRATE_SUBNETS", value_delimiter = ',')]
    pub subnets: Vec<String>,
    /// Security groups (comma separated) instead of the service's.
    #[arg(long, env = "ECS_MIGRATE_SECURITY_GROUPS", value_delimiter = ',')]
    pub security_groups: Vec<String>,
    /// Public IP for the task's ENI instead of the service's setting.
    #[arg(long, env = "ECS_MIGRATE_ASSIGN_PUBLIC_IP")]
    pub assign_public_ip: Option<PublicIp>,
    /// Fargate platform version instead of the service's.
    #[arg(long, env = "ECS_MIGRATE_PLATFORM_VERSION")]
    pub platform_version: Option<String>,
    /// Run on this capacity provider (e.g. FARGATE_SPOT) instead of launch type FARGATE.
    #[arg(long, env = "ECS_MIGRATE_CAPACITY_PROVIDER")]
    pub capacity_provider: Option<String>,

    /// Extra task tag (repeatable).
    #[arg(
        long = "tag",
        value_name = "KEY=VALUE",
        env = "ECS_MIGRATE_TAGS",
        value_delimiter = ','
    )]
    pub tags: Vec<String>,
    /// RunTask idempotency token, at most 64 characters (default: a new UUID per run). The same
    /// token and parameters within 24 h return the task already launched instead of a new one.
    #[arg(long, env = "ECS_MIGRATE_CLIENT_TOKEN")]
    pub client_token: Option<String>,
    /// Run even if another ecs-migrate task of this family is running (no claim check).
    #[arg(long, env = "ECS_MIGRATE_ALLOW_CONCURRENT", conflicts_with = "attach", value_parser = BoolishValueParser::new())]
    pub allow_concurrent: bool,
    /// When the same migration (image, command, overrides) is already running, follow it (its
    /// logs, its exit code) instead of exiting 121. An abort never stops a migration we
    /// attached to; a different migration is still 121.
    #[arg(long, env = "ECS_MIGRATE_ATTACH", value_parser = BoolishValueParser::new())]
    pub attach: bool,
    /// Run a container without awslogs (its output cannot be shown).
    #[arg(long, env = "ECS_MIGRATE_NO_LOGS", value_parser = BoolishValueParser::new())]
    pub no_logs: bool,
    /// Write no record of this migration (by default its launch and verdict go to the stream
    /// `ecs-migrate/<migration family>` in the container's log group, for history, logs and
    /// revert).
    #[arg(long, env = "ECS_MIGRATE_NO_RECORD", value_parser = BoolishValueParser::new())]
    pub no_record: bool,

    /// Deadline for the whole run (e.g. 45m); then the task is stopped and the exit code is 124
    /// (a container that exited before it keeps its own verdict). A deadline reached before
    /// RunTask launches nothing.
    #[arg(long, env = "ECS_MIGRATE_TIMEOUT", value_parser = duration)]
    pub timeout: Option<Duration>,
    /// After the container exited, read the log until clean reads found nothing new for this
    /// long since the exit (and for 1.5 s since the last new line).
    #[arg(long, env = "ECS_MIGRATE_LOG_QUIET", default_value = "3s", value_parser = duration)]
    pub log_quiet: Duration,
    /// Upper bound on the log drain after the container exited (then logs_complete is false).
    #[arg(long, env = "ECS_MIGRATE_LOG_DRAIN_MAX", default_value = "30s", value_parser = duration)]
    pub log_drain_max: Duration,
    /// How often the log is read while the container runs.
    #[arg(long, env = "ECS_MIGRATE_POLL_INTERVAL", default_value = "2s", value_parser = duration)]
    pub poll_interval: Duration,
    /// How often DescribeTasks runs while the container runs.
    #[arg(long, env = "ECS_MIGRATE_DESCRIBE_INTERVAL", default_value = "3s", value_parser = duration)]
    pub describe_interval: Duration,
    /// Longest wait between retries of a failing DescribeTasks (jittered backoff).
    #[arg(long, env = "ECS_MIGRATE_POLL_MAX", default_value = "10s", value_parser = duration)]
    pub poll_max: Duration,
    /// How long DescribeTasks may keep failing before ecs-migrate gives up on the task (exit 123).
    #[arg(long, env = "ECS_MIGRATE_LOST_AFTER", default_value = "5m", value_parser = duration)]
    pub lost_after: Duration,

    /// Print container lines as they are. By default control characters and escape sequences
    /// are shown as visible escapes (`\x1b[2K`), so a log line cannot drive the terminal.
    #[arg(long, env = "ECS_MIGRATE_RAW_LOGS", value_parser = BoolishValueParser::new())]
    pub raw_logs: bool,
    /// text: logs on stdout, summary on stderr. json: one JSON result on stdout, logs on stderr.
    #[arg(long, env = "ECS_MIGRATE_OUTPUT", default_value = "text")]
    pub output: OutputFormat,
    /// Also write the result as a JUnit XML report to FILE (CodeBuild's `reports:`): one test
    /// case per migration with its duration, one for the run with its verdict and, on failure,
    /// the end of the log.
    #[arg(long, value_name = "FILE", env = "ECS_MIGRATE_JUNIT")]
    pub junit: Option<PathBuf>,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Directory to write the artifacts into.
    #[arg(long, env = "ECS_MIGRATE_OUT", default_value = ".")]
    pub out: PathBuf,
    /// `codedeploy`: taskdef.json + appspec.yaml (+ imageDetail.json) for CodeDeployToECS;
    /// `imagedefinitions`: imagedefinitions.json for CodePipeline's ECS (standard) deploy action.
    #[arg(long, env = "ECS_MIGRATE_RENDER_FORMAT", default_value = "codedeploy")]
    pub format: RenderFormat,
    /// Placeholder CodeDeployToECS replaces with the image (Image1ContainerName = IMAGE1_NAME).
    #[arg(
        long,
        env = "ECS_MIGRATE_IMAGE_PLACEHOLDER",
        default_value = "IMAGE1_NAME"
    )]
    pub image_placeholder: String,
    /// Pin every other container on a mutable tag (e.g. nginx:stg) to its current digest
    /// (ECR BatchGetImage); without it each one gets a warning.
    #[arg(long, env = "ECS_MIGRATE_PIN_IMAGES", value_parser = BoolishValueParser::new())]
    pub pin_images: bool,
    /// Load-balanced container for appspec.yaml (default: the service's load balancer entry).
    #[arg(long, env = "ECS_MIGRATE_LB_CONTAINER", requires = "lb_port")]
    pub lb_container: Option<String>,
    /// Load-balanced container port for appspec.yaml.
    #[arg(long, env = "ECS_MIGRATE_LB_PORT", requires = "lb_container")]
    pub lb_port: Option<u16>,
    /// AppSpec lifecycle hook as HOOK=LAMBDA (BeforeInstall, AfterInstall, AfterAllowTestTraffic,
    /// BeforeAllowTraffic, AfterAllowTraffic); repeatable.
    #[arg(
        long = "hook",
        value_name = "HOOK=FUNCTION",
        env = "ECS_MIGRATE_HOOKS",
        value_delimiter = ','
    )]
    pub hooks: Vec<String>,
    /// text: progress on stderr. json: one JSON result on stdout (outcome, the files written,
    /// warnings).
    #[arg(long, env = "ECS_MIGRATE_OUTPUT", default_value = "text")]
    pub output: OutputFormat,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunOnAbort {
    /// StopTask with a reason, keep streaming until the container stopped.
    Stop,
    /// Leave the task running; print its ARN and console URL.
    Detach,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GateOnAbort {
    /// StopTask; the hook is left to its timeout action (or a rerun of the gate).
    Stop,
    /// Leave the task running and the hook unanswered.
    Detach,
    /// Stop the task and roll the deployment back.
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PublicIp {
    #[value(name = "ENABLED", alias = "enabled")]
    Enabled,
    #[value(name = "DISABLED", alias = "disabled")]
    Disabled,
}

impl PublicIp {
    pub fn as_str(self) -> &'static str {
        match self {
            PublicIp::Enabled => "ENABLED",
            PublicIp::Disabled => "DISABLED",
        }
    }
}

/// The completion script for `shell`, from the command line's own definition.
pub fn completions(shell: CompletionShell) -> String {
    let mut cmd = Cli::command();
    let mut out = vec![];
    let name = "ecs-migrate";
    match shell {
        CompletionShell::Bash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, name, &mut out)
        }
        CompletionShell::Zsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, name, &mut out)
        }
        CompletionShell::Fish => {
            clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, name, &mut out)
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The man page (roff), from the command line's own definition.
pub fn man_page() -> String {
    let mut out = vec![];
    // writing to a Vec cannot fail
    let _ = clap_mangen::Man::new(Cli::command()).render(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}
