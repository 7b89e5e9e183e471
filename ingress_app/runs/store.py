"""Write an accepted run, its outbox message and its audit event atomically.

On PostgreSQL this is one statement (data-modifying CTEs) sent in autocommit mode:
one round trip per accept, atomic because it is a single statement. Elsewhere
(SQLite, the embedded default) it is three inserts in one transaction.
`ON CONFLICT (tenant_id, request_id) DO NOTHING` makes concurrent duplicates
produce exactly one run: the losers insert nothing and read the winner's row.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import psycopg
from flask import current_app
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..audit.models import AuditEvent
from ..dbdeadlines import CallDeadlines, looks_dead
from ..extensions import db
from ..jsonutil import dumps_str
from ..outbox.models import OutboxMessage
from .models import FlowRun

# psycopg's placeholder style: the statement goes to psycopg directly (see
# AutocommitConnections), never through SQLAlchemy.
_PG_ACCEPT = """
WITH new_run AS (
    INSERT INTO flow_runs_audit (
        run_id, correlation_id, flow_id, tenant_id, user_id, request_id, input_data,
        flow_definition, status, created_at, updated_at, flow_version, source,
        request_hash, policy_modifications, flow_origin, callback_url, callback_events)
    VALUES (
        %(run_id)s, %(correlation_id)s, %(flow_id)s, %(tenant_id)s, %(user_id)s,
        %(request_id)s, CAST(%(input_data)s AS JSONB), CAST(%(flow_definition)s AS JSONB),
        %(status)s, %(created_at)s, %(created_at)s, %(flow_version)s, %(source)s,
        %(request_hash)s,
        CAST(%(policy_modifications)s AS JSONB), %(flow_origin)s, %(callback_url)s,
        CAST(%(callback_events)s AS JSONB))
    ON CONFLICT (tenant_id, request_id) DO NOTHING
    RETURNING run_id
), new_message AS (
    INSERT INTO outbox_messages (message_id, topic, key, headers, payload, created_at, attempts)
    SELECT %(message_id)s, %(topic)s, run_id, CAST(%(headers)s AS JSONB), %(payload)s,
        %(created_at)s, 0
    FROM new_run
), new_audit AS (
    INSERT INTO audit_events (
        event_id, occurred_at, tenant_id, actor, action, resource_type, resource_id,
        correlation_id, outcome, detail)
    SELECT %(event_id)s, %(created_at)s, %(tenant_id)s, %(actor)s, %(action)s, 'run', run_id,
        %(correlation_id)s, %(outcome)s, CAST(%(audit_detail)s AS JSONB)
    FROM new_run
)
SELECT run_id FROM new_run
"""

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


def accept_params(
    run: dict[str, Any], message: dict[str, Any], audit: dict[str, Any]
) -> dict[str, Any]:
    """The parameters of PostgreSQL's one-statement accept (`_PG_ACCEPT`, and the
    counted one in `inflight`): the three rows' values, JSON columns as text."""
    return {
        **run,
        "input_data": dumps_str(run["input_data"]),
        "flow_definition": dumps_str(run["flow_definition"]),
        "policy_modifications": dumps_str(run["policy_modifications"]),
        "callback_events": (
            None if run["callback_events"] is None else dumps_str(run["callback_events"])
        ),
        "message_id": message["message_id"],
        "topic": message["topic"],
        "headers": dumps_str(message["headers"]),
        "payload": message["payload"],
        "event_id": audit["event_id"],
        "actor": audit["actor"],
        "action": audit["action"],
        "outcome": audit["outcome"],
        "audit_detail": dumps_str(audit["detail"]),
    }


def _insert_postgresql(run, message, audit) -> bool:
    params = accept_params(run, message, audit)
    return execute_autocommit(_PG_ACCEPT, params) is not None


class _DeadlineExceeded(Exception):
    """The statement's deadline cut its connection (the server did not answer)."""


