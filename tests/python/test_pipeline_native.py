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
from test_template_models import Stack, parameter_sets

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
    nginx = {"name": "nginx", "imageUri": f"{world['image'].split('/')[0]}/nginx@{world['nginx_digest']}"}
    assert defs == [{"name": "rails", "imageUri": world["image"]}, nginx], "--pin-images: nginx by digest"

    # the gate project's own settings, as the template resolves them (defaults)
    stack = Stack(t, next(parameter_sets(t)))
    project_env = {e["Name"]: e["Value"] for e in stack.resolve(
        t["Resources"]["GateProject"]["Properties"]["Environment"]["EnvironmentVariables"])}
    env.update({k: project_env[k] for k in ("ECS_MIGRATE_HOOK_WAIT", "ECS_MIGRATE_TIMEOUT")})
    assert env["ECS_MIGRATE_TIMEOUT"] == "25m"

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


RENDER_CALLS = {  # what `ecs-migrate render --format imagedefinitions --pin-images` calls
    "ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:ListServiceDeployments",
    "ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions", "ecr:BatchGetImage"}


def policy_statements(t: dict, role: str, policy: str) -> list[dict]:
    docs = [p for p in t["Resources"][role]["Properties"]["Policies"] if p["PolicyName"] == policy]
    assert len(docs) == 1, (role, policy)
    return docs[0]["PolicyDocument"]["Statement"]


