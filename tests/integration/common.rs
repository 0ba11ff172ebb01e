//! Test harness: one emulator for the whole binary; each test gets a world of its own (a region
//! of the emulator, taken from a pool, reset and seeded for it, given back when the test ends),
//! and helpers to run the real binary or the SDK clients against it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Emulator {
    pub url: String,
    _child: Mutex<Child>,
    /// Closing this pipe (when the test process exits) makes the emulator exit.
    _stdin: Mutex<ChildStdin>,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn python() -> PathBuf {
    let p = std::env::var_os("ECS_MIGRATE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "the emulator's Python ({}) is missing: run scripts/test, or scripts/setup-venv first",
        p.display()
    );
    p
}

/// Timings of the emulator for tests: short lifecycle delays, a short stopTimeout.
const EMULATOR_ENV: [(&str, &str); 6] = [
    ("EMU_PROVISIONING_DELAY", "0.2"),
    ("EMU_PENDING_DELAY", "0.2"),
    ("EMU_DEPROVISIONING_DELAY", "0.2"),
    ("EMU_LOG_INGEST_DELAY", "0.1"),
    ("EMU_STOP_TIMEOUT", "3"),
    ("PYTHONUNBUFFERED", "1"),
];

pub fn emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| {
        let mut child = Command::new(python())
            .arg(repo().join("emulator/emulator.py"))
            .args(["--port", "0", "--exit-on-stdin-eof"])
            .envs(EMULATOR_ENV)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the emulator");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("emulator URL");
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "emulator said {url:?}"
        );
        let stdin = child.stdin.take().unwrap();
        Emulator {
            url,
            _child: Mutex::new(child),
            _stdin: Mutex::new(stdin),
        }
    })
}

/// The `aws`-partition regions the emulator's services all know: one world each at a time.
const REGIONS: [&str; 30] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
];

/// The regions no live world holds.
fn pool() -> &'static (Mutex<Vec<&'static str>>, Condvar) {
    static POOL: OnceLock<(Mutex<Vec<&'static str>>, Condvar)> = OnceLock::new();
    POOL.get_or_init(|| (Mutex::new(REGIONS.to_vec()), Condvar::new()))
}

fn take_region() -> &'static str {
    let (free, returned) = pool();
    let mut free = free.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(r) = free.pop() {
            return r;
        }
        free = returned.wait(free).unwrap_or_else(|e| e.into_inner());
    }
}

/// A seeded world in its own region of the emulator.
pub struct World {
    pub doc: Value,
    pub region: String,
    pub dir: tempfile::TempDir,
    held: &'static str,
}

impl Drop for World {
    fn drop(&mut self) {
        let (free, returned) = pool();
        free.lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(0, self.held);
        returned.notify_one();
    }
}

impl World {
    /// A region of its own, emptied (`POST /_emulator/reset`), then seeded.
    pub fn new() -> Self {
        let emu = emulator();
        let held = take_region();
        let region = held;
        http("POST", &format!("/_emulator/reset?region={region}"), "");
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(python())
            .arg(repo().join("emulator/seed.py"))
            .arg(&emu.url)
            .args(["--region", region, "--data-dir"])
            .arg(dir.path())
            .output()
            .expect("run seed.py");
        assert!(
            out.status.success(),
            "seed failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        World {
            doc,
            region: region.to_string(),
            dir,
            held,
        }
    }

    /// Sets fault knobs for this world's region only (`POST /_emulator/faults?region=R`).
    pub fn faults(&self, body: &str) {
        http(
            "POST",
            &format!("/_emulator/faults?region={}", self.region),
            body,
        );
    }

    /// This world's region back on the start-up knobs.
    pub fn reset_faults(&self) {
        http(
            "DELETE",
            &format!("/_emulator/faults?region={}", self.region),
            "",
        );
    }

    pub fn s(&self, key: &str) -> String {
        self.doc[key]
            .as_str()
            .unwrap_or_else(|| panic!("world has no {key}"))
            .to_string()
    }

    pub fn subnet(&self, name: &str) -> String {
        self.doc["subnets"][name].as_str().unwrap().to_string()
    }

