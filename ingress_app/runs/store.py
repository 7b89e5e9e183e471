"""Write an accepted run, its outbox message and its audit event atomically.

On PostgreSQL this is one statement (data-modifying CTEs) sent in autocommit mode:
one round trip per accept, atomic because it is a single statement. Elsewhere
(SQLite, the embedded default) it is three inserts in one transaction.
`ON CONFLICT (tenant_id, request_id) DO NOTHING` makes concurrent duplicates
produce exactly one run: the losers insert nothing and read the winner's row.
"""

from __future__ import annotations

import hashlib
import re
import threading
import weakref
from datetime import datetime
from typing import Any

import psycopg
from flask import current_app
from psycopg import pq
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..audit.models import AuditEvent
from ..dbdeadlines import CallDeadlines, looks_dead
from ..extensions import db
from ..jsonutil import dumps_str
from ..outbox.models import OutboxMessage
from .models import FlowRun

_PG_ACCEPT = text(
    """
WITH new_run AS (
    INSERT INTO flow_runs_audit (
        run_id, correlation_id, flow_id, tenant_id, user_id, request_id, input_data,
        flow_definition, status, created_at, updated_at, flow_version, source,
        request_hash, policy_modifications, flow_origin, callback_url, callback_events)
    VALUES (
        :run_id, :correlation_id, :flow_id, :tenant_id, :user_id, :request_id,
        CAST(:input_data AS JSONB), CAST(:flow_definition AS JSONB), :status, :created_at,
        :created_at, :flow_version, :source, :request_hash,
        CAST(:policy_modifications AS JSONB), :flow_origin, :callback_url,
        CAST(:callback_events AS JSONB))
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
    return execute_autocommit(_PG_ACCEPT_SQL, params) is not None


class _ThreadConnection:
    """A thread's connection; closed when the thread ends (its thread-local goes away)."""

    __slots__ = ("conn", "prepared")

    def __init__(self) -> None:
        self.conn: psycopg.Connection | None = None
        self.prepared: set[bytes] = set()

    def __del__(self) -> None:
        if self.conn is not None and not self.conn.closed:
            self.conn.close()


class _Statement:
    """A `%(name)s` statement rewritten for libpq: `$n` placeholders, names in order."""

    __slots__ = ("name", "sql", "order")

    def __init__(self, sql: str) -> None:
        order: list[str] = []

        def number(match: re.Match) -> str:
            key = match.group(1)
            if key not in order:
                order.append(key)
            return f"${order.index(key) + 1}"

        self.sql = re.sub(r"%\((\w+)\)s", number, sql).encode()
        self.order = tuple(order)
        self.name = b"ingress_" + hashlib.sha256(self.sql).hexdigest()[:16].encode()


def _text_params(params: dict[str, Any], order: tuple[str, ...]) -> list[bytes | None]:
    """A statement's parameters, in its order, in PostgreSQL's text format (the server
    infers their types). Strings are nearly all of them, so they are converted inline."""
    values: list[bytes | None] = []
    append = values.append
    try:
        for key in order:
            value = params[key]
            if isinstance(value, str):
                if "\x00" in value:  # libpq sends text parameters as C strings
                    raise psycopg.DataError(
                        "PostgreSQL text fields cannot contain NUL (0x00) bytes"
                    )
                append(value.encode())
            elif value is None:
                append(None)
            else:
                append(_scalar_param(value))
    except UnicodeEncodeError:
        raise psycopg.DataError("a parameter is not valid Unicode") from None
    return values


def _scalar_param(value: Any) -> bytes:
    if isinstance(value, datetime):
        return value.isoformat().encode()
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, (int, float)):
        return str(value).encode()
    raise TypeError(f"cannot send {type(value).__name__} as a text parameter")


def _text_param(value: Any) -> bytes | None:
    """One parameter in PostgreSQL's text format (see `_text_params`)."""
    return _text_params({"value": value}, ("value",))[0]


def _check(pgconn, result, expected) -> None:
    """Raise what psycopg would for a failed libpq result."""
    if result.status == expected:
        return
    message = (result.error_message or b"").decode(errors="replace").strip()
    sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE)
    if sqlstate is None or pgconn.status != pq.ConnStatus.OK:
        raise psycopg.OperationalError(message or "the database connection failed")
    raise psycopg.errors.lookup(sqlstate.decode())(message)


