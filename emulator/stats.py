"""What the emulator was asked, per region: API call counts and when each call arrived, RunTask
client tokens, when StopTask calls arrived, the faults it served (and when), and the IAM actions (`ecs:RunTask`) of the calls ecs-migrate made (its
User-Agent carries `app/ecs-migrate`), which the `iam-policy` tests compare with the policy; the
Lambda lifecycle hooks' invocations (`lambda_invocations`) and the stages each native blue/green
deployment entered (`deployment_stages`); emulator.py adds the registered functions' log files
(`lambda_log_files`).

`GET /_emulator/stats?region=R` shows them, `DELETE` clears them. Tests and the benchmark use
this to count API calls per task-minute and to check that SDK retries carry one token.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, defaultdict
from typing import Any

_LOCK = threading.Lock()
_CALLS: dict[str, Counter[str]] = defaultdict(Counter)
_TOKENS: dict[str, list[str | None]] = defaultdict(list)
_STOPS: dict[str, list[float]] = defaultdict(list)  # when StopTask calls arrived (epoch s)
_ACTIONS: dict[str, Counter[str]] = defaultdict(Counter)  # ecs-migrate's calls, as IAM actions
_FAULTS: dict[str, Counter[str]] = defaultdict(Counter)  # faults served (5xx, throttling), by API
_FAULT_TIMES: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
# Lambda lifecycle hooks (deployments.py): every invocation, and the stages each native
# blue/green deployment entered, in order
_INVOCATIONS: dict[str, list[dict[str, Any]]] = defaultdict(list)
_STAGES: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
_TIMES: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
# The X-Amz-Target prefix of each JSON-protocol service -> its IAM service prefix.
IAM_PREFIX = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonSSM": "ssm",
    "Logs_20140328": "logs",
    "secretsmanager": "secretsmanager",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
}
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/")


def region_of(environ: dict[str, Any]) -> str:
    """The region of a SigV4-signed request (its credential scope)."""
    m = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return m.group(1) if m else "us-east-1"


def count(region: str, api: str, target: str = "", user_agent: str = "") -> None:
    with _LOCK:
        now = time.time()
        _CALLS[region][api] += 1
        _TIMES[region][api].append(now)
        if api == "StopTask":
            _STOPS[region].append(now)
        service = IAM_PREFIX.get(target.rsplit(".", 1)[0], target.rsplit(".", 1)[0])
        if "app/ecs-migrate" in user_agent:
            _ACTIONS[region][f"{service}:{api}"] += 1


def fault_served(region: str, api: str) -> None:
    with _LOCK:
        _FAULTS[region][api] += 1
        _FAULT_TIMES[region][api].append(time.time())


def run_task_token(region: str, token: str | None) -> None:
    with _LOCK:
        _TOKENS[region].append(token)


def lambda_invocation(region: str, record: dict[str, Any]) -> None:
    with _LOCK:
        _INVOCATIONS[region].append(record)


def deployment_stage(region: str, deployment: str, stage: str) -> None:
    with _LOCK:
        _STAGES[region][deployment].append(stage)


def snapshot(region: str | None) -> dict[str, Any]:
    with _LOCK:
        regions = [region] if region else sorted(set(_CALLS) | set(_TOKENS) | set(_INVOCATIONS)
                                                 | set(_STAGES))
        return {
            r: {
                "calls": dict(_CALLS.get(r, {})),
                "run_task_tokens": list(_TOKENS.get(r, [])),
                "stop_task_times": list(_STOPS.get(r, [])),
                "ecs_migrate_actions": dict(_ACTIONS.get(r, {})),
                "faults_served": dict(_FAULTS.get(r, {})),
                "fault_times": {k: list(v) for k, v in _FAULT_TIMES.get(r, {}).items()},
                "call_times": {k: list(v) for k, v in _TIMES.get(r, {}).items()},
                "lambda_invocations": [dict(i) for i in _INVOCATIONS.get(r, [])],
                "deployment_stages": {k: list(v) for k, v in _STAGES.get(r, {}).items()},
            }
            for r in regions
        }


def clear(region: str | None) -> None:
    with _LOCK:
        for table in (_CALLS, _TOKENS, _STOPS, _ACTIONS, _TIMES, _FAULTS, _FAULT_TIMES,
                      _INVOCATIONS, _STAGES):
            if region:
                table.pop(region, None)
            else:
                table.clear()
