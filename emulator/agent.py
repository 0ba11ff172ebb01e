"""A fake Fargate agent inside moto's ECS backend.

moto models ECS as a control plane only: tasks start at RUNNING, advance one state per
DescribeTasks call, always report exitCode 0 for the first container only, and nobody writes
the awslogs stream. This module replaces that with real behaviour:

* RunTask starts a thread per task that walks PROVISIONING -> PENDING -> RUNNING ->
  DEPROVISIONING -> STOPPED in real time, from RunTask's answer on (which shows PROVISIONING);
* secrets are resolved from the emulator's own SSM and Secrets Manager, images from local
  image directories;
* every container's effective command runs as a real local process whose output goes, line
  by line, to the awslogs stream ``<prefix>/<container>/<task-id>``;
* containers start in ``dependsOn`` order (START, COMPLETE, SUCCESS, HEALTHY), health checks
  run for real, and the containers of one task share a "localhost": a task directory
  (``$EMU_TASK_LOCALHOST``) where they put unix sockets in place of loopback ports;
* StopTask sends SIGTERM, then SIGKILL after ``stopTimeout``.

It relies on moto internals and is pinned to the moto version in requirements.txt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tempfile
import subprocess
import threading
import time
from collections import deque
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from moto.ec2.models import ec2_backends
from moto.ecs import models as ecs_models
from moto.ecs.models import EC2ContainerServiceBackend, Task
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.logs.models import logs_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.ssm.models import ssm_backends
from moto.utilities.utils import get_partition

from faults import FAULTS

IMAGES_DIR = Path(os.environ.get("EMU_IMAGES_DIR", Path(__file__).parent / "images"))
_LOCK = threading.RLock()
PROCESSES: list[subprocess.Popen[bytes]] = []  # every container process, killed at shutdown


def kill_all() -> None:
    for process in PROCESSES:
        _signal_group(process, signal.SIGKILL)


AGENTS: list["TaskAgent"] = []  # every task's agent, for a region's reset


def forget(region: str) -> None:
    """A region's world is reset: its tasks' processes are killed at once (nothing they print
    lands in the new world) and their agents stop."""
    with _LOCK:
        agents = [a for a in AGENTS if a.region == region]
        AGENTS[:] = [a for a in AGENTS if a.region != region]
    for agent in agents:
        agent.forgotten = True
        agent.stop_requested.set()
        for c in agent.containers:
            c.forgotten = True
            if c.process:
                _signal_group(c.process, signal.SIGKILL)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def image_dir_for(image: str) -> Path | None:
    """`host:port/ns/rails:v1` and `.../rails@sha256:...` both select images/rails/."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    name = last.split(":", 1)[0]
    path = IMAGES_DIR / name
    return path if name and path.is_dir() else None


def image_digest(image: str) -> str:
    """The digest a container runs: the reference's own, else a hash of the image directory's
    files (one directory is one image, whatever tag selects it)."""
    if "@sha256:" in image:
        return "sha256:" + image.split("@sha256:", 1)[1]
    directory = image_dir_for(image)
    h = hashlib.sha256()
    if directory:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                h.update(str(path.relative_to(directory)).encode())
                h.update(path.read_bytes())
    else:
        h.update(image.encode())
    return "sha256:" + h.hexdigest()


def _ssm_name(value_from: str) -> str:
    # arn:aws:ssm:region:acct:parameter/name -> /name (ECS accepts both forms)
    if value_from.startswith("arn:") and ":parameter" in value_from:
        name = value_from.split(":parameter", 1)[1]
        return name if name.startswith("/") else "/" + name
    return value_from


def _secrets_manager_value(account_id: str, value_from: str) -> str:
    """Resolves `arn:…:secret:<name>[:<json-key>:<version-stage>:<version-id>]` as ECS does."""
    parts = value_from.split(":")
    arn, region = ":".join(parts[:7]), parts[3]
    json_key, stage, version = (parts[7:] + ["", "", ""])[:3]
    backend = secretsmanager_backends[account_id][region]
    value = backend.get_secret_value(arn, version or None, stage or None)
    text = value.get("SecretString", "")
    if not json_key:
        return text
    doc = json.loads(text)
    if json_key not in doc:
        raise KeyError(f"retrieved secret from Secrets Manager did not contain json key {json_key}")
    return str(doc[json_key])


