"""Webhook configurations (the seed's `webhook_configs`) and their deliveries.

`webhook_configs` keeps the seed's columns. Settings the code filters on or treats
specially are columns of their own (source, auth type, sealed secrets, pinned flow
version, soft delete); the JSON-shaped settings live in the seed's `webhook_config`
column as `{"auth": {...options}, "input_mapping": {...} | null,
"flow_definition": {...} | null}`.

`webhook_deliveries` records what each delivery became; `(webhook_id, delivery_id)`
is unique, so a sender's redelivery updates its row (attempts) instead of adding one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from ..db_types import JsonType, UtcDateTime, utcnow
from ..extensions import db
from ..outbox.models import BigId


class WebhookConfig(db.Model):
    __tablename__ = "webhook_configs"
    __table_args__ = (Index("ix_webhook_configs_tenant_created", "tenant_id", "created_at", "id"),)

    # the seed's columns
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    flow_id: Mapped[str] = mapped_column(String(255), nullable=False)
    tenant_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    webhook_config: Mapped[Any | None] = mapped_column(JsonType)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # ours
    source: Mapped[str] = mapped_column(String(64), default="generic", server_default="generic")
    flow_version: Mapped[str | None] = mapped_column(String(64))
    auth_type: Mapped[str] = mapped_column(
        String(32), default="standard-webhooks", server_default="standard-webhooks"
    )
    # sealed secrets ("fernet:<token>" or "plain:<secret>"; see webhooks.crypto)
    secret: Mapped[str | None] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    description: Mapped[str | None] = mapped_column(Text)
    #: JMESPath over `{payload, headers, query}`: a falsy result ignores the delivery
    filter: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def settings(self) -> dict[str, Any]:
        return self.webhook_config or {}


class DeliveryRecord(db.Model):
    """One delivery (or one delivery id, with its attempts) of a webhook."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "delivery_id", name="uq_webhook_deliveries_delivery"),
        Index("ix_webhook_deliveries_webhook_received", "webhook_id", "received_at", "id"),
        Index("ix_webhook_deliveries_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(255), nullable=False)
    tenant_id: Mapped[str] = mapped_column(String(255), nullable=False)
    # NULL when the sender gave none (each such delivery is its own row)
    delivery_id: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    last_received_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    run_id: Mapped[str | None] = mapped_column(String(255))
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[Any | None] = mapped_column(JsonType)
