"""The emulator's fake Fargate agent, proven through boto3 clients (ported from the Rust
tests/emulator_agent.rs), plus what the agent models beyond that: executionStoppedAt during the
teardown and the containers' imageDigest."""

from __future__ import annotations

import re
import time

from harness import container, wait_until


def test_migrate_creates_tables_streams_rails_output_and_exits_0(world):
    task = world.run_task(["bundle", "exec", "rails", "db:migrate"])
    assert task["lastStatus"] == "PROVISIONING"
    assert len(task["containers"]) == 2, "every container has an entry"
    seen, stopped = world.wait_stopped(task)
    # The seed's nginx dependsOn rails HEALTHY, and rails' health check (curl :3000) cannot pass
    # while it runs a migration: as on ECS, nginx never starts and the task stays PENDING until
    # rails, essential, exits. (The migration task definition leaves nginx out.)
    assert seen == ["PROVISIONING", "PENDING", "DEPROVISIONING", "STOPPED"]
    assert container(stopped, "rails").get("exitCode") == 0
    assert stopped.get("stopCode") == "EssentialContainerExited"
    assert stopped.get("stoppedAt") is not None
    assert world.sql(
        "SELECT name FROM sqlite_master WHERE type='table' AND name IN ('users','posts') ORDER BY name"
    ) == "posts\nusers"
    lines = wait_until(
        lambda: (ls := world.log_lines("rails", stopped))
        and any(line.startswith("== 20240301120000 CreatePosts: migrated (") for line in ls) and ls,
        10, "the last migration's 'migrated' line in the rails stream",
    )
    assert lines[0] == "== 20240101000000 CreateUsers: migrating ======================================"
    nginx = container(stopped, "nginx")
    assert nginx["lastStatus"] == "STOPPED"
    assert nginx.get("exitCode") is None, "it never started"


def test_exit_codes_come_through_describe_tasks(world):
    cases = [("exit 0", 0), ("exit 3", 3), ("kill -9 $$", 137)]
    tasks = [(cmd, want, world.run_task(["sh", "-c", cmd])) for cmd, want in cases]
    for cmd, want, task in tasks:
        _, stopped = world.wait_stopped(task)
        assert container(stopped, "rails").get("exitCode") == want, cmd


def test_log_lines_arrive_in_order_in_the_right_stream(world):
    task = world.run_task(
        ["sh", "-c", "for i in $(seq 1 300); do echo line-$i; done; echo to-stderr >&2"]
    )
    _, stopped = world.wait_stopped(task)
    want = [f"line-{i}" for i in range(1, 301)] + ["to-stderr"]
    assert world.wait_log_lines("rails", stopped, len(want)) == want
    assert world.log_lines("nginx", stopped) is None, "nginx never started: no stream of its own"


def test_environment_and_secrets_reach_the_process(world):
    task = world.run_task(["sh", "-c", "echo env=$RAILS_ENV host=$DB_HOST"])
    _, stopped = world.wait_stopped(task)
    assert world.wait_log_lines("rails", stopped, 1) == ["env=staging host=db.staging.internal"]


def test_a_secrets_manager_json_key_reaches_the_process(world):
    task = world.run_task(
        ["sh", "-c", 'test "$RDS_DB_PASSWORD" = rds-managed-staging-password && echo matched']
    )
    _, stopped = world.wait_stopped(task)
    assert world.wait_log_lines("rails", stopped, 1) == ["matched"]
    assert container(stopped, "rails").get("exitCode") == 0


def test_a_missing_secrets_manager_secret_fails_to_start(world):
    world.client("secretsmanager").delete_secret(
        SecretId=world["rds_secret_arn"], ForceDeleteWithoutRecovery=True
    )
    task = world.run_task(["true"])
    seen, stopped = world.wait_stopped(task)
    assert "RUNNING" not in seen, seen
    reason = stopped["stoppedReason"]
    assert "unable to retrieve secret from asm" in reason and "rds!db-" in reason, reason
    assert container(stopped, "rails").get("exitCode") is None


