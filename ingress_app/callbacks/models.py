"""Callback tables: the tenant's signing secret, subscriptions, deliveries, attempts.

A delivery is one event for one target (a run's `callback_url` or a subscription);
it is `pending` until `delivered`, `failed` (gave up: the dead-letter list) or `gone`
(the receiver answered 410). Every try is an attempt row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db_types import JsonType, UtcDateTime, utcnow
from ..extensions import db
from ..outbox.models import BigId

PENDING, DELIVERED, FAILED, GONE = "pending", "delivered", "failed", "gone"


def receiver_of(url: str) -> str:
    """`host:port` of a callback URL (lower case, default port filled in)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return url[:300]
    return f"{(parts.hostname or '').lower()}:{port}"[:300]
_IS_PENDING = "state = 'pending'"
_IS_FAILED = "state = 'failed'"


class CallbackSecret(db.Model):
    """A tenant's secret for signing per-run callbacks (sealed, as webhook secrets)."""

    __tablename__ = "callback_secrets"

    tenant_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Subscription(db.Model):
    """A REST-hook subscription: events of the tenant's runs, POSTed to `target_url`."""

    __tablename__ = "callback_subscriptions"
    __table_args__ = (Index("ix_callback_subscriptions_tenant", "tenant_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    tenant_id: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    target_url: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[Any] = mapped_column(JsonType, nullable=False)
    flow_id: Mapped[str | None] = mapped_column(String(255))
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)


class CallbackDelivery(db.Model):
    """One event for one target, with its signed body fixed when it was written."""

    __tablename__ = "callback_deliveries"
    __table_args__ = (
        Index(
            "ix_callback_deliveries_due",
            "next_attempt_at",
            postgresql_where=text(_IS_PENDING),
            sqlite_where=text(_IS_PENDING),
        ),
        Index(
            "ix_callback_deliveries_failed",
            "id",
            postgresql_where=text(_IS_FAILED),
            sqlite_where=text(_IS_FAILED),
        ),
        Index("ix_callback_deliveries_run", "run_id", "id"),
        Index("ix_callback_deliveries_finished", "finished_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # the `webhook-id` header: the same on every retry, so receivers can dedupe
    message_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    tenant_id: Mapped[str] = mapped_column(String(255), nullable=False)
    run_id: Mapped[str] = mapped_column(String(255), nullable=False)
    subscription_id: Mapped[str | None] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    # the receiver, `host:port` (lower case): what the per-receiver concurrency limit counts
    target_host: Mapped[str] = mapped_column(String(300), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)  # the JSON body, as sent
    state: Mapped[str] = mapped_column(String(16), default=PENDING, server_default=PENDING)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    # retries stop here (CALLBACK_RETRY_HOURS after creation, or after `callbacks retry`)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)


class CallbackAttempt(db.Model):
    """One try of a delivery: when, what the receiver answered, when the next one is."""

    __tablename__ = "callback_attempts"
    __table_args__ = (Index("ix_callback_attempts_delivery", "delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(BigId, nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
