"""The control endpoints: region-scoped fault knobs (`/_emulator/faults?region=R`) and
`POST /_emulator/reset?region=R`."""

from __future__ import annotations

import urllib.error

import pytest
from botocore.exceptions import ClientError

from harness import World, container, wait_until


def _burst(n: int) -> dict:
    return {"error_burst": {"ListClusters": {"count": n, "status": 503}}}


def test_a_knob_set_for_one_region_does_not_touch_another(make_world, emulator):
    a, b = make_world(), make_world()
    ecs_a, ecs_b = a.client("ecs", retries=False), b.client("ecs", retries=False)
    global_knobs = emulator.control("GET", "/_emulator/faults")

    knobs = a.faults({**_burst(100), "run_task_failures": "RESOURCE:FARGATE",
                      "throttle": {"DescribeClusters": 1.0}})
    assert knobs["error_burst"]["ListClusters"]["count"] == 100
    assert knobs["run_task_failures"] == "RESOURCE:FARGATE"
    # the other knobs in force in A are the global ones
    assert knobs["stop_timeout"] == global_knobs["stop_timeout"] == 3.0
    assert b.knobs() == global_knobs, "B sees none of A's knobs"
    assert emulator.control("GET", "/_emulator/faults") == global_knobs, "nor do the global ones"

    for _ in range(3):
        with pytest.raises(ClientError) as err:
            ecs_a.list_clusters()
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        with pytest.raises(ClientError) as err:
            ecs_a.describe_clusters(clusters=[a.cluster])
        assert err.value.response["Error"]["Code"] == "ThrottlingException"
        assert b.cluster in ecs_b.list_clusters()["clusterArns"][0]
        ecs_b.describe_clusters(clusters=[b.cluster])
    assert a.ecs.run_task(cluster=a.cluster, taskDefinition=a.td, launchType="FARGATE",
                          networkConfiguration={"awsvpcConfiguration": {
                              "subnets": [a["subnets"]["private-a"]]}}
                          )["failures"] == [{"reason": "RESOURCE:FARGATE"}]
    task = b.run_task(["sh", "-c", "exit 0"])  # asserts B's RunTask launched a task
    # a task in B runs with the global timings, not A's knobs: its exit is unaffected
    _, stopped = b.wait_stopped(task)
    assert container(stopped, "rails").get("exitCode") == 0
    assert b.stats()["faults_served"] == {}
    assert a.stats()["faults_served"] == {"ListClusters": 3, "DescribeClusters": 3}

    # DELETE ?region=A restores A: the global knobs again, its calls answered
    assert a.clear_faults() == global_knobs
    assert a.knobs() == global_knobs
    ecs_a.list_clusters()
    ecs_a.describe_clusters(clusters=[a.cluster])
    assert a.run_task(["sh", "-c", "exit 0"])["lastStatus"] == "PROVISIONING"


def test_a_task_knob_set_for_one_region_acts_on_that_regions_tasks_only(make_world):
    """A lifecycle knob (teardown_delay) set for A changes A's tasks, not B's."""
    a, b = make_world(), make_world()
    a.faults({"teardown_delay": 0.9})
    tasks = [(w, w.run_task(["sh", "-c", "exit 0"])) for w in (a, b)]
    seen: list[list[str]] = [[t["lastStatus"]] for _, t in tasks]

    def both_stopped() -> bool:
        for (w, t), statuses in zip(tasks, seen):
            status = w.describe(t["taskArn"])["lastStatus"]
            if statuses[-1] != status:
                statuses.append(status)
        return all(statuses[-1] == "STOPPED" for statuses in seen)

    wait_until(both_stopped, 30, f"both tasks STOPPED ({seen})")
    seen_a, seen_b = seen
    assert "DEACTIVATING" in seen_a and "STOPPING" in seen_a, seen_a
    assert seen_b == ["PROVISIONING", "PENDING", "DEPROVISIONING", "STOPPED"], seen_b


def test_unknown_knobs_are_refused_for_a_region(world):
    with pytest.raises(urllib.error.HTTPError) as err:
        world.faults({"no_such_knob": 1})
    assert err.value.code == 400
    assert "no_such_knob" in err.value.read().decode()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_reset_kills_the_regions_tasks_and_a_fresh_seed_starts_empty(world, emulator):
    # the task ignores SIGTERM and its stop timeout is long: only a SIGKILL ends it soon
    world.faults({"stop_timeout": 60})
    pid_file = world.data_dir / "pid"
    script = f"trap '' TERM; echo $$ > {pid_file}; while :; do echo tick; sleep 0.1; done"
    task = world.run_task(["sh", "-c", script])
    pid = int(wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), 10,
                         "the task's process wrote its pid"))
    assert _alive(pid)
    wait_until(lambda: world.log_lines("rails", task), 10, "the task logging")
    assert world.stats()["calls"].get("RunTask") == 1

    emulator.reset(world.region)

    wait_until(lambda: not _alive(pid), 2, "the reset killed the task's process")
    stats = emulator.control("GET", f"/_emulator/stats?region={world.region}")[world.region]
    assert stats == {"calls": {}, "run_task_tokens": [], "stop_task_times": [],
                     "ecs_migrate_actions": {}, "faults_served": {}, "fault_times": {},
                     "call_times": {}, "lambda_invocations": [], "deployment_stages": {},
                     "lambda_log_files": {}}, stats
    assert world.knobs() == emulator.control("GET", "/_emulator/faults"), "its knobs are gone"
    gone = world.ecs.describe_clusters(clusters=[world.cluster])
    assert gone["clusters"] == [] and gone["failures"][0]["reason"] == "MISSING", gone

    # a fresh seed of the region works, with no task and no stats of the old world
    again = World(emulator, world.region, emulator.seed(world.region, world.data_dir / "again"),
                  world.data_dir / "again")
    stats = again.stats()
    assert stats["run_task_tokens"] == [] and stats["stop_task_times"] == [], stats
    assert stats["faults_served"] == {} and stats["ecs_migrate_actions"] == {}, stats
    assert "RunTask" not in stats["calls"] and "DescribeTasks" not in stats["calls"], stats["calls"]
    assert stats["calls"].get("CreateCluster") == 1, "the seed's own calls only"
    for status in ("RUNNING", "STOPPED"):
        assert again.ecs.list_tasks(cluster=again.cluster, desiredStatus=status)["taskArns"] == []
    assert again.ecs.describe_tasks(cluster=again.cluster, tasks=[task["taskArn"]])["tasks"] == []
    assert again.logs.describe_log_streams(logGroupName="/ecs/ass-staging")["logStreams"] == [], \
        "nothing the killed task printed lands in the new world"
    # and its tasks run
    _, stopped = again.wait_stopped(again.run_task(["sh", "-c", "echo new world"]))
    assert container(stopped, "rails").get("exitCode") == 0
    assert again.wait_log_lines("rails", stopped, 1) == ["new world"]
