"""Containers start in dependsOn order, and health checks run for real (docs/emulator.md,
"dependsOn, health checks"): HEALTHY waits for the dependency's health check, a dependency that
never becomes healthy keeps the task PENDING, one that turns UNHEALTHY or a SUCCESS dependency
that exits non-zero fails the task with TaskFailedToStart."""

from __future__ import annotations

from typing import Any

from harness import container, wait_until

CHECK = ["CMD", "pgbouncer-check"]


def _logging(world) -> dict[str, Any]:
    return {"logDriver": "awslogs", "options": {
        "awslogs-group": "/ecs/ass-staging", "awslogs-region": world.region,
        "awslogs-stream-prefix": "ecs/ass-staging"}}


def _pgbouncer(world, health: list[str] = CHECK, env: dict[str, str] | None = None,
               **check: Any) -> dict[str, Any]:
    """The pgbouncer image (images/pgbouncer/) as a sidecar, with a health check."""
    return {
        "name": "pgbouncer",
        "image": world["image"].replace("/rails:", "/pgbouncer:"),
        "essential": True,
        "environment": [{"name": k, "value": v} for k, v in (env or {}).items()],
        "healthCheck": {"command": health, "interval": 5, "timeout": 2, "retries": 3,
                        "startPeriod": 0, **check},
        "logConfiguration": _logging(world),
    }


def _task_definition(world, family: str, sidecar: dict[str, Any], condition: str | None,
                     rails_env: dict[str, str] | None = None) -> str:
    """The seed's rails container (nginx left out) and `sidecar`; rails dependsOn the sidecar
    with `condition` (None: no dependsOn)."""
    def edit(containers: list[dict[str, Any]]) -> None:
        rails = next(c for c in containers if c["name"] == "rails")
        if condition:
            rails["dependsOn"] = [{"containerName": sidecar["name"], "condition": condition}]
        rails["environment"] += [{"name": k, "value": v} for k, v in (rails_env or {}).items()]
        containers[:] = [rails, sidecar]

    return world.register(family, edit)


PROXY_ENV = {"DATABASE_HOST": "127.0.0.1", "DATABASE_PORT": "6432"}


