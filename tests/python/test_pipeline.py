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


def test_template_keeps_migrate_and_deploy_in_one_queued_stage():
    class Loader(yaml.SafeLoader):
        pass

    for tag in ("!Ref", "!Sub", "!GetAtt"):
        Loader.add_constructor(tag, lambda loader, node: loader.construct_scalar(node))
    t = yaml.load((ROOT / "docs/pipeline/pipeline.yml").read_text(), Loader=Loader)
    pipe = t["Resources"]["Pipeline"]["Properties"]
    assert pipe["ExecutionMode"] == "QUEUED"
    release = [s for s in pipe["Stages"] if s["Name"] == "Release"][0]
    assert [a["ActionTypeId"]["Provider"] for a in release["Actions"]] == ["CodeBuild", "CodeDeployToECS"]
    project = t["Resources"]["MigrateProject"]["Properties"]
    assert project["ConcurrentBuildLimit"] == 1
    assert project["Source"]["BuildSpec"] == "buildspec-migrate.yml"
    actions = {a for s in t["Resources"]["MigrateRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    for needed in ["ecs:RunTask", "ecs:DescribeTasks", "ecs:RegisterTaskDefinition", "ecs:ListTasks",
                   "ecs:StopTask", "logs:GetLogEvents", "ssm:GetParameters", "iam:PassRole",
                   "secretsmanager:DescribeSecret"]:
        assert needed in actions, needed
    pass_role = [s for s in t["Resources"]["MigrateRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
                 if s["Action"] == "iam:PassRole"][0]
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
    for sub in ("run", "render"):
        helps += subprocess.run([str(BIN), sub, "--help"], capture_output=True, text=True, check=True).stdout
    documented = set()
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "buildspec-migrate.yml"]
    for doc in docs:
        documented |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", doc.read_text()))
    not_ours = {"--version", "--help", "--trace", "--region", "--profile", "--query", "--image-ids",
                "--repository-name", "--image-tag", "--image-manifest", "--image-manifest-media-type",
                "--output", "--locked", "--release", "--check", "--all-targets", "--generate-cli-skeleton",
                "--include", "--task-definition",
                "--data-dir", "--port",  # scripts/seed and scripts/emulator, documented with them
                "--runs", "--lines", "--write-docs"}  # scripts/bench
    missing = sorted(f for f in documented - not_ours if f not in helps)
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
