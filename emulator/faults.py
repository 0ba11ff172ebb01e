"""Fault knobs and timing of the emulator: one registry, set from env vars or the control endpoint.

Every knob has an env var `EMU_<KNOB>` (upper case) read at start-up; `POST /_emulator/faults`
with a JSON object changes knobs at run time, `DELETE` resets them to the start-up values and
`GET` shows them. With `?region=R` each of these acts on that region's own knobs, which win over
the global ones for everything that happens in that region (its tasks, its deployments, the
requests signed for it), so that tests in different regions set faults side by side.
See docs/emulator.md.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

DEFAULTS: dict[str, Any] = {
    # task lifecycle, seconds
    "provisioning_delay": 0.3,
    "pending_delay": 0.3,
    "deprovisioning_delay": 0.3,
    "stop_timeout": 30.0,  # SIGTERM -> SIGKILL when the container has no stopTimeout
    "start_timeout": 0.0,  # a container's dependsOn wait when it has no startTimeout (0: forever)
    "health_check_interval_max": 1.0,  # health checks run at most this far apart (compressed clock)
    # CloudWatch Logs, seconds
    "log_ingest_delay": 0.2,  # each line becomes visible this long after it was printed
    "log_stream_delay": 0.0,  # the stream is created this long after the task started logging
    "log_flush_lag": 0.0,  # the last lines land this long after the task is STOPPED
    "log_flush_tail_lines": 3,  # how many last lines the flush lag holds back
    "log_exit_lag": 0.0,  # the last lines land this long after the container exited
    # Fargate teardown, seconds: after the essential container exits (exit code visible at once)
    # the task walks DEACTIVATING -> STOPPING -> DEPROVISIONING for this long before STOPPED
    "teardown_delay": 0.0,
    # {"after": 1.0, "stop_code": "InfrastructureHealth", "reason": "..."}: a RUNNING task is
    # lost after `after` seconds: its processes are killed and it stops with no exit code
    "task_lost": None,
    # seconds: ECS forgets a stopped task this long after it stopped (DescribeTasks answers it
    # MISSING, ListTasks leaves it out; its log stream stays). null: never (ECS: an hour or more)
    "forget_stopped_after": None,
    # native blue/green service deployments (deployments.py)
    "stage_seconds": 0.3,  # each lifecycle stage takes this long
    # {"eu-west-1": 5}: PAUSE hooks of deployments in that region expire after this many
    # seconds instead of their timeoutInMinutes
    "hook_timeout_seconds": {},
    # AWS_LAMBDA hooks: each invocation is sent this many times at once (Lambda's at-least-once
    # delivery); ECS goes on with the first answer
    "lambda_duplicate_invocations": 1,
    # API faults
    "latency": {},  # {"GetLogEvents": 5.0}: every call of that API answers this many seconds late
    "throttle": {},  # {"DescribeTasks": 0.5}: that share of calls gets ThrottlingException
    # {"GetLogEvents": {"count": 3, "status": 503}}: the next N calls fail ("region": "R"
    # limits it to requests signed for that region)
    "error_burst": {},
    "run_task_failures": None,  # "RESOURCE:FARGATE" etc: RunTask answers failures[] with it
    # {"count": 1, "status": 503}: the next N RunTask calls create their task, then answer 5xx
    "run_task_created_then_fail": None,
    # {"prefix": "ecs-migrate/"}: CreateLogStream and PutLogEvents for log streams whose name
    # starts with the prefix get HTTP 400 AccessDeniedException (a role without logs:PutLogEvents
    # on them); other streams are untouched
    "refuse_log_writes": None,
}


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start = dict(DEFAULTS)
        for key, default in DEFAULTS.items():
            raw = os.environ.get(f"EMU_{key.upper()}")
            if raw is not None:
                self._start[key] = json.loads(raw) if not isinstance(default, float) else float(raw)
        self._values = json.loads(json.dumps(self._start))
        self._regional: dict[str, dict[str, Any]] = {}
        self._throttle_acc: dict[tuple[str | None, str], float] = {}

    def _knobs(self, region: str | None) -> dict[str, Any]:
        """The knobs in force in `region`: its own, over the global ones."""
        return {**self._values, **self._regional.get(region or "", {})}

    def _holder(self, key: str, region: str | None) -> dict[str, Any]:
        """The dict a mutable knob lives in for `region` (its own when it set that knob)."""
        own = self._regional.get(region or "")
        return own if own is not None and key in own else self._values

    def get(self, key: str, default: Any = None, region: str | None = None) -> Any:
        with self._lock:
            return self._knobs(region).get(key, default)

    def get_float(self, key: str, default: float = 0.0, region: str | None = None) -> float:
        value = self.get(key, default, region)
        return float(value if value is not None else default)

    def update(self, changes: dict[str, Any], region: str | None = None) -> dict[str, Any]:
        unknown = sorted(set(changes) - set(DEFAULTS))
        if unknown:
            raise KeyError(f"unknown fault knob(s): {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
        with self._lock:
            target = self._regional.setdefault(region, {}) if region else self._values
            target.update(json.loads(json.dumps(changes)))
            self._throttle_acc = {k: v for k, v in self._throttle_acc.items()
                                  if region is not None and k[0] != region}
            return self._knobs(region)

    def reset(self, region: str | None = None) -> dict[str, Any]:
        """Back to the start-up values: one region's own knobs, or every knob."""
        with self._lock:
            if region:
                self._regional.pop(region, None)
                self._throttle_acc = {k: v for k, v in self._throttle_acc.items() if k[0] != region}
            else:
                self._values = json.loads(json.dumps(self._start))
                self._regional.clear()
                self._throttle_acc.clear()
            return self._knobs(region)

    def snapshot(self, region: str | None = None) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._knobs(region)))

    def take(self, key: str, region: str | None = None) -> int | None:
        """For a {"count": N, "status": S} knob: S if N > 0 (and N is decremented), else None."""
        with self._lock:
            knob = self._holder(key, region).get(key)
            if knob and knob.get("count", 0) > 0:
                knob["count"] -= 1
                knob["served"] = knob.get("served", 0) + 1
                return int(knob.get("status", 500))
        return None

    def api_fault(self, api: str, region: str | None = None) -> tuple[int, str, str] | None:
        """(status, error code, message) if this call of `api` must fail, else None."""
        with self._lock:
            burst = (self._holder("error_burst", region).get("error_burst") or {}).get(api)
            if burst and burst.get("region") not in (None, region):
                burst = None
            if burst and burst.get("count", 0) > 0:
                burst["count"] -= 1
                burst["served"] = burst.get("served", 0) + 1
                status = int(burst.get("status", 500))
                return status, "InternalFailure" if status == 500 else "ServiceUnavailable", (
                    "emulated server error burst"
                )
            share = float((self._knobs(region).get("throttle") or {}).get(api, 0.0))
            if share > 0:
                acc = self._throttle_acc.get((region, api), 0.0) + share
                hit = acc >= 1.0 - 1e-9
                self._throttle_acc[(region, api)] = acc - 1.0 if hit else acc
                if hit:
                    return 400, "ThrottlingException", "Rate exceeded"
        return None


FAULTS = Faults()
