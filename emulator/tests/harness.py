"""What the emulator's own tests share: the emulator process, seeded worlds (one region each),
boto3 clients against them, and waiting for an event with a deadline.

conftest.py makes the fixtures (`emulator`, `world`, `make_world`) from these; tests import the
helpers they call themselves (`from harness import wait_until, BIN`).
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, TypeVar

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
EMULATOR_DIR = ROOT / "emulator"
PYTHON = sys.executable
# The ecs-migrate binary, for the tests of ecs-migrate riding out the knobs (scripts/test builds
# it before it runs pytest).
BIN = Path(os.environ.get("ECS_MIGRATE_BIN", ROOT / "target/debug/ecs-migrate"))

# The timings the Rust harness (tests/common/mod.rs) gives the emulator: short lifecycle delays,
# a short stop timeout.
EMULATOR_ENV = {
    "EMU_PROVISIONING_DELAY": "0.2",
    "EMU_PENDING_DELAY": "0.2",
    "EMU_DEPROVISIONING_DELAY": "0.2",
    "EMU_LOG_INGEST_DELAY": "0.1",
    "EMU_STOP_TIMEOUT": "3",
    "PYTHONUNBUFFERED": "1",
}

# Regions of the `aws` partition (no aws-cn, aws-us-gov or iso ones): each test takes one, resets
# it, seeds its world there and gives it back when it ends.
REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1",
    "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2", "ap-south-1",
    "sa-east-1",
)
_partitions = botocore.session.get_session()
assert all(_partitions.get_partition_for_region(r) == "aws" for r in REGIONS), REGIONS

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Calls `check` until it returns something truthy and returns that; fails the test with
    `what` (and the last value seen) when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s (last: {value!r})")
        time.sleep(interval)


class Emulator:
    """One `emulator/emulator.py --port 0 --exit-on-stdin-eof` process."""

    def __init__(self, log: Path):
        self.log = log
        self._stderr = log.open("wb")
        self.process = subprocess.Popen(
            [PYTHON, str(EMULATOR_DIR / "emulator.py"), "--port", "0", "--exit-on-stdin-eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env={**os.environ, **EMULATOR_ENV},
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().decode().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"the emulator said {self.url!r}; its stderr: {log.read_text()[-2000:]}")
        self.regions: queue.Queue[str] = queue.Queue()
        for region in REGIONS:
            self.regions.put(region)

    def close(self) -> None:
        """Closing its stdin ends the emulator (and kills the processes of its tasks)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """A control endpoint call (`/_emulator/...`); its JSON answer. Not 200: HTTPError."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def reset(self, region: str) -> None:
        assert self.control("POST", f"/_emulator/reset?region={region}") == {"reset": region}

    def seed(self, region: str, data_dir: Path) -> dict[str, Any]:
        """`emulator/seed.py URL --region R --data-dir DIR`: the world it printed."""
        out = subprocess.run(
            [PYTHON, str(EMULATOR_DIR / "seed.py"), self.url, "--region", region,
             "--data-dir", str(data_dir)],
            capture_output=True, text=True, timeout=120,
        )
        assert out.returncode == 0, f"seed failed: {out.stderr}"
        return json.loads(out.stdout)

    def client(self, service: str, region: str, retries: bool = True) -> Any:
        config = Config(retries={"mode": "standard"} if retries else {"total_max_attempts": 1})
        return boto3.client(service, endpoint_url=self.url, region_name=region, config=config,
                            aws_access_key_id="test", aws_secret_access_key="test")


class World:
    """The seed's world in one region of the emulator (tests/common/mod.rs `World`)."""

    def __init__(self, emulator: Emulator, region: str, doc: dict[str, Any], data_dir: Path):
        self.emulator = emulator
        self.region = region
        self.doc = doc
        self.data_dir = data_dir
        self.ecs = self.client("ecs")
        self.logs = self.client("logs")
        self.ssm = self.client("ssm")

    def __getitem__(self, key: str) -> Any:
        return self.doc[key]

    @property
    def cluster(self) -> str:
        return self.doc["cluster"]

    @property
    def td(self) -> str:
        return self.doc["task_definition_arn"]

    @property
    def db(self) -> Path:
        return Path(self.doc["db_path"])

    def client(self, service: str, retries: bool = True) -> Any:
        return self.emulator.client(service, self.region, retries)

    # --- fault knobs and stats of this region ---------------------------------------------

    def faults(self, knobs: dict[str, Any]) -> dict[str, Any]:
        """Sets this region's own knobs; the knobs in force there now."""
        return self.emulator.control("POST", f"/_emulator/faults?region={self.region}", knobs)

    def clear_faults(self) -> dict[str, Any]:
        return self.emulator.control("DELETE", f"/_emulator/faults?region={self.region}")

    def knobs(self) -> dict[str, Any]:
        return self.emulator.control("GET", f"/_emulator/faults?region={self.region}")

    def stats(self) -> dict[str, Any]:
        return self.emulator.control("GET", f"/_emulator/stats?region={self.region}")[self.region]

    # --- tasks ------------------------------------------------------------------------------

    def register(self, family: str, edit: Callable[[list[dict[str, Any]]], Any]) -> str:
        """A task definition like the seed's, its container definitions changed in place by
        `edit`; its ARN."""
        from seed import DESCRIBE_ONLY

        td = self.ecs.describe_task_definition(taskDefinition=self.td)["taskDefinition"]
        td = {k: v for k, v in td.items() if k not in DESCRIBE_ONLY}
        td["family"] = family
        edit(td["containerDefinitions"])
        return self.ecs.register_task_definition(**td)["taskDefinition"]["taskDefinitionArn"]

    def run_task(self, command: list[str] | None = None, td: str | None = None,
                 container: str = "rails") -> dict[str, Any]:
        """RunTask of `td` (the seed's), `container` with `command`, in the first private
        subnet (tests/common/mod.rs `run_task`). Asserts it launched."""
        overrides = {"containerOverrides": [{"name": container, "command": command}]} if command else {}
        out = self.ecs.run_task(
            cluster=self.cluster, taskDefinition=td or self.td, launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {
                "subnets": [self.doc["subnets"]["private-a"]],
                "securityGroups": [self.doc["security_group"]],
            }},
            overrides=overrides,
        )
        assert out["failures"] == [], out["failures"]
        return out["tasks"][0]

    def describe(self, arn: str) -> dict[str, Any]:
        return self.ecs.describe_tasks(cluster=self.cluster, tasks=[arn])["tasks"][0]

    def wait_stopped(self, task: dict[str, Any], timeout: float = 30) -> tuple[list[str], dict[str, Any]]:
        """Polls until STOPPED: the statuses seen, in order (from RunTask's answer on), and the
        stopped task."""
        seen = [task["lastStatus"]] if "lastStatus" in task else []
        deadline = time.monotonic() + timeout
        while True:
            t = self.describe(task["taskArn"])
            if not seen or seen[-1] != t["lastStatus"]:
                seen.append(t["lastStatus"])
            if t["lastStatus"] == "STOPPED":
                return seen, t
            assert time.monotonic() < deadline, f"task never stopped: {seen}"
            time.sleep(0.05)

    def log_lines(self, container: str, task: dict[str, Any] | str) -> list[str] | None:
        """Every message of the container's awslogs stream, from its head (None: no stream)."""
        arn = task if isinstance(task, str) else task["taskArn"]
        stream = f"ecs/ass-staging/{container}/{arn.rsplit('/', 1)[-1]}"
        try:
            out = self.logs.get_log_events(logGroupName="/ecs/ass-staging", logStreamName=stream,
                                           startFromHead=True)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
        return [e["message"] for e in out["events"]]

    def wait_log_lines(self, container: str, task: dict[str, Any] | str, count: int,
                       timeout: float = 10) -> list[str]:
        """The stream's messages once it holds at least `count` of them."""
        lines: list[list[str]] = [[]]

        def enough() -> bool:
            lines[0] = self.log_lines(container, task) or []
            return len(lines[0]) >= count

        wait_until(enough, timeout, f"{count} log lines of {container} (saw {lines[0]})")
        return lines[0]

    def sql(self, query: str) -> str:
        """The rows of a query of the world's SQLite database, as tests/common's `sql`."""
        with sqlite3.connect(self.db) as db:
            return "\n".join("|".join(map(str, row)) for row in db.execute(query))

    # --- ecs-migrate ------------------------------------------------------------------------

    def ecs_migrate(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`ecs-migrate ARGS` with the emulator's endpoint and fast polling (tests/common's
        `World::cmd`)."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_ENDPOINT_URL": self.emulator.url,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "ECS_MIGRATE_POLL_INTERVAL": "100ms",
            "ECS_MIGRATE_DESCRIBE_INTERVAL": "100ms",
            "ECS_MIGRATE_POLL_MAX": "300ms",
            "ECS_MIGRATE_LOG_QUIET": "1s",
        }
        return subprocess.run([str(BIN), *args], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def run_on(self, service: str, image_key: str, *extra: str) -> subprocess.CompletedProcess[str]:
        """`ecs-migrate run --cluster … --container rails --service S --image <world's IMAGE_KEY>
        EXTRA` (tests/common's `World::run_on`)."""
        return self.ecs_migrate("run", "--cluster", self.cluster, "--container", "rails",
                                "--service", service, "--image", self.doc[image_key], *extra)


def container(task: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in task["containers"] if c["name"] == name)