def test_missing_secret_fails_to_start_without_exit_code(world):
    world.ssm.delete_parameter(Name="/ass-staging/db/password")
    task = world.run_task(["bundle", "exec", "rails", "db:migrate"])
    seen, stopped = world.wait_stopped(task)
    assert "RUNNING" not in seen, seen
    assert stopped.get("stopCode") == "TaskFailedToStart"
    reason = stopped["stoppedReason"]
    assert reason.startswith("ResourceInitializationError: unable to pull secrets"), reason
    assert "/ass-staging/db/password" in reason, reason
    assert container(stopped, "rails").get("exitCode") is None
    assert not world.db.exists(), "the migration must not have run"


def test_unknown_image_fails_like_cannot_pull(world):
    # a copy of the seed task definition with an image that has no image directory
    td = world.ecs.describe_task_definition(taskDefinition=world.td)["taskDefinition"]
    containers = td["containerDefinitions"]
    containers[0]["image"] = world["image_missing"]
    arn = world.ecs.register_task_definition(
        family="broken-image", containerDefinitions=containers, networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"], cpu="256", memory="512", volumes=td["volumes"],
    )["taskDefinition"]["taskDefinitionArn"]
    task = world.run_task(["bundle", "exec", "rails", "db:migrate"], td=arn)
    _, stopped = world.wait_stopped(task)
    assert stopped.get("stopCode") == "TaskFailedToStart"
    assert stopped["stoppedReason"].startswith("CannotPullContainerError"), stopped["stoppedReason"]
    rails = container(stopped, "rails")
    assert rails.get("exitCode") is None
    assert "rails-does-not-exist" in rails["reason"], rails


def _rails_running(world, arn, timeout=10):
    wait_until(lambda: container(world.describe(arn), "rails")["lastStatus"] == "RUNNING",
               timeout, "rails RUNNING")


def test_stop_task_delivers_sigterm(world):
    script = "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.1; done"
    task = world.run_task(["sh", "-c", script])
    arn = task["taskArn"]
    # rails runs (nginx waits for it to be HEALTHY, so the task itself stays PENDING)
    _rails_running(world, arn)
    # "ready" is printed once the trap is set: stop only then
    assert world.wait_log_lines("rails", arn, 1) == ["ready"]
    world.ecs.stop_task(cluster=world.cluster, task=arn, reason="test says stop")
    _, stopped = world.wait_stopped(task)
    assert stopped.get("stopCode") == "UserInitiated"
    assert stopped.get("stoppedReason") == "test says stop"
    assert container(stopped, "rails").get("exitCode") == 0, "the trap exited 0"
    assert world.wait_log_lines("rails", stopped, 2) == ["ready", "got TERM"]


def test_stop_task_kills_after_stop_timeout(world):
    # ignores SIGTERM: SIGKILL follows after the emulator's stop timeout (3 s in tests)
    task = world.run_task(["sh", "-c", "trap '' TERM; echo stubborn; while :; do sleep 0.1; done"])
    arn = task["taskArn"]
    _rails_running(world, arn)
    assert world.wait_log_lines("rails", arn, 1) == ["stubborn"]  # the trap is set
    stop_sent = time.monotonic()
    world.ecs.stop_task(cluster=world.cluster, task=arn)
    _, stopped = world.wait_stopped(task)
    assert container(stopped, "rails").get("exitCode") == 137
    assert time.monotonic() - stop_sent >= 3


# --- beyond the Rust tests -----------------------------------------------------------------


def test_execution_stopped_at_is_set_when_the_essential_container_exits(world):
    """With a teardown delay the exit code, stopCode, desiredStatus and executionStoppedAt are
    visible while the task walks DEACTIVATING, STOPPING, DEPROVISIONING; stoppedAt only at
    STOPPED."""
    world.faults({"teardown_delay": 1.5})
    task = world.run_task(["sh", "-c", "exit 0"])
    tearing_down: list[dict] = []
    seen = [task["lastStatus"]]
    deadline = time.monotonic() + 30
    while True:
        t = world.describe(task["taskArn"])
        if seen[-1] != t["lastStatus"]:
            seen.append(t["lastStatus"])
        if t["lastStatus"] == "STOPPED":
            break
        if t["lastStatus"] in ("DEACTIVATING", "STOPPING", "DEPROVISIONING"):
            tearing_down.append(t)
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)
    assert seen == ["PROVISIONING", "PENDING", "DEACTIVATING", "STOPPING", "DEPROVISIONING",
                    "STOPPED"], seen
    assert tearing_down, "never saw the teardown"
    for d in tearing_down:
        assert container(d, "rails").get("exitCode") == 0, d
        assert d["desiredStatus"] == "STOPPED" and d.get("stopCode") == "EssentialContainerExited"
        assert d.get("executionStoppedAt") is not None, d
        assert d.get("stoppedAt") is None, "stoppedAt before STOPPED"
    first = tearing_down[0]["executionStoppedAt"]
    assert all(d["executionStoppedAt"] == first for d in tearing_down), "it does not move"
    assert t["executionStoppedAt"] == first, "STOPPED keeps it"
    assert (t["stoppedAt"] - first).total_seconds() >= 1.0, "the teardown came in between"


