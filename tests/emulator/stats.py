"""What the emulator was asked, per region: API call counts and RunTask client tokens.

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
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/")


def region_of(environ: dict[str, Any]) -> str:
    """The region of a SigV4-signed request (its credential scope)."""
    m = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return m.group(1) if m else "us-east-1"


def count(region: str, api: str) -> None:
    with _LOCK:
        _CALLS[region][api] += 1
        if api == "StopTask":
            _STOPS[region].append(time.time())


def run_task_token(region: str, token: str | None) -> None:
    with _LOCK:
        _TOKENS[region].append(token)


def snapshot(region: str | None) -> dict[str, Any]:
    with _LOCK:
        regions = [region] if region else sorted(set(_CALLS) | set(_TOKENS))
        return {
            r: {
                "calls": dict(_CALLS.get(r, {})),
                "run_task_tokens": list(_TOKENS.get(r, [])),
                "stop_task_times": list(_STOPS.get(r, [])),
            }
            for r in regions
        }


def clear(region: str | None) -> None:
    with _LOCK:
        for table in (_CALLS, _TOKENS, _STOPS):
            if region:
                table.pop(region, None)
            else:
                table.clear()
