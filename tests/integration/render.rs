//! `ecs-migrate render` against the emulator's CODE_DEPLOY service, and offline.

use crate::common;

use std::process::Command;

use common::{World, code, file, stderr};
use serde_json::Value;

/// `ecs-migrate render --cluster … --service SERVICE --container rails --out OUT`.
fn render_service(w: &World, service: &str, out: &std::path::Path) -> std::process::Output {
    render_with(w, service, &[], out)
}

/// `render_service` with extra flags.
fn render_with(
    w: &World,
    service: &str,
    extra: &[&str],
    out: &std::path::Path,
) -> std::process::Output {
    let cluster = w.s("cluster");
    w.cmd()
        .args(["render", "--cluster", &cluster, "--service", service])
        .args(["--container", "rails"])
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn renders_from_the_code_deploy_services_primary_task_set() {
    let w = World::new();
    let out = tempfile::tempdir().unwrap();
    let o = render_service(&w, "ass-staging-bg", out.path());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("load balancer nginx:80"),
        "{}",
        stderr(&o)
    );
    let td: Value = serde_json::from_str(&file(&out.path().join("taskdef.json"))).unwrap();
    assert_eq!(td["family"], "ass-task-def-staging");
    assert!(
        td.get("revision").is_none()
            && td.get("taskDefinitionArn").is_none()
            && td.get("status").is_none()
    );
    assert_eq!(td["containerDefinitions"][0]["name"], "rails");
    assert_eq!(td["containerDefinitions"][0]["image"], "<IMAGE1_NAME>");
    assert_eq!(
        td["containerDefinitions"][1]["image"],
        format!("123456789012.dkr.ecr.{}.amazonaws.com/nginx:stg", w.region)
    );
    let appspec = file(&out.path().join("appspec.yaml"));
    assert!(appspec.contains("TaskDefinition: <TASK_DEFINITION>"));
    assert!(appspec.contains("ContainerName: \"nginx\"") && appspec.contains("ContainerPort: 80"));
    assert!(
        appspec.contains("PlatformVersion: \"1.4.0\""),
        "the service's platform version is kept: {appspec}"
    );
    assert!(
        stderr(&o).contains(&format!(
            "container 'nginx' runs 123456789012.dkr.ecr.{}.amazonaws.com/nginx:stg, a mutable tag",
            w.region
        )),
        "{}",
        stderr(&o)
    );
    assert!(
        !appspec.contains("task-definition/"),
        "never an ARN or revision"
    );

    // the service without a load balancer needs the flags
    let o = render_service(&w, "ass-staging", out.path());
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("--lb-container NAME --lb-port PORT"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pin_images_resolves_the_sidecars_tag_to_its_digest() {
    let w = World::new();
    let out = tempfile::tempdir().unwrap();
    let o = render_with(&w, "ass-staging-bg", &["--pin-images"], out.path());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pinned = format!(
        "123456789012.dkr.ecr.{}.amazonaws.com/nginx@{}",
        w.region,
        w.s("nginx_digest")
    );
    let td: Value = serde_json::from_str(&file(&out.path().join("taskdef.json"))).unwrap();
    assert_eq!(td["containerDefinitions"][1]["image"], pinned.as_str());
    assert!(
        stderr(&o).contains(&format!("pinned container 'nginx' to {pinned}")),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("mutable tag"), "{}", stderr(&o));

    // the tag is gone from ECR: a clear error, and nothing is written
    let ecr = aws_sdk_ecr::Client::new(&w.sdk().await);
    ecr.batch_delete_image()
        .repository_name("nginx")
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag("stg")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let empty = tempfile::tempdir().unwrap();
    let o = render_with(&w, "ass-staging-bg", &["--pin-images"], empty.path());
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--pin-images: nginx:stg for container 'nginx'"),
        "{}",
        stderr(&o)
    );
    assert!(!empty.path().join("taskdef.json").exists());
}

#[test]
fn renders_the_seed_offline_with_the_image_detail() {
    let dir = tempfile::tempdir().unwrap();
    let detail = dir.path().join("imageDetail.json");
    let uri = "730335441282.dkr.ecr.ap-northeast-1.amazonaws.com/ass-rails-ecr-staging@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    std::fs::write(
        &detail,
        format!(r#"{{"ImageURI":"{uri}","ImageTags":["v2"]}}"#),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_ecs-migrate"))
        .env_clear()
        .args([
            "render",
            "--container",
            "rails",
            "--lb-container",
            "nginx",
            "--lb-port",
            "80",
            "--task-definition-file",
        ])
        .arg(common::repo().join("tests/fixtures/taskdef-staging.json"))
        .arg("--image-detail")
        .arg(&detail)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("healthCheck CMD-SHELL takes one shell string"),
        "{}",
        stderr(&o)
    );
    let td: Value = serde_json::from_str(&file(&out.join("taskdef.json"))).unwrap();
    assert_eq!(td["containerDefinitions"][0]["image"], uri);
    assert_eq!(file(&out.join("imageDetail.json")), file(&detail));
}

/// `ecs-migrate render --format imagedefinitions` of the native service into `out`.
fn image_definitions(w: &World, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut c = w.cmd();
    c.args([
        "render",
        "--format",
        "imagedefinitions",
        "--cluster",
        &w.s("cluster"),
    ])
    .args(["--service", "ass-staging-native", "--container", "rails"])
    .args(extra)
    .arg("--out")
    .arg(out);
    c.output().unwrap()
}

fn image_definitions_doc(out: &std::path::Path) -> Value {
    serde_json::from_str(&file(&out.join("imagedefinitions.json"))).unwrap()
}

#[test]
fn imagedefinitions_for_the_ecs_deploy_action() {
    let w = World::new();
    let out = tempfile::tempdir().unwrap();
    let image = w.s("image");
    let o = image_definitions(&w, out.path(), &["--image", &image]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        image_definitions_doc(out.path()),
        serde_json::json!([{"name": "rails", "imageUri": image}])
    );
    assert!(
        stderr(&o).contains("container 'nginx' keeps"),
        "{}",
        stderr(&o)
    );
    assert!(!out.path().join("taskdef.json").exists());

    // with --pin-images the sidecar is pinned too
    let o = image_definitions(&w, out.path(), &["--image", &image, "--pin-images"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        image_definitions_doc(out.path())[1]["imageUri"],
        format!(
            "123456789012.dkr.ecr.{}.amazonaws.com/nginx@{}",
            w.region,
            w.s("nginx_digest")
        )
    );

    // without the new image there is nothing to write
    let o = image_definitions(&w, out.path(), &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("needs the new image"), "{}", stderr(&o));
}

/// A service created by the test through the SDK: `controller`, the seed's task definition and
/// network, these load balancers (container, port).
async fn create_service(w: &World, name: &str, controller: &str, lbs: &[(&str, i32)]) {
    use aws_sdk_ecs::types::{
        AwsVpcConfiguration, DeploymentController, DeploymentControllerType, LaunchType,
        LoadBalancer, NetworkConfiguration,
    };
    let ecs = common::ecs(w).await;
    let network = NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets(w.subnet("private-a"))
                .security_groups(w.s("security_group"))
                .build()
                .unwrap(),
        )
        .build();
    let mut c = ecs
        .create_service()
        .cluster(w.s("cluster"))
        .service_name(name)
        .task_definition(w.s("task_definition_arn"))
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network.clone())
        .deployment_controller(
            DeploymentController::builder()
                .r#type(DeploymentControllerType::from(controller))
                .build()
                .unwrap(),
        );
    for (container, port) in lbs {
        c = c.load_balancers(
            LoadBalancer::builder()
                .target_group_arn(format!(
                    "arn:aws:elasticloadbalancing:{}:123456789012:targetgroup/{name}-{port}/0123456789abcdef",
                    w.region
                ))
                .container_name(*container)
                .container_port(*port)
                .build(),
        );
    }
    c.send().await.unwrap();
    if controller == "CODE_DEPLOY" {
        // one task set, never made PRIMARY: a deployment still in flight
        ecs.create_task_set()
            .cluster(w.s("cluster"))
            .service(name)
            .task_definition(w.s("task_definition_arn"))
            .network_configuration(network)
            .launch_type(LaunchType::Fargate)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn render_says_what_it_took_and_refuses_what_is_not_settled() {
    let w = World::new();
    let out = tempfile::tempdir().unwrap();
    // several load balancers: the first is taken, and the warning names it and the others
    create_service(&w, "two-lbs", "ECS", &[("nginx", 80), ("rails", 3000)]).await;
    let o = render_with(&w, "two-lbs", &["--output", "json"], out.path());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = common::json_of(&o);
    assert_eq!(r["outcome"], "succeeded");
    assert_eq!(r["load_balancer"], "nginx:80");
    assert!(
        r.get("task_arn").is_none(),
        "a render result, not a run's: {r}"
    );
    let files: Vec<&str> = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 2);
    assert!(files[0].ends_with("taskdef.json") && files[1].ends_with("appspec.yaml"));
    assert!(
        r["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("2 load balancer entries (nginx:80, rails:3000); appspec.yaml takes the first, nginx:80")),
        "{r}"
    );

    // a CODE_DEPLOY service whose only task set is not PRIMARY: refused, nothing written
    create_service(&w, "in-flight", "CODE_DEPLOY", &[("nginx", 80)]).await;
    let empty = tempfile::tempdir().unwrap();
    let o = render_with(&w, "in-flight", &[], empty.path());
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("has no PRIMARY task set"),
        "{}",
        stderr(&o)
    );
    assert!(!empty.path().join("taskdef.json").exists());

    // a native service mid-deployment: rendered from the revision it replaces, with a warning
    common::start_deployment(&w, "image").await;
    let image = w.s("image");
    let o = w
        .cmd()
        .args([
            "render",
            "--format",
            "imagedefinitions",
            "--cluster",
            &w.s("cluster"),
        ])
        .args([
            "--service",
            "ass-staging-native",
            "--container",
            "rails",
            "--image",
            &image,
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a blue/green deployment is in progress"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_file_that_cannot_be_written_replaces_nothing() {
    let w = World::new();
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("taskdef.json"), "the old one").unwrap();
    std::fs::create_dir(out.path().join("appspec.yaml")).unwrap();
    let o = render_with(&w, "ass-staging-bg", &["--output", "json"], out.path());
    assert_eq!(code(&o), 119, "{}", stderr(&o));
    let r = common::json_of(&o);
    assert_eq!(r["outcome"], "write_failed");
    assert_eq!(r["files"], serde_json::json!([]));
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("appspec.yaml: it is a directory"),
        "{r}"
    );
    assert_eq!(file(&out.path().join("taskdef.json")), "the old one");
    let stray: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}
