"""ECS native blue/green AWS_LAMBDA lifecycle hooks, run by the emulator's local Lambda service
(lambdas.py: cargo-lambda's control plane, the real Runtime API) and deployments.py.

The function is fixtures/hook_function.py, a custom runtime in Python whose answers follow
`$HOOK_SCRIPT` (see its docstring). Each test registers it in its own region with
`POST /_emulator/lambda?region=R`, points the seeded native service's lifecycle hook at it and
deploys a new task definition with UpdateService.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness import World, wait_until
from revision import register as register_td
from test_deployments import MODEL, conforms

FUNCTION = Path(__file__).resolve().parent / "fixtures" / "hook_function.py"
ROLE = "arn:aws:iam::123456789012:role/ecs-lambda-hook"
TERMINAL = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}


def register(world: World, script: list[str], name: str = "migrate-hook", timeout: float = 5,
             concurrency: int = 1, marker: str = "") -> str:
    """Registers the hook function in the world's region; its ARN."""
    body = {"name": name, "command": [sys.executable, str(FUNCTION), marker or uuid.uuid4().hex],
            "environment": {"HOOK_SCRIPT": json.dumps(script), "HOOK_CALLBACK_DELAY": "1"},
            "timeout": timeout, "concurrency": concurrency}
    out = world.emulator.control("POST", f"/_emulator/lambda?region={world.region}", body)
    assert out == {"functionArn": f"arn:aws:lambda:{world.region}:123456789012:function:{name}"}
    return out["functionArn"]


def lambda_hook(arn: str, stages: tuple[str, ...] = ("PRE_SCALE_UP",), details: Any = None,
                timeout: dict[str, Any] | None = None) -> dict[str, Any]:
    hook: dict[str, Any] = {"targetType": "AWS_LAMBDA", "hookTargetArn": arn, "roleArn": ROLE,
                            "lifecycleStages": list(stages)}
    if details is not None:
        hook["hookDetails"] = details
    if timeout is not None:
        hook["timeoutConfiguration"] = timeout
    return hook


def deploy(world: World, hooks: list[dict[str, Any]]) -> tuple[str, str]:
    """UpdateService of the native service: a new task definition and these hooks; the service
    deployment's ARN and the new task definition."""
    world.faults({"stage_seconds": 0.05})
    ecs = world.ecs
    td = register_td(ecs, world.td, {"rails": world["image_next"]})
    ecs.update_service(cluster=world.cluster, service=world["service_native"], taskDefinition=td,
                       deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0,
                                                "lifecycleHooks": hooks})
    listed = ecs.list_service_deployments(cluster=world.cluster, service=world["service_native"])
    newest = listed["serviceDeployments"][0]  # newest first
    assert newest["targetServiceRevisionArn"] != listed["serviceDeployments"][-1]["targetServiceRevisionArn"]
    return newest["serviceDeploymentArn"], td


def finished(world: World, arn: str, timeout: float = 30) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        d = world.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
        return d if d["status"] in TERMINAL else None

    return wait_until(done, timeout, f"deployment {arn} finished")


def service_td(world: World) -> str:
    return world.ecs.describe_services(cluster=world.cluster, services=[world["service_native"]])[
        "services"][0]["taskDefinition"]


def invocations(world: World) -> list[dict[str, Any]]:
    return world.stats()["lambda_invocations"]


def log_messages(world: World, name: str = "migrate-hook") -> list[str]:
    try:
        events = world.logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except ClientError:
        return []
    return [e["message"] for e in events]


def test_succeeded_deploys_the_new_task_definition(world):
    raw: dict[str, Any] = {}
    world.ecs.meta.events.register("after-call.ecs.DescribeServiceDeployments",
                                   lambda http_response, **_: raw.update(json.loads(http_response.content)))
    arn = register(world, ["SUCCEEDED"])
    dep_arn, td = deploy(world, [lambda_hook(arn, details={"ticket": "T-1"})])
    d = finished(world, dep_arn)
    assert d["status"] == "SUCCESSFUL", d
    assert service_td(world) == td
    [hook] = d["lifecycleHookDetails"]
    assert hook["targetType"] == "AWS_LAMBDA" and hook["status"] == "SUCCEEDED"
    assert hook["targetArn"] == arn
    conforms(raw, MODEL.operation_model("DescribeServiceDeployments").output_shape, "answer")
    [inv] = invocations(world)
    assert inv["function"] == "migrate-hook" and inv["stage"] == "PRE_SCALE_UP"
    assert inv["hookDetails"] == {"ticket": "T-1"} and inv["error"] is None
    assert inv["answer"]["hookStatus"] == "SUCCEEDED"
    assert world.stats()["deployment_stages"][dep_arn][-1] == "CLEAN_UP"
    # the function's lines, and Lambda's START/END/REPORT, in /aws/lambda/<name> and the log file
    lines = wait_until(lambda: [m for m in log_messages(world) if "stage=PRE_SCALE_UP" in m], 5,
                       "the function's line in CloudWatch Logs")
    # the deadline the runtime got is a real one: now + the function's timeout (5 s), and the
    # invoked function's ARN is the function's (cargo-lambda says 600000 and "function-arn")
    remaining = int(lines[0].rsplit("remaining_ms=", 1)[1])
    assert 2000 < remaining <= 5000, lines[0]
    assert f"arn={arn} " in lines[0], lines[0]
    messages = log_messages(world)
    assert any(m.startswith("START RequestId: ") for m in messages), messages
    assert any(m.startswith("REPORT RequestId: ") for m in messages), messages
    path = world.stats()["lambda_log_files"]["migrate-hook"]
    assert path.endswith(f"lambda-{world.region}-migrate-hook.log")
    assert "stage=PRE_SCALE_UP" in Path(path).read_text()


