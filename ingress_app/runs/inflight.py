"""Limits on runs in flight: `max_active_runs` per tenant, `max_active_runs_per_flow`.

Active means PENDING, RUNNING or CANCEL_REQUESTED. The count is kept in `active_runs`
(one row per tenant, `flow_id` '', and one per tenant and flow), never counted over the
runs table per request: the accept transaction locks the rows it needs
(`SELECT … FOR UPDATE`, tenant row first, so two accepts never wait on each other in
opposite orders), refuses with 429 when a limit is reached, otherwise inserts the run,
its outbox message and its audit event and increments the rows (on PostgreSQL one
statement, as `store.py`'s accept) and commits. Concurrent accepts queue on the row
lock, so N parallel requests against a limit of k accept exactly k.

A row is made the first time a limit needs it, seeded with the runs then in flight
(which are marked `counted_in_flight`). A run accepted while any limit applies to its
tenant increments every row of its tenant and flow that exists and is marked counted;
when a counted run reaches a terminal status (`release`), those rows are decremented in
the same transaction. Tenants without limits pay nothing: their accepts take the plain
path (`store.insert_accepted_run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from ..errors import ApiError
from ..extensions import db
from ..policies.runtime import policy_engine
from .models import CANCEL_REQUESTED, PENDING, RUNNING, FlowRun
from .store import accept_params, insert_rows

TENANT_WIDE = ""  # the tenant's row: flow ids are never empty
ACTIVE_STATUSES = (PENDING, RUNNING, CANCEL_REQUESTED)
#: What a refused client is told to wait before trying again.
RETRY_AFTER_SECONDS = 5

_SEED = text(
    "INSERT INTO active_runs (tenant_id, flow_id, active) "
    "SELECT CAST(:tenant_id AS VARCHAR), CAST(:flow_id AS VARCHAR), count(*) "
    "FROM flow_runs_audit "
    "WHERE tenant_id = CAST(:tenant_id AS VARCHAR) "
    "AND (CAST(:flow_id AS VARCHAR) = '' OR flow_id = CAST(:flow_id AS VARCHAR)) "
    "AND status IN ('PENDING', 'RUNNING', 'CANCEL_REQUESTED') "
    "ON CONFLICT (tenant_id, flow_id) DO NOTHING RETURNING active"
)
_MARK_SEEDED = text(
    "UPDATE flow_runs_audit SET counted_in_flight = TRUE "
    "WHERE tenant_id = CAST(:tenant_id AS VARCHAR) "
    "AND (CAST(:flow_id AS VARCHAR) = '' OR flow_id = CAST(:flow_id AS VARCHAR)) "
    "AND status IN ('PENDING', 'RUNNING', 'CANCEL_REQUESTED') AND NOT counted_in_flight"
)
_LOCK = text(
    "SELECT flow_id, active FROM active_runs "
    "WHERE tenant_id = :tenant_id AND flow_id IN ('', :flow_id) ORDER BY flow_id FOR UPDATE"
)
_LOCK_SQLITE = text(  # SQLite serializes writers; no row locks to take
    "SELECT flow_id, active FROM active_runs "
    "WHERE tenant_id = :tenant_id AND flow_id IN ('', :flow_id) ORDER BY flow_id"
)
_INCREMENT = text(
    "UPDATE active_runs SET active = active + 1 "
    "WHERE tenant_id = :tenant_id AND flow_id IN ('', :flow_id)"
)
_RELEASE = text(
    "UPDATE active_runs SET active = CASE WHEN active > 0 THEN active - 1 ELSE 0 END "
    "WHERE tenant_id = :tenant_id AND flow_id IN ('', :flow_id)"
)


# The run, its outbox message, its audit event and the counters in one statement (as
# store.py's accept, plus `counted_in_flight` and the increment), sent in the
# transaction that holds the counter rows' locks.
_PG_COUNTED_ACCEPT = text(
    """
