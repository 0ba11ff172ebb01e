//! Property tests: the parsers of user input and AWS JSON never panic, and what they accept
//! behaves. Each runs proptest's default 256 cases inside `cargo test`.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::plan::image::{ImageRef, parse_image_detail};
use crate::plan::overrides::{self, catalogue, parse_preset};
use crate::plan::secret_ref::plan_secrets;
use crate::plan::secret_ref::{self, SecretRef};
use crate::plan::taskdef::{self, Described};

/// Keys a task definition or container uses, so arbitrary JSON reaches the interesting paths.
const KEYS: &[&str] = &[
    "family",
    "containerDefinitions",
    "name",
    "image",
    "essential",
    "logConfiguration",
    "logDriver",
    "options",
    "mode",
    "mountPoints",
    "sourceVolume",
    "volumes",
    "proxyConfiguration",
    "containerName",
    "networkMode",
    "requiresCompatibilities",
    "secrets",
    "valueFrom",
    "healthCheck",
    "dependsOn",
    "tags",
    "taskDefinition",
    "taskDefinitionArn",
    "other",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "(rails|awslogs|awsvpc|FARGATE|[a-z:/.@-]{0,12})".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// A task definition shape with arbitrary parts: more often past `from_json`'s own checks.
fn task_definition() -> impl Strategy<Value = Value> {
    (
        json_value(),
        prop::collection::vec(json_value(), 0..4),
        "[a-z]{0,6}",
    )
        .prop_map(|(mut base, containers, name)| {
            if let Some(m) = base.as_object_mut() {
                m.insert("family".into(), json!("app"));
                let containers = containers
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut c)| {
                        if let Some(c) = c.as_object_mut() {
                            c.insert("name".into(), json!(format!("{name}{i}")));
                        }
                        c
                    })
                    .collect();
                m.insert("containerDefinitions".into(), Value::Array(containers));
            }
            base
        })
}

fn component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,5}(([._]|__|-{1,2})[a-z0-9]{1,5}){0,2}"
}

/// References the OCI grammar accepts, built from its parts.
fn valid_image() -> impl Strategy<Value = String> {
    (
        prop::option::of(
            "[a-z0-9]{1,6}\\.dkr\\.ecr\\.[a-z]{2}-[a-z]{4,9}-[1-3]\\.amazonaws\\.com|localhost:5000",
        ),
        // without a registry, a first component with a '.' would be read as a host name
        "[a-z0-9]{1,5}([_-][a-z0-9]{1,5}){0,2}",
        prop::collection::vec(component(), 0..3),
        prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        prop::option::of("[0-9a-f]{64}"),
    )
        .prop_map(|(registry, first, rest, tag, digest)| {
            let mut s = registry.map(|r| format!("{r}/")).unwrap_or_default();
            s.push_str(&first);
            for c in rest {
                s.push('/');
                s.push_str(&c);
            }
            if let Some(t) = tag {
                s.push(':');
                s.push_str(&t);
            }
            if let Some(d) = digest {
                s.push_str("@sha256:");
                s.push_str(&d);
            }
            s
        })
}