    pub fn db(&self) -> PathBuf {
        PathBuf::from(self.s("db_path"))
    }

    /// `ecs-migrate` with the emulator's endpoint and fast polling.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ecs-migrate"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", &emulator().url)
            .env("AWS_REGION", &self.region)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("ECS_MIGRATE_POLL_INTERVAL", "100ms")
            .env("ECS_MIGRATE_DESCRIBE_INTERVAL", "100ms")
            .env("ECS_MIGRATE_POLL_MAX", "300ms")
            .env("ECS_MIGRATE_LOG_QUIET", "1s")
            .stdin(Stdio::null());
        c
    }

    /// `ecs-migrate run <args> --cluster … --container rails`.
    pub fn run(&self, args: &[&str]) -> Output {
        let cluster = self.s("cluster");
        let mut c = self.cmd();
        c.arg("run")
            .args(["--cluster", &cluster, "--container", "rails"])
            .args(args);
        c.output().unwrap()
    }

    /// `run_on` of `ass-staging` and the world's image, with extra environment variables.
    pub fn run_with_env(&self, env: &[(&str, &str)], extra: &[&str]) -> Output {
        let (cluster, image) = (self.s("cluster"), self.s("image"));
        let mut c = self.cmd();
        c.envs(env.iter().copied())
            .args(["run", "--cluster", &cluster, "--container", "rails"])
            .args(["--service", "ass-staging", "--image", &image])
            .args(extra);
        c.output().unwrap()
    }

    /// `ecs-migrate run --service SERVICE --image <the world's IMAGE_KEY> <extra>`.
    pub fn run_on(&self, service: &str, image_key: &str, extra: &[&str]) -> Output {
        let image = self.s(image_key);
        let mut args = vec!["--service", service, "--image", &image];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&emulator().url)
            .region(aws_config::Region::new(self.region.clone()))
            .credentials_provider(aws_sdk_ecs::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .load()
            .await
    }

    /// The rows of a table in the world's SQLite database (via Python's sqlite3).
    pub fn sql(&self, query: &str) -> String {
        let db = self.db();
        python_script(
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print('\\n'.join('|'.join(map(str,r)) for r in c.execute(sys.argv[2])))",
            &[db.to_str().unwrap(), query],
        )
    }
}

/// Every message of a log stream of the seeded log group so far (none while it does not exist).
pub async fn log_messages_if_any(
    logs: &aws_sdk_cloudwatchlogs::Client,
    stream: &str,
) -> Vec<String> {
    match logs
        .get_log_events()
        .log_group_name("/ecs/ass-staging")
        .log_stream_name(stream)
        .start_from_head(true)
        .send()
        .await
    {
        Ok(out) => out
            .events()
            .iter()
            .map(|e| e.message().unwrap_or_default().to_string())
            .collect(),
        Err(_) => vec![],
    }
}

/// Every message of a log stream of the seeded log group, from its head.
pub async fn log_messages(logs: &aws_sdk_cloudwatchlogs::Client, stream: &str) -> Vec<String> {
    let out = logs
        .get_log_events()
        .log_group_name("/ecs/ass-staging")
        .log_stream_name(stream)
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    out.events()
        .iter()
        .map(|e| e.message().unwrap().to_string())
        .collect()
}

