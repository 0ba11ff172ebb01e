"""RunTask `clientToken` idempotency, as ECS documents it (moto ignores the token).

The same token (per region and cluster) with the same parameters within 24 h answers with the
original response, so a retried call launches nothing new; the same token with other parameters
is a `ConflictException`. Calls with one token are served one at a time (`serialized`), so two
sent at once launch one task, as on ECS, never two.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

WINDOW_SECONDS = 24 * 3600

_LOCK = threading.Lock()
# (region, cluster, token) -> (parameters, response body, when)
_SEEN: dict[tuple[str, str, str], tuple[str, bytes, float]] = {}
# (region, cluster, token) -> the lock its calls are served under
_SERVING: dict[tuple[str, str, str], threading.Lock] = {}


def _key(region: str, request: dict[str, Any]) -> tuple[str, str, str] | None:
    token = request.get("clientToken")
    if not token:
        return None
    cluster = str(request.get("cluster") or "default").rsplit("/", 1)[-1]
    return region, cluster, str(token)


def _parameters(request: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in request.items() if k != "clientToken"}, sort_keys=True)


@contextmanager
def serialized(region: str, request: dict[str, Any]) -> Iterator[None]:
    """Serves the calls that carry one token one at a time (lookup, launch, remember)."""
    key = _key(region, request)
    if key is None:
        yield
        return
    with _LOCK:
        lock = _SERVING.setdefault(key, threading.Lock())
    with lock:
        yield


def lookup(region: str, request: dict[str, Any]) -> tuple[str, bytes] | None:
    """("replay", original body) or ("conflict", message), or None for a new token."""
    key = _key(region, request)
    if key is None:
        return None
    with _LOCK:
        seen = _SEEN.get(key)
        if seen is None or time.time() - seen[2] > WINDOW_SECONDS:
            return None
        if seen[0] != _parameters(request):
            return "conflict", (
                f"The clientToken {key[2]} was already used with different parameters"
            ).encode()
        return "replay", seen[1]


def remember(region: str, request: dict[str, Any], body: bytes) -> None:
    key = _key(region, request)
    if key is not None:
        with _LOCK:
            _SEEN.setdefault(key, (_parameters(request), body, time.time()))


def forget(region: str) -> None:
    """A region's tokens are gone (its world is reset)."""
    with _LOCK:
        for key in [k for k in _SEEN if k[0] == region]:
            _SEEN.pop(key)
        for key in [k for k in _SERVING if k[0] == region]:
            _SERVING.pop(key)