class AutocommitConnections:
    """One autocommit connection per serving thread, for the accept statement.

    The accept is a single statement, so it needs no transaction and no pool: each
    thread keeps its own connection for as long as it lives, and psycopg prepares the
    statement on it (`prepare=True`). Checking a connection out of SQLAlchemy's pool and
    back, resetting it and switching autocommit cost about a tenth of an accept's CPU;
    here they cost nothing. Connections use the engine's URL and connect arguments
    (timeouts, TLS via `sslmode`) and the engine's call deadline (`dbdeadlines`). A
    connection that fails is closed and replaced on the thread's next accept, so the
    service recovers from a database outage by itself.

    Capacity: each serving thread that has accepted a run holds one connection, beside
    SQLAlchemy's pool (see docs/operations.md).
    """

    def __init__(
        self, engine, connect_args: dict[str, Any], deadlines: CallDeadlines | None = None
    ) -> None:
        url = engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._connect_args = dict(connect_args)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: weakref.WeakSet = weakref.WeakSet()
        self._deadlines = deadlines

    def _connect(self) -> psycopg.Connection:
        if self._deadlines is None:
            conn = psycopg.connect(self._conninfo, autocommit=True, **self._connect_args)
        else:
            with self._deadlines.connecting():
                conn = psycopg.connect(self._conninfo, autocommit=True, **self._connect_args)
        with self._lock:
            self._open.add(conn)
        return conn

    def connection(self) -> tuple[psycopg.Connection, bool]:
        """This thread's connection, and whether it was made just now: a kept one the
        server has closed (a restart) is replaced before use."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and not looks_dead(conn):
            return conn, False
        self._local.conn = None
        if conn is not None:
            conn.close()
        conn = self._local.conn = self._connect()
        # closed when its thread is gone (a thread-local's values just disappear)
        weakref.finalize(threading.current_thread(), conn.close)
        return conn, True

    def execute(self, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """Run one statement; return its first row, or None when it returned no row.
        Connection failures surface as SQLAlchemy OperationalError (the API answers
        503); SQL errors as psycopg's error classes.

        A connection that turns out dead in use is replaced and the statement sent once
        more (the accept is idempotent: its key decides). A call cut by its deadline is
        not retried."""
        for attempt in (1, 2):
            conn = None
            try:
                conn, fresh = self.connection()
                return self._execute_within_deadline(conn, sql, params)
            except _DeadlineExceeded as exc:
                self._drop(conn)
                raise sa_exc.OperationalError(sql[:60], None, exc) from exc
            except psycopg.OperationalError as exc:
                lost = conn is not None and conn.closed
                self._drop(conn)
                if attempt == 1 and lost and not fresh:
                    continue  # a kept connection that turned out dead: a new one, once
                raise sa_exc.OperationalError(sql[:60], None, exc) from exc
        return None  # pragma: no cover - the loop always returns or raises

    def _execute_within_deadline(self, conn, sql: str, params: dict[str, Any]):
        deadlines = self._deadlines
        if deadlines is None:
            return self._execute_prepared(conn, sql, params)
        deadlines.arm(conn)
        try:
            result = self._execute_prepared(conn, sql, params)
        except psycopg.OperationalError as exc:
            if deadlines.disarm(conn, answered=not conn.closed):
                raise _DeadlineExceeded(
                    f"no answer from the database within {int(deadlines.timeout * 1000)} ms"
                ) from exc
            raise
        except BaseException:
            deadlines.disarm(conn)
            raise
        deadlines.disarm(conn)
        return result

    @staticmethod
    def _execute_prepared(conn, sql: str, params: dict[str, Any]):
        try:
            return conn.execute(sql, params, prepare=True).fetchone()
        except psycopg.errors.InvalidSqlStatementName:
            # The server forgot the prepared statement (a pooler's reset): tell psycopg,
            # whose cache clears on this command, and send it once more.
            conn.execute("DEALLOCATE ALL")
            return conn.execute(sql, params, prepare=True).fetchone()

    def _drop(self, conn) -> None:
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        if conn is not None:
            conn.close()

    def close_all(self) -> None:
        """Close every connection (engine disposal, tests)."""
        with self._lock:
            conns = list(self._open)
            self._open.clear()
        for conn in conns:
            conn.close()


_CREATE_LOCK = threading.Lock()


def autocommit_connections() -> AutocommitConnections:
    conns = current_app.extensions["ingress"].autocommit_connections
    if conns is None:
        with _CREATE_LOCK:
            conns = current_app.extensions["ingress"].autocommit_connections
            if conns is None:
                engine = db.engine
                options = current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
                conns = AutocommitConnections(
                    engine,
                    options.get("connect_args") or {},
                    current_app.extensions["ingress"].db_deadlines,
                )
                # Disposing of the engine (tests, outage recovery tools) closes these too.
                event.listen(engine, "engine_disposed", lambda _engine: conns.close_all())
                current_app.extensions["ingress"].autocommit_connections = conns
    return conns


def execute_autocommit(sql: str, params: dict[str, Any]):
    """Run one statement in autocommit on this thread's connection; return the first row."""
    return autocommit_connections().execute(sql, params)


def _insert_generic(run, message, audit) -> bool:
    session = db.session
    try:
        if not insert_rows(session, run, message, audit):
            session.rollback()
            return False
        session.commit()
        return True
    except Exception:
        session.rollback()
        raise


def insert_rows(
    session, run: dict, message: dict, audit: dict, counted_in_flight: bool = False
) -> bool:
    """The three rows through SQLAlchemy (SQLite, or PostgreSQL with limits on runs in
    flight), in the caller's transaction; False, with nothing written, when
    `(tenant_id, request_id)` already exists."""
    stmt = (
        sqlite_insert(FlowRun.__table__)
        .values(**run, updated_at=run["created_at"], counted_in_flight=counted_in_flight)
        .on_conflict_do_nothing(index_elements=["tenant_id", "request_id"])
        .returning(FlowRun.__table__.c.run_id)
    )
    if session.execute(stmt).first() is None:
        return False
    insert_message_and_audit(session, run, message, audit)
    return True


def insert_message_and_audit(session, run: dict, message: dict, audit: dict) -> None:
    """The accepted run's outbox message and audit event, in the caller's transaction."""
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


def find_by_idempotency_key(tenant_id: str, request_id: str) -> dict[str, Any] | None:
    row = db.session.execute(
        _FIND_BY_KEY, {"tenant_id": tenant_id, "request_id": request_id}
    ).first()
    db.session.rollback()  # end the read transaction; nothing to keep
    return None if row is None else dict(row._mapping)
