"""The flow registry's table: one row per registered version of a tenant's flow."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db_types import JsonType, UtcDateTime, utcnow
from ..extensions import db


class FlowVersion(db.Model):
    """An immutable version of a flow; only its deprecation can change."""

    __tablename__ = "flows"
    __table_args__ = (
        # Decides concurrent registrations of the same version: exactly one row wins.
        UniqueConstraint("tenant_id", "flow_id", "version", name="uq_flows_tenant_flow_version"),
        # "latest version of a flow" and a flow's version list, newest first
        Index("ix_flows_tenant_flow_id", "tenant_id", "flow_id", "id"),
        # the tenant's flows, newest first (keyset pagination)
        Index("ix_flows_tenant_created", "tenant_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(255), nullable=False)
    flow_id: Mapped[str] = mapped_column(String(255), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[Any] = mapped_column(JsonType, nullable=False)
    # `metadata` is taken by SQLAlchemy's declarative base; the column keeps the name.
    metadata_: Mapped[Any] = mapped_column("metadata", JsonType, nullable=False)
    definition: Mapped[Any] = mapped_column(JsonType, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    created_by: Mapped[str] = mapped_column(String(255), nullable=False)
    deprecated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    deprecated_by: Mapped[str | None] = mapped_column(String(255))
