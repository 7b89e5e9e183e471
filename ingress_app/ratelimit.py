"""Per-tenant rate limits from `policies.yaml` (Flask-Limiter).

A tenant's `rate_limit` (or the file's `default_rate_limit`) applies to the requests
that start runs. Counters live in Redis when `REDIS_URL` is set (shared by every
worker and replica), in memory otherwise; if Redis fails, Flask-Limiter falls back to
memory rather than refusing traffic. Over the limit: 429 with `Retry-After` and the
JSON envelope.

Each app gets its own `Limiter`: Flask-Limiter keeps its storage and key prefix on
the extension object, so one module-level limiter would make every app (tests build
many) count in the first app's key space and the last app's storage.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, current_app, g
from flask_limiter import Limiter

from . import keys
from .policies.runtime import policy_engine

NO_LIMIT = "1000000/second"


def _tenant_key() -> str:
    principal = g.get("principal")
    # encoded: Flask-Limiter joins key parts with "/", which a tenant id may contain
    return keys.compose("tenant", principal.tenant_id) if principal else "anonymous"


def tenant_rate_limit() -> str:
    principal = g.get("principal")
    if principal is None:
        return NO_LIMIT
    return policy_engine().chain(principal.tenant_id).rate_limit or NO_LIMIT


def _no_limit() -> bool:
    principal = g.get("principal")
    return principal is None or policy_engine().chain(principal.tenant_id).rate_limit is None


class TenantRateLimits:
    """One app's limiter and the tenant limit that views enter."""

    def __init__(self, app: Flask):
        # auto_check=False: no app-wide before_request pass on every request; the limit
        # is checked explicitly (as a context manager) by `tenant_limited`, after
        # authentication has set the principal.
        self.limiter = Limiter(
            key_func=_tenant_key, default_limits=[], headers_enabled=True, auto_check=False
        )
        self._init_app_lazily(app)
        self.tenant_limit = self.limiter.limit(
            tenant_rate_limit, key_func=_tenant_key, exempt_when=_no_limit, scope="tenant-runs"
        )

    def _init_app_lazily(self, app: Flask) -> None:
        """`init_app`, with the limiter's per-request hooks run only on requests that
        entered a limit: its after-request (rate-limit headers) and teardown (context
        reset) would otherwise cost every request, and most tenants have no limit."""
        after_funcs = app.after_request_funcs.setdefault(None, [])
        teardown_funcs = app.teardown_request_funcs.setdefault(None, [])
        n_after, n_teardown = len(after_funcs), len(teardown_funcs)
        self.limiter.init_app(app)
        limiter_after, limiter_teardown = after_funcs[n_after:], teardown_funcs[n_teardown:]
        del after_funcs[n_after:], teardown_funcs[n_teardown:]

        def rate_limit_headers(response: Any) -> Any:
            if g.get(_ENTERED):
                for func in limiter_after:
                    response = func(response)
            return response

        def rate_limit_teardown(exc: BaseException | None = None) -> None:
            if g.get(_ENTERED):
                for func in limiter_teardown:
                    func(exc)

        app.after_request(rate_limit_headers)
        app.teardown_request(rate_limit_teardown)


_ENTERED = "_ingress_rate_limit_entered"


def tenant_limited(view: Callable) -> Callable:
    """Decorate a view (after authentication) to count it against the tenant's limit."""

    @wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        if _no_limit():  # most tenants have no limit: skip Flask-Limiter entirely
            return view(*args, **kwargs)
        setattr(g, _ENTERED, True)
        with current_app.extensions["ingress"].rate_limits.tenant_limit:  # over the limit: 429
            return view(*args, **kwargs)

    return limited


def init_rate_limits(app: Flask) -> None:
    cfg = app.config
    if not cfg.get("RATELIMIT_STORAGE_URI"):
        cfg["RATELIMIT_STORAGE_URI"] = cfg.get("REDIS_URL") or "memory://"
    cfg.setdefault(
        "RATELIMIT_STORAGE_OPTIONS",
        {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
        if cfg["RATELIMIT_STORAGE_URI"].startswith("redis")
        else {},
    )
    cfg.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    cfg.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    cfg.setdefault("RATELIMIT_KEY_PREFIX", cfg.get("CACHE_KEY_PREFIX", "ingress:") + "ratelimit")
    app.extensions["ingress"].rate_limits = TenantRateLimits(app)