class _DeadlineExceeded(Exception):
    """The statement's deadline cut its connection (the server did not answer)."""


class AutocommitConnections:
    """One autocommit connection per serving thread, for the accept statement.

    The accept is a single statement, so it needs no transaction and no pool: each
    thread keeps its own connection (with the statement prepared on it) for as long as
    it lives. Checking a connection out of SQLAlchemy's pool and back, resetting it and
    switching autocommit cost about a tenth of an accept's CPU; here they cost nothing.
    The statement goes through libpq's `PQexecPrepared` (psycopg's `pq` layer, which
    releases the GIL while it waits) with text parameters: a third of the CPU of a
    psycopg cursor `execute` for this 25-parameter statement.
    Connections use the engine's URL and connect arguments (timeouts, TLS via
    `sslmode`) and the engine's call deadline (`dbdeadlines`). A connection that fails
    is closed and replaced on the thread's next accept, so the service recovers from a
    database outage by itself.

    Capacity: each gunicorn worker thread that has accepted a run holds one connection,
    beside SQLAlchemy's pool (see docs/operations.md).
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
        self._statements: dict[str, _Statement] = {}
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

    def _statement(self, sql: str) -> _Statement:
        statement = self._statements.get(sql)
        if statement is None:
            statement = self._statements[sql] = _Statement(sql)
        return statement

    def execute(self, sql: str, params: dict[str, Any]) -> tuple[str] | None:
        """Run one statement; return its first row's first column (as a 1-tuple), or
        None when it returned no row. Connection failures surface as SQLAlchemy
        OperationalError (the API answers 503); SQL errors as psycopg's error classes.

        A kept connection the server has closed (a restart) is replaced before use; one
        that turns out dead in use is replaced and the statement sent once more (the
        accept is idempotent: its key decides). A call cut by its deadline is not retried."""
        statement = self._statement(sql)
        values = _text_params(params, statement.order)
        holder = getattr(self._local, "holder", None)
        if holder is None:
            holder = self._local.holder = _ThreadConnection()
        for attempt in (1, 2):
            conn = holder.conn
            fresh = conn is None or looks_dead(conn)
            try:
                if fresh:
                    if conn is not None:
                        conn.close()
                    conn = holder.conn = None
                    conn = holder.conn = self._connect()
                    holder.prepared = set()
                return self._exec_with_deadline(conn, holder, statement, values)
            except _DeadlineExceeded as exc:
                self._drop(holder, conn)
                raise sa_exc.OperationalError(sql[:60], None, exc) from exc
            except psycopg.OperationalError as exc:
                lost = conn is not None and conn.closed
                self._drop(holder, conn)
                if attempt == 1 and lost and not fresh:
                    continue  # a kept connection that turned out dead: a new one, once
                raise sa_exc.OperationalError(sql[:60], None, exc) from exc
        return None  # pragma: no cover - the loop always returns or raises

    def _exec_with_deadline(self, conn, holder, statement, values):
        deadlines = self._deadlines
        if deadlines is None:
            return self._exec(conn, holder, statement, values)
        deadlines.arm(conn)
        try:
            result = self._exec(conn, holder, statement, values)
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
    def _drop(holder: _ThreadConnection, conn) -> None:
        holder.conn = None
        if conn is not None:
            conn.close()

    @staticmethod
    def _exec(conn, holder: _ThreadConnection, statement: _Statement, values: list):
        pgconn = conn.pgconn
        for attempt in (1, 2):
            if statement.name not in holder.prepared:
                _check(
                    pgconn, pgconn.prepare(statement.name, statement.sql), pq.ExecStatus.COMMAND_OK
                )
                holder.prepared.add(statement.name)
            result = pgconn.exec_prepared(statement.name, values)
            if (
                attempt == 1
                and result.status == pq.ExecStatus.FATAL_ERROR
                and result.error_field(pq.DiagnosticField.SQLSTATE) == b"26000"
            ):  # the server forgot the statement (e.g. a pooler's DISCARD ALL): again
                holder.prepared.discard(statement.name)
                continue
            _check(pgconn, result, pq.ExecStatus.TUPLES_OK)
            if result.ntuples == 0:
                return None
            value = result.get_value(0, 0)
            return (value.decode() if value is not None else None,)
        return None  # pragma: no cover - the loop always returns or raises

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