def test_in_progress_is_invoked_again_with_merged_hook_details(world):
    arn = register(world, ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"])
    dep_arn, td = deploy(world, [lambda_hook(arn, details={"ticket": "T-2"})])
    d = finished(world, dep_arn)
    assert d["status"] == "SUCCESSFUL", d
    assert service_td(world) == td
    invs = invocations(world)
    assert [i["answer"]["hookStatus"] for i in invs] == ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]
    assert len({i["executionId"] for i in invs}) == 1
    sent = [i["hookDetails"] for i in invs]
    assert sent[0] == {"ticket": "T-2"}
    assert sent[1] == {"ticket": "T-2", "n": 1, "seen": {"ticket": "T-2"}}
    assert sent[2]["ticket"] == "T-2" and sent[2]["n"] == 2
    # callBackDelay 1: ECS waits a second between invocations
    starts = [i["startedAt"] for i in invs]
    assert all(b - a >= 0.9 for a, b in zip(starts, starts[1:])), starts


def test_failed_rolls_back_before_scale_up(world):
    arn = register(world, ["FAILED"])
    dep_arn, _ = deploy(world, [lambda_hook(arn)])
    d = finished(world, dep_arn)
    assert d["status"] == "ROLLBACK_SUCCESSFUL", d
    assert "AWS_LAMBDA" in d["statusReason"] and "hookStatus FAILED" in d["statusReason"]
    assert d["lifecycleHookDetails"][0]["status"] == "FAILED"
    stages = world.stats()["deployment_stages"][dep_arn]
    assert stages == ["RECONCILE_SERVICE", "PRE_SCALE_UP"], stages
    assert service_td(world) == world.td  # back on blue: no green task ever started


@pytest.mark.parametrize("step,reason", [
    ("INVALID", "invalid answer (hookStatus must be one of"),
    ("NOT_JSON", "invalid answer (not JSON)"),
    ("ERROR", "Unhandled: HookError: the hook function raised"),
])
def test_invalid_answer_or_function_error_rolls_back(world, step, reason):
    arn = register(world, [step])
    dep_arn, _ = deploy(world, [lambda_hook(arn)])
    d = finished(world, dep_arn)
    assert d["status"] == "ROLLBACK_SUCCESSFUL", d
    assert reason in d["statusReason"], d["statusReason"]
    assert "SCALE_UP" not in world.stats()["deployment_stages"][dep_arn]
    assert service_td(world) == world.td


def test_unknown_function_rolls_back(world):
    arn = f"arn:aws:lambda:{world.region}:123456789012:function:no-such-function"
    dep_arn, _ = deploy(world, [lambda_hook(arn)])
    d = finished(world, dep_arn)
    assert d["status"] == "ROLLBACK_SUCCESSFUL", d
    assert "Function not found" in d["statusReason"], d["statusReason"]


def test_crash_rolls_back_and_the_process_is_restarted(world):
    arn = register(world, ["CRASH", "SUCCEEDED"])
    dep_arn, _ = deploy(world, [lambda_hook(arn)])
    d = finished(world, dep_arn)
    assert d["status"] == "ROLLBACK_SUCCESSFUL", d
    assert "Runtime exited with error: exit status 3" in d["statusReason"], d["statusReason"]
    assert service_td(world) == world.td
    # a new environment answers the next deployment (its hookDetails skip the CRASH step)
    dep_arn, td = deploy(world, [lambda_hook(arn, details={"n": 1})])
    d = finished(world, dep_arn)
    assert d["status"] == "SUCCESSFUL", d
    assert service_td(world) == td
    path = world.stats()["lambda_log_files"]["migrate-hook"]
    assert Path(path).read_text().count("hook-function: ready") == 2


