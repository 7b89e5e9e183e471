"""Write an accepted run, its outbox message and its audit event atomically.

On PostgreSQL this is one statement (data-modifying CTEs) sent in autocommit mode:
one round trip per accept, atomic because it is a single statement. Elsewhere
(SQLite, the embedded default) it is three inserts in one transaction.
`ON CONFLICT (tenant_id, request_id) DO NOTHING` makes concurrent duplicates
produce exactly one run: the losers insert nothing and read the winner's row.
"""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..audit.models import AuditEvent
from ..extensions import db
from ..outbox.models import OutboxMessage
from .models import FlowRun

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

_PG_ACCEPT = text(
    """
WITH new_run AS (
    INSERT INTO flow_runs_audit (
        run_id, correlation_id, flow_id, tenant_id, user_id, request_id, input_data,
        flow_definition, status, created_at, updated_at, flow_version, source,
        request_hash, policy_modifications, flow_origin)
    VALUES (
        :run_id, :correlation_id, :flow_id, :tenant_id, :user_id, :request_id,
        CAST(:input_data AS JSONB), CAST(:flow_definition AS JSONB), :status, :created_at,
        :created_at, :flow_version, :source, :request_hash,
        CAST(:policy_modifications AS JSONB), :flow_origin)
    ON CONFLICT (tenant_id, request_id) DO NOTHING
    RETURNING run_id
), new_message AS (
    INSERT INTO outbox_messages (message_id, topic, key, headers, payload, created_at, attempts)
    SELECT :message_id, :topic, run_id, CAST(:headers AS JSONB), :payload, :created_at, 0
    FROM new_run
), new_audit AS (
    INSERT INTO audit_events (
        event_id, occurred_at, tenant_id, actor, action, resource_type, resource_id,
        correlation_id, outcome, detail)
    SELECT :event_id, :created_at, :tenant_id, :actor, :action, 'run', run_id,
        :correlation_id, :outcome, CAST(:audit_detail AS JSONB)
    FROM new_run
)
SELECT run_id FROM new_run
"""
)

# psycopg's own placeholder style, derived once from the SQLAlchemy text above.
_PG_ACCEPT_SQL = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", _PG_ACCEPT.text)

_FIND_BY_KEY = text(
    "SELECT run_id, correlation_id, request_hash FROM flow_runs_audit "
    "WHERE tenant_id = :tenant_id AND request_id = :request_id"
)


def insert_accepted_run(
    run: dict[str, Any], message: dict[str, Any], audit: dict[str, Any]
) -> bool:
    """Store the three rows; False when `(tenant_id, request_id)` already exists."""
    if db.engine.dialect.name == "postgresql":
        return _insert_postgresql(run, message, audit)
    return _insert_generic(run, message, audit)


def _insert_postgresql(run, message, audit) -> bool:
    params = {
        **run,
        "input_data": _dumps(run["input_data"]),
        "flow_definition": _dumps(run["flow_definition"]),
        "policy_modifications": _dumps(run["policy_modifications"]),
        "message_id": message["message_id"],
        "topic": message["topic"],
        "headers": _dumps(message["headers"]),
        "payload": message["payload"],
        "event_id": audit["event_id"],
        "actor": audit["actor"],
        "action": audit["action"],
        "outcome": audit["outcome"],
        "audit_detail": _dumps(audit["detail"]),
    }
    return execute_autocommit(_PG_ACCEPT_SQL, params) is not None


def execute_autocommit(sql: str, params: dict[str, Any]):
    """Run one statement on a pooled psycopg connection in autocommit; return the first row.

    The hot path skips SQLAlchemy's statement layer (compiled-cache lookup, result
    wrapping: about a third of an accept's CPU) and sends a prepared statement
    directly. A broken connection is invalidated in the pool and surfaces as a
    database outage (503), like any other.
    """
    try:
        fairy = db.engine.raw_connection()
    except psycopg.OperationalError as exc:  # the pool could not connect
        raise sa_exc.OperationalError(sql[:60], None, exc) from exc
    try:
        conn = fairy.driver_connection
        conn.autocommit = True  # client-side switch, no round trip; one statement = atomic
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params, prepare=True)
                return cur.fetchone()
        finally:
            if not conn.closed:
                conn.autocommit = False
    except psycopg.OperationalError as exc:
        fairy.invalidate(exc)
        raise sa_exc.OperationalError(sql[:60], None, exc) from exc
    finally:
        fairy.close()


def _insert_generic(run, message, audit) -> bool:
    session = db.session
    try:
        stmt = (
            sqlite_insert(FlowRun.__table__)
            .values(**run, updated_at=run["created_at"])
            .on_conflict_do_nothing(index_elements=["tenant_id", "request_id"])
        )
        if session.execute(stmt).rowcount == 0:
            session.rollback()
            return False
        session.execute(
            OutboxMessage.__table__.insert().values(
                **message, key=run["run_id"], created_at=run["created_at"], attempts=0
            )
        )
        session.execute(
            AuditEvent.__table__.insert().values(
                **audit,
                occurred_at=run["created_at"],
                tenant_id=run["tenant_id"],
                resource_type="run",
                resource_id=run["run_id"],
                correlation_id=run["correlation_id"],
            )
        )
        session.commit()
        return True
    except Exception:
        session.rollback()
        raise


def find_by_idempotency_key(tenant_id: str, request_id: str) -> dict[str, Any] | None:
    row = db.session.execute(
        _FIND_BY_KEY, {"tenant_id": tenant_id, "request_id": request_id}
    ).first()
    db.session.rollback()  # end the read transaction; nothing to keep
    return None if row is None else dict(row._mapping)