def _watch(world, task: dict[str, Any], timeout: float = 30) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every DescribeTasks snapshot until STOPPED, and the stopped task."""
    snapshots: list[dict[str, Any]] = []

    def stopped() -> bool:
        snapshots.append(world.describe(task["taskArn"]))
        return snapshots[-1]["lastStatus"] == "STOPPED"

    wait_until(stopped, timeout, "the task STOPPED", interval=0.03)
    return snapshots, snapshots[-1]


def test_depends_on_healthy_starts_rails_after_the_proxy_health_check_passed(world):
    td = _task_definition(world, "proxy-healthy", _pgbouncer(world), "HEALTHY", PROXY_ENV)
    task = world.run_task(["bundle", "exec", "rails", "db:migrate"], td=td)
    snapshots, stopped = _watch(world, task)
    waited = False
    for s in snapshots:
        rails, proxy = container(s, "rails"), container(s, "pgbouncer")
        if rails["lastStatus"] != "PENDING":
            assert proxy["healthStatus"] == "HEALTHY", f"rails started before the proxy was: {s}"
        elif proxy["lastStatus"] == "RUNNING" and proxy["healthStatus"] == "UNKNOWN":
            waited = True
            assert s["lastStatus"] == "PENDING", "the task is RUNNING only once rails started"
            assert "startedAt" not in s
    assert waited, "rails never seen waiting for the proxy's health check"
    # rails connected through the proxy on the task's localhost, so the migration ran
    assert container(stopped, "rails").get("exitCode") == 0
    assert stopped.get("stopCode") == "EssentialContainerExited"
    assert "startedAt" in stopped, "the task was RUNNING once every essential container started"
    assert container(stopped, "pgbouncer").get("exitCode") == 0, "SIGTERM, then a clean exit"
    assert world.sql("SELECT count(*) FROM sqlite_master WHERE name IN ('users','posts')") == "2"
    proxy_lines = world.wait_log_lines("pgbouncer", stopped, 2)
    assert proxy_lines == ["LOG listening on 127.0.0.1:6432", "LOG got SIGTERM, fast exit"]
    rails_lines = world.wait_log_lines("rails", stopped, 1)
    assert rails_lines[0].startswith("== 20240101000000 CreateUsers: migrating"), rails_lines


def test_without_depends_on_rails_does_not_wait_for_the_proxy(world):
    """The control experiment: the same task without dependsOn starts rails at once, before the
    proxy listens, and Rails cannot connect."""
    sidecar = _pgbouncer(world, env={"STARTUP_SECONDS": "3"})
    td = _task_definition(world, "proxy-unordered", sidecar, None, PROXY_ENV)
    task = world.run_task(["bundle", "exec", "rails", "db:migrate"], td=td)
    _, stopped = _watch(world, task)
    assert container(stopped, "rails").get("exitCode") == 1
    lines = world.wait_log_lines("rails", stopped, 2)
    assert any(line.startswith("ActiveRecord::ConnectionNotEstablished") for line in lines), lines
    assert not world.db.exists(), "no migration ran"


def test_a_dependency_that_never_becomes_healthy_keeps_the_task_pending(world):
    """A health check that fails within its startPeriod leaves the dependency UNKNOWN: rails
    waits (no startTimeout), the task stays PENDING, as on ECS, until it is stopped."""
    world.faults({"health_check_interval_max": 0.2})
    checks = world.data_dir / "checks"
    sidecar = _pgbouncer(world, ["CMD-SHELL", f"echo check >> {checks}; exit 1"], startPeriod=300)
    td = _task_definition(world, "proxy-never-healthy", sidecar, "HEALTHY")
    task = world.run_task(["sh", "-c", "echo rails ran"], td=td)

    def five_checks_while_rails_waits() -> bool:
        t = world.describe(task["taskArn"])
        assert container(t, "rails")["lastStatus"] == "PENDING", f"rails did not wait: {t}"
        return checks.exists() and len(checks.read_text().splitlines()) >= 5

    wait_until(five_checks_while_rails_waits, 15, "five failed health checks")
    t = world.describe(task["taskArn"])
    assert t["lastStatus"] == "PENDING", t["lastStatus"]
    assert container(t, "pgbouncer")["lastStatus"] == "RUNNING"
    assert container(t, "pgbouncer")["healthStatus"] == "UNKNOWN"
    assert container(t, "rails")["lastStatus"] == "PENDING"
    world.ecs.stop_task(cluster=world.cluster, task=task["taskArn"], reason="gave up waiting")
    seen, stopped = world.wait_stopped(task)
    assert "RUNNING" not in seen, seen
    assert stopped.get("stopCode") == "UserInitiated"
    assert container(stopped, "rails").get("exitCode") is None, "rails never started"
    assert world.log_lines("rails", stopped) is None, "nor logged"


def test_a_dependency_that_turns_unhealthy_fails_the_task(world):
    world.faults({"health_check_interval_max": 0.2})
    sidecar = _pgbouncer(world, ["CMD-SHELL", "exit 1"], retries=2)
    td = _task_definition(world, "proxy-unhealthy", sidecar, "HEALTHY")
    task = world.run_task(["sh", "-c", "echo rails ran"], td=td)
    seen, stopped = world.wait_stopped(task)
    assert "RUNNING" not in seen, seen
    assert stopped.get("stopCode") == "TaskFailedToStart"
    assert stopped["stoppedReason"] == (
        "CannotStartContainerError: container rails: dependency pgbouncer is UNHEALTHY"
    ), stopped["stoppedReason"]
    assert container(stopped, "pgbouncer")["healthStatus"] == "UNHEALTHY"
    assert container(stopped, "rails").get("exitCode") is None


def _init(world, code: int) -> dict[str, Any]:
    """A non-essential init container that exits `code`."""
    return {"name": "init", "image": world["image"], "essential": False,
            "command": ["sh", "-c", f"echo init; exit {code}"], "logConfiguration": _logging(world)}


def test_depends_on_success_starts_rails_after_the_init_container_exited_0(world):
    td = _task_definition(world, "init-ok", _init(world, 0), "SUCCESS")
    task = world.run_task(["sh", "-c", "echo rails ran"], td=td)
    snapshots, stopped = _watch(world, task)
    for s in snapshots:
        if container(s, "rails")["lastStatus"] != "PENDING":
            assert container(s, "init").get("exitCode") == 0, s
    assert container(stopped, "init").get("exitCode") == 0
    assert container(stopped, "rails").get("exitCode") == 0
    assert stopped.get("stopCode") == "EssentialContainerExited"
    assert world.wait_log_lines("rails", stopped, 1) == ["rails ran"]


def test_depends_on_success_with_a_non_zero_exit_fails_the_task(world):
    td = _task_definition(world, "init-fails", _init(world, 3), "SUCCESS")
    task = world.run_task(["sh", "-c", "echo rails ran"], td=td)
    seen, stopped = world.wait_stopped(task)
    assert "RUNNING" not in seen, seen
    assert stopped.get("stopCode") == "TaskFailedToStart"
    assert stopped["stoppedReason"] == (
        "CannotStartContainerError: container rails: dependency init exited 3, not 0 "
        "(condition SUCCESS)"
    ), stopped["stoppedReason"]
    assert container(stopped, "rails").get("exitCode") is None, "rails never started"
    assert world.log_lines("rails", stopped) is None
    assert container(stopped, "init").get("exitCode") == 3, "the dependency keeps its exit code"
    assert world.wait_log_lines("init", stopped, 1) == ["init"], "init did run"