def test_function_timeout_rolls_back(world):
    arn = register(world, ["SLEEP:10"], timeout=1)
    dep_arn, _ = deploy(world, [lambda_hook(arn)])
    d = finished(world, dep_arn)
    assert d["status"] == "ROLLBACK_SUCCESSFUL", d
    assert "Task timed out after 1.00 seconds" in d["statusReason"], d["statusReason"]
    wait_until(lambda: any("Task timed out after 1.00 seconds" in m for m in log_messages(world)),
               5, "the timeout line in CloudWatch Logs")


def test_hook_timeout_applies_its_timeout_action(world):
    world.faults({"hook_timeout_seconds": {world.region: 2}})
    arn = register(world, ["IN_PROGRESS"])
    dep_arn, _ = deploy(world, [lambda_hook(arn, timeout={"timeoutInMinutes": 5, "action": "ROLLBACK"})])
    d = finished(world, dep_arn)
    assert d["status"] == "ROLLBACK_SUCCESSFUL", d
    assert "timed out" in d["statusReason"]
    assert d["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"
    # CONTINUE: the deployment goes on
    dep_arn, td = deploy(world, [lambda_hook(arn, timeout={"timeoutInMinutes": 5, "action": "CONTINUE"})])
    d = finished(world, dep_arn)
    assert d["status"] == "SUCCESSFUL", d
    assert d["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"
    assert service_td(world) == td


def test_duplicate_invocations_knob(world):
    arn = register(world, ["SLEEP:1"], concurrency=2)
    world.faults({"lambda_duplicate_invocations": 2})
    dep_arn, td = deploy(world, [lambda_hook(arn)])
    d = finished(world, dep_arn)
    assert d["status"] == "SUCCESSFUL", d
    invs = wait_until(lambda: len(invocations(world)) == 2 and invocations(world), 5, "both invocations")
    assert invs[0]["executionId"] == invs[1]["executionId"]
    a, b = invs
    # concurrent: each took a second, and they overlapped
    assert a["seconds"] >= 0.9 and b["seconds"] >= 0.9
    assert abs(a["startedAt"] - b["startedAt"]) < 0.5, invs


def test_validation_needs_role_and_target(world):
    ecs = world.ecs
    for missing in ("roleArn", "hookTargetArn"):
        hook = lambda_hook(f"arn:aws:lambda:{world.region}:123456789012:function:x")
        del hook[missing]
        with pytest.raises(ClientError) as err:
            ecs.update_service(cluster=world.cluster, service=world["service_native"],
                               deploymentConfiguration={"strategy": "BLUE_GREEN", "lifecycleHooks": [hook]})
        assert err.value.response["Error"]["Code"] == "InvalidParameterException"
        assert missing in err.value.response["Error"]["Message"]
    # nothing was deployed
    listed = ecs.list_service_deployments(cluster=world.cluster, service=world["service_native"])
    assert len(listed["serviceDeployments"]) == 1


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_replacing_and_reset_stop_the_processes(world, emulator):
    register(world, ["SUCCEEDED"], concurrency=2)
    listing = emulator.control("GET", f"/_emulator/lambda?region={world.region}")["functions"]
    old = [pid for p in listing[0]["processes"] for pid in p.values()]
    assert len(old) == 4 and all(_alive(p) for p in old)
    register(world, ["SUCCEEDED"])
    wait_until(lambda: not any(_alive(p) for p in old), 5, "the replaced function's processes gone")
    listing = emulator.control("GET", f"/_emulator/lambda?region={world.region}")["functions"]
    new = [pid for p in listing[0]["processes"] for pid in p.values()]
    assert len(new) == 2 and all(_alive(p) for p in new)
    emulator.reset(world.region)
    wait_until(lambda: not any(_alive(p) for p in new), 5, "the reset region's processes gone")
    assert emulator.control("GET", f"/_emulator/lambda?region={world.region}") == {"functions": []}


@pytest.mark.parametrize("body,message", [
    ({"command": ["/bin/true"]}, "name"),
    ({"name": "bad name", "command": ["/bin/true"]}, "name"),
    ({"name": "f", "command": "/bin/true"}, "command"),
    ({"name": "f", "command": ["/bin/true"], "concurrency": 0}, "concurrency"),
    ({"name": "f", "command": ["/bin/true"], "timeout": 0}, "timeout"),
    ({"name": "f", "command": ["/no/such/bootstrap"]}, "cannot run /no/such/bootstrap"),
])
def test_register_refuses_bad_requests(world, emulator, body, message):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as err:
        emulator.control("POST", f"/_emulator/lambda?region={world.region}", body)
    assert err.value.code == 400
    assert message in json.loads(err.value.read())["message"]
    assert emulator.control("GET", f"/_emulator/lambda?region={world.region}") == {"functions": []}
