"""Every role that runs ecs-migrate grants exactly `ecs-migrate iam-policy` for the commands it
runs, scoped to the stack's own values: the command is the one source of the permissions (its
actions are measured against the emulator in tests/iam_policy.rs), and a role that drifts from it
fails here. docs/iam-policy.json is checked the same way by tests/iam_policy.rs.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from test_template_models import PSEUDO, Stack, load, parameter_sets

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("ECS_MIGRATE_BIN", ROOT / "target/debug/ecs-migrate"))
PIPELINE = ROOT / "docs/pipeline/pipeline.yml"
NATIVE = ROOT / "docs/pipeline/pipeline-native.yml"
HOOK = ROOT / "docs/pipeline/hook.yml"

# (template, role, the ecs-migrate commands its CodeBuild project or Lambda function runs)
ROLES = [
    (PIPELINE, "MigrateRole", ["run", "render"]),
    (NATIVE, "GateRole", ["gate"]),
    (NATIVE, "RenderRole", ["render"]),
    (HOOK, "HookRole", ["hook"]),
]
POLICY_NAME = "ecs-migrate"


def iam_policy(commands: list[str], stack: Stack) -> dict:
    """`ecs-migrate iam-policy COMMANDS` with the stack's values."""
    p = stack.params
    args = [str(BIN), "iam-policy", *commands,
            "--partition", PSEUDO["AWS::Partition"], "--region", PSEUDO["AWS::Region"],
            "--account", PSEUDO["AWS::AccountId"], "--cluster", p["ClusterName"],
            "--service", p["ServiceName"], "--migration-family", p["MigrationFamily"],
            "--log-group", p["LogGroupName"], "--ssm-path", p["SsmParameterPath"] + "/",
            "--role", p["TaskRoleArn"], "--role", p["ExecutionRoleArn"]]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def normalised(doc: dict) -> dict:
    """Statements by Sid, with actions and resources as sorted lists."""
    def as_list(x):
        return sorted(x) if isinstance(x, list) else [x]

    return {s["Sid"]: {"Effect": s["Effect"], "Action": as_list(s["Action"]),
                       "Resource": as_list(s["Resource"]), "Condition": s.get("Condition")}
            for s in doc["Statement"]}


def role_policy(stack: Stack, role: str) -> dict:
    policies = stack.t["Resources"][role]["Properties"]["Policies"]
    named = [p for p in policies if p["PolicyName"] == POLICY_NAME]
    assert len(named) == 1, f"{role} has no policy named {POLICY_NAME}"
    return stack.resolve(named[0]["PolicyDocument"])


@pytest.mark.skipif(not BIN.exists(), reason="needs the debug binary (cargo build)")
@pytest.mark.parametrize("template,role,commands", ROLES, ids=[r[1] for r in ROLES])
def test_each_role_grants_the_commands_policy(template: Path, role: str, commands: list[str]):
    t = load(template)
    for params in parameter_sets(t):
        stack = Stack(t, params)
        assert normalised(role_policy(stack, role)) == normalised(iam_policy(commands, stack)), (
            f"{template.name} {role}: its {POLICY_NAME} policy is not `ecs-migrate iam-policy "
            f"{' '.join(commands)}` for the stack's values")


@pytest.mark.skipif(not BIN.exists(), reason="needs the debug binary (cargo build)")
def test_a_drifted_role_is_caught():
    t = load(NATIVE)
    stack = Stack(t, next(parameter_sets(t)))
    doc = role_policy(stack, "GateRole")
    doc["Statement"][0]["Action"] = list(doc["Statement"][0]["Action"]) + ["ecs:UpdateService"]
    assert normalised(doc) != normalised(iam_policy(["gate"], stack))


@pytest.mark.skipif(not BIN.exists(), reason="needs the debug binary (cargo build)")
def test_the_hook_role_is_the_hooks_policy_and_lambdas_basic_execution_only():
    """Beside `iam-policy hook`, the function's role has one more policy: Lambda's basic
    execution (CreateLogStream, PutLogEvents), on the function's own log group only."""
    t = load(HOOK)
    for params in parameter_sets(t):
        stack = Stack(t, params)
        policies = {p["PolicyName"]: stack.resolve(p["PolicyDocument"])
                    for p in t["Resources"]["HookRole"]["Properties"]["Policies"]}
        assert set(policies) == {POLICY_NAME, "lambda-basics"}, sorted(policies)
        p, r, a = PSEUDO["AWS::Partition"], PSEUDO["AWS::Region"], PSEUDO["AWS::AccountId"]
        group = f"arn:{p}:logs:{r}:{a}:log-group:/aws/lambda/{params['FunctionName']}"
        assert normalised(policies["lambda-basics"]) == {"FunctionOwnLogs": {
            "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [group, f"{group}:log-stream:*"], "Condition": None}}
        # the function logs where that statement allows: its log group is /aws/lambda/<name>
        fn = stack.resolve(t["Resources"]["HookFunction"]["Properties"])
        assert fn["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{fn['FunctionName']}"
        assert fn["FunctionName"] == params["FunctionName"]


def test_every_role_that_runs_ecs_migrate_is_checked():
    """A CodeBuild project whose buildspec runs ecs-migrate, or a Lambda function (the
    release's zip: the binary as bootstrap), uses one of the roles above."""
    checked = {(str(t), r) for t, r, _ in ROLES}
    for template in (HOOK,):
        for name, res in load(template)["Resources"].items():
            if res["Type"] == "AWS::Lambda::Function":
                att = res["Properties"]["Role"]["Fn::GetAtt"]
                role = att.split(".")[0] if isinstance(att, str) else att[0]
                assert (str(template), role) in checked, f"{template.name} {name} runs as {role}, unchecked"
    for template in (PIPELINE, NATIVE):
        t = load(template)
        for name, res in t["Resources"].items():
            if res["Type"] != "AWS::CodeBuild::Project":
                continue
            props = res["Properties"]
            source = json.dumps(props.get("Source", {})) + json.dumps(props.get("Environment", {}))
            runs = "ecs-migrate" in source or "buildspec-migrate" in source
            role = props["ServiceRole"]
            if isinstance(role, dict):    # !GetAtt Role.Arn, in either form
                att = role["Fn::GetAtt"]
                role = att.split(".")[0] if isinstance(att, str) else att[0]
            if runs:
                assert (str(template), role) in checked, f"{template.name} {name} runs as {role}, unchecked"
