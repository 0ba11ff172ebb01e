"""CloudWatch Logs says no where AWS does, for the writes a client makes.

moto 5.2.5 accepts any log stream name, any batch size and any time span in PutLogEvents, and its
`rejectedLogEventsInfo` indices are not AWS's. AWS (the API model's constraints and the
PutLogEvents documentation):

* CreateLogStream / PutLogEvents: a log stream name is 1 to 512 characters, without `:` or `*`;
* PutLogEvents: at most 10,000 events and 1,048,576 bytes (the UTF-8 bytes of every message plus
  26 per event), in chronological order, and the events within the accepted window (14 days
  back, 2 hours ahead) span at most 24 hours: else InvalidParameterException (400), nothing
  stored;
* events outside that window are accepted but not stored, reported in `rejectedLogEventsInfo`:
  `tooOldLogEventEndIndex` one past the last too old event (exclusive), `tooNewLogEventStartIndex`
  the first too new one (moto gives the last too old and the last too new).

The request checks apply to what clients send over HTTP; the agent's own awslogs writes call the
backend directly (they are always in order and split by the agent, as the awslogs driver does).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from moto.core.utils import unix_time_millis, utcnow
from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
from moto.logs.models import LogsBackend
from moto.logs.responses import LogsResponse

MAX_STREAM_NAME = 512
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
TOO_OLD = timedelta(days=14)
TOO_NEW = timedelta(hours=2)

_orig_create_log_stream = LogsResponse.create_log_stream
_orig_put_log_events = LogsResponse.put_log_events


def check_stream_name(name: str) -> None:
    """The LogStreamName shape: length 1-512, pattern `[^:*]*`."""
    if len(name) > MAX_STREAM_NAME:
        raise InvalidParameterException(
            constraint=f"Member must have length less than or equal to {MAX_STREAM_NAME}",
            parameter="logStreamName", value=name)
    if ":" in name or "*" in name:
        raise InvalidParameterException(
            constraint="Member must satisfy regular expression pattern: [^:*]*",
            parameter="logStreamName", value=name)


def _window() -> tuple[int, int]:
    """The timestamps (ms) PutLogEvents accepts now: 14 days back to 2 hours ahead."""
    now = utcnow()
    return int(unix_time_millis(now - TOO_OLD)), int(unix_time_millis(now + TOO_NEW))


def check_batch(events: list[dict[str, Any]]) -> None:
    """The batch rules whose breach fails the whole call."""
    if len(events) > MAX_BATCH_EVENTS:
        raise InvalidParameterException(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_BATCH_EVENTS}")
    size = sum(len(str(e.get("message", "")).encode("utf-8")) + EVENT_OVERHEAD_BYTES for e in events)
    if size > MAX_BATCH_BYTES:
        raise InvalidParameterException(f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}")
    stamps = [int(e["timestamp"]) for e in events]
    if any(later < earlier for earlier, later in zip(stamps, stamps[1:])):
        raise InvalidParameterException(
            "Log events in a single PutLogEvents request must be in chronological order.")
    oldest, newest = _window()
    valid = [t for t in stamps if oldest <= t <= newest]
    if valid and valid[-1] - valid[0] > MAX_BATCH_SPAN_MS:
        raise InvalidParameterException(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")


def create_log_stream(self: LogsResponse) -> str:
    check_stream_name(str(self._get_param("logStreamName") or ""))
    return _orig_create_log_stream(self)


def put_log_events(self: LogsResponse) -> str:
    check_stream_name(str(self._get_param("logStreamName") or ""))
    check_batch(self._get_param("logEvents") or [])
    return _orig_put_log_events(self)


def backend_put_log_events(self: LogsBackend, log_group_name: str, log_stream_name: str,
                           log_events: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """moto's, with AWS's rejectedLogEventsInfo indices (the order is checked by check_batch)."""
    if log_group_name not in self.groups:
        raise ResourceNotFoundException()
    oldest, newest = _window()
    rejected: dict[str, int] = {}
    accepted = []
    for index, event in enumerate(log_events):
        if event["timestamp"] < oldest:
            rejected["tooOldLogEventEndIndex"] = index + 1  # exclusive
        elif event["timestamp"] > newest:
            rejected.setdefault("tooNewLogEventStartIndex", index)  # inclusive
        else:
            accepted.append(event)
    token = self.groups[log_group_name].put_log_events(log_stream_name, accepted)
    return token, rejected


def install() -> None:
    LogsResponse.create_log_stream = create_log_stream
    LogsResponse.put_log_events = put_log_events
    LogsBackend.put_log_events = backend_put_log_events