/// The one JSON document on stdout (`--output json`).
pub fn json_of(o: &Output) -> Value {
    serde_json::from_str(&stdout(o))
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", stdout(o)))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// What the emulator was asked in `region`: `{"calls": {API: n}, "run_task_tokens": [...]}`.
pub fn stats(region: &str) -> Value {
    control_get(&format!("/_emulator/stats?region={region}"))[region].clone()
}

/// Forgets what the emulator was asked in the world's region so far.
pub fn clear_stats(w: &World) {
    http(
        "DELETE",
        &format!("/_emulator/stats?region={}", w.region),
        "",
    );
}

/// Starts `ecs-migrate run --cluster … --container rails <args>` with piped output; stderr
/// lines arrive on the receiver as they are written.
pub fn spawn_run(w: &World, args: &[&str]) -> (Child, std::sync::mpsc::Receiver<String>) {
    spawn(w, "run", args)
}

/// `ecs-migrate SUBCOMMAND --cluster … --container rails <args>`, spawned like `spawn_run`.
pub fn spawn(
    w: &World,
    subcommand: &str,
    args: &[&str],
) -> (Child, std::sync::mpsc::Receiver<String>) {
    let cluster = w.s("cluster");
    let mut c = w.cmd();
    c.arg(subcommand)
        .args(["--cluster", &cluster, "--container", "rails"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let rx = lines_of(child.stderr.take().unwrap());
    (child, rx)
}

/// The lines of a child's output, as they are written.
pub fn lines_of(pipe: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// `spawn_run` of `--service ass-staging --image <the world's image> <extra>`.
pub fn spawn_migration(w: &World, extra: &[&str]) -> (Child, std::sync::mpsc::Receiver<String>) {
    let image = w.s("image");
    let mut args = vec!["--service", "ass-staging", "--image", &image];
    args.extend_from_slice(extra);
    spawn_run(w, &args)
}

/// A container script that waits for the test: `start` blocks until `go()` is called. The
/// emulator runs containers as local processes, so a file in the world's directory sequences
/// the container after the test's own setup (a fault set, say), with no sleep to guess.
pub struct Go(PathBuf);

impl Go {
    pub fn new(w: &World) -> Self {
        Go(w.dir.path().join("go"))
    }

    /// The shell prefix that waits for `go()`.
    pub fn start(&self) -> String {
        format!("while [ ! -e '{}' ]; do sleep 0.05; done", self.0.display())
    }

    pub fn go(&self) {
        std::fs::write(&self.0, b"").unwrap();
    }
}

/// Reads stderr lines until one contains `needle`; returns everything read.
pub fn wait_for(rx: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    let mut seen = String::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no {needle:?} on stderr; saw:\n{seen}"));
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(needle) {
            return seen;
        }
    }
}

/// The rest of the stderr lines, once the process has exited: up to the pipe's end (its
/// reader ends at EOF), however long a loaded machine takes to read them.
pub fn rest(rx: &std::sync::mpsc::Receiver<String>) -> String {
    let mut all = String::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => {
                all.push_str(&l);
                all.push('\n');
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return all,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("the pipe stayed open 60 s after the process exited; read so far:\n{all}")
            }
        }
    }
}

fn http(method: &str, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let url = &emulator().url;
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200"),
        "{resp}"
    );
    resp
}

/// A control-endpoint call of the emulator (`/_emulator/…`) with a JSON body; its JSON answer.
pub fn control(method: &str, path: &str, body: &Value) -> Value {
    json_body(&http(method, path, &body.to_string()))
}

/// A control-endpoint GET; its JSON answer.
pub fn control_get(path: &str) -> Value {
    json_body(&http("GET", path, ""))
}

/// The JSON body of an HTTP response.
fn json_body(resp: &str) -> Value {
    serde_json::from_str(resp.split("\r\n\r\n").nth(1).unwrap_or("{}")).unwrap()
}

