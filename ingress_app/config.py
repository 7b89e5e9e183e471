"""Every setting the service reads, with its default.

Configuration enters the service here and nowhere else: `load_config()` reads the
environment once, `create_app(config)` lays overrides on top (tests pass theirs).
The seed's variable names keep their meaning; ours are added beside them.
"""

from __future__ import annotations

import os
from typing import Any

# (name, default, type) — the single list the README's configuration table mirrors.
SETTINGS: list[tuple[str, Any, type]] = [
    # mode: "development" (embedded defaults allowed) or "production" (strict)
    ("INGRESS_ENV", "development", str),
    # authentication (seed names)
    ("JWT_SECRET_KEY", "", str),
    ("JWT_ALGORITHM", "HS256", str),
    ("JWT_EXPIRE_MINUTES", 60, int),
    # ours: asymmetric keys, claim checks
    ("JWT_PUBLIC_KEY", "", str),
    ("JWT_PUBLIC_KEY_FILE", "", str),
    ("JWT_PRIVATE_KEY", "", str),
    ("JWT_PRIVATE_KEY_FILE", "", str),
    ("JWT_ISSUER", "", str),
    ("JWT_AUDIENCE", "", str),
    ("JWT_LEEWAY_SECONDS", 30, int),
    # longest lifetime (exp - now, exp - iat) a token may have, in seconds; 0 = no ceiling
    ("JWT_MAX_TOKEN_LIFETIME", 86_400, int),
    # scopes of a token with neither a `scope` nor an `scp` claim (space-separated; default all)
    ("JWT_DEFAULT_SCOPES",
     "runs:write runs:read flows:read flows:write webhooks:admin audit:read", str),
    # key rotation: tokens signed with the previous key stay valid until they expire
    ("JWT_PREVIOUS_SECRET_KEY", "", str),
    ("JWT_PREVIOUS_PUBLIC_KEY", "", str),
    ("JWT_PREVIOUS_PUBLIC_KEY_FILE", "", str),
    # the identity provider's JSON Web Key Set (RS*/ES*/PS*): keys chosen by the token's `kid`
    ("JWT_JWKS_URL", "", str),
    ("JWT_JWKS_CACHE_SECONDS", 300, int),
    ("JWT_JWKS_REFRESH_COOLDOWN_SECONDS", 30, float),
    ("JWT_JWKS_TIMEOUT_SECONDS", 2, float),
    # database (seed name; postgresql:// is normalised to psycopg 3)
    ("DATABASE_URL", "", str),
    ("DB_POOL_SIZE", 10, int),
    ("DB_MAX_OVERFLOW", 10, int),
    ("DB_POOL_TIMEOUT_SECONDS", 5, int),
    ("DB_CONNECT_TIMEOUT_SECONDS", 2, int),
    ("DB_STATEMENT_TIMEOUT_MS", 10_000, int),
    # client-side limit on one database call, for a server that stops answering
    # (0: DB_STATEMENT_TIMEOUT_MS + 2000)
    ("DB_NETWORK_TIMEOUT_MS", 0, int),
    # cache (seed names)
    ("REDIS_URL", "", str),
    ("REDIS_CACHE_TTL", 300, int),
    # ours: the start of every Redis key (cache, rate limits), so deployments can share a server
    ("CACHE_KEY_PREFIX", "ingress:", str),
    # ours: plain GET /v1/runs/{id} and POST /v1/runs answered in front of Flask
    # (frontdoor.py; off by itself when the app has request hooks it does not know)
    ("RUN_FRONT_DOOR", True, bool),
    ("REDIS_SOCKET_TIMEOUT_SECONDS", 0.5, float),
    ("CACHE_RETRY_AFTER_SECONDS", 5.0, float),
    # flow registry: how long a worker reuses its own copy of a registry lookup
    ("REGISTRY_LOCAL_CACHE_SECONDS", 1.0, float),
    # broker (seed names + ours)
    ("KAFKA_BOOTSTRAP_SERVERS", "", str),
    ("KAFKA_TOPIC_FLOW_RUNS", "flow_runs", str),
    ("KAFKA_TOPIC_RUN_EVENTS", "flow_run_events", str),
    ("KAFKA_CONSUMER_GROUP", "ingress-run-events", str),
    ("KAFKA_SESSION_TIMEOUT_MS", 10_000, int),
    ("KAFKA_HEARTBEAT_INTERVAL_MS", 1_000, int),
    ("KAFKA_SECURITY_PROTOCOL", "", str),
    ("KAFKA_SASL_MECHANISM", "", str),
    ("KAFKA_SASL_USERNAME", "", str),
    ("KAFKA_SASL_PASSWORD", "", str),
    ("KAFKA_SSL_CA_LOCATION", "", str),
    # largest message (value, key and headers) a run may make; bigger runs are a 413
    ("KAFKA_MAX_MESSAGE_BYTES", 1_000_000, int),
    # outbox relay (runs in every gunicorn worker, or alone: `flask outbox relay`)
    ("OUTBOX_RELAY_ENABLED", True, bool),
    ("OUTBOX_BATCH_SIZE", 1000, int),
    ("OUTBOX_POLL_INTERVAL_SECONDS", 1.0, float),
    # least time between the starts of two batches of one relay (bigger batches under load)
    ("OUTBOX_BATCH_SPACING_MS", 25, int),
    ("OUTBOX_DELIVERY_TIMEOUT_SECONDS", 15.0, float),
    ("OUTBOX_RETENTION_HOURS", 24, int),
    ("OUTBOX_PRUNE_INTERVAL_SECONDS", 600, int),
    ("OUTBOX_BACKLOG_WARN_SECONDS", 60, int),
    # longest wait before retrying a message whose delivery failed for a passing reason
    ("OUTBOX_RETRY_MAX_SECONDS", 60.0, float),
    # HTTP server (seed names)
    ("API_HOST", "0.0.0.0", str),
    ("API_PORT", 8000, int),
    ("API_WORKERS", 1, int),
    ("API_THREADS", 4, int),
    # waiting requests (GET /v1/runs/{id}?wait=S and /events) per worker process: each
    # holds a thread of a pool of their own (gunicorn worker), never one of API_THREADS;
    # over the cap they are refused with 503 and Retry-After
    ("WAIT_MAX_WAITERS", 200, int),
    ("WAIT_RETRY_AFTER_SECONDS", 5, int),
    # longest a long poll holds, whatever `wait` asks (a proxy with a shorter read timeout)
    ("WAIT_MAX_SECONDS", 60, int),
    # the status listener asks PostgreSQL for an answer after this long without news
    ("WAIT_LISTENER_PING_SECONDS", 15.0, float),
    # Server-Sent Events: comment line after this long without an event; longest stream
    ("SSE_HEARTBEAT_SECONDS", 15.0, float),
    ("SSE_MAX_STREAM_SECONDS", 900, int),
    # gunicorn recycles a worker after this many requests (0 = never)
    ("API_MAX_REQUESTS", 0, int),
    ("MAX_CONTENT_LENGTH", 1024 * 1024, int),
    # browser origins allowed to call /v1/ (comma-separated); empty = CORS closed
    ("CORS_ORIGINS", "", str),
    # logging (seed names)
    ("LOG_LEVEL", "INFO", str),
    ("LOG_FORMAT", "json", str),
    # policies
    ("POLICIES_FILE", "policies.yaml", str),
    ("POLICIES_RELOAD_INTERVAL_SECONDS", 2.0, float),
    # plugins (by plugin name, comma-separated) not to load, even when installed or listed
    ("INGRESS_DISABLED_PLUGINS", "", str),
    # log every plugin hook call with its arguments and results (pluggy's tracing)
    ("INGRESS_PLUGIN_TRACE", False, bool),
    ("RATELIMIT_STORAGE_URI", "", str),
    # webhooks: Fernet key(s) for secrets at rest, Standard Webhooks clock tolerance,
    # old secret's validity after a rotation, how long deliveries are kept for dedupe
    ("WEBHOOK_SECRET_KEY", "", str),
    ("WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS", 300, int),
    ("WEBHOOK_SECRET_GRACE_SECONDS", 86_400, int),
    ("WEBHOOK_DELIVERY_RETENTION_HOURS", 72, int),
    # audit events older than this are pruned by the relays (0 keeps them forever)
    ("AUDIT_RETENTION_DAYS", 90, int),
    # finished runs (and their status events) created longer ago than this are pruned by
    # the relays; runs still in flight are kept whatever their age (0 keeps every run)
    ("RUN_RETENTION_DAYS", 90, int),
    # callbacks and subscriptions: hosts (`host` or `host:port`, comma-separated) that may
    # be called though they resolve to private/loopback addresses; https only (unset: true
    # in production); per-attempt deadlines; sending threads per relay and per receiver
    ("CALLBACK_ALLOWED_HOSTS", "", str),
    ("CALLBACK_REQUIRE_HTTPS", None, bool),
    ("CALLBACK_CONNECT_TIMEOUT_SECONDS", 3.0, float),
    ("CALLBACK_TIMEOUT_SECONDS", 10.0, float),
    ("CALLBACK_DNS_TIMEOUT_SECONDS", 2.0, float),
    ("CALLBACK_RELAY_ENABLED", True, bool),
    ("CALLBACK_WORKERS", 8, int),
    ("CALLBACK_HOST_CONCURRENCY", 2, int),
    ("CALLBACK_POLL_INTERVAL_SECONDS", 1.0, float),
    # retries: exponential backoff with jitter from BASE up to MAX, for RETRY_HOURS, then
    # the delivery is dead-lettered (`flask callbacks failed`)
    ("CALLBACK_RETRY_BASE_SECONDS", 5.0, float),
    ("CALLBACK_RETRY_MAX_SECONDS", 3600.0, float),
    ("CALLBACK_RETRY_HOURS", 24.0, float),
    # finished deliveries and their attempts are pruned by the relays after this
    ("CALLBACK_RETENTION_HOURS", 72, int),
    # where clients reach the service (https://ingress.example.com): webhook intake URLs
    # are built on it; unset, development uses the request's Host header
    ("PUBLIC_BASE_URL", "", str),
]

_TRUE = {"1", "true", "yes", "on"}


def _convert(raw: str, kind: type) -> Any:
    if kind is bool:
        return raw.strip().lower() in _TRUE
    return kind(raw)


def load_config(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Read every setting from the environment, falling back to its default."""
    environ = os.environ if environ is None else environ
    config: dict[str, Any] = {}
    for name, default, kind in SETTINGS:
        raw = environ.get(name)
        if raw is None or raw == "":
            config[name] = default
        else:
            try:
                config[name] = _convert(raw, kind)
            except ValueError as exc:
                raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from exc
    return config


class ConfigError(RuntimeError):
    """The configuration cannot be served; the message says which setting and why."""


def normalise_database_url(url: str) -> str:
    """Make `postgresql://` and `postgres://` URLs use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_production(config: dict[str, Any]) -> bool:
    return str(config.get("INGRESS_ENV", "")).lower() == "production"