def test_render_has_a_role_of_its_own_that_only_reads():
    t = template()
    render = t["Resources"]["RenderProject"]["Properties"]
    assert render["ServiceRole"] == {"Fn::GetAtt": "RenderRole.Arn"}
    assert t["Resources"]["GateProject"]["Properties"]["ServiceRole"] == {"Fn::GetAtt": "GateRole.Arn"}
    assert "--pin-images" in render["Source"]["BuildSpec"], "sidecars pinned by digest"
    # the ecs/ecr grant is one named policy: `ecs-migrate iam-policy render` (test_iam_policy.py)
    calls = policy_statements(t, "RenderRole", "ecs-migrate")
    assert {a for s in calls for a in actions_of(s)} == RENDER_CALLS
    granted = {a for s in statements(t, "RenderRole") for a in actions_of(s)}
    basics = {a for s in policy_statements(t, "RenderRole", "codebuild-basics") for a in actions_of(s)}
    assert basics == {"logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject", "s3:PutObject",
                      "ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                      "ecr:BatchCheckLayerAvailability"}
    assert granted == RENDER_CALLS | basics
    for never in ("ecs:RunTask", "ecs:StopTask", "iam:PassRole", "ecs:ContinueServiceDeployment",
                  "ecs:RegisterTaskDefinition", "ecs:TagResource"):
        assert never not in granted, never
    assert render["LogsConfig"]["CloudWatchLogs"]["GroupName"] == {"Ref": "RenderLogGroup"}


# The time budget. CodePipeline's ECS deploy action waits for the whole deployment on one clock,
# DeploymentTimeout (1-60 minutes). Worst case of a release that succeeds, in the order it
# happens; the terms that are estimates, not settings, are named as such.
SEED_TASKDEF = ROOT / "tests/fixtures/taskdef-staging.json"
ALLOWANCES = {  # minutes
    "gate build start (CodeBuild queue, provisioning, build image pull)": 2,
    "green task provisioning and image pull (Fargate)": 2,
    "test and production traffic shifts": 2,
}


def minutes(value: str) -> int:
    assert value.endswith("m") and value[:-1].isdigit(), value
    return int(value[:-1])


def health_chain_seconds(taskdef: dict) -> int:
    """Seconds until every essential container can first be HEALTHY: a container's first health
    check runs `interval` after it starts (and failures before `startPeriod` do not count), and a
    container that dependsOn another's HEALTHY starts only then."""
    containers = {c["name"]: c for c in taskdef["containerDefinitions"]}

    def healthy_at(name: str) -> int:
        c = containers[name]
        start = max([healthy_at(d["containerName"]) for d in c.get("dependsOn", [])
                     if d["condition"] == "HEALTHY"] or [0])
        check = c.get("healthCheck")
        return start + (max(check.get("interval", 30), check.get("startPeriod", 0)) if check else 0)

    return max(healthy_at(n) for n, c in containers.items() if c.get("essential", True))


def budget(t: dict) -> dict[str, int]:
    params = t["Parameters"]
    gate_env = {e["Name"]: e["Value"] for e in
                t["Resources"]["GateProject"]["Properties"]["Environment"]["EnvironmentVariables"]}
    # the gate's settings come from the parameters whose defaults are added up here
    assert gate_env["ECS_MIGRATE_HOOK_WAIT"] == {"Fn::Sub": "${HookWaitMinutes}m"}
    assert gate_env["ECS_MIGRATE_TIMEOUT"] == {"Fn::Sub": "${MigrationTimeoutMinutes}m"}
    gate_spec = inline_buildspec(t, "GateProject")
    assert not (gate_spec["env"].get("variables") or {}).keys() & {"ECS_MIGRATE_TIMEOUT", "ECS_MIGRATE_HOOK_WAIT"}
    health = health_chain_seconds(json.loads(SEED_TASKDEF.read_text()))
    return {
        "gate build start (CodeBuild queue, provisioning, build image pull)":
            ALLOWANCES["gate build start (CodeBuild queue, provisioning, build image pull)"],
        "hook wait (HookWaitMinutes, ECS_MIGRATE_HOOK_WAIT)": params["HookWaitMinutes"]["Default"],
        "migration deadline (MigrationTimeoutMinutes, ECS_MIGRATE_TIMEOUT)":
            params["MigrationTimeoutMinutes"]["Default"],
        "green task provisioning and image pull (Fargate)":
            ALLOWANCES["green task provisioning and image pull (Fargate)"],
        "green containers healthy (the seed's health checks: rails, then nginx after it)":
            -(-health // 60),
        "test and production traffic shifts": ALLOWANCES["test and production traffic shifts"],
        "bake time (BakeTimeMinutes, the service's bakeTimeInMinutes)": params["BakeTimeMinutes"]["Default"],
    }


def test_the_native_time_budget_fits_the_deploy_action():
    t = template()
    deploy = release(t)["Deploy"]["Configuration"]
    deadline = int(deploy["DeploymentTimeout"])
    assert 1 <= deadline <= 60, "the ECS deploy action allows 1-60 minutes"
    terms = budget(t)
    total = sum(terms.values())
    table = "\n".join(f"  {v:3d} min  {k}" for k, v in terms.items())
    print(f"native time budget ({total} of {deadline} min):\n{table}")
    assert terms["green containers healthy (the seed's health checks: rails, then nginx after it)"] == 10
    assert total <= deadline, f"{total} min > DeploymentTimeout {deadline}:\n{table}"
    # the hook's timeout: after the gate's worst case (so ROLLBACK only answers for a lost gate),
    # and before the action's own deadline (so a lost gate fails the deployment, not the clock)
    params = t["Parameters"]
    gate_worst = sum(v for k, v in terms.items() if k.startswith(("gate build", "hook wait", "migration")))
    assert gate_worst < params["HookTimeoutMinutes"]["Default"] < deadline
    assert t["Resources"]["GateProject"]["Properties"]["TimeoutInMinutes"] > gate_worst
    out = t["Outputs"]["ServiceDeploymentConfiguration"]["Value"]["Fn::Sub"]
    assert "${BakeTimeMinutes}" in out and "${HookTimeoutMinutes}" in out and '"ROLLBACK"' in out
    # docs/pipeline.md shows the same terms and sums
    section = (ROOT / "docs/pipeline.md").read_text().split("\n## The time budget\n")[1].split("\n## ")[0]
    for k, v in terms.items():
        assert f"| {k} | {v} |" in section, (k, v)
    assert f"| **total**, of {deadline} | **{total}** |" in section
    flat = " ".join(section.split())
    migration = terms["migration deadline (MigrationTimeoutMinutes, ECS_MIGRATE_TIMEOUT)"]
    others = total - migration
    assert f"can grow to {deadline - others} minutes ({deadline} - {others}," in flat
    gate_terms = [str(v) for k, v in terms.items() if k.startswith(("gate build", "hook wait", "migration"))]
    assert f"({' + '.join(gate_terms)} = {gate_worst} minutes)" in flat
    assert f"(`HookTimeoutMinutes`, {params['HookTimeoutMinutes']['Default']})" in flat
    doc = (ROOT / "docs/pipeline.md").read_text()
    assert f'"bakeTimeInMinutes": {params["BakeTimeMinutes"]["Default"]}' in doc
    assert f'"timeoutInMinutes": {params["HookTimeoutMinutes"]["Default"]}' in doc


def test_the_budget_counts_a_longer_health_check():
    t = template()
    t["Parameters"]["MigrationTimeoutMinutes"]["Default"] = 45   # the gate's deadline before issue 15
    assert sum(budget(t).values()) > 60, "45 minutes of migration never fitted"
    td = json.loads(SEED_TASKDEF.read_text())
    assert health_chain_seconds(td) == 600
    td["containerDefinitions"][0]["healthCheck"]["startPeriod"] = 900
    assert health_chain_seconds(td) == 1200, "rails' start period, then nginx's first check"
