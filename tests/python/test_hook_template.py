"""docs/pipeline/hook.yml, the migration as an ECS native blue/green Lambda lifecycle hook: lints
clean, the function is the release zip's `bootstrap` on provided.al2023, configured the way the
binary reads it, the role ECS assumes invokes this function and nothing else and only ECS (of
this account) can assume it, and the lifecycle hook entry the stack outputs names both ARNs at
PRE_SCALE_UP and is a valid UpdateService deploymentConfiguration in botocore's model.

The function's own role is checked in test_iam_policy.py (exactly `ecs-migrate iam-policy hook`
plus Lambda's basic execution), its values against the APIs in test_template_models.py, and
checkov there too."""

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from test_template_models import (PSEUDO, SESSION, Report, Stack, check_shape, check_template,
                                  load, parameter_sets)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "docs/pipeline/hook.yml"
BIN = Path(os.environ.get("ECS_MIGRATE_BIN", ROOT / "target/debug/ecs-migrate"))
# hookDetails keys the function reads (src/plan/hook_event.rs: `gate`'s flags)
HOOK_DETAILS_KEYS = {"preset", "command", "cluster", "container", "timeout", "stage", "migrationFamily"}


def stacks():
    t = load(TEMPLATE)
    for params in parameter_sets(t):
        yield t, Stack(t, params)


