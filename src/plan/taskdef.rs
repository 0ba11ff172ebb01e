//! Task definitions as JSON (pure): unwrap describe output, turn it into a
//! RegisterTaskDefinition input, derive the migration task definition, compare revisions.
//!
//! Working on JSON rather than SDK structs means fields this tool does not know (new ECS
//! features) pass through untouched; only the known describe-only fields are stripped.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::plan::image::ImageRef;

/// Fields DescribeTaskDefinition returns that RegisterTaskDefinition does not accept.
pub const DESCRIBE_ONLY: [&str; 9] = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
];

/// A source task definition: the describe output's `taskDefinition` and its `tags`.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub task_definition: Value,
    pub tags: Vec<Value>,
}

impl Described {
    /// Accepts `{"taskDefinition": {...}, "tags": [...]}` or a bare task definition.
    pub fn from_json(doc: Value) -> Result<Self> {
        let (td, outer_tags) = match doc {
            Value::Object(mut m) if m.contains_key("taskDefinition") => {
                let tags = m.remove("tags");
                (m.remove("taskDefinition").unwrap_or(Value::Null), tags)
            }
            other => (other, None),
        };
        let Value::Object(mut td) = td else {
            return Err(Error::usage("the task definition JSON is not an object"));
        };
        // A bare file (like `aws ecs describe-task-definition --query taskDefinition` plus tags)
        // may carry `tags` inside; RegisterTaskDefinition takes them at the top level as well.
        let tags = outer_tags.or_else(|| td.remove("tags"));
        let tags = match tags {
            Some(Value::Array(t)) => t,
            _ => vec![],
        };
        if !td.get("containerDefinitions").is_some_and(Value::is_array) {
            return Err(
                Error::usage("the task definition has no containerDefinitions array")
                    .with_hint("pass the output of `aws ecs describe-task-definition`"),
            );
        }
        if !td.get("family").is_some_and(Value::is_string) {
            return Err(Error::usage("the task definition has no family"));
        }
        Ok(Self {
            task_definition: Value::Object(td),
            tags,
        })
    }

    pub fn family(&self) -> &str {
        self.task_definition["family"].as_str().unwrap_or_default()
    }

    /// Sets one container's image (the others are untouched).
    pub fn set_image(&mut self, container: &str, image: &str) {
        if let Some(cs) = self.task_definition["containerDefinitions"].as_array_mut() {
            for c in cs.iter_mut().filter(|c| c["name"] == container) {
                c["image"] = Value::String(image.to_string());
            }
        }
    }

    pub fn arn(&self) -> Option<&str> {
        self.task_definition["taskDefinitionArn"].as_str()
    }

    pub fn containers(&self) -> &[Value] {
        self.task_definition["containerDefinitions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn container_names(&self) -> Vec<&str> {
        self.containers()
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect()
    }

    pub fn container(&self, name: &str) -> Option<&Value> {
        self.containers().iter().find(|c| c["name"] == name)
    }

    /// The named container, or the only one; with several and no name, an error listing them.
    pub fn pick_container(&self, wanted: Option<&str>) -> Result<String> {
        let names = self.container_names();
        match wanted {
            Some(w) if names.contains(&w) => Ok(w.to_string()),
            Some(w) => Err(Error::usage(format!(
                "container '{w}' is not in task definition {}",
                self.family()
            ))
            .with_hint(format!("containers: {}", names.join(", ")))),
            None if names.len() == 1 => Ok(names[0].to_string()),
            None => Err(Error::usage(format!(
                "task definition {} has {} containers; say which one runs the migration",
                self.family(),
                names.len()
            ))
            .with_hint(format!("--container {}", names.join(" | --container ")))),
        }
    }

    /// The RegisterTaskDefinition input equivalent to this task definition.
    pub fn register_input(&self) -> Value {
        let mut td = self
            .task_definition
            .as_object()
            .cloned()
            .unwrap_or_default();
        for key in DESCRIBE_ONLY {
            td.remove(key);
        }
        td.retain(|_, v| !v.is_null());
        if !self.tags.is_empty() {
            td.insert("tags".into(), Value::Array(self.tags.clone()));
        }
        Value::Object(td)
    }
}

/// The awslogs stream a container writes to: `<prefix>/<container>/<task-id>`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogTarget {
    pub group: String,
    pub prefix: String,
    pub region: Option<String>,
    /// awslogs `mode` (`blocking` / `non-blocking`), if pinned.
    pub mode: Option<String>,
}

