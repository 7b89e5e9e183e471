"""Cache access that never fails a request.

Redis is an accelerator, not a dependency: when a call fails, the error is logged once,
the cache is bypassed for `CACHE_RETRY_AFTER_SECONDS`, and callers fall back to the
database. The breaker belongs to the application (not the process), so one app's
outage never silences another's cache or its warning.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import current_app

from .extensions import cache

log = logging.getLogger(__name__)


class _Breaker:
    def __init__(self) -> None:
        self.open_until = 0.0
        self.lock = threading.Lock()

    def allow(self) -> bool:
        return time.monotonic() >= self.open_until

    def trip(self, exc: Exception) -> None:
        with self.lock:
            already_open = self.open_until > time.monotonic()
            pause = current_app.config.get("CACHE_RETRY_AFTER_SECONDS", 5.0)
            self.open_until = time.monotonic() + pause
        if not already_open:
            log.warning(
                "cache unavailable, serving from the database",
                extra={"error": f"{type(exc).__name__}: {exc}"[:300]},
            )


def breaker_for(app) -> _Breaker:
    state = app.extensions["ingress"]
    if state.cache_breaker is None:
        state.cache_breaker = _Breaker()
    return state.cache_breaker


def _breaker() -> _Breaker:
    return breaker_for(current_app)


def cache_get(key: str) -> Any:
    breaker = _breaker()
    if not breaker.allow():
        return None
    try:
        return cache.get(key)
    except Exception as exc:  # any backend failure means "miss"
        breaker.trip(exc)
        return None


def cache_set(key: str, value: Any, timeout: int | None = None) -> None:
    breaker = _breaker()
    if not breaker.allow():
        return
    try:
        cache.set(key, value, timeout=timeout)
    except Exception as exc:
        breaker.trip(exc)


def cache_add(key: str, value: Any, timeout: int | None = None) -> None:
    """Set a key only if it is absent: a reader's fill never overwrites a writer's fresh value."""
    breaker = _breaker()
    if not breaker.allow():
        return
    try:
        cache.add(key, value, timeout=timeout)
    except Exception as exc:
        breaker.trip(exc)


def cache_delete(key: str) -> None:
    """Delete a key; on failure the entry simply expires with its TTL."""
    try:
        cache.delete(key)
    except Exception as exc:
        _breaker().trip(exc)


def cache_ping() -> tuple[bool, str | None]:
    """Round-trip a value through the cache (for /health)."""
    try:
        cache.set("health:ping", "1", timeout=10)
        ok = cache.get("health:ping") == "1"
        return ok, None if ok else "value did not round-trip"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:300]

