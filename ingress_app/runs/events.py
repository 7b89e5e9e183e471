"""Apply the orchestrator's status events to runs.

Event: `{event_id, run_id, tenant_id, status, task_id?, output?, error?, occurred_at}`.
- Idempotent by `event_id`: every applied or ignored event is kept in `run_events`;
  a second delivery changes nothing.
- Without `task_id` the event is about the run: its status moves forward only
  (PENDING → RUNNING → CANCEL_REQUESTED → a terminal state); a terminal run never changes.
- With `task_id` it is about one task: the run's `tasks[task_id]` keeps the task's latest
  state `{status, updated_at, output?, error?}` (`updated_at` is the event's `occurred_at`);
  a finished task never moves back, and a report older than the stored state is ignored.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..audit import service as audit
from ..cache import cache_delete
from ..callbacks.service import enqueue_status_change
from ..contracts import PolicyContext
from ..db_types import utcnow
from ..extensions import db
from ..jsonutil import dumps_str
from ..policies.runtime import policy_engine
from . import inflight
from .models import (
    CANCEL_REQUESTED,
    PENDING,
    RUNNING,
    STATUSES,
    TERMINAL_STATUSES,
    FlowRun,
    RunEvent,
)
from .waiting import record_status_change

log = logging.getLogger(__name__)

APPLIED, IGNORED, DUPLICATE, UNKNOWN_RUN = "applied", "ignored", "duplicate", "unknown_run"
TASK_STATUSES = frozenset(STATUSES) | {"SKIPPED", "RETRYING"}
_TASK_TERMINAL = TERMINAL_STATUSES | {"SKIPPED"}
_RANK = {PENDING: 0, RUNNING: 1, CANCEL_REQUESTED: 2, **{s: 3 for s in TERMINAL_STATUSES}}


class InvalidEvent(ValueError):
    """The event cannot be applied (malformed, or inconsistent with the run)."""


def _text(event: dict, name: str, *, required: bool = True, max_len: int = 255) -> str | None:
    value = event.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise InvalidEvent(f"{name!r} must be a non-empty string of at most {max_len} characters")
    return value


def parse_event(event: Any) -> dict[str, Any]:
    """Check an event's shape; raises InvalidEvent naming the first problem."""
    if not isinstance(event, dict):
        raise InvalidEvent("the event must be a JSON object")
    parsed = {
        "event_id": _text(event, "event_id"),
        "run_id": _text(event, "run_id"),
        "tenant_id": _text(event, "tenant_id"),
        "task_id": _text(event, "task_id", required=False),
        "status": _text(event, "status", max_len=50),
        "output": event.get("output"),
        "error": _text(event, "error", required=False, max_len=10_000),
    }
    allowed = TASK_STATUSES if parsed["task_id"] else STATUSES
    if parsed["status"] not in allowed:
        raise InvalidEvent(f"status {parsed['status']!r} is not one of {sorted(allowed)}")
    stamp = event.get("occurred_at")
    try:
        occurred = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        occurred = None
    if occurred is None:
        raise InvalidEvent("'occurred_at' must be an ISO 8601 timestamp")
    parsed["occurred_at"] = occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC)
    return parsed


def _insert_event_row(values: dict[str, Any]) -> int | None:
    """Insert the event's row; its id (the event sequence), None when its event_id is
    already stored.

    RETURNING, not `rowcount`: with psycopg 3 an INSERT's rowcount reads -1 once
    SQLAlchemy has closed the cursor (sqlalchemy#10696), so every event would look
    like a duplicate.
    """
    dialect = db.engine.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = RunEvent.__table__
    stmt = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(table.c.id)
    )
    row = db.session.execute(stmt).first()
    return None if row is None else row[0]


def _older(occurred: datetime, stored: Any) -> bool:
    """True when `occurred` is before the stored task state's ISO timestamp."""
    try:
        previous = datetime.fromisoformat(stored) if isinstance(stored, str) else None
    except ValueError:
        return False
    if previous is None:
        return False
    if previous.tzinfo is None:
        previous = previous.replace(tzinfo=UTC)
    return occurred < previous


