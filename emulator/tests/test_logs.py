"""CloudWatch Logs as AWS answers the writes and reads a run's record makes: what cwlogs.py adds
to moto (log stream names, PutLogEvents' batch rules, rejectedLogEventsInfo's indices) and what
moto already does as AWS documents (GetLogEvents' paging both ways, DescribeLogStreams with a
prefix)."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

GROUP = "/ecs/ass-staging"
HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS


def _now_ms() -> int:
    return int(time.time() * 1000)


def _refused(call, *args, **kwargs) -> str:
    """The message of the InvalidParameterException (HTTP 400) the call gets."""
    with pytest.raises(ClientError) as err:
        call(*args, **kwargs)
    error = err.value.response["Error"]
    assert error["Code"] == "InvalidParameterException", error
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Message"]


def _stream(logs, name: str) -> str:
    logs.create_log_stream(logGroupName=GROUP, logStreamName=name)
    return name


def _messages(logs, stream: str) -> list[str]:
    out = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)
    return [e["message"] for e in out["events"]]


def _put(logs, stream: str, events: list[tuple[int, str]]) -> dict:
    return logs.put_log_events(logGroupName=GROUP, logStreamName=stream,
                               logEvents=[{"timestamp": t, "message": m} for t, m in events])


def test_create_log_stream_refuses_the_names_aws_refuses(world):
    logs = world.client("logs", retries=False)
    for bad in ["ecs-migrate/run:1", "ecs-migrate/*", "r" * 513]:
        message = _refused(logs.create_log_stream, logGroupName=GROUP, logStreamName=bad)
        assert "logStreamName" in message, message
        assert "logStreamName" in _refused(_put, logs, bad, [(_now_ms(), "x")])
    _stream(logs, "r" * 512)
    _stream(logs, "ecs-migrate/ass-task-def-staging-migrate/2024-05-01T12.00.00Z")
    names = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=GROUP)["logStreams"]]
    assert names == ["ecs-migrate/ass-task-def-staging-migrate/2024-05-01T12.00.00Z", "r" * 512]


def test_put_log_events_refuses_batches_out_of_order_or_spanning_more_than_a_day(world):
    logs = world.client("logs", retries=False)
    stream = _stream(logs, "ecs-migrate/order")
    now = _now_ms()
    assert "chronological order" in _refused(_put, logs, stream, [(now, "b"), (now - 1, "a")])
    assert "cannot span more than 24 hours" in _refused(
        _put, logs, stream, [(now - DAY_MS - 1000, "a"), (now, "b")])
    assert _messages(logs, stream) == [], "a refused batch stores nothing"
    _put(logs, stream, [(now - DAY_MS + 1000, "a"), (now, "b"), (now, "c")])  # equal stamps: in order
    assert _messages(logs, stream) == ["a", "b", "c"]


def test_put_log_events_refuses_more_than_10000_events(world):
    logs = world.client("logs", retries=False)
    stream = _stream(logs, "ecs-migrate/count")
    now = _now_ms()
    assert "10000" in _refused(_put, logs, stream, [(now, "x")] * 10_001)
    _put(logs, stream, [(now, "x")] * 10_000)
    assert len(logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True,
                                   limit=10_000)["events"]) == 10_000


def test_put_log_events_refuses_more_than_a_mebibyte_counted_in_utf8_bytes_plus_26(world):
    logs = world.client("logs", retries=False)
    stream = _stream(logs, "ecs-migrate/size")
    now = _now_ms()
    # 2 events of 262,131 two-byte characters: 2 * (524,262 + 26) = 1,048,576 bytes, the limit
    exactly = [(now, "é" * 262_131), (now, "é" * 262_131)]
    over = [(now, "é" * 262_131), (now, "é" * 262_131 + "a")]
    message = _refused(_put, logs, stream, over)
    assert message == "Upload too large: 1048577 bytes exceeds limit of 1048576", message
    _put(logs, stream, exactly)
    assert len(_messages(logs, stream)) == 2


def test_events_too_old_or_too_new_are_reported_not_stored(world):
    """AWS: tooOldLogEventEndIndex is exclusive (one past the last too old event),
    tooNewLogEventStartIndex the first too new one; the span rule counts the valid events only."""
    logs = world.client("logs", retries=False)
    stream = _stream(logs, "ecs-migrate/window")
    now = _now_ms()
    out = _put(logs, stream, [(now - 15 * DAY_MS, "old-1"), (now - 14 * DAY_MS - HOUR_MS, "old-2"),
                              (now, "kept"), (now + 3 * HOUR_MS, "new-1"), (now + 4 * HOUR_MS, "new-2")])
    assert out["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 3}
    assert _messages(logs, stream) == ["kept"]
    assert "rejectedLogEventsInfo" not in _put(logs, stream, [(now, "fine")])


def test_get_log_events_pages_both_ways_as_aws_documents(world):
    """moto as AWS: startFromHead true gives the oldest first, false (the default) the latest;
    nextForwardToken / nextBackwardToken page on, and at the end of the stream the token passed
    in comes back; a forward token at the end picks up events written later."""
    logs = world.client("logs", retries=False)
    stream = _stream(logs, "ecs-migrate/paging")
    now = _now_ms()
    _put(logs, stream, [(now + i, f"e{i}") for i in range(5)])

    def page(**kwargs) -> tuple[list[str], dict]:
        out = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=2, **kwargs)
        return [e["message"] for e in out["events"]], out

    seen, out = page(startFromHead=True)
    assert seen == ["e0", "e1"]
    forward = []
    for want in (["e2", "e3"], ["e4"], []):
        token = out["nextForwardToken"]
        seen, out = page(startFromHead=True, nextToken=token)
        assert seen == want
        forward.append(token)
    assert out["nextForwardToken"] == forward[-1], "the end of the stream: the same token"

    seen, back = page()
    assert seen == ["e3", "e4"], "the latest first, in chronological order within the page"
    for want in (["e1", "e2"], ["e0"], []):
        token = back["nextBackwardToken"]
        seen, back = page(nextToken=token)
        assert seen == want
    assert back["nextBackwardToken"] == token, "the head of the stream: the same token"

    _put(logs, stream, [(now + 10, "e5")])
    seen, out = page(startFromHead=True, nextToken=out["nextForwardToken"])
    assert seen == ["e5"], "a reader at the end gets what was written since"


def test_describe_log_streams_by_prefix_as_aws_documents(world):
    logs = world.client("logs", retries=False)
    for name in ["ecs-migrate/b/1", "ecs-migrate/a/2", "ecs-migrate/a/1", "ecs-migrate-other/a/1"]:
        _stream(logs, name)

    def names(**kwargs) -> tuple[list[str], str | None]:
        out = logs.describe_log_streams(logGroupName=GROUP, **kwargs)
        return [s["logStreamName"] for s in out["logStreams"]], out.get("nextToken")

    assert names(logStreamNamePrefix="ecs-migrate/a/")[0] == ["ecs-migrate/a/1", "ecs-migrate/a/2"]
    assert names(logStreamNamePrefix="ecs-migrate/")[0] == [
        "ecs-migrate/a/1", "ecs-migrate/a/2", "ecs-migrate/b/1"]
    assert names(logStreamNamePrefix="ecs-migrate/", descending=True)[0] == [
        "ecs-migrate/b/1", "ecs-migrate/a/2", "ecs-migrate/a/1"]
    first, token = names(logStreamNamePrefix="ecs-migrate/a/", limit=1)
    assert first == ["ecs-migrate/a/1"] and token
    second, token = names(logStreamNamePrefix="ecs-migrate/a/", limit=1, nextToken=token)
    assert second == ["ecs-migrate/a/2"] and token is None
    assert names(logStreamNamePrefix="nothing/")[0] == []
    assert "LastEventTime" in _refused(logs.describe_log_streams, logGroupName=GROUP,
                                       logStreamNamePrefix="ecs-migrate/", orderBy="LastEventTime")
