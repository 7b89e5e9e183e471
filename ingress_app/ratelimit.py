"""Per-tenant rate limits from `policies.yaml` (Flask-Limiter).

A tenant's `rate_limit` (or the file's `default_rate_limit`) applies to the requests
that start runs. Counters live in Redis when `REDIS_URL` is set (shared by every
worker and replica), in memory otherwise; if Redis fails, Flask-Limiter falls back to
memory rather than refusing traffic. Over the limit: 429 with `Retry-After` and the
JSON envelope.
"""

from __future__ import annotations

from flask import Flask, g
from flask_limiter import Limiter

from .policies.runtime import policy_engine


def _tenant_key() -> str:
    principal = g.get("principal")
    return f"tenant:{principal.tenant_id}" if principal else "anonymous"


def tenant_rate_limit() -> str:
    principal = g.get("principal")
    if principal is None:
        return "1000000/second"
    return policy_engine().chain(principal.tenant_id).rate_limit or "1000000/second"


def _no_limit() -> bool:
    principal = g.get("principal")
    return principal is None or policy_engine().chain(principal.tenant_id).rate_limit is None


limiter = Limiter(key_func=_tenant_key, default_limits=[], headers_enabled=True)

#: Decorate a view (after authentication) to count it against the tenant's limit.
tenant_limited = limiter.limit(
    tenant_rate_limit, key_func=_tenant_key, exempt_when=_no_limit, scope="tenant-runs"
)


def init_rate_limits(app: Flask) -> None:
    cfg = app.config
    if not cfg.get("RATELIMIT_STORAGE_URI"):
        cfg["RATELIMIT_STORAGE_URI"] = cfg.get("REDIS_URL") or "memory://"
    cfg.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
                   if cfg["RATELIMIT_STORAGE_URI"].startswith("redis") else {})
    cfg.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    cfg.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    cfg.setdefault("RATELIMIT_KEY_PREFIX", cfg.get("CACHE_KEY_PREFIX", "ingress:") + "ratelimit")
    limiter.init_app(app)
