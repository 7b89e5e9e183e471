"""What Ingress keeps per application, in one typed object: `app.extensions["ingress"]`.

Each part of the service puts its long-lived objects here while `create_app` wires it;
request code reads them back with `ingress_state()`. A named field instead of a string
key per object means one place lists them all, and a typo is an AttributeError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from .auth import JwksKeys, VerifiedTokens
    from .cache import _Breaker
    from .callbacks.relay import CallbackRelay
    from .dbdeadlines import CallDeadlines
    from .outbox.relay import OutboxRelay
    from .policies.runtime import PolicyRuntime
    from .ratelimit import TenantRateLimits
    from .registry.service import LocalLookups
    from .runs.store import AutocommitConnections
    from .webhooks.crypto import SecretBox

KEY = "ingress"


@dataclass(eq=False)
class IngressState:
    """The application's long-lived objects; None until their part is set up."""

    #: the live policies (and their reloading)
    policies: PolicyRuntime | None = None
    #: tokens already verified, by token (saves re-verifying a signature)
    verified_tokens: VerifiedTokens | None = None
    #: the identity provider's keys (JWT_JWKS_URL), if configured
    jwks: JwksKeys | None = None
    #: scopes of tokens with neither `scope` nor `scp` (JWT_DEFAULT_SCOPES)
    default_scopes: frozenset[str] | None = None
    #: the key tokens signed before a rotation are checked with, if any
    previous_jwt_key: Any = None
    rate_limits: TenantRateLimits | None = None
    #: client-side deadlines on database calls (PostgreSQL only)
    db_deadlines: CallDeadlines | None = None
    webhook_secrets: SecretBox | None = None
    cache_breaker: _Breaker | None = None
    autocommit_connections: AutocommitConnections | None = None
    #: this worker's short-lived copies of flow registry lookups
    registry_lookups: LocalLookups | None = None
    metrics_registry: CollectorRegistry | None = None
    #: this process's outbox relay thread, while it runs
    outbox_relay: OutboxRelay | None = None
    #: this process's callbacks relay, while it runs
    callbacks_relay: CallbackRelay | None = None
    #: extra `/health` checks: each returns `{name: check}`
    health_checks: list[Callable[[], dict[str, Any]]] = field(default_factory=list)


def ingress_state(app: Flask | None = None) -> IngressState:
    """The state of `app` (default: the current application), made on first use."""
    extensions = (current_app if app is None else app).extensions
    state = extensions.get(KEY)
    if state is None:
        state = extensions.setdefault(KEY, IngressState())
    return state
