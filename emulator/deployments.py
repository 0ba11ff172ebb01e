"""ECS native blue/green service deployments, which moto does not model.

For a service whose deploymentConfiguration has `strategy: BLUE_GREEN` (ECS controller):

* CreateService records the configuration and a first service revision; its deployment is
  SUCCESSFUL at once (there is no blue to protect).
* UpdateService creates a target service revision (task definition, network, launch type,
  platform version, load balancers as moto now holds them) and a service deployment that walks
  the lifecycle stages on the wall clock (`stage_seconds` per stage, a fault knob). At a stage
  with a PAUSE hook it adds a `lifecycleHookDetails` entry (AWAITING_ACTION, `expiresAt` =
  now + the hook's timeoutInMinutes, or `hook_timeout_seconds` when that knob is set) and waits
  for ContinueServiceDeployment: CONTINUE → on to SUCCESSFUL; ROLLBACK → ROLLBACK_IN_PROGRESS →
  ROLLBACK_SUCCESSFUL with the service back on the source revision's task definition. At the
  expiry the hook is TIMED_OUT and its `timeoutAction` applies. At a stage with an AWS_LAMBDA hook
  it invokes the function `hookTargetArn` names (lambdas.py) with ECS's event and handles the
  answer as ECS does: IN_PROGRESS → again after `callBackDelay` with the returned hookDetails
  merged in, SUCCEEDED → on, FAILED / an invalid answer / a function error or timeout / the hook's
  timeout → rollback (the hook's `timeoutAction` for its timeout).
* ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions and
  ContinueServiceDeployment answer in the shapes of botocore's ECS model; DescribeServices gains
  the recorded `deploymentConfiguration` (moto drops it).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.ecs.models import ecs_backends

import lambdas
import stats
from faults import FAULTS

ACCOUNT = "123456789012"
STAGES = [
    "RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME", "CLEAN_UP",
]
HOOK_STAGES = {"RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
               "POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT",
               "POST_PRODUCTION_TRAFFIC_SHIFT"}   # DeploymentLifecycleHookStage
HOOK_STATUSES = ("SUCCEEDED", "FAILED", "IN_PROGRESS")  # a Lambda hook's answers
ACTIVE = {"PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "STOP_REQUESTED"}
_LOCK = threading.RLock()


class ApiError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Hook:
    hook_id: str
    expires_at: float
    timeout_action: str
    status: str = "AWAITING_ACTION"
    action: str | None = None
    decided: threading.Event = field(default_factory=threading.Event)
    target_type: str = "PAUSE"
    target_arn: str | None = None

    def detail(self) -> dict[str, Any]:
        out = {"hookId": self.hook_id, "targetType": self.target_type, "status": self.status,
               "expiresAt": self.expires_at, "timeoutAction": self.timeout_action}
        if self.target_arn:
            out["targetArn"] = self.target_arn
        return out


@dataclass
class Deployment:
    arn: str
    service_key: tuple[str, str, str]          # region, cluster name, service name
    service_arn: str
    cluster_arn: str
    target: str                                # service revision ARN
    sources: list[str]
    config: dict[str, Any]
    created_at: float = field(default_factory=time.time)
    status: str = "PENDING"
    stage: str | None = None
    reason: str | None = None
    finished_at: float | None = None
    hooks: list[Hook] = field(default_factory=list)

    def brief(self) -> dict[str, Any]:
        out = {"serviceDeploymentArn": self.arn, "serviceArn": self.service_arn,
               "clusterArn": self.cluster_arn, "createdAt": self.created_at,
               "startedAt": self.created_at, "targetServiceRevisionArn": self.target,
               "status": self.status}
        if self.finished_at:
            out["finishedAt"] = self.finished_at
        if self.reason:
            out["statusReason"] = self.reason
        return out

    def full(self) -> dict[str, Any]:
        out = {"serviceDeploymentArn": self.arn, "serviceArn": self.service_arn,
               "clusterArn": self.cluster_arn, "createdAt": self.created_at,
               "startedAt": self.created_at, "updatedAt": time.time(),
               "sourceServiceRevisions": [{"arn": s} for s in self.sources],
               "targetServiceRevision": {"arn": self.target},
               "status": self.status, "deploymentConfiguration": self.config,
               "lifecycleHookDetails": [h.detail() for h in self.hooks]}
        if self.stage:
            out["lifecycleStage"] = self.stage
        if self.finished_at:
            out["finishedAt"] = self.finished_at
        if self.reason:
            out["statusReason"] = self.reason
        if self.status.startswith("ROLLBACK"):
            out["rollback"] = {"reason": self.reason or "", "startedAt": time.time(),
                               "serviceRevisionArn": self.sources[0] if self.sources else ""}
        return out


# Per-service configuration, revisions and deployments, all keyed by region.
CONFIGS: dict[tuple[str, str, str], dict[str, Any]] = {}
REVISIONS: dict[str, dict[str, Any]] = {}
DEPLOYMENTS: dict[str, Deployment] = {}
CURRENT: dict[tuple[str, str, str], str] = {}   # service → its current (serving) revision ARN


def _name(value: str | None, default: str = "default") -> str:
    return (value or default).rsplit("/", 1)[-1]


def is_blue_green(config: dict[str, Any] | None) -> bool:
    return bool(config) and config.get("strategy") == "BLUE_GREEN"


def _service(region: str, cluster: str, name: str) -> Any:
    return ecs_backends[ACCOUNT][region].services.get(f"{cluster}:{name}")


def _revision(region: str, cluster: str, name: str) -> str:
    svc = _service(region, cluster, name)
    backend = ecs_backends[ACCOUNT][region]
    task_definition = backend.describe_task_definition(svc.task_definition).arn
    arn = (f"arn:aws:ecs:{region}:{ACCOUNT}:service-revision/{cluster}/{name}/"
           f"{uuid.uuid4().int % 10**19}")
    REVISIONS[arn] = {
        "serviceRevisionArn": arn, "serviceArn": svc.arn, "clusterArn": svc.cluster_arn,
        "taskDefinition": task_definition, "launchType": svc.launch_type or "FARGATE",
        "platformVersion": svc.platform_version or "LATEST", "platformFamily": "Linux",
        "loadBalancers": svc.load_balancers, "networkConfiguration": svc.network_configuration,
        "createdAt": time.time(),
    }
    return arn


def after_create(region: str, request: dict[str, Any]) -> None:
    """CreateService succeeded: remember a BLUE_GREEN configuration and the first revision."""
    config = request.get("deploymentConfiguration")
    if not is_blue_green(config):
        return
    key = (region, _name(request.get("cluster")), request["serviceName"])
    with _LOCK:
        CONFIGS[key] = config
        first = _revision(region, key[1], key[2])
        CURRENT[key] = first
        svc = _service(region, key[1], key[2])
        dep = Deployment(arn=_deployment_arn(region, key), service_key=key, service_arn=svc.arn,
                         cluster_arn=svc.cluster_arn, target=first, sources=[], config=config,
                         status="SUCCESSFUL")
        dep.finished_at = time.time()
        DEPLOYMENTS[dep.arn] = dep


def after_update(region: str, request: dict[str, Any]) -> None:
    """UpdateService succeeded: on a BLUE_GREEN service, start a deployment to a new revision."""
    key = (region, _name(request.get("cluster")), _name(request.get("service")))
    with _LOCK:
        if "deploymentConfiguration" in request:
            merged = {**CONFIGS.get(key, {}), **request["deploymentConfiguration"]}
            CONFIGS[key] = merged
        config = CONFIGS.get(key)
        if not is_blue_green(config):
            return
        svc = _service(region, key[1], key[2])
        source = CURRENT.get(key)
        target = _revision(region, key[1], key[2])
        dep = Deployment(arn=_deployment_arn(region, key), service_key=key, service_arn=svc.arn,
                         cluster_arn=svc.cluster_arn, target=target,
                         sources=[source] if source else [], config=config)
        DEPLOYMENTS[dep.arn] = dep
    threading.Thread(target=_walk, args=(dep,), daemon=True).start()


def _deployment_arn(region: str, key: tuple[str, str, str]) -> str:
    return (f"arn:aws:ecs:{region}:{ACCOUNT}:service-deployment/{key[1]}/{key[2]}/"
            f"{uuid.uuid4().hex[:22]}")


def _hooks_at(config: dict[str, Any], stage: str) -> list[dict[str, Any]]:
    return [hook for hook in config.get("lifecycleHooks") or []
            if hook.get("targetType") in ("PAUSE", "AWS_LAMBDA")
            and stage in (hook.get("lifecycleStages") or [])]


def _hook_seconds(dep: Deployment, hook_conf: dict[str, Any]) -> float:
    """How long a hook may take: its timeoutInMinutes (60 when unset), or the region's
    `hook_timeout_seconds` knob."""
    region = dep.service_key[0]
    timeout = hook_conf.get("timeoutConfiguration") or {}
    override = (FAULTS.get("hook_timeout_seconds", region=region) or {}).get(region)
    return float(override or 60 * int(timeout.get("timeoutInMinutes", 60)))


def _walk(dep: Deployment) -> None:
    step = FAULTS.get_float("stage_seconds", region=dep.service_key[0])
    with _LOCK:
        dep.status = "IN_PROGRESS"
    for stage in STAGES:
        with _LOCK:
            if dep.status != "IN_PROGRESS":
                return
            dep.stage = stage
        stats.deployment_stage(dep.service_key[0], dep.arn, stage)
        time.sleep(step)
        for hook_conf in _hooks_at(dep.config, stage):
            with _LOCK:
                if dep.status != "IN_PROGRESS":
                    return
            if hook_conf.get("targetType") == "AWS_LAMBDA":
                reason = _lambda_hook(dep, stage, hook_conf)
            else:
                reason = _pause_hook(dep, stage, hook_conf)
            if reason:
                return _roll_back(dep, reason)
    with _LOCK:
        if dep.status != "IN_PROGRESS":
            return
        dep.status, dep.finished_at = "SUCCESSFUL", time.time()
        CURRENT[dep.service_key] = dep.target


def _pause_hook(dep: Deployment, stage: str, hook_conf: dict[str, Any]) -> str | None:
    """A PAUSE hook: AWAITING_ACTION until ContinueServiceDeployment or its expiry. The
    rollback reason, or None to go on."""
    timeout = hook_conf.get("timeoutConfiguration") or {}
    hook = Hook(hook_id=uuid.uuid4().hex, expires_at=time.time() + _hook_seconds(dep, hook_conf),
                timeout_action=timeout.get("action", "ROLLBACK"))
    with _LOCK:
        dep.hooks.append(hook)
    decided = hook.decided.wait(max(0.0, hook.expires_at - time.time()))
    with _LOCK:
        if not decided:
            hook.status, hook.action = "TIMED_OUT", hook.timeout_action
        else:
            hook.status = "SUCCEEDED"
        action = hook.action
    if action == "ROLLBACK":
        return (f"lifecycle hook {hook.hook_id} at {stage}: "
                + ("timed out" if not decided else "ROLLBACK requested"))
    return None


def _weights(dep: Deployment, stage: str, after: str) -> dict[str, int]:
    """All traffic on the target revision once `after` was entered, else on the source."""
    shifted = STAGES.index(stage) >= STAGES.index(after) or not dep.sources
    return {(dep.target if shifted else dep.sources[0]): 100}


def _lambda_hook(dep: Deployment, stage: str, hook_conf: dict[str, Any]) -> str | None:
    """An AWS_LAMBDA hook, as ECS runs it: the function is invoked with the hook event (one
    executionId for the whole hook execution) until it answers SUCCEEDED (None: go on) or the
    hook fails (the rollback reason). Its timeout bounds the whole execution."""
    region = dep.service_key[0]
    timeout = hook_conf.get("timeoutConfiguration") or {}
    seconds = _hook_seconds(dep, hook_conf)
    arn = str(hook_conf.get("hookTargetArn") or "")
    hook = Hook(hook_id=uuid.uuid4().hex, expires_at=time.time() + seconds,
                timeout_action=timeout.get("action", "ROLLBACK"), status="IN_PROGRESS",
                target_type="AWS_LAMBDA", target_arn=arn)
    with _LOCK:
        dep.hooks.append(hook)
    label = f"lifecycle hook {hook.hook_id} (AWS_LAMBDA {arn}) at {stage}"
    function = arn.split(":function:", 1)[-1].split(":", 1)[0]
    execution_id = str(uuid.uuid4())
    details = hook_conf.get("hookDetails")

    def fail(why: str) -> str:
        with _LOCK:
            hook.status = "FAILED"
        return f"{label}: {why}"

    def expired() -> str | None:
        with _LOCK:
            hook.status, hook.action = "TIMED_OUT", hook.timeout_action
        if hook.timeout_action == "ROLLBACK":
            return f"{label}: timed out after {seconds:g} s"
        return None

    def stopped() -> bool:
        with _LOCK:
            return dep.status != "IN_PROGRESS" or hook.decided.is_set()

    while True:
        if stopped():
            return None
        event = {
            "executionId": execution_id, "lifecycleStage": stage, "resourceArn": dep.arn,
            "executionDetails": {
                "serviceArn": dep.service_arn, "targetServiceRevisionArn": dep.target,
                "testTrafficWeights": _weights(dep, stage, "POST_TEST_TRAFFIC_SHIFT"),
                "productionTrafficWeights": _weights(dep, stage, "POST_PRODUCTION_TRAFFIC_SHIFT"),
            },
        }
        if details is not None:
            event["hookDetails"] = details
        payload = json.dumps(event).encode()
        copies = max(1, int(FAULTS.get("lambda_duplicate_invocations", 1, region=region) or 1))
        answered: list[lambdas.Result] = []
        any_done = threading.Event()

        def record(call: lambdas.Call, sent: Any = details) -> None:
            call.done.wait()
            result = call.result
            assert result is not None
            with _LOCK:
                if dep.status == "STOPPED":
                    return  # the region was reset: nothing lands in its new world
            answer, error = None, result.error
            if result.payload is not None:
                try:
                    answer = json.loads(result.payload)
                except ValueError:
                    error = "the answer is not JSON: " + result.payload[:200].decode(errors="replace")
            stats.lambda_invocation(region, {
                "function": function, "stage": stage, "executionId": execution_id,
                "hookDetails": sent, "answer": answer, "error": error,
                "startedAt": result.started_at, "seconds": round(result.seconds, 3)})
            with _LOCK:
                answered.append(result)
            any_done.set()

        for _ in range(copies):
            call = lambdas.invoke_async(region, arn, payload)
            threading.Thread(target=record, args=(call,), daemon=True).start()
        while not any_done.wait(0.05):
            if stopped():
                return None
            if time.time() >= hook.expires_at:
                return expired()
        with _LOCK:
            result = answered[0]
        if result.error:
            return fail(f"the invocation failed: {result.error}")
        try:
            answer = json.loads(result.payload or b"")
        except ValueError:
            return fail("invalid answer (not JSON): "
                        + (result.payload or b"")[:200].decode(errors="replace"))
        status = answer.get("hookStatus") if isinstance(answer, dict) else None
        if status not in HOOK_STATUSES:
            return fail(f"invalid answer (hookStatus must be one of {', '.join(HOOK_STATUSES)}): "
                        + json.dumps(answer)[:200])
        if status == "FAILED":
            return fail("the function answered hookStatus FAILED")
        if status == "SUCCEEDED":
            with _LOCK:
                hook.status = "SUCCEEDED"
            return None
        delay = answer.get("callBackDelay", 30)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            return fail(f"invalid answer (callBackDelay {delay!r})")
        returned = answer.get("hookDetails")
        if isinstance(returned, dict) and isinstance(details, dict):
            details = {**details, **returned}
        elif returned is not None:
            details = returned
        wake = min(time.time() + float(delay), hook.expires_at)
        while time.time() < wake:
            if stopped():
                return None
            time.sleep(min(0.05, max(0.0, wake - time.time())))
        if time.time() >= hook.expires_at:
            return expired()


def _roll_back(dep: Deployment, reason: str) -> None:
    with _LOCK:
        if dep.status != "IN_PROGRESS":
            return
        dep.status, dep.reason = "ROLLBACK_IN_PROGRESS", reason
    time.sleep(FAULTS.get_float("stage_seconds", region=dep.service_key[0]))
    with _LOCK:
        if dep.status != "ROLLBACK_IN_PROGRESS":
            return
        region, cluster, name = dep.service_key
        if dep.sources:
            _service(region, cluster, name).task_definition = REVISIONS[dep.sources[0]]["taskDefinition"]
        dep.status, dep.finished_at = "ROLLBACK_SUCCESSFUL", time.time()


# --- the API ---------------------------------------------------------------------------------

def validate(request: dict[str, Any]) -> None:
    """CreateService/UpdateService: the lifecycle hooks ECS would refuse
    (InvalidParameterException) never reach moto."""
    hooks = (request.get("deploymentConfiguration") or {}).get("lifecycleHooks")
    if hooks is None:
        return
    if not isinstance(hooks, list):
        raise ApiError("InvalidParameterException", "lifecycleHooks must be a list.")
    for i, hook in enumerate(hooks):
        where = f"deploymentConfiguration.lifecycleHooks[{i}]"
        kind = hook.get("targetType") if isinstance(hook, dict) else None
        if kind not in ("AWS_LAMBDA", "PAUSE"):
            raise ApiError("InvalidParameterException",
                           f"Invalid targetType {kind!r} in {where}: it must be AWS_LAMBDA or PAUSE.")
        if kind == "AWS_LAMBDA":
            for key, what in (("hookTargetArn", "the ARN of the Lambda function to invoke"),
                              ("roleArn", "the IAM role Amazon ECS assumes to invoke the function")):
                if not hook.get(key):
                    raise ApiError("InvalidParameterException",
                                   f"{where}.{key} is required for a lifecycle hook with targetType "
                                   f"AWS_LAMBDA: {what}.")
            if not str(hook["hookTargetArn"]).startswith("arn:aws:lambda:"):
                raise ApiError("InvalidParameterException",
                               f"{where}.hookTargetArn must be a Lambda function ARN.")
        stages = hook.get("lifecycleStages")
        if not stages or not isinstance(stages, list):
            raise ApiError("InvalidParameterException", f"{where}.lifecycleStages must not be empty.")
        bad = [s for s in stages if s not in HOOK_STAGES]
        if bad:
            raise ApiError("InvalidParameterException",
                           f"Invalid lifecycle stage(s) {', '.join(map(str, bad))} in {where}.")
        minutes = (hook.get("timeoutConfiguration") or {}).get("timeoutInMinutes")
        if minutes is not None and not (isinstance(minutes, int) and 1 <= minutes <= 20160):
            raise ApiError("InvalidParameterException",
                           f"{where}.timeoutConfiguration.timeoutInMinutes must be 1 to 20160.")


def list_service_deployments(region: str, req: dict[str, Any]) -> dict[str, Any]:
    if "service" not in req:
        raise ApiError("InvalidParameterException", "service is required")
    key = (region, _name(req.get("cluster")), _name(req["service"]))
    if _service(*key) is None:
        raise ApiError("ServiceNotFoundException", "Service not found.")
    wanted = set(req.get("status") or [])
    with _LOCK:
        deps = [d for d in DEPLOYMENTS.values() if d.service_key == key
                and (not wanted or d.status in wanted)]
        deps.sort(key=lambda d: d.created_at, reverse=True)
        return {"serviceDeployments": [d.brief() for d in deps[: int(req.get("maxResults") or 20)]]}


def describe_service_deployments(region: str, req: dict[str, Any]) -> dict[str, Any]:
    found, failures = [], []
    with _LOCK:
        for arn in req.get("serviceDeploymentArns") or []:
            dep = DEPLOYMENTS.get(arn)
            if dep and dep.service_key[0] == region:
                found.append(dep.full())
            else:
                failures.append({"arn": arn, "reason": "MISSING"})
    return {"serviceDeployments": found, "failures": failures}


def describe_service_revisions(region: str, req: dict[str, Any]) -> dict[str, Any]:
    found, failures = [], []
    with _LOCK:
        for arn in req.get("serviceRevisionArns") or []:
            rev = REVISIONS.get(arn)
            (found.append(rev) if rev and f":{region}:" in arn
             else failures.append({"arn": arn, "reason": "MISSING"}))
    return {"serviceRevisions": found, "failures": failures}


def continue_service_deployment(region: str, req: dict[str, Any]) -> dict[str, Any]:
    arn, hook_id, action = req.get("serviceDeploymentArn"), req.get("hookId"), req.get("action")
    if action not in ("CONTINUE", "ROLLBACK"):
        raise ApiError("InvalidParameterException", "action must be CONTINUE or ROLLBACK")
    with _LOCK:
        dep = DEPLOYMENTS.get(arn or "")
        if not dep or dep.service_key[0] != region:
            raise ApiError("ServiceDeploymentNotFoundException", f"{arn} not found")
        if dep.status != "IN_PROGRESS":
            raise ApiError("InvalidParameterException",
                           f"The service deployment is {dep.status}, not IN_PROGRESS.")
        hook = next((h for h in dep.hooks if h.hook_id == hook_id), None)
        if hook is None or hook.status != "AWAITING_ACTION":
            raise ApiError("InvalidParameterException",
                           f"No lifecycle hook {hook_id} is awaiting action on this deployment.")
        hook.action = action
        hook.decided.set()
    return {"serviceDeploymentArn": arn}


HANDLERS = {
    "ListServiceDeployments": list_service_deployments,
    "DescribeServiceDeployments": describe_service_deployments,
    "DescribeServiceRevisions": describe_service_revisions,
    "ContinueServiceDeployment": continue_service_deployment,
}


def add_configuration(region: str, body: bytes) -> bytes:
    """DescribeServices/UpdateService/CreateService answers gain the recorded configuration."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    services = doc.get("services") or ([doc["service"]] if "service" in doc else [])
    changed = False
    with _LOCK:
        for svc in services:
            key = (region, _name(svc.get("clusterArn")), svc.get("serviceName", ""))
            if key in CONFIGS:
                svc["deploymentConfiguration"] = CONFIGS[key]
                changed = True
    return json.dumps(doc).encode() if changed else body


def forget(region: str) -> None:
    """A region's deployments, revisions and configurations are gone (its world is reset); a
    deployment still walking its stages stops."""
    with _LOCK:
        for arn in [a for a, d in DEPLOYMENTS.items() if d.service_key[0] == region]:
            dep = DEPLOYMENTS.pop(arn)
            dep.status = "STOPPED"
            for hook in dep.hooks:
                hook.decided.set()
        for table in (CONFIGS, CURRENT):
            for key in [k for k in table if k[0] == region]:
                table.pop(key)
        for arn in [a for a in REVISIONS if f":{region}:" in a]:
            REVISIONS.pop(arn)