proptest! {
    #[test]
    fn image_references_never_panic(input in any::<String>()) {
        let _ = ImageRef::parse(&input);
    }

    #[test]
    fn near_miss_image_references_never_panic(input in "[a-zA-Z0-9:/@._=-]{0,40}") {
        if let Ok(r) = ImageRef::parse(&input) {
            // whatever is accepted prints back to a reference that parses the same
            prop_assert_eq!(ImageRef::parse(&r.to_string()).unwrap(), r);
        }
    }

    #[test]
    fn grammatical_image_references_are_accepted_unchanged(input in valid_image()) {
        let r = ImageRef::parse(&input).unwrap();
        prop_assert_eq!(r.to_string(), input);
    }

    #[test]
    fn image_detail_files_never_panic(text in any::<String>(), uri in any::<String>()) {
        let _ = parse_image_detail(&text, "imageDetail.json");
        let doc = json!({ "ImageURI": uri, "ImageTags": ["x"] }).to_string();
        let _ = parse_image_detail(&doc, "imageDetail.json");
    }

    #[test]
    fn preset_files_never_panic(text in any::<String>(), doc in json_value()) {
        let _ = parse_preset("fuzz", &text);
        let _ = parse_preset("fuzz", &doc.to_string());
    }

    #[test]
    fn presets_and_sets_never_panic(
        preset in prop::option::of("(migrate|rollback|down|status|[a-z]{0,5})"),
        sets in prop::collection::vec(("[A-Z]{0,7}", any::<String>()), 0..4),
        argv in prop::option::of(prop::collection::vec(any::<String>(), 0..3)),
    ) {
        let all = catalogue(None).unwrap();
        let argv_given = argv.is_some();
        if let Ok(o) = overrides::resolve(&all, preset.as_deref(), &sets, argv) {
            prop_assert!(!o.command.is_empty() && !o.command[0].is_empty());
            // a value given with --set is never split into more arguments
            if !argv_given {
                let preset = &all[o.preset.as_deref().unwrap()];
                prop_assert_eq!(o.command.len(), preset.command.len());
            }
        }
    }

    #[test]
    fn task_definition_derivation_never_panics(doc in task_definition(), other in json_value()) {
        let _ = Described::from_json(other);
        let Ok(described) = Described::from_json(doc) else { return Ok(()) };
        for name in described.container_names() {
            let image = ImageRef::parse("rails:v2").unwrap();
            let Ok(derived) = taskdef::derive_migration(&described, name, Some(&image), "app-migrate", taskdef::Sidecars::Drop)
            else { continue };
            let desired = derived.task_definition;
            let containers = desired["containerDefinitions"].as_array().unwrap();
            prop_assert_eq!(containers.len(), 1);
            prop_assert_eq!(&containers[0]["essential"], &json!(true));
            prop_assert_eq!(&containers[0]["image"], &json!("rails:v2"));
            prop_assert_eq!(&desired["family"], &json!("app-migrate"));
            prop_assert!(taskdef::equivalent(&desired, &desired));
            let _ = taskdef::check_fargate(&desired, false);
            let _ = plan_secrets(&containers[0], Some("123456789012"));
        }
    }

    #[test]
    fn secret_references_never_panic(input in any::<String>(), near in "arn:[a-z:/!._-]{0,60}") {
        let _ = secret_ref::parse(&input);
        let _ = secret_ref::parse(&near);
    }

    #[test]
    fn secrets_manager_references_keep_their_parts(
        name in "[A-Za-z0-9/_+=.@!-]{1,20}",
        key in "[A-Za-z0-9_]{0,8}",
        stage in prop::option::of("AWS[A-Z]{1,8}"),
    ) {
        let arn = format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}");
        let value_from = format!("{arn}:{key}:{}:", stage.clone().unwrap_or_default());
        let Ok(SecretRef::SecretsManager(s)) = secret_ref::parse(&value_from) else {
            return Err(TestCaseError::fail(format!("{value_from} not parsed")));
        };
        prop_assert_eq!(s.arn, arn);
        prop_assert_eq!(s.json_key, Some(key).filter(|k| !k.is_empty()));
        prop_assert_eq!(s.version_stage, stage);
    }
}

/// A preset of the catalogue with every placeholder it needs filled: (preset, --set pairs).
fn valid_preset() -> impl Strategy<Value = (String, Vec<(String, String)>)> {
    prop_oneof![
        Just(("migrate".to_string(), vec![])),
        Just(("status".to_string(), vec![])),
        (1u32..10_000).prop_map(|n| ("rollback".to_string(), vec![("STEP".into(), n.to_string())])),
        "[0-9]{14}".prop_map(|v| ("down".to_string(), vec![("VERSION".into(), v)])),
    ]
}

/// A container definition ECS takes: a name, an image, awslogs with a stream prefix, secrets
/// from SSM, and `dependsOn` on the containers before it (so the graph has no cycle).
fn valid_task_definition() -> impl Strategy<Value = (Value, usize)> {
    (
        1usize..5,
        prop::collection::vec(prop::collection::vec(any::<bool>(), 4), 4),
        prop::collection::vec("[A-Z]{1,6}", 0..3),
    )
        .prop_flat_map(|(n, edges, secrets)| {
            let conditions = ["START", "HEALTHY", "COMPLETE"];
            let containers: Vec<Value> = (0..n)
                .map(|i| {
                    let deps: Vec<Value> = (0..i)
                        .filter(|j| edges[i][*j])
                        .map(|j| json!({"containerName": format!("c{j}"), "condition": conditions[(i + j) % 3]}))
                        .collect();
                    let mut c = json!({
                        "name": format!("c{i}"),
                        "image": format!("repo/c{i}:v1"),
                        "essential": true,
                        "logConfiguration": {"logDriver": "awslogs", "options": {
                            "awslogs-group": "/ecs/app", "awslogs-stream-prefix": "ecs"}},
                        "mountPoints": [{"sourceVolume": format!("v{i}"), "containerPath": "/v"}],
                        "secrets": secrets.iter().map(|s| json!({"name": s, "valueFrom": format!("/app/{s}")})).collect::<Vec<_>>(),
                    });
                    if !deps.is_empty() {
                        c["dependsOn"] = Value::Array(deps);
                    }
                    c
                })
                .collect();
            let td = json!({
                "family": "app",
                "networkMode": "awsvpc",
                "requiresCompatibilities": ["FARGATE"],
                "cpu": "256",
                "memory": "512",
                "containerDefinitions": containers,
                "volumes": (0..n).map(|i| json!({"name": format!("v{i}"), "host": {}})).collect::<Vec<_>>(),
            });
            (Just(td), 0..n)
        })
}