impl LogTarget {
    pub fn stream(&self, container: &str, task_id: &str) -> String {
        format!("{}/{container}/{task_id}", self.prefix)
    }
}

/// Pure: the container's awslogs target, or why there is none.
pub fn log_target(container: &Value) -> Result<LogTarget, String> {
    let conf = &container["logConfiguration"];
    let driver = conf["logDriver"].as_str().unwrap_or("none");
    if driver != "awslogs" {
        return Err(format!("its log driver is {driver}, not awslogs"));
    }
    let opts = &conf["options"];
    let group = opts["awslogs-group"]
        .as_str()
        .ok_or("awslogs has no awslogs-group")?;
    let prefix = opts["awslogs-stream-prefix"]
        .as_str()
        .filter(|p| !p.is_empty())
        .ok_or("awslogs has no awslogs-stream-prefix, so the stream name cannot be known")?;
    Ok(LogTarget {
        group: group.to_string(),
        prefix: prefix.to_string(),
        region: opts["awslogs-region"].as_str().map(String::from),
        mode: opts["mode"].as_str().map(String::from),
    })
}

/// Default family of the migration task definition.
pub fn migration_family(source_family: &str, flag: Option<&str>) -> String {
    match flag {
        Some(f) => f.to_string(),
        None => {
            let mut base = source_family.to_string();
            base.truncate(255 - "-migrate".len());
            format!("{base}-migrate")
        }
    }
}

/// The migration task definition and the sidecars it kept for the target.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub task_definition: Value,
    /// The containers the target `dependsOn` (transitively), kept non-essential, with the
    /// condition the target waits for: `pgbouncer (HEALTHY)`.
    pub sidecars: Vec<String>,
    /// The target's dependencies left out (`--without-sidecars`).
    pub dropped: Vec<String>,
}

/// Whether the migration task keeps what the target container `dependsOn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sidecars {
    /// The containers the target depends on, transitively (a proxy it reaches its database
    /// through, say), non-essential, with their health checks, conditions and volumes.
    Keep,
    /// The target alone (`--without-sidecars`).
    Drop,
}

/// Pure: the names the target depends on, transitively, in task definition order.
fn dependencies(source: &Described, target: &str) -> Vec<String> {
    let mut found: Vec<String> = vec![];
    let mut todo = vec![target.to_string()];
    while let Some(name) = todo.pop() {
        let deps = source.container(&name).map(|c| &c["dependsOn"]);
        for d in deps
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            if let Some(dep) = d["containerName"].as_str()
                && dep != target
                && !found.iter().any(|f| f == dep)
                && source.container(dep).is_some()
            {
                found.push(dep.to_string());
                todo.push(dep.to_string());
            }
        }
    }
    source
        .container_names()
        .into_iter()
        .filter(|n| found.iter().any(|f| f == n))
        .map(String::from)
        .collect()
}

