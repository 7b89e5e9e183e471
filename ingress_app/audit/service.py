"""Record audit events. Helpers add rows to the caller's unit of work; they never commit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from ..db_types import utcnow
from ..extensions import db
from .models import AuditEvent

ACCEPTED = "run.accepted"
DENIED = "run.denied"
CANCEL_REQUESTED = "run.cancel_requested"
STATUS_CHANGED = "run.status_changed"
TASK_POLICY_VIOLATION = "task.policy_violation"


def add_audit_event(
    *,
    tenant_id: str,
    actor: str,
    action: str,
    outcome: str,
    resource_type: str = "run",
    resource_id: str | None = None,
    correlation_id: str | None = None,
    detail: dict[str, Any] | None = None,
    session=None,
) -> AuditEvent:
    """Add an audit event to the current transaction (the caller commits)."""
    event = AuditEvent(
        event_id=str(uuid.uuid4()),
        occurred_at=utcnow(),
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        correlation_id=correlation_id,
        outcome=outcome,
        detail=detail,
    )
    (session or db.session).add(event)
    return event


def record_audit_event(**fields: Any) -> None:
    """Write one audit event in its own transaction (for outcomes that store nothing else)."""
    add_audit_event(**fields)
    db.session.commit()


_PRUNE_CHUNK = 5000


def prune_audit_events(before: datetime) -> int:
    """Delete events that occurred before `before` (AUDIT_RETENTION_DAYS); returns how many.

    In chunks of a few thousand, each its own transaction, so a first prune of a large
    table never holds long locks or one huge transaction.
    """
    table = AuditEvent.__table__
    oldest = (
        select(table.c.id)
        .where(table.c.occurred_at < before)
        .order_by(table.c.occurred_at)
        .limit(_PRUNE_CHUNK)
    )
    total = 0
    while True:
        deleted = db.session.execute(delete(table).where(table.c.id.in_(oldest))).rowcount or 0
        db.session.commit()
        total += deleted
        if deleted < _PRUNE_CHUNK:
            return total
