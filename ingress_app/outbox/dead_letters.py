"""Dead-lettered outbox messages: list them, and requeue them after an operator's fix.

The relay dead-letters a message Kafka refuses for good (see `relay.PERMANENT_ERRORS`);
it stays in `outbox_messages` with `failed_at` and `last_error` until it is requeued
(`flask --app wsgi outbox retry ID|--all`) or deleted by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from flask import Flask

from ..extensions import db
from .messages import signal
from .models import OutboxMessage

_table = OutboxMessage.__table__


def failed_messages(app: Flask, limit: int = 100) -> list[dict[str, Any]]:
    """The oldest `limit` dead-lettered messages: id, tenant, run id, type, attempts,
    last error and when they failed (no payload)."""
    columns = (
        _table.c.id,
        _table.c.key,
        _table.c.headers,
        _table.c.attempts,
        _table.c.last_error,
        _table.c.failed_at,
    )
    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(
            db.select(*columns)
            .where(_table.c.failed_at.is_not(None))
            .order_by(_table.c.id)
            .limit(limit)
        ).all()
    listed = []
    for row in rows:
        headers = json.loads(row.headers) if isinstance(row.headers, str) else row.headers
        headers = headers or {}
        listed.append(
            {
                "id": row.id,
                "tenant_id": headers.get("tenant_id"),
                "run_id": row.key,
                "type": headers.get("type"),
                "attempts": row.attempts,
                "last_error": row.last_error,
                "failed_at": row.failed_at,
            }
        )
    return listed


def requeue(app: Flask, ids: Iterable[int] | None = None) -> list[int]:
    """Make dead-lettered messages pending again (all of them when `ids` is None);
    returns the ids requeued. `last_error` and `attempts` stay as a record."""
    stmt = (
        _table.update()
        .where(_table.c.failed_at.is_not(None))
        .values(failed_at=None, next_attempt_at=None)
        .returning(_table.c.id)
    )
    if ids is not None:
        stmt = stmt.where(_table.c.id.in_(list(ids)))
    with app.app_context(), db.engine.begin() as conn:
        requeued = sorted(conn.execute(stmt).scalars())
    if requeued:
        signal.notify()  # a relay in this process starts at once; others poll
    return requeued
