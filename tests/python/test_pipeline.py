"""The pipeline files: the CloudFormation template lints clean, taskdef.json validates against
botocore's RegisterTaskDefinition input shape, and the docs only name flags that exist."""

import json
import re
import subprocess
from pathlib import Path

import botocore.session
import yaml
from botocore.validate import ParamValidator

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "debug" / "ecs-migrate"
SEED = ROOT / "tests" / "fixtures" / "taskdef-staging.json"


def render_seed(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), "render", "--task-definition-file", str(SEED), "--container", "rails",
         "--lb-container", "nginx", "--lb-port", "80", "--out", str(out), *extra],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )


def test_cloudformation_template_lints_clean():
    proc = subprocess.run([str(ROOT / ".venv/bin/cfn-lint"), str(ROOT / "docs/pipeline/pipeline.yml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short forms: `!Ref X` → {"Ref": "X"}, `!If [...]` → {"Fn::If": [...]}."""


def _cfn_tag(loader, suffix, node):
    name = suffix if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def template() -> dict:
    return yaml.load((ROOT / "docs/pipeline/pipeline.yml").read_text(), Loader=CfnLoader)


def statements(t: dict, role: str) -> list[dict]:
    return [s for p in t["Resources"][role]["Properties"]["Policies"]
            for s in p["PolicyDocument"]["Statement"]]


def actions_of(statement: dict) -> list[str]:
    a = statement["Action"]
    return [a] if isinstance(a, str) else a


def test_template_keeps_migrate_and_deploy_in_one_queued_stage():
    t = template()
    pipe = t["Resources"]["Pipeline"]["Properties"]
    assert pipe["ExecutionMode"] == "QUEUED"
    release = [s for s in pipe["Stages"] if s["Name"] == "Release"][0]
    assert [a["ActionTypeId"]["Provider"] for a in release["Actions"]] == ["CodeBuild", "CodeDeployToECS"]
    project = t["Resources"]["MigrateProject"]["Properties"]
    assert project["ConcurrentBuildLimit"] == 1
    assert project["Source"]["BuildSpec"] == "buildspec-migrate.yml"
    actions = {a for s in statements(t, "MigrateRole") for a in actions_of(s)}
    for needed in ["ecs:RunTask", "ecs:DescribeTasks", "ecs:RegisterTaskDefinition", "ecs:ListTasks",
                   "ecs:StopTask", "logs:GetLogEvents", "ssm:GetParameters", "iam:PassRole",
                   "secretsmanager:DescribeSecret"]:
        assert needed in actions, needed
    pass_role = [s for s in statements(t, "MigrateRole") if actions_of(s) == ["iam:PassRole"]][0]
    assert pass_role["Condition"]["StringEquals"]["iam:PassedToService"] == "ecs-tasks.amazonaws.com"


def test_rendered_taskdef_is_a_valid_register_task_definition_input(tmp_path):
    proc = render_seed(tmp_path)
    assert proc.returncode == 0, proc.stderr
    td = json.loads((tmp_path / "taskdef.json").read_text())
    shape = botocore.session.get_session().get_service_model("ecs").operation_model("RegisterTaskDefinition").input_shape
    report = ParamValidator().validate(td, shape)
    assert not report.has_errors(), report.generate_report()
    assert td["containerDefinitions"][0]["image"] == "<IMAGE1_NAME>"


def test_a_describe_output_is_not_a_valid_input():
    # the check above can fail: the raw describe output (revision, status, ...) is rejected
    td = json.loads(SEED.read_text())
    shape = botocore.session.get_session().get_service_model("ecs").operation_model("RegisterTaskDefinition").input_shape
    report = ParamValidator().validate(td, shape)
    assert report.has_errors() and "revision" in report.generate_report()


def test_rendered_appspec_structure(tmp_path):
    assert render_seed(tmp_path, "--hook", "AfterAllowTestTraffic=ass-smoke-test").returncode == 0
    spec = yaml.safe_load((tmp_path / "appspec.yaml").read_text())
    assert spec["version"] == 0.0
    assert len(spec["Resources"]) == 1
    target = spec["Resources"][0]["TargetService"]
    assert target["Type"] == "AWS::ECS::Service"
    assert target["Properties"] == {
        "TaskDefinition": "<TASK_DEFINITION>",
        "LoadBalancerInfo": {"ContainerName": "nginx", "ContainerPort": 80},
    }
    assert spec["Hooks"] == [{"AfterAllowTestTraffic": "ass-smoke-test"}]


def test_docs_name_only_flags_that_exist():
    helps = ""
    for sub in ("run", "render", "gate", "iam-policy", "history", "logs", "revert"):
        helps += subprocess.run([str(BIN), sub, "--help"], capture_output=True, text=True, check=True).stdout
    documented = set()
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "buildspec-migrate.yml"]
    for doc in docs:
        documented |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", doc.read_text()))
    not_ours = {"--version", "--help", "--trace", "--region", "--profile", "--query", "--image-ids",
                "--repository-name", "--image-tag", "--image-manifest", "--image-manifest-media-type",
                "--output", "--locked", "--release", "--check", "--all-targets", "--generate-cli-skeleton",
                "--include", "--task-definition",
                # scripts/seed, scripts/emulator, revision.py
                "--data-dir", "--port", "--deploy", "--add-container", "--depends-on", "--env",
                "--runs", "--lines", "--write-docs",  # scripts/bench
                "--only-lambda-apis", "--exit-on-stdin-eof",  # cargo-lambda, emulator.py (docs/emulator.md)
                # the aws CLI, sha256sum, cargo and readelf in docs/pipeline.md and the runbook
                "--deployment-controller", "--name", "--only-show-errors", "--pipeline-name",
                "--stage-name", "--strict", "--target", "--transition-type", "--version-info",
                "--deployment-configuration"}
    # the flags of `aws ...` commands: test_docs_aws_cli.py checks them against the AWS CLI
    from test_docs_aws_cli import all_commands
    aws_flags = {t.split("=")[0] for c in all_commands() for t in c.text.split() if t.startswith("--")}
    missing = sorted(f for f in documented - not_ours - aws_flags if f not in helps)
    assert not missing, f"documented flags that ecs-migrate does not have: {missing}"
    for flag in ("--output", "--region", "--profile", "--task-definition"):
        assert flag in helps


def test_iam_policy_is_valid_json_with_the_calls_the_tool_makes():
    policy = json.loads((ROOT / "docs/iam-policy.json").read_text())
    actions = set()
    for s in policy["Statement"]:
        actions |= set([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    for call in ["ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition",
                 "ecs:RunTask", "ecs:DescribeTasks", "ecs:ListTasks", "ecs:StopTask",
                 "ssm:GetParameters", "logs:GetLogEvents", "iam:PassRole",
                 "secretsmanager:DescribeSecret"]:
        assert call in actions, call
    assert "ssm:GetParameter" not in actions and "kms:Decrypt" not in actions, "never decrypt"
    assert "secretsmanager:GetSecretValue" not in actions, "never read a secret's value"


def test_creating_the_stack_does_not_migrate_and_deploy():
    """A new pipeline starts an execution by itself: it must stop before Release."""
    t = template()
    disabled = t["Resources"]["Pipeline"]["Properties"]["DisableInboundStageTransitions"]
    assert [d["StageName"] for d in disabled] == ["Release"]
    assert "enable-stage-transition" in str(t["Outputs"]["EnableReleaseCommand"]["Value"])
    assert "enable-stage-transition" in (ROOT / "docs/pipeline.md").read_text()


def test_the_s3_source_bucket_is_created_versioned():
    t = template()
    source = [a for s in t["Resources"]["Pipeline"]["Properties"]["Stages"] for a in s["Actions"]
              if a["ActionTypeId"]["Provider"] == "S3"][0]
    assert source["Configuration"]["S3Bucket"] == {"Ref": "ConfigBucket"}
    bucket = t["Resources"]["ConfigBucket"]
    assert bucket["Type"] == "AWS::S3::Bucket"
    assert bucket["Properties"]["VersioningConfiguration"]["Status"] == "Enabled"


def test_tag_resource_is_granted_only_for_what_is_created():
    t = template()
    for role in ("MigrateRole", "PipelineRole"):
        tagging = [s for s in statements(t, role) if "ecs:TagResource" in actions_of(s)]
        assert tagging, role
        for s in tagging:
            assert actions_of(s) == ["ecs:TagResource"], (role, s)
            assert "ecs:CreateAction" in s["Condition"]["StringEquals"], (role, s)


def test_placeholder_mode_gives_the_deploy_action_its_image_artifact():
    t = template()
    release = [s for s in t["Resources"]["Pipeline"]["Properties"]["Stages"] if s["Name"] == "Release"][0]
    deploy = [a for a in release["Actions"] if a["Name"] == "BlueGreen"][0]
    cond, when_placeholder, _ = deploy["Configuration"]["Image1ArtifactName"]["Fn::If"]
    assert cond == "UsePlaceholder" and when_placeholder == "RailsImage"
    assert deploy["Configuration"]["Image1ContainerName"]["Fn::If"][1] == "IMAGE1_NAME"
    inputs = deploy["InputArtifacts"]["Fn::If"][1]
    assert {"Name": "RailsImage"} in inputs, "Image1ArtifactName must be one of the action's inputs"
    env = t["Resources"]["MigrateProject"]["Properties"]["Environment"]["EnvironmentVariables"]
    mode = [e for e in env if e["Name"] == "ECS_MIGRATE_RENDER_IMAGE"][0]["Value"]
    assert mode == {"Fn::If": ["UsePlaceholder", "placeholder", "direct"]}


def test_the_native_blue_green_docs_say_the_controller_must_be_ecs():
    doc = (ROOT / "docs/pipeline.md").read_text()
    assert "deployment controller must be `ECS`" in doc
    assert "--deployment-controller" in doc and "type=ECS" in doc, "how to move a CODE_DEPLOY service"


def test_docs_do_not_claim_the_build_limit_queues():
    doc = (ROOT / "docs/pipeline.md").read_text()
    assert "keep releases in order" not in doc
    sentence = [s for s in doc.replace("\n", " ").split(". ") if "ConcurrentBuildLimit" in s]
    assert sentence and all("fail" in s for s in sentence), sentence


# The runtime (`runs.using` in the action's own action.yml) of each major tag of the actions the
# workflow uses, read from each repository's tags in August 2026. GitHub removes Node 20 from its
# runners on 2026-09-16: every major the workflow names must be a node24 one. (amazon-ecr-login's
# v2 tag moved to node24 with v2.0.2; v2.0.1 was node20.)
ACTION_RUNTIMES = {
    "actions/checkout": {4: "node20", 5: "node24", 6: "node24", 7: "node24"},
    "aws-actions/configure-aws-credentials": {4: "node20", 5: "node20", 6: "node24"},
    "aws-actions/amazon-ecr-login": {1: "node16", 2: "node24"},
    "docker/setup-buildx-action": {3: "node20", 4: "node24"},
    "docker/build-push-action": {6: "node20", 7: "node24"},
}


def workflow() -> dict:
    return yaml.safe_load((ROOT / "docs/pipeline/github-actions.yml").read_text())


def test_workflow_uses_current_action_majors():
    steps = workflow()["jobs"]["build-and-push"]["steps"]
    used = {s["uses"].split("@")[0]: s["uses"].split("@")[1] for s in steps if "uses" in s}
    assert set(used) == set(ACTION_RUNTIMES), used
    for action, ref in used.items():
        major = int(ref.lstrip("v").split(".")[0])
        assert ACTION_RUNTIMES[action].get(major) == "node24", (action, ref, ACTION_RUNTIMES[action])


# CodeBuild's standard images: the distribution (and glibc) each is built on, from
# aws/aws-codebuild-docker-images (al2/x86_64/standard/<version>/Dockerfile's FROM line).
CODEBUILD_IMAGES = {
    "public.ecr.aws/codebuild/amazonlinux2-x86_64-standard:4.0": ("Amazon Linux 2", "2.26"),
    "public.ecr.aws/codebuild/amazonlinux2-x86_64-standard:5.0": ("Amazon Linux 2023", "2.34"),
}


def test_docs_name_the_build_images_distribution():
    dockerfile = (ROOT / "docs/pipeline/Dockerfile").read_text()
    image = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM ")][0]
    distro, glibc = CODEBUILD_IMAGES[image]
    comments = " ".join(line.lstrip("# ") for line in dockerfile.splitlines() if line.startswith("#"))
    doc = " ".join((ROOT / "docs/pipeline.md").read_text().split())
    for text in (comments, doc):
        assert f"{distro} (glibc {glibc}" in text, (image, distro)
    assert "Amazon Linux 2 standard image" not in doc + comments


def test_workflow_retag_succeeds_when_rerun(tmp_path):
    """The retag step, run for real (awscli against the emulator's ECR) twice: a re-run of the
    workflow finds the release tag already on the digest and must not fail."""
    import boto3
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), str(ROOT / "emulator/emulator.py"), "--port", "0",
         "--exit-on-stdin-eof"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL)
    try:
        endpoint = proc.stdout.readline().decode().strip()
        region = "ap-northeast-1"
        ecr = boto3.client("ecr", endpoint_url=endpoint, region_name=region,
                           aws_access_key_id="test", aws_secret_access_key="test")
        ecr.create_repository(repositoryName="ass-rails-ecr-staging")
        manifest = json.dumps({"schemaVersion": 2, "mediaType":
                               "application/vnd.docker.distribution.manifest.v2+json",
                               "config": {"digest": "sha256:" + "e" * 64, "size": 1}, "layers": []})
        digest = ecr.put_image(repositoryName="ass-rails-ecr-staging", imageManifest=manifest,
                               imageTag="0f1e2d3c")["image"]["imageId"]["imageDigest"]
        step = [s for s in workflow()["jobs"]["build-and-push"]["steps"]
                if s.get("name") == "Tag the digest as the release"][0]
        summary = tmp_path / "summary.md"
        env = {"PATH": f"{ROOT / '.venv/bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
               "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": region,
               "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "ECR_REPOSITORY": "ass-rails-ecr-staging", "RELEASE_TAG": "stg", "DIGEST": digest,
               "GITHUB_STEP_SUMMARY": str(summary)}
        for attempt in (1, 2):
            run = subprocess.run(["bash", "-e", "-c", step["run"]], env=env, capture_output=True,
                                 text=True, timeout=60)
            assert run.returncode == 0, (attempt, run.stdout + run.stderr)
        tagged = ecr.describe_images(repositoryName="ass-rails-ecr-staging",
                                     imageIds=[{"imageTag": "stg"}])["imageDetails"][0]
        assert tagged["imageDigest"] == digest
        lines = summary.read_text().splitlines()
        assert lines[0].startswith("released ass-rails-ecr-staging@sha256:")
        assert "already points at" in lines[1]
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def test_build_image_dockerfile_parses_with_dockers_parser():
    import dockerfile
    commands = dockerfile.parse_file(str(ROOT / "docs/pipeline/Dockerfile"))
    assert [c.cmd for c in commands][0] == "FROM"
    assert commands[0].value[0].startswith("public.ecr.aws/codebuild/"), "a CodeBuild image"
    copies = [c for c in commands if c.cmd == "COPY"]
    assert [c.value for c in copies] == [("dist/ecs-migrate", "/usr/local/bin/ecs-migrate")]
    for c in commands:
        assert not any(v.startswith("#") for v in c.value), f"a '#' argument: {c.original}"
    runs = [c for c in commands if c.cmd == "RUN"]
    assert runs and runs[-1].json and runs[-1].value[-1] == "--version"
    # docs/pipeline.md shows no Dockerfile of its own that could drift from this one
    assert "```Dockerfile" not in (ROOT / "docs/pipeline.md").read_text()