def test_hook_template_lints_clean():
    proc = subprocess.run([str(ROOT / ".venv/bin/cfn-lint"), str(TEMPLATE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_function_is_the_release_zip_bootstrap():
    t = load(TEMPLATE)
    fn = t["Resources"]["HookFunction"]
    assert fn["Type"] == "AWS::Lambda::Function"
    props = fn["Properties"]
    assert props["Runtime"] == "provided.al2023" and props["Handler"] == "bootstrap"
    assert props["Architectures"] == ["x86_64"]
    assert props["Code"] == {"S3Bucket": {"Ref": "CodeS3Bucket"}, "S3Key": {"Ref": "CodeS3Key"}}
    assert props["Role"] == {"Fn::GetAtt": "HookRole.Arn"}
    # the invocation budget (default 14m) fits inside the function's timeout (Lambda's maximum 900 s)
    assert 14 * 60 < props["Timeout"] <= 900
    assert props["MemorySize"] >= 128
    # the release's zip name, for the crate's version (scripts/release)
    version = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M)[1]
    assert t["Parameters"]["CodeS3Key"]["Default"] == f"ecs-migrate-{version}-lambda-x86_64.zip"
    assert 'lambda="ecs-migrate-$version-lambda-x86_64.zip"' in (ROOT / "scripts/release").read_text()


@pytest.mark.skipif(not BIN.exists(), reason="needs the debug binary (cargo build)")
def test_the_functions_environment_is_what_the_binary_reads():
    t = load(TEMPLATE)
    env = t["Resources"]["HookFunction"]["Properties"]["Environment"]["Variables"]
    read = set(re.findall(r"env: (ECS_MIGRATE_[A-Z_]+)",
                          subprocess.run([str(BIN), "gate", "--help"], capture_output=True,
                                         text=True, check=True).stdout))
    read |= {"ECS_MIGRATE_HOOK_INVOCATION_BUDGET", "ECS_MIGRATE_HOOK_CALLBACK_DELAY"}  # hook_settings
    assert set(env) <= read, set(env) - read
    assert env["ECS_MIGRATE_FAMILY"] == {"Ref": "MigrationFamily"}, "RunTask is granted on this family only"
    assert env["ECS_MIGRATE_HOOK_STAGE"] == "PRE_SCALE_UP"
    for _, stack in stacks():
        resolved = stack.resolve(env)
        assert re.fullmatch(r"\d+m", resolved["ECS_MIGRATE_TIMEOUT"]), resolved


def test_the_invoke_role_trusts_only_ecs_and_invokes_only_the_function():
    t = load(TEMPLATE)
    role = t["Resources"]["HookInvokeRole"]["Properties"]
    for _, stack in stacks():
        trust = stack.resolve(role["AssumeRolePolicyDocument"])["Statement"]
        assert trust == [{"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"},
                          "Action": "sts:AssumeRole",
                          "Condition": {"StringEquals": {"aws:SourceAccount": PSEUDO["AWS::AccountId"]}}}]
        policies = stack.resolve(role["Policies"])
        statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
        fn = stack.get_att("HookFunction", "Arn")
        assert fn == (f"arn:{PSEUDO['AWS::Partition']}:lambda:{PSEUDO['AWS::Region']}:"
                      f"{PSEUDO['AWS::AccountId']}:function:{stack.params['FunctionName']}")
        assert statements == [{"Sid": "InvokeTheHook", "Effect": "Allow",
                               "Action": ["lambda:InvokeFunction"], "Resource": fn}]
    assert role.get("ManagedPolicyArns") is None
    # the function's own role: Lambda only
    trust = t["Resources"]["HookRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]


def deployment_configuration(stack: Stack, t: dict) -> dict:
    return json.loads(stack.resolve(t["Outputs"]["ServiceDeploymentConfiguration"]["Value"]))


def test_the_hook_entry_names_both_arns_at_pre_scale_up():
    for t, stack in stacks():
        config = deployment_configuration(stack, t)
        assert config["strategy"] == "BLUE_GREEN"
        [hook] = config["lifecycleHooks"]
        assert hook["targetType"] == "AWS_LAMBDA"
        assert hook["hookTargetArn"] == stack.resolve(t["Outputs"]["HookTargetArn"]["Value"]) \
            == stack.get_att("HookFunction", "Arn")
        assert hook["roleArn"] == stack.resolve(t["Outputs"]["RoleArn"]["Value"]) \
            == stack.get_att("HookInvokeRole", "Arn")
        assert hook["lifecycleStages"] == ["PRE_SCALE_UP"]
        assert set(hook["hookDetails"]) <= HOOK_DETAILS_KEYS, hook["hookDetails"]
        assert hook["hookDetails"]["container"] == stack.params["ContainerName"]
        # the hook's timeout lies above the migration's deadline (the function's start, the
        # callbacks between invocations, the log's drain): ROLLBACK answers a lost hook only
        assert hook["timeoutConfiguration"] == {"timeoutInMinutes": int(stack.params["HookTimeoutMinutes"]),
                                                "action": "ROLLBACK"}
        assert int(stack.params["HookTimeoutMinutes"]) >= int(stack.params["MigrationTimeoutMinutes"]) + 5
        # the same entry, as UpdateService takes it (botocore's model: members, enums, ranges)
        shape = SESSION.get_service_model("ecs").operation_model("UpdateService") \
            .input_shape.members["deploymentConfiguration"]
        report = Report()
        check_shape(config, shape, "ServiceDeploymentConfiguration", report)
        assert not report.findings, report.findings
        assert report.checked >= 10


def test_the_update_service_command_puts_that_entry_on_the_service():
    for t, stack in stacks():
        tokens = shlex.split(stack.resolve(t["Outputs"]["UpdateServiceCommand"]["Value"]))
        assert tokens[:3] == ["aws", "ecs", "update-service"]
        flags = dict(zip(tokens[3::2], tokens[4::2]))
        assert flags == {"--cluster": stack.params["ClusterName"], "--service": stack.params["ServiceName"],
                         "--deployment-configuration": flags["--deployment-configuration"]}
        assert json.loads(flags["--deployment-configuration"]) == deployment_configuration(stack, t)


def test_the_model_check_reaches_the_function():
    """test_template_models.py's walk finds what is wrong with a Lambda function or its roles."""
    def findings(change):
        t = load(TEMPLATE)
        change(t)
        return check_template(t, "mutated").findings

    def fn(t):
        return t["Resources"]["HookFunction"]["Properties"]

    cases = {
        "runtime": (lambda t: fn(t).update(Runtime="provided.al2024"), "is not one of Runtime's values"),
        "memory": (lambda t: fn(t).update(MemorySize=64), "below the minimum 128"),
        "architecture": (lambda t: fn(t).update(Architectures=["amd64"]), "is not one of Architecture's values"),
        "action": (lambda t: t["Resources"]["HookInvokeRole"]["Properties"]["Policies"][0]["PolicyDocument"]
                   ["Statement"][0].update(Action=["lambda:InvokeFunktion"]), "is no operation of lambda"),
        "unmapped": (lambda t: fn(t).update(Handlr="bootstrap"), "property is not mapped"),
    }
    for case, (change, expected) in cases.items():
        found = findings(change)
        assert any(expected in f for f in found), (case, found)
