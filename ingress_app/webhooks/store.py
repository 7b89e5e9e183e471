"""Rows of `webhook_deliveries`: record, find a delivery's run, prune.

`record_delivery` is one `INSERT … ON CONFLICT (webhook_id, delivery_id) DO UPDATE`:
concurrent redeliveries of one delivery id never fail on the unique constraint; they
count an attempt. Once a delivery made a run, its run and correlation id stay (and
its outcome, unless the attempt that made the run lands after a replay); a delivery
that failed before may still succeed on a later attempt. The helpers
add to the caller's transaction; they never commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from .models import DeliveryRecord

_TABLE = DeliveryRecord.__table__


def record_delivery(row: dict[str, Any]) -> None:
    """Add the delivery, or count another attempt of a known delivery id."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(_TABLE).values(**row, last_received_at=row["received_at"], attempts=1)
    if row.get("delivery_id") is not None:
        made_run = _TABLE.c.run_id.isnot(None)

        def keep(column: str):
            return case((made_run, _TABLE.c[column]), else_=stmt.excluded[column])

        stmt = stmt.on_conflict_do_update(
            index_elements=["webhook_id", "delivery_id"],
            set_={
                "attempts": _TABLE.c.attempts + 1,
                "last_received_at": stmt.excluded.last_received_at,
                # concurrent attempts may land in any order: the one that made the run wins
                "outcome": case(
                    (stmt.excluded.outcome == "accepted", stmt.excluded.outcome),
                    (made_run, _TABLE.c.outcome),
                    else_=stmt.excluded.outcome,
                ),
                "status_code": keep("status_code"),
                "run_id": func.coalesce(_TABLE.c.run_id, stmt.excluded.run_id),
                "correlation_id": keep("correlation_id"),
                "detail": keep("detail"),
            },
        )
    db.session.execute(stmt)


def find_delivery_run(webhook_id: str, delivery_id: str) -> tuple[str, str] | None:
    """`(run_id, correlation_id)` of a delivery id that already made a run."""
    row = db.session.execute(
        select(_TABLE.c.run_id, _TABLE.c.correlation_id).where(
            _TABLE.c.webhook_id == webhook_id,
            _TABLE.c.delivery_id == delivery_id,
            _TABLE.c.run_id.isnot(None),
        )
    ).first()
    return None if row is None else (row.run_id, row.correlation_id)


def prune_deliveries(before: datetime) -> int:
    """Delete deliveries last seen before `before`; returns how many."""
    result = db.session.execute(delete(_TABLE).where(_TABLE.c.last_received_at < before))
    return result.rowcount or 0
