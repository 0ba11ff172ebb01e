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

#[test]
fn the_builtin_catalogue_is_what_the_property_tests_draw_from() {
    let all: BTreeMap<_, _> = catalogue(None).unwrap();
    assert!(
        ["down", "migrate", "rollback", "status"]
            .iter()
            .all(|p| all.contains_key(*p))
    );
}
