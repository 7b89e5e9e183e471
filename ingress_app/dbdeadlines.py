"""Client-side deadlines for PostgreSQL calls, and dead-connection detection.

`statement_timeout` ends work the server is doing; it cannot end a call whose server
does not answer at all (a stopped process, a hung host behind a live network): the
kernel still acknowledges what is sent, so neither TCP keepalives nor
`tcp_user_timeout` fire, and psycopg and libpq wait on the socket without a limit. So a
watchdog thread keeps the time: a call is armed with a deadline before it starts and
disarmed when it ends, and a call still running at its deadline has its socket shut
down. That ends the wait at once with a connection error: the request answers 503
with `Retry-After` and the connection is replaced. The watchdog works on a duplicate of
the socket's descriptor, so it never touches a descriptor that the connection has
closed meanwhile and the system has given to something else.

`looks_dead` is the other half: an idle connection whose socket is readable has been
closed by the server (a restart sends a termination notice and a FIN) and is replaced
before a statement is sent on it, for the cost of one `poll` instead of a round trip.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

from .state import ingress_state

log = logging.getLogger(__name__)

_ACTIVE = pq.TransactionStatus.ACTIVE
_FIRED = -1  # descriptor slot of a call its deadline has ended
_FORGET_FIRED_AFTER = 60.0  # a fired entry nobody disarms is dropped after this
_IDLE_EXIT_SECONDS = 30.0  # the watchdog thread stops after this long with nothing armed



class CallDeadlines:
    """Arm/disarm deadlines on psycopg connections; one watchdog thread ends late calls.

    `arm` before a call (again before the next call replaces the deadline), `disarm`
    after it; `disarm` says whether the deadline ended the call. A call armed without a
    matching disarm (SQLAlchemy has no "after commit" hook) is simply forgotten once its
    deadline passes with the connection idle: only a connection still busy is cut.

    Once a call has been cut (or a connection attempt timed out), the server is suspect:
    until it answers again (or one more `timeout` has passed) calls get a tenth of the
    deadline, and one new connection is attempted at a time (`connecting`). A server
    that answers at all answers that fast, and a frozen one then costs a request a
    fraction of a second instead of a whole deadline or connect timeout, so serving
    threads (and liveness) stay free.
    """

    def __init__(self, timeout: float):
        self.timeout = float(timeout)
        self.suspect_timeout = min(self.timeout, max(0.2, self.timeout / 10))
        self._tick = min(0.25, max(0.01, self.suspect_timeout / 2))
        self._suspect_until = 0.0
        self._probe: threading.Event | None = None  # a connection attempt while suspect
        self._armed: dict[int, tuple[float, int, Any]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.fired = 0

    def arm(self, conn: Any) -> None:
        """Give the call about to start on `conn` (a psycopg connection) its deadline."""
        pgconn = conn.pgconn
        try:
            fd = os.dup(pgconn.socket)
        except Exception:  # noqa: BLE001 - closed or broken: the call fails by itself
            return
        now = time.monotonic()
        timeout = self.suspect_timeout if now < self._suspect_until else self.timeout
        entry = (now + timeout, fd, pgconn)
        with self._lock:
            old = self._armed.get(id(pgconn))
            self._armed[id(pgconn)] = entry
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="ingress-db-deadlines", daemon=True
                )
                self._thread.start()
        if old is not None and old[1] != _FIRED:
            os.close(old[1])

    def disarm(self, conn: Any, *, answered: bool = True) -> bool:
        """The call on `conn` has ended (`answered`: the server replied, even with an
        error); True when its deadline ended it."""
        with self._lock:
            entry = self._armed.pop(id(conn.pgconn), None)
        if entry is None:
            return False
        if entry[1] == _FIRED:
            return True
        os.close(entry[1])
        if answered and self._suspect_until:
            self._suspect_until = 0.0  # it answers again
        return False

    @contextmanager
    def connecting(self) -> Iterator[None]:
        """Around opening a connection. While the server is suspect one attempt runs at
        a time; others wait for it at most the short deadline and go ahead only if it
        succeeded. A success clears the suspicion, a connect timeout raises it."""
        probe: threading.Event | None = None
        if time.monotonic() < self._suspect_until:
            with self._lock:
                running = self._probe
                if running is None:
                    probe = self._probe = threading.Event()
            if running is not None and (
                not running.wait(self.suspect_timeout) or time.monotonic() < self._suspect_until
            ):
                raise psycopg.OperationalError(
                    "the database is not answering; one reconnection attempt at a time"
                )
        try:
            yield
        except psycopg.errors.ConnectionTimeout:
            self._suspect_until = time.monotonic() + self.timeout
            raise
        else:
            self._suspect_until = 0.0
        finally:
            if probe is not None:
                with self._lock:
                    self._probe = None
                probe.set()

    def _watch(self) -> None:
        idle_since = time.monotonic()
        while True:
            time.sleep(self._tick)
            now = time.monotonic()
            late: list[tuple[int, int, Any]] = []
            with self._lock:
                if not self._armed:
                    if now - idle_since > _IDLE_EXIT_SECONDS:
                        self._thread = None
                        return
                    continue
                idle_since = now
                for key, (deadline, fd, pgconn) in list(self._armed.items()):
                    if deadline > now:
                        continue
                    if fd == _FIRED:
                        del self._armed[key]  # its owner never came back for it
                    elif _busy(pgconn):
                        self._armed[key] = (now + _FORGET_FIRED_AFTER, _FIRED, pgconn)
                        late.append((key, fd, pgconn))
                    else:  # the call ended and nobody disarmed it (commit, rollback)
                        del self._armed[key]
                        os.close(fd)
            for _key, fd, _pgconn in late:
                self._cut(fd)

    def _cut(self, fd: int) -> None:
        self.fired += 1
        self._suspect_until = time.monotonic() + self.timeout
        sock = socket.socket(fileno=fd)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            sock.close()
        log.warning(
            "a database call got no answer within its deadline; connection closed",
            extra={"timeout_ms": int(self.timeout * 1000)},
        )


def _busy(pgconn: Any) -> bool:
    try:
        return pgconn.transaction_status == _ACTIVE
    except Exception:  # noqa: BLE001 - finished meanwhile
        return False


def looks_dead(conn: Any) -> bool:
    """True when an idle psycopg connection cannot be used: closed, broken, or its
    server has sent something unasked (a termination notice) or closed the socket."""
    if conn.closed or conn.broken:
        return True
    try:
        fd = conn.pgconn.socket
    except Exception:  # noqa: BLE001
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def network_timeout_ms(config: dict[str, Any]) -> int:
    """`DB_NETWORK_TIMEOUT_MS`, or (0) the statement timeout plus two seconds: the
    server gets to report its own timeout before the client gives up on it."""
    explicit = int(config.get("DB_NETWORK_TIMEOUT_MS") or 0)
    return explicit if explicit > 0 else int(config["DB_STATEMENT_TIMEOUT_MS"]) + 2000


def install(app, engine) -> CallDeadlines | None:
    """Put deadlines on every call of `engine`'s PostgreSQL connections and replace a
    dead pooled connection at checkout; the app's `CallDeadlines` (None off PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        return None
    deadlines = CallDeadlines(network_timeout_ms(app.config) / 1000)
    ingress_state(app).db_deadlines = deadlines

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(conn, cursor, statement, parameters, context, executemany):
        deadlines.arm(cursor.connection)

    @event.listens_for(engine, "after_cursor_execute")
    def _after_execute(conn, cursor, statement, parameters, context, executemany):
        deadlines.disarm(cursor.connection)

    @event.listens_for(engine, "handle_error")
    def _on_error(context):
        cursor = getattr(context.execution_context, "cursor", None)
        if cursor is not None:
            deadlines.disarm(cursor.connection, answered=not context.is_disconnect)

    def _arm_connection(conn):
        if conn.invalidated or conn.closed:
            return
        deadlines.arm(conn.connection.dbapi_connection)

    event.listen(engine, "commit", _arm_connection)
    event.listen(engine, "rollback", _arm_connection)

    @event.listens_for(engine, "reset")
    def _on_reset(dbapi_connection, connection_record, reset_state):
        deadlines.arm(dbapi_connection)  # the pool's rollback when a connection comes back

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection, connection_record):
        if dbapi_connection is not None:
            deadlines.disarm(dbapi_connection)

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, connection_record, cargs, cparams):
        with deadlines.connecting():
            return dialect.connect(*cargs, **cparams)

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, connection_record, connection_proxy):
        if looks_dead(dbapi_connection):
            # the pool drops it and checks out another (a new one if need be)
            raise sa_exc.DisconnectionError("the server closed this connection")

    return deadlines
