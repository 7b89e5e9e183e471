"""The transactional outbox: messages committed with their run, published later.

A row is pending until published (`published_at`), or dead-lettered (`failed_at`) when
Kafka refused it for good; a passing failure sets `next_attempt_at` for its retry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db_types import JsonType, UtcDateTime, utcnow
from ..extensions import db

PENDING = "published_at IS NULL AND failed_at IS NULL"

# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        # What the relay claims: neither published nor dead-lettered.
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text(PENDING),
            sqlite_where=text(PENDING),
        ),
        # Dead-lettered rows (`outbox failed`, the health check): few, if any.
        Index(
            "ix_outbox_failed",
            "id",
            postgresql_where=text("failed_at IS NOT NULL"),
            sqlite_where=text("failed_at IS NOT NULL"),
        ),
        # Only published rows (what `outbox prune` looks at): an accept inserts no entry.
        Index(
            "ix_outbox_published_at",
            "published_at",
            postgresql_where=text("published_at IS NOT NULL"),
            sqlite_where=text("published_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    topic: Mapped[str] = mapped_column(String(255), nullable=False)
    key: Mapped[str | None] = mapped_column(String(255))
    headers: Mapped[Any | None] = mapped_column(JsonType)
    payload: Mapped[str] = mapped_column(Text, nullable=False)  # the JSON text, as published
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # when Kafka refused the message for good (dead-lettered); `outbox retry` clears it
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # earliest time of the next attempt after a passing failure (NULL: at once)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