/// The migration task definition: the target container (essential, new image, no health
/// check, port mappings or links, awslogs blocking) and, with `Sidecars::Keep`, the containers
/// it depends on, transitively, non-essential but otherwise as they are (health checks,
/// conditions, volumes), so that what the target needs at start (a database proxy, say) is
/// there. Only the volumes the kept containers mount are kept. Task-level cpu/memory, roles,
/// runtimePlatform, ephemeral storage and unknown fields are kept.
pub fn derive_migration(
    source: &Described,
    container: &str,
    image: Option<&ImageRef>,
    family: &str,
    sidecars: Sidecars,
) -> Result<Derived> {
    let mut input = source.register_input();
    let td = input.as_object_mut().expect("register input is an object");
    let mut c = source.container(container).cloned().ok_or_else(|| {
        Error::usage(format!(
            "container '{container}' is not in the task definition"
        ))
    })?;
    let deps = dependencies(source, container);
    let (kept, dropped) = match sidecars {
        Sidecars::Keep => (deps, vec![]),
        Sidecars::Drop => (vec![], deps),
    };
    let conditions: Vec<String> = kept
        .iter()
        .map(|name| {
            let condition = source
                .containers()
                .iter()
                .flat_map(|c| c["dependsOn"].as_array().cloned().unwrap_or_default())
                .find(|d| d["containerName"] == name.as_str())
                .and_then(|d| d["condition"].as_str().map(String::from))
                .unwrap_or_else(|| "START".into());
            format!("{name} ({condition})")
        })
        .collect();
    let cm = c
        .as_object_mut()
        .ok_or_else(|| Error::usage("container definition is not an object"))?;
    for key in ["healthCheck", "portMappings", "links", "volumesFrom"] {
        cm.remove(key);
    }
    match cm.get_mut("dependsOn") {
        Some(Value::Array(list)) if !kept.is_empty() => list.retain(|d| {
            d["containerName"]
                .as_str()
                .is_some_and(|n| kept.iter().any(|k| k == n))
        }),
        _ => {
            cm.remove("dependsOn");
        }
    }
    cm.insert("essential".into(), Value::Bool(true));
    // awslogs defaults to non-blocking mode (since June 2025), which drops lines when its buffer
    // fills; a migration's log must be complete, so pin blocking unless a mode is chosen.
    if let Some(conf) = cm.get_mut("logConfiguration")
        && conf["logDriver"] == "awslogs"
        && let Some(options) = conf.get_mut("options").and_then(Value::as_object_mut)
    {
        options
            .entry("mode")
            .or_insert_with(|| Value::String("blocking".into()));
    }
    if let Some(image) = image {
        cm.insert("image".into(), Value::String(image.to_string()));
    }
    let mut containers = vec![c];
    for name in &kept {
        let mut side = source.container(name).cloned().unwrap_or_default();
        if let Some(m) = side.as_object_mut() {
            m.insert("essential".into(), Value::Bool(false));
            // only the kept containers can be referred to
            for key in ["volumesFrom"] {
                if let Some(Value::Array(list)) = m.get_mut(key) {
                    list.retain(|v| {
                        v["sourceContainer"]
                            .as_str()
                            .is_some_and(|s| s == container || kept.iter().any(|k| k == s))
                    });
                }
            }
            m.remove("links");
        }
        containers.push(side);
    }
    let mounted: Vec<String> = containers
        .iter()
        .flat_map(|c| c["mountPoints"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["sourceVolume"].as_str().map(String::from))
        .collect();
    td.insert("containerDefinitions".into(), Value::Array(containers));
    if let Some(Value::Array(volumes)) = td.get_mut("volumes") {
        volumes.retain(|v| {
            v["name"]
                .as_str()
                .is_some_and(|n| mounted.iter().any(|m| m == n))
        });
    }
    // An App Mesh proxy configuration names a container that may no longer be there.
    let proxy_kept = td
        .get("proxyConfiguration")
        .and_then(|p| p["containerName"].as_str())
        .is_some_and(|n| n == container || kept.iter().any(|k| k == n));
    if !proxy_kept {
        td.remove("proxyConfiguration");
    }
    td.insert("family".into(), Value::String(family.to_string()));
    Ok(Derived {
        task_definition: input,
        sidecars: conditions,
        dropped,
    })
}

/// True when two RegisterTaskDefinition inputs describe the same task definition. Empty
/// lists/objects and nulls count as absent, since ECS fills in such defaults on describe.
/// The migration runs on Fargate unless a capacity provider is given: its task definition must
/// use awsvpc and be Fargate-compatible, or the task would run without its network.
pub fn check_fargate(desired: &Value, capacity_provider: bool) -> Result<()> {
    if capacity_provider {
        return Ok(());
    }
    let mode = desired["networkMode"].as_str().unwrap_or("bridge");
    if mode != "awsvpc" {
        return Err(Error::usage(format!(
            "the task definition uses network mode {mode}; Fargate needs awsvpc"
        ))
        .with_hint("migrate with an awsvpc task definition, or pass --capacity-provider for an EC2 capacity provider"));
    }
    let compat = desired["requiresCompatibilities"].as_array();
    if let Some(list) = compat
        && !list.is_empty()
        && !list.iter().any(|c| c == "FARGATE")
    {
        return Err(Error::usage(format!(
            "the task definition is not Fargate-compatible (requiresCompatibilities {})",
            Value::Array(list.clone())
        ))
        .with_hint("add FARGATE to requiresCompatibilities, or pass --capacity-provider for an EC2 capacity provider"));
    }
    Ok(())
}

pub fn equivalent(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let n = normalize(v);
                let empty = n.is_null()
                    || n.as_array().is_some_and(Vec::is_empty)
                    || n.as_object().is_some_and(Map::is_empty);
                if !empty {
                    out.insert(k.clone(), n);
                }
            }
            let mut entries: Vec<_> = out.into_iter().collect();
            entries.sort_by(|x, y| x.0.cmp(&y.0));
            Value::Object(entries.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed() -> Described {
        let text = include_str!("../../tests/fixtures/taskdef-staging.json");
        Described::from_json(serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn seed_has_two_containers_and_needs_a_choice() {
        let s = seed();
        assert_eq!(s.container_names(), ["rails", "nginx"]);
        let e = s.pick_container(None).unwrap_err();
        assert!(
            e.to_string()
                .contains("--container rails | --container nginx"),
            "{e}"
        );
        assert!(
            s.pick_container(Some("sidekiq"))
                .unwrap_err()
                .to_string()
                .contains("containers: rails, nginx")
        );
        assert_eq!(s.pick_container(Some("rails")).unwrap(), "rails");
    }

    #[test]
    fn migration_task_definition_has_the_expected_shape() {
        let digest = "0123456789abcdef".repeat(4);
        let img = ImageRef::parse(&format!(
            "1.dkr.ecr.ap-northeast-1.amazonaws.com/ass-rails-ecr-staging@sha256:{digest}"
        ))
        .unwrap();
        let s = seed();
        let m = derive_migration(
            &s,
            "rails",
            Some(&img),
            "ass-task-def-staging-migrate",
            Sidecars::Keep,
        )
        .unwrap()
        .task_definition;
        for key in DESCRIBE_ONLY {
            assert!(m.get(key).is_none(), "{key} kept");
        }
        assert_eq!(m["family"], "ass-task-def-staging-migrate");
        let cs = m["containerDefinitions"].as_array().unwrap();
        assert_eq!(cs.len(), 1);
        let c = &cs[0];
        assert_eq!(c["name"], "rails");
        assert_eq!(c["image"], img.to_string());
        assert_eq!(c["essential"], true);
        for gone in ["healthCheck", "dependsOn", "portMappings", "volumesFrom"] {
            assert!(c.get(gone).is_none(), "{gone} kept");
        }
        assert_eq!(c["secrets"].as_array().unwrap().len(), 6);
        assert_eq!(
            c["logConfiguration"]["options"]["awslogs-stream-prefix"],
            "ecs/ass-staging"
        );
        assert_eq!(c["entryPoint"], json!(["/usr/bin/entrypoint.sh"]));
        assert_eq!(m["volumes"], json!([{"name": "sockets", "host": {}}]));
        assert_eq!(
            (m["cpu"].as_str(), m["memory"].as_str()),
            (Some("256"), Some("512"))
        );
        assert_eq!(m["executionRoleArn"], s.task_definition["executionRoleArn"]);
        assert_eq!(m["networkMode"], "awsvpc");
        assert_eq!(m["requiresCompatibilities"], json!(["FARGATE"]));
    }

    #[test]
    fn unknown_fields_pass_through_and_unmounted_volumes_go() {
        let mut doc = seed().task_definition;
        doc["someFutureField"] = json!({"mode": "x"});
        doc["containerDefinitions"][0]["futureContainerField"] = json!(true);
        doc["volumes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "nginx-cache", "host": {}}));
        let s = Described::from_json(
            json!({"taskDefinition": doc, "tags": [{"key": "team", "value": "web"}]}),
        )
        .unwrap();
        let m = derive_migration(&s, "rails", None, "f", Sidecars::Keep)
            .unwrap()
            .task_definition;
        assert_eq!(m["someFutureField"], json!({"mode": "x"}));
        assert_eq!(m["containerDefinitions"][0]["futureContainerField"], true);
        assert_eq!(m["volumes"].as_array().unwrap().len(), 1);
        assert_eq!(m["tags"], json!([{"key": "team", "value": "web"}]));
        assert_eq!(
            m["containerDefinitions"][0]["image"],
            s.container("rails").unwrap()["image"]
        );
    }

    #[test]
    fn equivalence_ignores_order_and_ecs_defaults() {
        let s = seed();
        let a = derive_migration(&s, "rails", None, "f", Sidecars::Keep)
            .unwrap()
            .task_definition;
        let mut b = a.clone();
        b["containerDefinitions"][0]["systemControls"] = json!([]);
        b["placementConstraints"] = json!([]);
        assert!(equivalent(&a, &b));
        b["containerDefinitions"][0]["image"] = json!("other:1");
        assert!(!equivalent(&a, &b));
    }

    #[test]
    fn family_names() {
        assert_eq!(
            migration_family("ass-task-def-staging", None),
            "ass-task-def-staging-migrate"
        );
        assert_eq!(migration_family("x", Some("custom")), "custom");
        assert_eq!(migration_family(&"a".repeat(300), None).len(), 255);
    }

    #[test]
    fn only_awsvpc_fargate_task_definitions_run_without_a_capacity_provider() {
        let ok = json!({"networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"]});
        assert!(check_fargate(&ok, false).is_ok());
        let bridge = json!({"networkMode": "bridge", "requiresCompatibilities": ["EC2"]});
        let e = check_fargate(&bridge, false).unwrap_err();
        assert!(e.to_string().contains("network mode bridge"), "{e}");
        assert!(
            check_fargate(&bridge, true).is_ok(),
            "an EC2 capacity provider may run it"
        );
        let ec2_only = json!({"networkMode": "awsvpc", "requiresCompatibilities": ["EC2"]});
        assert!(
            check_fargate(&ec2_only, false)
                .unwrap_err()
                .to_string()
                .contains("not Fargate-compatible")
        );
        assert!(
            check_fargate(&json!({}), false).is_err(),
            "no networkMode means bridge"
        );
    }

    /// rails waits for a pgbouncer (HEALTHY) that waits for an iam-auth helper (START); nginx
    /// depends on rails and is not needed.
    fn with_proxy() -> Described {
        let mut doc = seed().task_definition;
        doc["containerDefinitions"][0]["dependsOn"] =
            json!([{"containerName": "pgbouncer", "condition": "HEALTHY"}]);
        let cs = doc["containerDefinitions"].as_array_mut().unwrap();
        cs.push(json!({
            "name": "pgbouncer", "image": "pgbouncer:1.23", "essential": true,
            "healthCheck": {"command": ["CMD", "pgbouncer-check"], "interval": 5, "retries": 3},
            "dependsOn": [{"containerName": "iam-auth", "condition": "START"}],
            "mountPoints": [{"sourceVolume": "pgbouncer-conf", "containerPath": "/etc/pgbouncer"}],
            "secrets": [{"name": "AUTH", "valueFrom": "/app/auth"}]
        }));
        cs.push(json!({"name": "iam-auth", "image": "auth:1", "essential": true}));
        doc["volumes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "pgbouncer-conf", "host": {}}));
        Described::from_json(doc).unwrap()
    }

    #[test]
    fn the_containers_the_target_depends_on_are_kept_non_essential() {
        let d = derive_migration(&with_proxy(), "rails", None, "f", Sidecars::Keep).unwrap();
        let names: Vec<&str> = d.task_definition["containerDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["rails", "pgbouncer", "iam-auth"],
            "nginx is not needed"
        );
        assert_eq!(d.sidecars, ["pgbouncer (HEALTHY)", "iam-auth (START)"]);
        let cs = &d.task_definition["containerDefinitions"];
        assert_eq!(cs[0]["essential"], true);
        assert_eq!(
            cs[0]["dependsOn"],
            json!([{"containerName": "pgbouncer", "condition": "HEALTHY"}])
        );
        assert_eq!(cs[1]["essential"], false);
        assert_eq!(
            cs[1]["healthCheck"]["command"],
            json!(["CMD", "pgbouncer-check"])
        );
        assert_eq!(cs[1]["dependsOn"][0]["containerName"], "iam-auth");
        assert_eq!(cs[2]["essential"], false);
        let volumes: Vec<&str> = d.task_definition["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(volumes, ["sockets", "pgbouncer-conf"]);
    }

    #[test]
    fn without_sidecars_the_target_runs_alone_and_the_dropped_ones_are_named() {
        let d = derive_migration(&with_proxy(), "rails", None, "f", Sidecars::Drop).unwrap();
        let cs = d.task_definition["containerDefinitions"]
            .as_array()
            .unwrap();
        assert_eq!(cs.len(), 1);
        assert!(cs[0].get("dependsOn").is_none());
        assert!(d.sidecars.is_empty());
        assert_eq!(d.dropped, ["pgbouncer", "iam-auth"]);
        assert_eq!(
            d.task_definition["volumes"],
            json!([{"name": "sockets", "host": {}}])
        );
    }

    #[test]
    fn awslogs_with_prefix_is_required() {
        let c = json!({"logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/a", "awslogs-stream-prefix": "ecs", "awslogs-region": "ap-northeast-1"}}});
        let t = log_target(&c).unwrap();
        assert_eq!(t.stream("rails", "abc"), "ecs/rails/abc");
        assert_eq!(t.region.as_deref(), Some("ap-northeast-1"));
        let no_prefix = json!({"logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/a"}}});
        assert!(
            log_target(&no_prefix)
                .unwrap_err()
                .contains("stream-prefix")
        );
        let firelens = json!({"logConfiguration": {"logDriver": "awsfirelens"}});
        assert!(log_target(&firelens).unwrap_err().contains("awsfirelens"));
        assert!(log_target(&json!({})).is_err());
    }
}
