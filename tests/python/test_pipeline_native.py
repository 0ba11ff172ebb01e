"""docs/pipeline/pipeline-native.yml: lints clean, has the shape the gate needs, and its two
inline buildspecs run for real against the emulator: Render writes imagedefinitions.json, the
ECS deploy action (emulated here by what it does: register the revision with that image, then
UpdateService) starts a blue/green deployment, and Gate migrates at its PAUSE hook and
continues it."""

import json
import subprocess
import threading
import time
from pathlib import Path

import boto3
import yaml

from revision import deploy
from test_buildspec import BIN_DIR, codebuild, endpoint, seed  # noqa: F401 (endpoint: a fixture)
from test_pipeline import CfnLoader, actions_of, statements

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "docs/pipeline/pipeline-native.yml"


def template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)


def release(t: dict) -> dict[str, dict]:
    stage = [s for s in t["Resources"]["Pipeline"]["Properties"]["Stages"] if s["Name"] == "Release"][0]
    return {a["Name"]: a for a in stage["Actions"]}


def test_native_template_lints_clean():
    proc = subprocess.run([str(ROOT / ".venv/bin/cfn-lint"), str(TEMPLATE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_deploy_and_gate_run_side_by_side_in_one_stage():
    t = template()
    actions = release(t)
    assert actions["Deploy"]["ActionTypeId"]["Provider"] == "ECS"
    assert actions["Deploy"]["Configuration"]["FileName"] == "imagedefinitions.json"
    assert actions["Gate"]["ActionTypeId"]["Provider"] == "CodeBuild"
    assert actions["Deploy"]["RunOrder"] == actions["Gate"]["RunOrder"], "parallel: same RunOrder"
    assert actions["Render"]["RunOrder"] < actions["Deploy"]["RunOrder"]
    gate = yaml.safe_load(t["Resources"]["GateProject"]["Properties"]["Source"]["BuildSpec"])
    assert any("ecs-migrate gate" in c for c in gate["phases"]["build"]["commands"])
    disabled = t["Resources"]["Pipeline"]["Properties"]["DisableInboundStageTransitions"]
    assert [d["StageName"] for d in disabled] == ["Release"]
    granted = {a for s in statements(t, "GateRole") for a in actions_of(s)}
    for needed in ["ecs:DescribeServiceDeployments", "ecs:ListServiceDeployments",
                   "ecs:DescribeServiceRevisions", "ecs:ContinueServiceDeployment",
                   "ecs:RunTask", "secretsmanager:DescribeSecret"]:
        assert needed in granted, needed


def inline_buildspec(t: dict, project: str) -> dict:
    return yaml.safe_load(t["Resources"][project]["Properties"]["Source"]["BuildSpec"])


def test_render_deploy_and_gate_end_to_end(endpoint, tmp_path):  # noqa: F811
    world = seed(endpoint, "ca-central-1", tmp_path)
    t = template()
    src = tmp_path / "rails-image"
    src.mkdir()
    (src / "imageDetail.json").write_text(json.dumps({"ImageURI": world["image"]}))
    env = {
        "PATH": f"{BIN_DIR}:/usr/bin:/bin", "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": world["region"],
        "AWS_ACCESS_KEY_ID": "codebuild", "AWS_SECRET_ACCESS_KEY": "codebuild",
        "AWS_EC2_METADATA_DISABLED": "true", "CODEBUILD_SRC_DIR": str(src),
        "CODEPIPELINE_EXECUTION_ID": "6f0e2a51-2f7c-4c0e-8f43-1f3b9a2d7c55",
        "CODEBUILD_BUILD_NUMBER": "3", "ECS_MIGRATE_CLUSTER": world["cluster"],
        "ECS_MIGRATE_SERVICE": world["service_native"], "ECS_MIGRATE_CONTAINER": "rails",
        "ECS_MIGRATE_LOG_QUIET": "1s", "ECS_MIGRATE_DESCRIBE_INTERVAL": "200ms",
    }
    rc, _, log = codebuild(inline_buildspec(t, "RenderProject"), env, src)
    assert rc == 0, log
    defs = json.loads((src / "out" / "imagedefinitions.json").read_text())
    assert defs == [{"name": "rails", "imageUri": world["image"]}]

    gate: dict = {}
    runner = threading.Thread(target=lambda: gate.update(
        zip(("rc", "exports", "log"), codebuild(inline_buildspec(t, "GateProject"), env, src))))
    runner.start()
    time.sleep(1)                       # the gate waits for the deployment the action starts
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name=world["region"],
                       aws_access_key_id="test", aws_secret_access_key="test")
    new_td = deploy(ecs, world["cluster"], world["service_native"], world["task_definition_arn"],
                    {d["name"]: d["imageUri"] for d in defs})
    runner.join(timeout=120)
    assert gate["rc"] == 0, gate["log"]
    result = json.loads((src / "gate-result.json").read_text())
    assert result["outcome"] == "succeeded" and result["gate"]["action"] == "CONTINUE", result
    arn = result["gate"]["service_deployment_arn"]
    for _ in range(100):
        d = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
        if d["status"] == "SUCCESSFUL":
            break
        time.sleep(0.2)
    assert d["status"] == "SUCCESSFUL", d
    svc = ecs.describe_services(cluster=world["cluster"], services=[world["service_native"]])["services"][0]
    assert svc["taskDefinition"] == new_td
