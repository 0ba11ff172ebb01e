"""The emulator's fault knobs, and ecs-migrate surviving them (ported from the Rust
tests/emulator_faults.rs), plus the stats of the faults served. Every knob here is set for the
test's own region (`POST /_emulator/faults?region=R`), so these tests need no serial order and
no global reset."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from harness import wait_until


def _code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def _status(exc: ClientError) -> int:
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]


def test_throttle_knob_throttles_that_share_of_one_api(world):
    ecs = world.client("ecs", retries=False)
    world.faults({"throttle": {"ListClusters": 0.5}})
    throttled = 0
    for _ in range(10):
        try:
            ecs.list_clusters()
        except ClientError as exc:
            assert _code(exc) == "ThrottlingException"
            throttled += 1
    assert throttled == 5
    # other APIs are untouched
    ecs.describe_clusters(clusters=[world.cluster])


def test_error_burst_knob_fails_the_next_calls_with_5xx(world):
    ecs = world.client("ecs", retries=False)
    world.faults({"error_burst": {"ListClusters": {"count": 2, "status": 503}}})
    for _ in range(2):
        with pytest.raises(ClientError) as err:
            ecs.list_clusters()
        assert _status(err.value) == 503
    ecs.list_clusters()


def test_run_task_failures_knob_makes_ecs_migrate_exit_125_with_the_reason(world, needs_ecs_migrate):
    world.faults({"run_task_failures": "Capacity is unavailable at this time. Please try again "
                  "later or in a different availability zone"})
    o = world.run_on("ass-staging", "image")
    assert o.returncode == 125, o.stderr
    assert "RunTask launched no task: Capacity is unavailable" in o.stderr, o.stderr
    assert "more Availability Zones" in o.stderr, o.stderr


def test_delayed_log_stream_and_flush_lag_lose_no_line(world, needs_ecs_migrate):
    world.faults({"log_stream_delay": 1.5, "log_flush_lag": 2.0, "log_flush_tail_lines": 3})
    script = "for i in $(seq 1 400); do echo line-$i; done; echo last-1; echo last-2; echo last-3"
    o = world.run_on("ass-staging", "image", "--log-quiet", "3s", "--", "sh", "-c", script)
    assert o.returncode == 0, o.stderr
    want = [f"line-{i}" for i in range(1, 401)] + ["last-1", "last-2", "last-3"]
    assert o.stdout.splitlines() == want, "every line once, in order"
    assert "(403 lines)" in o.stderr, o.stderr


def test_flush_lag_knob_delivers_the_tail_after_stopped(world):
    world.faults({"log_flush_lag": 1.5, "log_flush_tail_lines": 2})
    task = world.run_task(["sh", "-c", "echo a; echo b; echo c; echo d"])
    world.wait_stopped(task, timeout=10)
    stopped_seen = time.monotonic()
    assert world.log_lines("rails", task) == ["a", "b"], "the tail is still in flight when STOPPED"
    assert world.wait_log_lines("rails", task, 4, timeout=10) == ["a", "b", "c", "d"]
    assert time.monotonic() - stopped_seen >= 1.0, "the tail came with the lag, not before"


def test_ecs_migrate_rides_out_throttling_and_5xx(world, needs_ecs_migrate):
    world.faults({
        "throttle": {"DescribeTasks": 0.5, "GetLogEvents": 0.5},
        "error_burst": {"DescribeTasks": {"count": 2, "status": 500},
                        "GetParameters": {"count": 1, "status": 503}},
    })
    o = world.run_on("ass-staging", "image", "--output", "json")
    assert o.returncode == 0, o.stderr
    r = json.loads(o.stdout)
    assert len(r["migrated_versions"]) == 3
    assert r["log_lines"] == 14, "every non-empty line of the migration output"


# --- beyond the Rust tests -----------------------------------------------------------------


def test_stats_count_the_faults_an_error_burst_gave(world):
    """faults_served and fault_times count what the burst (and the throttle) gave, no more, and
    the knob shows how many it served."""
    ecs = world.client("ecs", retries=False)
    world.faults({"error_burst": {"ListClusters": {"count": 3, "status": 503}},
                  "throttle": {"DescribeClusters": 0.5}})
    before = world.stats()
    assert before["faults_served"] == {} and before["fault_times"] == {}, before
    start = time.time()
    failed = 0
    for _ in range(5):
        try:
            ecs.list_clusters()
        except ClientError as exc:
            assert _status(exc) == 503
            failed += 1
    throttled = 0
    for _ in range(4):
        try:
            ecs.describe_clusters(clusters=[world.cluster])
        except ClientError as exc:
            assert _code(exc) == "ThrottlingException"
            throttled += 1
    end = time.time()
    assert (failed, throttled) == (3, 2)
    stats = world.stats()
    assert stats["faults_served"] == {"ListClusters": 3, "DescribeClusters": 2}, stats["faults_served"]
    assert sorted(stats["fault_times"]) == ["DescribeClusters", "ListClusters"]
    assert len(stats["fault_times"]["ListClusters"]) == 3
    assert len(stats["fault_times"]["DescribeClusters"]) == 2
    for times in stats["fault_times"].values():
        assert times == sorted(times) and all(start <= t <= end for t in times), times
    # the first three ListClusters calls are the ones that failed
    assert max(stats["fault_times"]["ListClusters"]) <= stats["call_times"]["ListClusters"][3]
    assert stats["calls"]["ListClusters"] == 5 and stats["calls"]["DescribeClusters"] == 4
    burst = world.knobs()["error_burst"]["ListClusters"]
    assert (burst["count"], burst["served"]) == (0, 3), burst


def test_stats_count_run_task_created_then_fail(world):
    """run_task_created_then_fail creates the task, then answers 5xx: one RunTask fault served."""
    ecs = world.client("ecs", retries=False)
    world.faults({"run_task_created_then_fail": {"count": 1, "status": 503}})
    with pytest.raises(ClientError) as err:
        ecs.run_task(cluster=world.cluster, taskDefinition=world.td, launchType="FARGATE",
                     networkConfiguration={"awsvpcConfiguration": {
                         "subnets": [world["subnets"]["private-a"]]}},
                     overrides={"containerOverrides": [{"name": "rails", "command": ["true"]}]})
    assert _status(err.value) == 503
    stats = world.stats()
    assert stats["faults_served"] == {"RunTask": 1}, stats
    assert len(stats["fault_times"]["RunTask"]) == 1
    # the task was created all the same
    tasks = wait_until(lambda: world.ecs.list_tasks(cluster=world.cluster)["taskArns"]
                       or world.ecs.list_tasks(cluster=world.cluster, desiredStatus="STOPPED")["taskArns"],
                       10, "the task RunTask created before its 5xx")
    assert len(tasks) == 1, tasks


def test_forget_stopped_after_makes_ecs_answer_missing_and_keeps_the_log(world):
    """ECS forgets a stopped task after a while: DescribeTasks answers it in `failures` as
    MISSING (as for a task it never ran), ListTasks leaves it out; CloudWatch Logs keeps its
    stream. A task that has not stopped is never forgotten."""
    world.faults({"forget_stopped_after": 0.5})
    cluster = world.cluster
    task = world.run_task(["sh", "-c", "echo kept in the log; sleep 3"])
    arn, task_id = task["taskArn"], task["taskArn"].rsplit("/", 1)[-1]
    assert world.wait_log_lines("rails", arn, 1) == ["kept in the log"]  # its container runs
    time.sleep(1.0)  # twice the knob's time while it runs: still there
    assert world.describe(arn)["lastStatus"] == "PENDING"
    assert world.ecs.list_tasks(cluster=cluster)["taskArns"] == [arn]

    _, stopped = world.wait_stopped(task)
    assert world.ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"] == [arn]
    gone = wait_until(lambda: (d := world.ecs.describe_tasks(cluster=cluster, tasks=[arn]))["failures"]
                      and d, 10, "DescribeTasks answering MISSING")
    assert time.time() - stopped["stoppedAt"].timestamp() >= 0.5
    assert gone["tasks"] == [] and gone["failures"] == [{"arn": arn, "reason": "MISSING"}]
    by_id = world.ecs.describe_tasks(cluster=cluster, tasks=[task_id])
    assert by_id["failures"] == [{"arn": arn, "reason": "MISSING"}], "asked by id: its ARN"
    for status in ("RUNNING", "STOPPED"):
        assert world.ecs.list_tasks(cluster=cluster, desiredStatus=status)["taskArns"] == []
    assert world.wait_log_lines("rails", arn, 1) == ["kept in the log"]
    # forgotten for good: the knob unset, it does not come back
    world.clear_faults()
    assert world.ecs.describe_tasks(cluster=cluster, tasks=[arn])["failures"][0]["reason"] == "MISSING"


def test_describe_tasks_answers_missing_for_a_task_it_never_ran(world):
    task = world.run_task(["sh", "-c", "exit 0"])
    unknown = task["taskArn"].rsplit("/", 1)[0] + "/" + "0" * 32
    out = world.ecs.describe_tasks(cluster=world.cluster, tasks=[task["taskArn"], unknown])
    assert [t["taskArn"] for t in out["tasks"]] == [task["taskArn"]]
    assert out["failures"] == [{"arn": unknown, "reason": "MISSING"}]
    world.wait_stopped(task)
    assert world.describe(task["taskArn"])["lastStatus"] == "STOPPED", "without the knob: kept"


def test_refuse_log_writes_denies_the_prefix_streams_only(world):
    """The record's writes refused as IAM refuses them: CreateLogStream and PutLogEvents for
    streams under the prefix get AccessDeniedException (400); other streams, the agent's awslogs
    writes included, are untouched; the stats count what was refused."""
    logs = world.client("logs", retries=False)
    group = world["log_group"]
    world.faults({"refuse_log_writes": {"prefix": "ecs-migrate/"}})
    refused = "ecs-migrate/ass-task-def-staging-migrate/run-1"
    for call, kwargs in [
        (logs.create_log_stream, {}),
        (logs.put_log_events, {"logEvents": [{"timestamp": int(time.time() * 1000), "message": "x"}]}),
    ]:
        with pytest.raises(ClientError) as err:
            call(logGroupName=group, logStreamName=refused, **kwargs)
        assert _code(err.value) == "AccessDeniedException" and _status(err.value) == 400
        assert f"log-group:{group}:log-stream:{refused}" in err.value.response["Error"]["Message"]
    assert world.stats()["faults_served"] == {"CreateLogStream": 1, "PutLogEvents": 1}
    assert logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="ecs-migrate/")[
        "logStreams"] == []
    # a name that only contains the prefix is another stream
    logs.create_log_stream(logGroupName=group, logStreamName="records/ecs-migrate/1")
    logs.put_log_events(logGroupName=group, logStreamName="records/ecs-migrate/1",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "ok"}])
    _, stopped = world.wait_stopped(world.run_task(["sh", "-c", "echo the task still logs"]))
    assert world.wait_log_lines("rails", stopped, 1) == ["the task still logs"]
    assert world.stats()["faults_served"] == {"CreateLogStream": 1, "PutLogEvents": 1}
    world.clear_faults()
    logs.create_log_stream(logGroupName=group, logStreamName=refused)