class ContainerRun:
    """One container of a task: its process and its log writer."""

    def __init__(self, agent: "TaskAgent", definition: dict[str, Any], entry: dict[str, Any]):
        self.agent = agent
        self.definition = definition
        self.entry = entry  # the dict moto serialises in DescribeTasks
        self.name = definition["name"]
        self.process: subprocess.Popen[bytes] | None = None
        self.log_group, self.log_stream = self._log_target()
        self.pending: deque[tuple[int, str]] = deque()
        self.reader_done = threading.Event()
        self.writer_done = threading.Event()
        self.exited_monotonic: float | None = None
        self.started = threading.Event()
        self.health_stop = threading.Event()
        self.forgotten = False

    def _log_target(self) -> tuple[str | None, str | None]:
        conf = self.definition.get("logConfiguration") or {}
        opts = conf.get("options") or {}
        if conf.get("logDriver") != "awslogs" or "awslogs-group" not in opts:
            return None, None
        prefix = opts.get("awslogs-stream-prefix")
        if not prefix:
            return opts["awslogs-group"], None
        return opts["awslogs-group"], f"{prefix}/{self.name}/{self.agent.task.id}"

    def argv(self) -> list[str]:
        override = self.agent.override_for(self.name)
        command = override.get("command") or self.definition.get("command")
        entry_point = self.definition.get("entryPoint") or []
        if command is None:
            default = self.image_dir / "CMD"
            command = default.read_text().split() if default.exists() else []
        argv = list(entry_point) + list(command)
        if argv and argv[0].startswith("/"):
            # The image directory is the container's root file system for absolute paths.
            candidate = self.image_dir / argv[0].lstrip("/")
            if candidate.exists():
                argv[0] = str(candidate)
        return argv

    def environment(self, secrets: dict[str, str]) -> dict[str, str]:
        env = {"PATH": f"{self.image_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        for key in ("HOME", "LANG", "TMPDIR"):
            if key in os.environ:
                env[key] = os.environ[key]
        for item in self.definition.get("environment") or []:
            env[item["name"]] = item.get("value", "")
        for item in self.agent.override_for(self.name).get("environment") or []:
            env[item["name"]] = item.get("value", "")
        env.update(secrets)
        env["ECS_CONTAINER_METADATA_URI_V4"] = "http://169.254.170.2/v4/" + self.agent.task.id
        env["EMU_TASK_LOCALHOST"] = str(self.agent.localhost)
        return env

    @property
    def image_dir(self) -> Path:
        return image_dir_for(self.definition.get("image", "")) or IMAGES_DIR

    def start(self, secrets: dict[str, str]) -> None:
        argv = self.argv()
        if not argv:
            raise OSError("no command given and the image has no CMD")
        self.process = subprocess.Popen(  # noqa: S603 - argv, never a shell string
            argv,
            cwd=self.image_dir,
            env=self.environment(secrets),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        PROCESSES.append(self.process)
        self.env = self.environment(secrets)
        with _LOCK:
            self.entry["lastStatus"] = "RUNNING"
            self.entry["imageDigest"] = image_digest(self.definition.get("image", ""))
        self.started.set()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._write, daemon=True).start()
        if self.definition.get("healthCheck"):
            threading.Thread(target=self._health, daemon=True).start()

    def _health(self) -> None:
        """Runs the container's health check as Docker does: HEALTHY after one success,
        UNHEALTHY after `retries` failures past `startPeriod`. Intervals are capped by the
        `health_check_interval_max` knob (the emulator's compressed clock)."""
        check = self.definition["healthCheck"]
        command = list(check.get("command") or [])
        if command[:1] == ["CMD-SHELL"]:
            argv = ["sh", "-c", " ".join(command[1:])]
        elif command[:1] == ["CMD"]:
            argv = command[1:]
        else:
            argv = command
        if argv and argv[0].startswith("/") and (self.image_dir / argv[0].lstrip("/")).exists():
            argv[0] = str(self.image_dir / argv[0].lstrip("/"))
        interval = min(float(check.get("interval", 30)), FAULTS.get_float("health_check_interval_max", 1.0, self.agent.region))
        timeout = float(check.get("timeout", 5))
        retries = int(check.get("retries", 3))
        start_period = float(check.get("startPeriod", 0))
        started = time.monotonic()
        failures = 0
        while not self.health_stop.wait(interval):
            try:
                ok = subprocess.run(  # noqa: S603 - argv from the task definition
                    argv, cwd=self.image_dir, env=self.env, timeout=timeout,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                ).returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                ok = False
            if ok:
                failures = 0
                status = "HEALTHY"
            elif time.monotonic() - started < start_period:
                continue
            else:
                failures += 1
                if failures < retries:
                    continue
                status = "UNHEALTHY"
            with _LOCK:
                self.entry["healthStatus"] = status

    def log_line(self, text: str) -> None:
        """Queue a line for the awslogs stream with the time it was produced."""
        with _LOCK:
            self.pending.append((int(time.time() * 1000), text))

    def _read(self) -> None:
        assert self.process and self.process.stdout
        for raw in iter(self.process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line:  # awslogs drops empty lines (PutLogEvents needs 1+ characters)
                self.log_line(line)
        self.reader_done.set()

    def _write(self) -> None:
        """Deliver lines to CloudWatch Logs after the ingestion delay, in order.

        With a flush lag, the last `tail_lines` lines are held back until `lag` seconds after
        the task reached STOPPED, as real awslogs sometimes does.
        """
        if self.log_group is None or self.log_stream is None:
            self.writer_done.set()
            return
        # awslogs creates the stream when the container starts (here: after the stream delay)
        stream_ready_at = time.time() + FAULTS.get_float("log_stream_delay", region=self.agent.region)
        created = False
        lag = FAULTS.get_float("log_flush_lag", region=self.agent.region)
        exit_lag = FAULTS.get_float("log_exit_lag", region=self.agent.region)
        hold = int(FAULTS.get_float("log_flush_tail_lines", 3, self.agent.region)) if lag > 0 or exit_lag > 0 else 0
        while True:
            delay = FAULTS.get_float("log_ingest_delay", region=self.agent.region)
            finished = self.reader_done.is_set()
            stopped = self.agent.stopped_event.is_set()
            now = time.monotonic()
            released = (
                hold == 0
                or (lag > 0 and stopped and now >= self.agent.stopped_monotonic + lag)
                or (exit_lag > 0 and self.exited_monotonic is not None
                    and now >= self.exited_monotonic + exit_lag)
            )
            if not created and time.time() >= stream_ready_at:
                self._put([])
                created = True
            with _LOCK:
                ready = []
                keep = 0 if released else hold
                while len(self.pending) > keep and (
                    self.pending[0][0] / 1000 + delay <= time.time()
                ):
                    ready.append(self.pending.popleft())
            if ready and created:
                self._put(ready)
            elif ready:
                with _LOCK:
                    self.pending.extendleft(reversed(ready))
            if finished and not self.pending and (created or self.exited_monotonic is not None):
                break
            time.sleep(0.02)
        self.writer_done.set()

    def _put(self, events: list[tuple[int, str]]) -> None:
        if self.forgotten:
            return
        backend = logs_backends[self.agent.account_id][self.agent.region]
        with _LOCK:
            if self.log_group not in backend.groups:
                backend.create_log_group(self.log_group, {})
            if self.log_stream not in backend.groups[self.log_group].streams:
                backend.create_log_stream(self.log_group, self.log_stream)
            # PutLogEvents takes at most 10,000 events a call
            for i in range(0, len(events), 10000):
                backend.put_log_events(
                    self.log_group,
                    self.log_stream,
                    [{"timestamp": ts, "message": msg} for ts, msg in events[i : i + 10000]],
                )


class TaskAgent:
    """Drives one task through its lifecycle in real time."""

    def __init__(self, task: Task, definition: Any):
        self.task = task
        self.account_id = task._account_id
        self.region = task.region_name
        self.definition = definition
        self.stop_requested = threading.Event()
        # set once RunTask has answered with the task as created (see `answering_run_task`)
        self.answered = threading.Event()
        self.forgotten = False  # the region was reset: write nothing more
        self.stopped_event = threading.Event()
        self.stopped_monotonic = 0.0
        # the task's shared network namespace: its containers' "localhost"
        self.localhost = Path(tempfile.mkdtemp(prefix=f"emu-task-{task.id[:8]}-"))
        self.containers = [
            ContainerRun(self, cdef, entry)
            for cdef, entry in zip(definition.container_definitions, task.containers)
        ]

    def override_for(self, name: str) -> dict[str, Any]:
        for item in (self.task.overrides or {}).get("containerOverrides") or []:
            if item.get("name") == name:
                return item
        return {}

    def set_status(self, status: str) -> None:
        with _LOCK:
            self.task._status = status
            if status == "PENDING":
                for c in self.containers:
                    c.entry["lastStatus"] = status
            if status == "RUNNING":
                self.task.started_at = _now()
                self.task.connectivity = "CONNECTED"
            if status == "PENDING":
                self.task.pull_started_at = _now()

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # an agent bug must still stop the task, never hang it
            self._finish("TaskFailedToStart", f"emulator agent error: {exc!r}", started=False)

    def _sleep(self, key: str) -> bool:
        """Sleep for a lifecycle delay; True if a stop was requested meanwhile."""
        return self.stop_requested.wait(FAULTS.get_float(key, region=self.region))

    def _run(self) -> None:
        self.answered.wait(5.0)
        if self._sleep("provisioning_delay"):
            return self._finish("UserInitiated", self.task.stopped_reason, started=False)
        self.set_status("PENDING")
        if self._sleep("pending_delay"):
            return self._finish("UserInitiated", self.task.stopped_reason, started=False)
        for c in self.containers:
            if image_dir_for(c.definition.get("image", "")) is None:
                reason = (
                    f"CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                    f"failed to resolve ref {c.definition.get('image')}: not found"
                )
                c.entry["reason"] = reason
                return self._finish("TaskFailedToStart", reason, started=False)
        secrets: dict[str, dict[str, str]] = {}
        for c in self.containers:
            resolved, failure = self._resolve_secrets(c.definition)
            if failure:
                return self._finish("TaskFailedToStart", failure, started=False)
            secrets[c.name] = resolved
        self._supervise(secrets)

    def _resolve_secrets(self, cdef: dict[str, Any]) -> tuple[dict[str, str], str | None]:
        """Each secret's value, or the stopped reason ECS gives when one cannot be fetched."""
        backend = ssm_backends[self.account_id][self.region]
        resolved: dict[str, str] = {}
        missing: list[str] = []
        prefix = "ResourceInitializationError: unable to pull secrets or registry auth: "
        for secret in cdef.get("secrets") or []:
            value_from = secret["valueFrom"]
            if value_from.startswith("arn:") and value_from.split(":")[2] == "secretsmanager":
                try:
                    resolved[secret["name"]] = _secrets_manager_value(self.account_id, value_from)
                except Exception as exc:  # moto raises its own exception types
                    return {}, (
                        prefix + "execution resource retrieval failed: unable to retrieve secret "
                        "from asm: service call has been retried 1 time(s): failed to fetch secret "
                        f"{value_from} from secrets manager: {type(exc).__name__}: {exc}"
                    )
                continue
            param = backend.get_parameter(_ssm_name(value_from))
            if param is None:
                missing.append(value_from)
            else:
                resolved[secret["name"]] = param.value
        if missing:
            return {}, (
                prefix + "execution resource retrieval failed: unable to retrieve secrets from ssm: "
                "service call has been retried 1 time(s): invalid ssm parameters: " + " ".join(missing)
            )
        return resolved, None

    def _dependency(self, c: ContainerRun) -> bool | str:
        """True when `c`'s dependsOn conditions hold, False to keep waiting, or why they never
        will (ECS: START, COMPLETE, SUCCESS, HEALTHY)."""
        by_name = {x.name: x for x in self.containers}
        for dep in c.definition.get("dependsOn") or []:
            d = by_name.get(dep.get("containerName"))
            if d is None:
                return f"dependency {dep.get('containerName')} is not in the task"
            condition = dep.get("condition", "START")
            exited = d.entry.get("lastStatus") == "STOPPED"
            code = d.entry.get("exitCode")
            if condition == "START" and not d.started.is_set():
                return False
            if condition == "COMPLETE" and not exited:
                return False
            if condition == "SUCCESS":
                if exited and code not in (0, None):
                    return f"dependency {d.name} exited {code}, not 0 (condition SUCCESS)"
                if not exited:
                    return False
            if condition == "HEALTHY" and not d.definition.get("healthCheck"):
                # without a health check there is nothing to wait for (it only has to start)
                if not d.started.is_set():
                    return False
            elif condition == "HEALTHY":
                if exited:
                    return f"dependency {d.name} stopped before it was HEALTHY"
                if d.entry.get("healthStatus") == "UNHEALTHY":
                    return f"dependency {d.name} is UNHEALTHY"
                if d.entry.get("healthStatus") != "HEALTHY":
                    return False
        return True

    def _start_ready(self, waiting: list[ContainerRun], secrets: dict[str, dict[str, str]],
                     since: float) -> str | None:
        """Starts the waiting containers whose dependencies hold; why the task cannot start."""
        for c in list(waiting):
            state = self._dependency(c)
            # ECS gives up on a dependency only after the container's startTimeout; without one
            # the container (and the task) stays PENDING, as on ECS
            timeout = float(c.definition.get("startTimeout") or FAULTS.get_float("start_timeout", region=self.region) or 0)
            if state is False and (timeout <= 0 or time.monotonic() - since < timeout):
                continue
            if state is not True:
                why = state if isinstance(state, str) else f"its dependencies did not hold within {timeout:g}s"
                if c.definition.get("essential", True):
                    return f"CannotStartContainerError: container {c.name}: {why}"
                waiting.remove(c)  # a non-essential container that cannot start stays down
                continue
            try:
                c.start(secrets[c.name])
            except OSError as exc:
                reason = f"CannotStartContainerError: failed to create shim task: {exc}"
                c.entry["reason"] = reason
                return reason
            waiting.remove(c)
        essentials = [c for c in self.containers if c.definition.get("essential", True)]
        if self.task._status != "RUNNING" and all(c.started.is_set() for c in essentials):
            self.set_status("RUNNING")
        return None

    def _supervise(self, secrets: dict[str, dict[str, str]]) -> None:
        essential_exit: ContainerRun | None = None
        waiting = list(self.containers)
        since = time.monotonic()
        running_since: float | None = None
        while True:
            if waiting and essential_exit is None and not self.stop_requested.is_set():
                failure = self._start_ready(waiting, secrets, since)
                if failure:
                    self._terminate_all(failure)
                    for c in self.containers:
                        if c.process:
                            c.process.wait()
                    return self._finish("TaskFailedToStart", failure, started=False)
            if running_since is None and self.task._status == "RUNNING":
                running_since = time.monotonic()
            for c in self.containers:
                if c.process is None:
                    continue
                code = c.process.poll()
                if code is not None and c.entry.get("lastStatus") != "STOPPED":
                    c.health_stop.set()
                    with _LOCK:
                        c.entry["lastStatus"] = "STOPPED"
                        c.entry["exitCode"] = 128 - code if code < 0 else code
                    c.exited_monotonic = time.monotonic()
                    if c.definition.get("essential", True) and essential_exit is None:
                        essential_exit = c
                        self._mark_stopping("EssentialContainerExited", "Essential container in task exited")
            if all(c.entry.get("lastStatus") == "STOPPED" for c in self.containers):
                break
            lost = FAULTS.get("task_lost", region=self.region)
            if lost and running_since is not None and time.monotonic() - running_since >= float(lost.get("after", 0)):
                return self._lose(lost)
            if self.stop_requested.is_set() or essential_exit is not None:
                why = self.task.stopped_reason if self.stop_requested.is_set() else (
                    "Essential container in task exited"
                )
                self._terminate_all(why)
            time.sleep(0.02)
        for c in self.containers:
            c.reader_done.wait(5)
        started = any(c.started.is_set() for c in self.containers if c.definition.get("essential", True))
        if self.stop_requested.is_set():
            self._finish("UserInitiated", self.task.stopped_reason, started=started)
        else:
            self._finish("EssentialContainerExited", "Essential container in task exited", True)

    def _mark_stopping(self, stop_code: str, reason: str) -> None:
        """The essential container exited: ECS sets desiredStatus and stopCode at once."""
        with _LOCK:
            if self.task.desired_status != "STOPPED":
                self.task.desired_status = "STOPPED"
                self.task.stop_code = stop_code
                self.task.stopped_reason = reason
                self.task.stopping_at = _now()
                # ECS: when the essential container stopped, before the teardown ends
                self.task.execution_stopped_at = self.task.stopping_at

    def _lose(self, lost: dict[str, Any]) -> None:
        """Host or Spot loss: every process dies, no container gets an exit code."""
        for c in self.containers:
            if c.process and c.process.poll() is None:
                _signal_group(c.process, signal.SIGKILL)
        for c in self.containers:
            if c.process:
                c.process.wait()
            c.reader_done.wait(5)
        code = str(lost.get("stop_code", "InfrastructureHealth"))
        reason = str(lost.get("reason", "Task stopped due to an infrastructure health issue"))
        self._finish(code, reason, started=False)

    def _terminate_all(self, _why: str) -> None:
        """SIGTERM every running container once, SIGKILL after its stopTimeout."""
        for c in self.containers:
            if c.process is None:
                with _LOCK:
                    c.entry["lastStatus"] = "STOPPED"
                c.reader_done.set()
                c.writer_done.set()
                continue
            c.health_stop.set()
            if c.process and c.process.poll() is None and not getattr(c, "_termed", False):
                c._termed = True  # type: ignore[attr-defined]
                # like `docker stop`: SIGTERM to the container's main process only
                c.process.send_signal(signal.SIGTERM)
                timeout = c.definition.get("stopTimeout") or FAULTS.get_float("stop_timeout", 30, self.region)
                timer = threading.Timer(float(timeout), _signal_group, (c.process, signal.SIGKILL))
                timer.daemon = True
                timer.start()

    def _finish(self, stop_code: str, reason: str, started: bool) -> None:
        teardown = FAULTS.get_float("teardown_delay", region=self.region) if started else 0.0
        with _LOCK:
            if self.task.desired_status != "STOPPED" or self.task.stop_code is None:
                self.task.stop_code = stop_code
                self.task.stopped_reason = reason or ""
            self.task.desired_status = "STOPPED"
            if getattr(self.task, "stopping_at", None) is None:
                self.task.stopping_at = _now()
            for c in self.containers:
                # one that ran and exited keeps its exitCode (a SUCCESS dependency's, which the
                # stoppedReason cites); the ones that never ran or were killed here have none
                c.entry["lastStatus"] = "STOPPED"
        if teardown > 0:
            for status in ("DEACTIVATING", "STOPPING", "DEPROVISIONING"):
                self.set_status(status)
                time.sleep(teardown / 3)
        else:
            self.set_status("DEPROVISIONING")
            self._sleep_plain("deprovisioning_delay")
        with _LOCK:
            self.task._status = "STOPPED"
            self.task.stopped_at = _now()
            if getattr(self.task, "execution_stopped_at", None) is None:
                self.task.execution_stopped_at = self.task.stopped_at
            self.stopped_monotonic = time.monotonic()
            self.stopped_event.set()
        shutil.rmtree(self.localhost, ignore_errors=True)

    def _sleep_plain(self, key: str) -> None:
        time.sleep(FAULTS.get_float(key, region=self.region))


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass


# --- moto patches ---------------------------------------------------------------------------

_orig_run_task = EC2ContainerServiceBackend.run_task
_orig_stop_task = EC2ContainerServiceBackend.stop_task
_orig_list_tasks = EC2ContainerServiceBackend.list_tasks
_orig_describe_tasks_response = EC2ContainerServiceResponse.describe_tasks
_orig_task_init = Task.__init__


def _container_entries(task: Task, definition: Any) -> list[dict[str, Any]]:
    entries = []
    for cdef in definition.container_definitions:
        entry: dict[str, Any] = {
            "containerArn": f"arn:aws:ecs:{task.region_name}:{task._account_id}:container/"
            f"{task.cluster_name}/{task.id}/{cdef['name']}",
            "taskArn": task.task_arn,
            "name": cdef["name"],
            "image": cdef.get("image"),
            "lastStatus": "PENDING",
            "networkInterfaces": [],
            "healthStatus": "UNKNOWN",
            "cpu": str(cdef.get("cpu", 0)),
        }
        if "memory" in cdef:
            entry["memory"] = str(cdef["memory"])
        if "memoryReservation" in cdef:
            entry["memoryReservation"] = str(cdef["memoryReservation"])
        entries.append(entry)
    return entries


_ANSWERING = threading.local()


@contextmanager
def answering_run_task() -> Iterator[None]:
    """A RunTask request served over HTTP: the tasks it creates leave PROVISIONING only once its
    answer is made, so RunTask answers with each task as created (as ECS does), however loaded
    the machine."""
    created: list[TaskAgent] = []
    _ANSWERING.created = created
    try:
        yield
    finally:
        _ANSWERING.created = None
        for a in created:
            a.answered.set()


def run_task(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> list[Task]:
    tasks = _orig_run_task(self, *args, **kwargs)
    for task in tasks:
        definition = self.describe_task_definition(task.task_definition_arn)
        task._transitions = []  # moto's per-describe state manager no longer moves it
        task._status = "PROVISIONING"
        task.created_at = _now()
        task.containers = _container_entries(task, definition)
        task.cpu = definition.cpu
        task.memory = definition.memory
        task.stop_code = None
        task.version = 1
        agent = TaskAgent(task, definition)
        created = getattr(_ANSWERING, "created", None)
        if created is None:
            agent.answered.set()
        else:
            created.append(agent)
        task._agent = agent
        with _LOCK:
            AGENTS.append(agent)
        threading.Thread(target=agent.run, daemon=True).start()
    return tasks


def _expired(task: Task) -> bool:
    """ECS keeps a stopped task visible for a while (an hour or more), then forgets it; the
    `forget_stopped_after` knob (seconds, null: never) sets that while for the task's region."""
    after = FAULTS.get("forget_stopped_after", region=task.region_name)
    stopped_at = getattr(task, "stopped_at", None)
    if after is None or task._status != "STOPPED" or stopped_at is None:
        return False
    return (_now() - stopped_at).total_seconds() >= float(after)


def _forget_expired(backend: EC2ContainerServiceBackend) -> None:
    """Drops the stopped tasks ECS has forgotten, for good (a later knob change brings none
    back). Their awslogs streams stay: CloudWatch Logs keeps them."""
    with _LOCK:
        for cluster_tasks in backend.tasks.values():
            for arn in [arn for arn, task in cluster_tasks.items() if _expired(task)]:
                del cluster_tasks[arn]


def describe_tasks(self: EC2ContainerServiceBackend, cluster_str: str, tasks: list[str]) -> list[Task]:
    """Like moto's, without advancing the managed state; unknown (or forgotten) tasks are left
    out here and answered as `failures` by describe_tasks_response."""
    self._get_cluster(cluster_str)
    if not tasks:
        raise ecs_models.InvalidParameterException("Tasks cannot be empty.")
    _forget_expired(self)
    found = []
    for cluster_tasks in self.tasks.values():
        for task_arn, task in cluster_tasks.items():
            if task_arn in tasks or task.id in tasks:
                found.append(task)
    return found


def describe_tasks_response(self: EC2ContainerServiceResponse) -> Any:
    """DescribeTasks as ECS answers it: each task asked for that it does not know (never ran, or
    forgotten after it stopped) is a failure `{"arn": ..., "reason": "MISSING"}` (moto answers
    `failures: []`)."""
    result = _orig_describe_tasks_response(self)
    found = result.result["tasks"]
    known = {t.task_arn for t in found} | {t.id for t in found}
    cluster = str(self._get_param("cluster", "default")).rsplit("/", 1)[-1]
    prefix = f"arn:{get_partition(self.region)}:ecs:{self.region}:{self.current_account}:task/{cluster}/"
    result.result["failures"] = [
        {"arn": ref if ref.startswith("arn:") else prefix + ref, "reason": "MISSING"}
        for ref in self._get_param("tasks", []) if ref not in known
    ]
    return result


def list_tasks(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> list[Task]:
    """Like moto's; the stopped tasks ECS has forgotten are no longer listed."""
    _forget_expired(self)
    return _orig_list_tasks(self, *args, **kwargs)


def stop_task(self: EC2ContainerServiceBackend, cluster_str: str, task_str: str, reason: str) -> Task:
    cluster = self._get_cluster(cluster_str)
    task_id = task_str.split("/")[-1]
    _forget_expired(self)
    for task in self.tasks.get(cluster.name, {}).values():
        if task.id == task_id and getattr(task, "_agent", None):
            with _LOCK:
                if task._status != "STOPPED" and task.desired_status != "STOPPED":
                    # as ECS: desiredStatus, stopCode and the reason are visible at once
                    task.desired_status = "STOPPED"
                    task.stop_code = "UserInitiated"
                    task.stopped_reason = reason or "Task stopped by user"
                    task.stopping_at = _now()
                    task._agent.stop_requested.set()
            return task
    if not any(t.id == task_id for t in self.tasks.get(cluster.name, {}).values()):
        raise ecs_models.InvalidParameterException("The referenced task was not found.")
    return _orig_stop_task(self, cluster_str, task_str, reason)


def _task_init(self: Task, *args: Any, **kwargs: Any) -> None:
    """Work around moto bugs on the awsvpc path.

    * awsvpcConfiguration without securityGroups raises KeyError (AWS allows it; the default
      security group of the VPC is used) - getmoto/moto issue #7272 family, still in 5.2.5.
    * ENIs in a VPC without DNS hostnames have no private_dns_name (getmoto/moto#9089, #9179).
    """
    net = kwargs.get("networking_configuration")
    if net and "awsvpcConfiguration" in net:
        net["awsvpcConfiguration"].setdefault("securityGroups", [])
    ec2_models_eni = __import__("moto.ec2.models.elastic_network_interfaces", fromlist=["x"])
    eni_cls = ec2_models_eni.NetworkInterface
    if not hasattr(eni_cls, "private_dns_name"):
        eni_cls.private_dns_name = None  # class-level default; instances that have one keep it
    _orig_task_init(self, *args, **kwargs)


def _resource_requirements(task_definition: Any) -> dict[str, Any]:
    """moto sums container memory and crashes (TypeError) when a Fargate container has neither
    memory nor memoryReservation, the normal Fargate style (getmoto/moto#7272)."""
    req: dict[str, Any] = {"CPU": 0, "MEMORY": 0, "PORTS": [], "PORTS_UDP": []}
    for cdef in task_definition.container_definitions:
        req["CPU"] += cdef.get("cpu", 0) or 0
        req["MEMORY"] += cdef.get("memory") or cdef.get("memoryReservation") or 0
        for pm in cdef.get("portMappings", []):
            if "hostPort" in pm:
                req["PORTS"].append(pm["hostPort"])
    return req


def install() -> None:
    EC2ContainerServiceBackend.run_task = run_task
    EC2ContainerServiceBackend.describe_tasks = describe_tasks
    EC2ContainerServiceBackend.list_tasks = list_tasks
    EC2ContainerServiceResponse.describe_tasks = describe_tasks_response
    EC2ContainerServiceBackend.stop_task = stop_task
    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(
        _resource_requirements
    )
    Task.__init__ = _task_init
    _ = ec2_backends  # imported so the EC2 backend is loaded before the first RunTask
