"""Cached run reads answered in front of Flask: the status-polling hot path.

Clients poll `GET /v1/runs/{run_id}` far more often than they do anything else, and a
cached read does almost no work of its own: check the token, fetch the JSON bytes the
cache already holds under the caller's tenant (`run_cache_key`, unambiguous), send them. Flask's request machinery
(context, routing, hooks, view wrappers) would cost more than that work, so this WSGI
layer answers such a request itself, and only when every condition of a plain hit holds:

- `GET`, no query string, a path `/v1/runs/<run id>` (the form `ids.new_id` makes);
- a Bearer token this process has already verified in full (signature, pinned
  algorithm, issuer, audience, claims) and whose `exp`/`nbf` still hold: the same
  cache `auth.authenticate` uses, so a token is never trusted here that Flask would not;
  and the token carries the `runs:read` scope (without it Flask answers 403);
- no `Origin` header when CORS is configured (Flask-Cors decides those);
- the cache breaker closed and the tenant-scoped key present (read on a Redis
  connection of the serving thread's own: `ThreadRedisGets`).

Anything else (a new token, a miss, another tenant's run, a cache error, a bad path)
goes to Flask unchanged, which answers exactly as before (and reports cache failures).
`EdgeMiddleware` wraps this layer, so correlation id, security headers and metrics are
the same on both paths; `tests/integration/test_fast_read.py` checks the two paths give
the same status, headers and body. `RUN_READ_FAST_PATH=false` turns it off.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

import redis
from flask import Flask
from flask_caching.backends.rediscache import RedisCache

from ..auth import RUNS_READ
from ..cache import breaker_for
from ..edge import ROUTE_KEY
from ..extensions import cache
from ..ids import ID_PATTERN
from ..security import cors_origins
from .service import CACHE_HIT, run_cache_key

_RUN_PATH = re.compile(rf"/v1/runs/({ID_PATTERN})")
ROUTE = "/v1/runs/<string:run_id>"


class ThreadRedisGets:
    """`GET` through a Redis connection of the serving thread's own.

    The cache's client checks a connection out of its pool and back for every command,
    under a lock: about a third of the CPU of a cached read's round trip. Here each
    thread keeps one redis-py `Connection`, made with the pool's own settings (address,
    AUTH, TLS, database, timeouts), and values are decoded by the cache's serializer, so
    the answer is what `cache.get` would give. A connection that fails is dropped (and
    made again on the thread's next read); the error goes to the caller.
    """

    def __init__(self, backend: RedisCache):
        self.backend = backend
        self.pool = backend._read_client.connection_pool
        self._local = threading.local()

    def get(self, key: str) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.pool.connection_class(**self.pool.connection_kwargs)
        try:
            conn.send_command("GET", self.backend._get_prefix() + key)
            raw = conn.read_response()
        except BaseException:
            conn.disconnect()
            self._local.conn = None
            raise
        return self.backend.serializer.loads(raw)


def _reader(backend: Any) -> Any:
    """What fetches cached values: a per-thread connection for Redis, else the cache."""
    if isinstance(backend, RedisCache) and type(backend._read_client) is redis.Redis:
        return ThreadRedisGets(backend)
    return backend


class CachedRunReads:
    def __init__(self, app: Flask, wsgi_app: Callable):
        self.wsgi_app = wsgi_app
        self.verified = app.extensions["ingress"].verified_tokens
        self.backend = _reader(app.extensions["cache"][cache])
        self.breaker = breaker_for(app)
        self.cors = bool(cors_origins(app.config))

    def _cached_body(self, environ: dict[str, Any], run_id: str) -> bytes | None:
        if self.cors and "HTTP_ORIGIN" in environ:
            return None
        principal = self.verified.for_environ(environ)
        if principal is None or RUNS_READ not in principal.scopes or not self.breaker.allow():
            return None
        try:
            body = self.backend.get(run_cache_key(principal.tenant_id, run_id))
        except Exception:  # Flask's path retries, trips the breaker and logs it
            return None
        return body if isinstance(body, bytes) else None

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING"):
            match = _RUN_PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None:
                body = self._cached_body(environ, match.group(1))
                if body is not None:
                    CACHE_HIT.inc()
                    environ[ROUTE_KEY] = ROUTE
                    start_response(
                        "200 OK",
                        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
                    )
                    return [body]
        return self.wsgi_app(environ, start_response)


def init_fast_read(app: Flask) -> None:
    """Install in front of Flask (call before `edge.init_edge`, which wraps it)."""
    if app.config.get("RUN_READ_FAST_PATH", True):
        app.wsgi_app = CachedRunReads(app, app.wsgi_app)  # type: ignore[method-assign]