/// The containers `name` depends on, transitively, in `td` (the property's own oracle).
fn closure(td: &Value, name: &str) -> Vec<String> {
    let mut found: Vec<String> = vec![];
    let mut todo = vec![name.to_string()];
    while let Some(n) = todo.pop() {
        let c = td["containerDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n.as_str())
            .unwrap();
        for d in c["dependsOn"].as_array().cloned().unwrap_or_default() {
            let d = d["containerName"].as_str().unwrap().to_string();
            if !found.contains(&d) {
                found.push(d.clone());
                todo.push(d);
            }
        }
    }
    found.sort();
    found
}

proptest! {
    /// Every valid preset with its placeholders filled resolves, and each --set value lands in
    /// exactly one argument, whole (never split, never a shell string).
    #[test]
    fn valid_presets_resolve_and_each_value_is_one_argument(
        (preset, sets) in valid_preset(),
        argv in prop::option::of(prop::collection::vec("[a-z][a-z:=/._-]{0,8}", 1..4)),
    ) {
        let all = catalogue(None).unwrap();
        let o = overrides::resolve(&all, Some(&preset), &sets, argv.clone())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        match argv {
            Some(argv) => {
                prop_assert_eq!(&o.command, &argv);
                prop_assert!(!o.read_only, "a command after -- is never read-only");
            }
            None => {
                prop_assert_eq!(o.command.len(), all[&preset].command.len());
                for (k, v) in &sets {
                    let arg = format!("{k}={v}");
                    prop_assert_eq!(o.command.iter().filter(|a| **a == arg).count(), 1);
                }
                prop_assert_eq!(o.read_only, preset == "status");
            }
        }
        prop_assert!(o.check_size("rails").is_ok());
    }

    /// Every valid task definition derives, for any target: the target first and essential
    /// with the new image, its dependencies (transitively) kept and non-essential, nothing
    /// else, and only the volumes they mount; without sidecars the target alone.
    #[test]
    fn valid_task_definitions_derive_what_the_target_needs((td, target) in valid_task_definition()) {
        let described = Described::from_json(td.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let name = format!("c{target}");
        let image = ImageRef::parse("repo/new:v2").unwrap();
        let kept = taskdef::derive_migration(&described, &name, Some(&image), "app-migrate", taskdef::Sidecars::Keep)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let desired = &kept.task_definition;
        let containers = desired["containerDefinitions"].as_array().unwrap();
        prop_assert_eq!(&containers[0]["name"], &json!(name));
        prop_assert_eq!(&containers[0]["essential"], &json!(true));
        prop_assert_eq!(&containers[0]["image"], &json!("repo/new:v2"));
        prop_assert!(containers[0].get("healthCheck").is_none());
        let mut sidecars: Vec<String> = containers[1..]
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        sidecars.sort();
        prop_assert_eq!(&sidecars, &closure(&td, &name));
        prop_assert!(containers[1..].iter().all(|c| c["essential"] == json!(false)));
        prop_assert_eq!(kept.sidecars.len(), sidecars.len());
        let volumes = desired["volumes"].as_array().unwrap().len();
        prop_assert_eq!(volumes, containers.len(), "one volume per kept container");
        prop_assert_eq!(&desired["family"], &json!("app-migrate"));
        prop_assert!(taskdef::check_fargate(desired, false).is_ok());
        prop_assert!(taskdef::equivalent(desired, &desired.clone()));
        let slim = taskdef::derive_migration(&described, &name, Some(&image), "app-migrate", taskdef::Sidecars::Drop)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(slim.task_definition["containerDefinitions"].as_array().unwrap().len(), 1);
        prop_assert_eq!(slim.dropped.len(), sidecars.len());
        let secrets = plan_secrets(&containers[0], Some("123456789012"))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(secrets.ssm.values().map(Vec::len).sum::<usize>(), td["containerDefinitions"][0]["secrets"].as_array().unwrap().len());
    }
}

#[test]
fn the_builtin_catalogue_is_what_the_property_tests_draw_from() {
    let all: BTreeMap<_, _> = catalogue(None).unwrap();
    assert!(
        ["down", "migrate", "rollback", "status"]
            .iter()
            .all(|p| all.contains_key(*p))
    );
}
