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
from .policies.engine import PolicyEngine
from .policies.runtime import policy_engine

NO_LIMIT = "1000000/second"


def _tenant_key() -> str:
    principal = g.get("principal")
    # encoded: Flask-Limiter joins key parts with "/", which a tenant id may contain
    return keys.compose("tenant", principal.tenant_id) if principal else "anonymous"


def rate_limit_of(tenant_id: str, engine: PolicyEngine | None = None) -> str | None:
    """The tenant's rate limit (e.g. "10/minute"), or None when it has none: the one
    place that answers "is this tenant limited" (Flask's views and the front door)."""
    return (engine or policy_engine()).chain(tenant_id).rate_limit


def tenant_rate_limit() -> str:
    principal = g.get("principal")
    if principal is None:
        return NO_LIMIT
    return rate_limit_of(principal.tenant_id) or NO_LIMIT


def _no_limit() -> bool:
    principal = g.get("principal")
    return principal is None or rate_limit_of(principal.tenant_id) is None


class TenantRateLimits:
    """One app's limiter and the tenant limit that views enter."""

    def __init__(self, app: Flask):
        # auto_check=False: no app-wide before_request pass on every request; the limit
        # is checked explicitly (as a context manager) by `tenant_limited`, after
        # authentication has set the principal.
        self.limiter = Limiter(
            key_func=_tenant_key, default_limits=[], headers_enabled=True, auto_check=False
        )
        self.limiter.init_app(app)
        self.tenant_limit = self.limiter.limit(
            tenant_rate_limit, key_func=_tenant_key, exempt_when=_no_limit, scope="tenant-runs"
        )


def tenant_limited(view: Callable) -> Callable:
    """Decorate a view (after authentication) to count it against the tenant's limit."""

    @wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        if _no_limit():  # most tenants have no limit: skip Flask-Limiter entirely
            return view(*args, **kwargs)
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