def _task_update(run: FlowRun, event: dict[str, Any]) -> str:
    tasks = dict(run.tasks or {})
    current = tasks.get(event["task_id"])
    if current and current.get("status") in _TASK_TERMINAL:
        return IGNORED
    if current and _older(event["occurred_at"], current.get("updated_at")):
        return IGNORED  # a late, out-of-order report must not hide a newer state
    state: dict[str, Any] = {
        "status": event["status"],
        "updated_at": event["occurred_at"].isoformat(),
    }
    if event["output"] is not None:
        state["output"] = event["output"]
    if event["error"] is not None:
        state["error"] = event["error"]
    if event["status"] in _TASK_TERMINAL:
        violations = _post_task_violations(run, event)
        if violations:
            state["policy_violations"] = violations
    tasks[event["task_id"]] = state
    run.tasks = tasks
    run.updated_at = utcnow()
    return APPLIED


def _post_task_violations(run: FlowRun, event: dict[str, Any]) -> list[dict[str, Any]]:
    """PostTaskPolicies judge a finished task: breaches are recorded, not enforced."""
    ctx = PolicyContext(tenant_id=run.tenant_id, user_id=run.user_id, source="orchestrator",
                        correlation_id=run.correlation_id, input=run.input_data)
    violations = policy_engine().evaluate_post_task(event["task_id"], dict(event), ctx)
    if violations:
        audit.add_audit_event(
            tenant_id=run.tenant_id,
            actor="orchestrator",
            action=audit.TASK_POLICY_VIOLATION,
            outcome="violation",
            resource_id=run.run_id,
            correlation_id=run.correlation_id,
            detail={"task_id": event["task_id"], "violations": violations},
        )
    return violations


def _run_update(run: FlowRun, event: dict[str, Any]) -> str:
    new, old = event["status"], run.status
    if old in TERMINAL_STATUSES or _RANK[new] < _RANK.get(old, 0) or new == old:
        return IGNORED
    run.status = new
    run.updated_at = utcnow()
    if new in TERMINAL_STATUSES:
        inflight.release(db.session, run)  # no longer in flight: frees its place
    if event["output"] is not None:
        run.output_data = event["output"]
    if event["error"] is not None:
        run.error_message = event["error"]
    enqueue_status_change(run)  # committed with the change, sent by the callbacks relay
    audit.add_audit_event(
        tenant_id=run.tenant_id,
        actor="orchestrator",
        action=audit.STATUS_CHANGED,
        outcome="applied",
        resource_id=run.run_id,
        correlation_id=run.correlation_id,
        detail={"from": old, "to": new, "event_id": event["event_id"]},
    )
    return APPLIED


def _run_body(run: FlowRun) -> str:
    """The run as GET shows it after this change (kept for the event stream)."""
    from .service import run_to_dict

    return dumps_str(run_to_dict(run))


def apply_run_event(raw: Any) -> str:
    """Apply one event in one transaction; returns applied/ignored/duplicate/unknown_run."""
    event = parse_event(raw)
    session = db.session
    try:
        run = session.execute(
            db.select(FlowRun).where(FlowRun.run_id == event["run_id"]).with_for_update()
        ).scalar_one_or_none()
        if run is None:
            session.rollback()
            return UNKNOWN_RUN
        if run.tenant_id != event["tenant_id"]:
            session.rollback()
            raise InvalidEvent("the event's tenant_id does not match the run's tenant")
        exists = session.execute(
            db.select(RunEvent.id).where(RunEvent.event_id == event["event_id"])
        ).first()
        if exists:
            session.rollback()
            return DUPLICATE
        outcome = _task_update(run, event) if event["task_id"] else _run_update(run, event)
        status_changed = outcome == APPLIED and not event["task_id"]
        seq = _insert_event_row(
            {
                "event_id": event["event_id"],
                "run_id": event["run_id"],
                "tenant_id": event["tenant_id"],
                "task_id": event["task_id"],
                "status": event["status"],
                "occurred_at": event["occurred_at"],
                "received_at": utcnow(),
                "outcome": outcome,
                "output": event["output"],
                "error": event["error"],
                "run_body": _run_body(run) if status_changed else None,
            }
        )
        if seq is None:
            session.rollback()  # a concurrent consumer stored it first
            return DUPLICATE
        if status_changed:
            record_status_change(session, run, seq)  # waiters wake when this commits
        session.commit()
    except Exception:
        session.rollback()
        raise
    if outcome == APPLIED:
        from .service import run_cache_key

        cache_delete(run_cache_key(run.tenant_id, run.run_id))
    return outcome