def test_execution_stopped_at_without_teardown_delay(world):
    """No teardown delay: still set, no later than stoppedAt."""
    task = world.run_task(["sh", "-c", "exit 0"])
    _, stopped = world.wait_stopped(task)
    assert stopped.get("executionStoppedAt") is not None
    assert stopped["executionStoppedAt"] <= stopped["stoppedAt"]


def test_image_digest_of_the_containers_that_ran(world):
    """A container that started has an imageDigest: a digest reference's own, else one digest per
    image directory, whatever tag selects it."""
    pinned = "sha256:" + "ab" * 32
    images = {
        "stg": world.td,  # the seed's rails:stg
        "v9": world.register("digest-v9", lambda cs: cs[0].update(
            image=cs[0]["image"].replace(":stg", ":v9"))),
        "pinned": world.register("digest-pinned", lambda cs: cs[0].update(
            image=cs[0]["image"].split(":stg")[0] + "@" + pinned)),
        "broken": world.register("digest-broken", lambda cs: cs[0].update(
            image=world["image_broken"])),
    }
    tasks = {k: world.run_task(["sh", "-c", "exit 0"], td=td) for k, td in images.items()}
    digests = {}
    for key, task in tasks.items():
        _, stopped = world.wait_stopped(task)
        assert container(stopped, "rails").get("exitCode") == 0, key
        digests[key] = container(stopped, "rails").get("imageDigest")
        assert "imageDigest" not in container(stopped, "nginx"), "nginx never started"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digests["stg"] or ""), digests
    assert digests["v9"] == digests["stg"], "one image directory, one digest"
    assert digests["pinned"] == pinned
    assert digests["broken"] != digests["stg"]


def test_one_client_token_sent_at_once_launches_one_task_and_other_parameters_conflict(world):
    from concurrent.futures import ThreadPoolExecutor

    from botocore.exceptions import ClientError

    def run(token: str, td: str) -> str:
        try:
            out = world.ecs.run_task(
                cluster=world.cluster, taskDefinition=td, launchType="FARGATE", clientToken=token,
                networkConfiguration={"awsvpcConfiguration": {
                    "subnets": [world.doc["subnets"]["private-a"]],
                    "securityGroups": [world.doc["security_group"]],
                }},
                overrides={"containerOverrides": [{"name": "rails", "command": ["true"]}]},
            )
            return out["tasks"][0]["taskArn"]
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    other = world.register("twin", lambda containers: None)
    with ThreadPoolExecutor(8) as pool:
        same = list(pool.map(lambda _: run("twins", world.td), range(8)))
        mixed = list(pool.map(lambda i: run("mixed", world.td if i % 2 else other), range(8)))
    assert len(set(same)) == 1 and same[0].startswith("arn:aws:ecs:"), same
    launched = [r for r in mixed if r.startswith("arn:aws:ecs:")]
    assert len(set(launched)) == 1, mixed
    assert set(mixed) - set(launched) == {"ConflictException"}, mixed
    tasks = world.ecs.list_tasks(cluster=world.cluster)["taskArns"]
    assert len(tasks) == 2, tasks


def test_run_task_answers_with_the_task_as_created_however_fast_it_moves_on(world):
    # no provisioning delay: the task would be PENDING before moto had made RunTask's answer
    world.faults({"provisioning_delay": 0.0, "pending_delay": 0.0})
    for _ in range(5):
        task = world.run_task(["true"])
        assert task["lastStatus"] == "PROVISIONING", task["lastStatus"]
        world.wait_stopped(task)