WITH new_run AS (
    INSERT INTO flow_runs_audit (
        run_id, correlation_id, flow_id, tenant_id, user_id, request_id, input_data,
        flow_definition, status, created_at, updated_at, flow_version, source,
        request_hash, policy_modifications, flow_origin, callback_url, callback_events,
        counted_in_flight)
    VALUES (
        :run_id, :correlation_id, :flow_id, :tenant_id, :user_id, :request_id,
        CAST(:input_data AS JSONB), CAST(:flow_definition AS JSONB), :status, :created_at,
        :created_at, :flow_version, :source, :request_hash,
        CAST(:policy_modifications AS JSONB), :flow_origin, :callback_url,
        CAST(:callback_events AS JSONB), TRUE)
    ON CONFLICT (tenant_id, request_id) DO NOTHING
    RETURNING run_id
), counted AS (
    UPDATE active_runs SET active = active + 1
    WHERE tenant_id = :tenant_id AND flow_id IN ('', :flow_id)
      AND EXISTS (SELECT 1 FROM new_run)
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


class TooManyActiveRuns(ApiError):
    status, error = 429, "Too many active runs"

    def __init__(self, limit: int, active: int, scope: str):
        super().__init__(
            {"limit": limit, "active": active, "scope": scope},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


@dataclass(frozen=True, slots=True)
class Limits:
    tenant: int | None
    flow: int | None


def limits_for(tenant_id: str) -> Limits | None:
    """The tenant's limits on runs in flight, or None when it has none."""
    chain = policy_engine().chain(tenant_id)
    if chain.max_active_runs is None and chain.max_active_runs_per_flow is None:
        return None
    return Limits(chain.max_active_runs, chain.max_active_runs_per_flow)


def _seed(session, tenant_id: str, flow_id: str) -> None:
    params = {"tenant_id": tenant_id, "flow_id": flow_id}
    if session.execute(_SEED, params).first() is not None:
        session.execute(_MARK_SEEDED, params)


def insert_counted_run(
    run: dict[str, Any], message: dict[str, Any], audit: dict[str, Any], limits: Limits
) -> bool:
    """Store the run, its message and its audit event if the limits allow it (else
    429), counting it in flight; False when `(tenant_id, request_id)` already exists."""
    session = db.session
    tenant_id, flow_id = run["tenant_id"], run["flow_id"]
    params = {"tenant_id": tenant_id, "flow_id": flow_id}
    try:
        lock = _LOCK if db.engine.dialect.name == "postgresql" else _LOCK_SQLITE
        counts = dict(session.execute(lock, params).all())
        needed = [TENANT_WIDE] if limits.tenant is not None else []
        if limits.flow is not None:
            needed.append(flow_id)
        missing = [key for key in needed if key not in counts]
        if missing:  # once per tenant (and flow): the only count over the runs table
            for key in missing:
                _seed(session, tenant_id, key)
            counts = dict(session.execute(lock, params).all())
        for scope, limit in (("tenant", limits.tenant), ("flow", limits.flow)):
            if limit is None:
                continue
            active = counts.get(TENANT_WIDE if scope == "tenant" else flow_id, 0)
            if active >= limit:
                session.rollback()
                raise TooManyActiveRuns(limit, active, scope)
        if db.engine.dialect.name == "postgresql":
            params = accept_params(run, message, audit)
            inserted = session.execute(_PG_COUNTED_ACCEPT, params).first() is not None
            if inserted:
                session.commit()
            else:
                session.rollback()
            return inserted
        if not insert_rows(session, run, message, audit, counted_in_flight=True):
            session.rollback()
            return False
        session.execute(_INCREMENT, params)
        session.commit()
        return True
    except Exception:
        session.rollback()
        raise


def release(session, run: FlowRun) -> None:
    """A counted run left the active statuses: decrement its rows (caller commits)."""
    if run.counted_in_flight:
        session.execute(_RELEASE, {"tenant_id": run.tenant_id, "flow_id": run.flow_id})