pub fn file(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// RunTask through the SDK (no ecs-migrate): the rails container of `td` with `command`, in the
/// world's first private subnet.
pub async fn run_task(
    ecs: &aws_sdk_ecs::Client,
    w: &World,
    td: &str,
    command: &[&str],
) -> aws_sdk_ecs::types::Task {
    use aws_sdk_ecs::types::{
        AwsVpcConfiguration, ContainerOverride, LaunchType, NetworkConfiguration, TaskOverride,
    };
    let out = ecs
        .run_task()
        .cluster(w.s("cluster"))
        .task_definition(td)
        .launch_type(LaunchType::Fargate)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .subnets(w.subnet("private-a"))
                        .security_groups(w.s("security_group"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .overrides(
            TaskOverride::builder()
                .container_overrides(
                    ContainerOverride::builder()
                        .name("rails")
                        .set_command(Some(command.iter().map(|s| s.to_string()).collect()))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    out.tasks()[0].clone()
}

pub async fn ecs(w: &World) -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&w.sdk().await)
}

/// Every task of the world's cluster (running and stopped), described.
pub async fn tasks(w: &World) -> Vec<aws_sdk_ecs::types::Task> {
    let ecs = ecs(w).await;
    let mut arns = vec![];
    for status in [
        aws_sdk_ecs::types::DesiredStatus::Running,
        aws_sdk_ecs::types::DesiredStatus::Stopped,
    ] {
        let out = ecs
            .list_tasks()
            .cluster(w.s("cluster"))
            .desired_status(status)
            .send()
            .await
            .unwrap();
        arns.extend(out.task_arns().iter().cloned());
    }
    if arns.is_empty() {
        return vec![];
    }
    let out = ecs
        .describe_tasks()
        .cluster(w.s("cluster"))
        .set_tasks(Some(arns))
        .send()
        .await
        .unwrap();
    out.tasks().to_vec()
}

/// Registers a new revision of the seeded family (`emulator/revision.py`, boto3, as a
/// user's own tooling would): the rails container gets `image` and, if given, the secret
/// `(name, valueFrom)` in place of any secret of that name. Returns its ARN.
pub fn register_revision(w: &World, image: &str, secret: Option<(&str, &str)>) -> String {
    let script = repo().join("emulator/revision.py");
    let td = w.s("task_definition_arn");
    let image = format!("rails={image}");
    let mut args = vec![
        script.to_str().unwrap(),
        &emulator().url,
        "--region",
        &w.region,
        "--task-definition",
        &td,
        "--image",
        &image,
    ];
    let secret = secret.map(|(name, value_from)| format!("rails:{name}={value_from}"));
    if let Some(s) = &secret {
        args.extend(["--secret", s]);
    }
    python_run(&args)
}

/// `emulator/revision.py` with the world's seed task definition and `extra` arguments
/// (`--image rails=…`, `--add-container JSON`, `--depends-on a:b:HEALTHY`, `--env c:K=V`).
pub fn revision(w: &World, extra: &[&str]) -> String {
    let script = repo().join("emulator/revision.py");
    let td = w.s("task_definition_arn");
    let mut args = vec![
        script.to_str().unwrap(),
        &emulator().url,
        "--region",
        &w.region,
        "--task-definition",
        &td,
    ];
    args.extend_from_slice(extra);
    python_run(&args)
}

/// Runs a Python snippet of the emulator's venv; its stdout, trimmed (it must succeed).
fn python_script(script: &str, args: &[&str]) -> String {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    python_run(&all)
}

/// The emulator's Python with these arguments; its stdout, trimmed (it must succeed).
fn python_run(args: &[&str]) -> String {
    let out = Command::new(python()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

// --- native blue/green (the seed's ass-staging-native service) ---------------------------

pub const NATIVE: &str = "ass-staging-native";

/// A new revision with the world's `image_key` image, deployed to the native service.
pub async fn start_deployment(w: &World, image_key: &str) -> String {
    let td = register_revision(w, &w.s(image_key), None);
    ecs(w)
        .await
        .update_service()
        .cluster(w.s("cluster"))
        .service(NATIVE)
        .task_definition(&td)
        .send()
        .await
        .unwrap();
    td
}

/// `ecs-migrate gate --cluster … --service ass-staging-native --container rails <extra>`.
pub fn gate(w: &World, extra: &[&str]) -> std::process::Output {
    let mut c = w.cmd();
    c.args(["gate", "--cluster", &w.s("cluster"), "--service", NATIVE])
        .args(["--container", "rails", "--output", "json"])
        .args(extra);
    c.output().unwrap()
}

/// The deployment once it has finished (SUCCESSFUL or ROLLBACK_*), described by the SDK.
pub async fn finished(w: &World, arn: &str) -> aws_sdk_ecs::types::ServiceDeployment {
    finished_within(w, arn, Duration::from_secs(30)).await
}

/// `finished`, waiting up to `limit`.
pub async fn finished_within(
    w: &World,
    arn: &str,
    limit: Duration,
) -> aws_sdk_ecs::types::ServiceDeployment {
    settled(w, arn, limit)
        .await
        .unwrap_or_else(|status| panic!("deployment still {status}"))
}

/// The deployment once it has finished within `limit`, or the status it was left in.
pub async fn settled(
    w: &World,
    arn: &str,
    limit: Duration,
) -> Result<aws_sdk_ecs::types::ServiceDeployment, String> {
    let ecs = ecs(w).await;
    let until = Instant::now() + limit;
    loop {
        let out = ecs
            .describe_service_deployments()
            .service_deployment_arns(arn)
            .send()
            .await
            .unwrap();
        let d = out.service_deployments()[0].clone();
        let status = d.status().unwrap().as_str().to_string();
        if status == "SUCCESSFUL" || status.starts_with("ROLLBACK_S") || status == "ROLLBACK_FAILED"
        {
            return Ok(d);
        }
        if Instant::now() >= until {
            return Err(status);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn service_task_definition(w: &World) -> String {
    let out = ecs(w)
        .await
        .describe_services()
        .cluster(w.s("cluster"))
        .services(NATIVE)
        .send()
        .await
        .unwrap();
    out.services()[0].task_definition().unwrap().to_string()
}

/// The in-progress deployment of the native service once its PAUSE hook awaits an action:
/// (deployment ARN, hook id).
pub async fn awaiting_hook(w: &World) -> (String, String) {
    let ecs = ecs(w).await;
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = ecs
            .list_service_deployments()
            .cluster(w.s("cluster"))
            .service(NATIVE)
            .status(aws_sdk_ecs::types::ServiceDeploymentStatus::InProgress)
            .send()
            .await
            .unwrap();
        if let Some(arn) = listed
            .service_deployments()
            .first()
            .and_then(|d| d.service_deployment_arn())
        {
            let d = ecs
                .describe_service_deployments()
                .service_deployment_arns(arn)
                .send()
                .await
                .unwrap();
            let hook = d.service_deployments()[0]
                .lifecycle_hook_details()
                .iter()
                .find(|h| h.status().map(|s| s.as_str()) == Some("AWAITING_ACTION"))
                .and_then(|h| h.hook_id());
            if let Some(hook) = hook {
                return (arn.to_string(), hook.to_string());
            }
        }
        assert!(Instant::now() < until, "no deployment reached its hook");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The status of one hook of a deployment (`AWAITING_ACTION`, `SUCCEEDED`, `TIMED_OUT`).
pub async fn hook_status(w: &World, deployment: &str, hook: &str) -> String {
    let d = ecs(w)
        .await
        .describe_service_deployments()
        .service_deployment_arns(deployment)
        .send()
        .await
        .unwrap();
    d.service_deployments()[0]
        .lifecycle_hook_details()
        .iter()
        .find(|h| h.hook_id() == Some(hook))
        .and_then(|h| h.status())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// What the emulator's fault knobs are now in a region (`GET /_emulator/faults?region=R`).
pub fn fault_knobs(region: &str) -> Value {
    control_get(&format!("/_emulator/faults?region={region}"))
}

/// Seconds since the epoch, on the clock the emulator stamps its calls with.
pub fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// How many faults of `api` the emulator served in the world's region.
pub fn faults_served(w: &World, api: &str) -> u64 {
    stats(&w.region)["faults_served"][api].as_u64().unwrap_or(0)
}

/// When the emulator served `api`'s faults in the world's region (epoch seconds).
pub fn fault_times(w: &World, api: &str) -> Vec<f64> {
    stats(&w.region)["fault_times"][api]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// Waits (at most 30 s) until the emulator has received a call of `api` in the world's region
/// after `since` (epoch seconds).
pub fn wait_for_call(w: &World, api: &str, since: f64) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let times = stats(&w.region)["call_times"][api].clone();
        if times
            .as_array()
            .is_some_and(|a| a.iter().filter_map(Value::as_f64).any(|t| t > since))
        {
            return;
        }
        assert!(Instant::now() < until, "no {api} call after {since}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
