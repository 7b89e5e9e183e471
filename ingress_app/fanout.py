"""Run status fan-out: one PostgreSQL listener per worker process wakes that process's waiters.

Whoever changes a run's status (the status consumer, the cancel path) calls `notify` in
the same transaction: on PostgreSQL that is `pg_notify`, which the server delivers only
when the transaction commits, to every listening connection of every worker and replica.
So a waiter is woken exactly for committed changes, and never by a change that rolled
back. Each worker keeps one dedicated connection (not from the pool) in `LISTEN` on a
daemon thread; waiters of a run (`Hub.waiter`) park on a `threading.Event` and are set
by that thread: no waiter ever polls the database.

The listener reconnects with backoff after any failure; on every (re)connection it
wakes all waiters of the process ("resync"), which re-read their run once, so a change
committed while it was disconnected is not missed. Every call has a deadline (connect
timeout, statement timeout, TCP keepalives and user timeout, and a periodic ping).

Without PostgreSQL (the embedded SQLite default, one process) `notify` hands the change
to this process's hub right after the commit instead.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from flask import Flask
from prometheus_client import Counter, Gauge
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.orm import scoped_session

log = logging.getLogger(__name__)

CHANNEL = "ingress_run_status"
#: A listener with no waiter in its process for this long disconnects (a worker that
#: serves no waiters holds no extra connection); the next waiter connects it again.
IDLE_SECONDS = 60.0
EXTENSION = "ingress_fanout"
#: Key of a run in the hub: a tuple, so no tenant or run id can collide with another.
RunKey = tuple[str, str]

WAITERS = Gauge("ingress_run_waiters", "Open long polls and event streams.",
                multiprocess_mode="livesum")
WAITERS_REFUSED = Counter("ingress_run_waiters_refused_total",
                          "Long polls and event streams refused (WAIT_MAX_WAITERS reached).")
NOTIFICATIONS = Counter("ingress_run_status_notifications_total",
                        "Run status changes received by the fan-out listeners.")
LISTENERS = Gauge("ingress_run_status_listeners",
                  "Workers whose status listener is connected (only those with waiters).",
                  multiprocess_mode="livesum")

_NOTIFY = text("SELECT pg_notify(:channel, :payload)")
_RESYNC = object()


class TooManyWaiters(RuntimeError):
    """This process already holds `WAIT_MAX_WAITERS` waiters."""


@dataclass(eq=False)
class Waiter:
    """One parked request: `wait` returns when its run's status changed (or on resync)."""

    key: RunKey
    woken: threading.Event = field(default_factory=threading.Event)
    closing: bool = False

    def arm(self) -> None:
        """Forget earlier wake-ups; call before re-reading the run, then `wait`."""
        self.woken.clear()

    def wait(self, timeout: float) -> bool:
        return self.woken.wait(max(timeout, 0.0))


def payload(tenant_id: str, run_id: str, status: str, seq: int | None) -> str:
    """The notification: tenant, run, status and event sequence (ids are at most 255
    characters each, so it stays far under PostgreSQL's 8000-byte payload limit)."""
    return json.dumps({"t": tenant_id, "r": run_id, "s": status, "i": seq},
                      separators=(",", ":"))


def notify(session: Any, tenant_id: str, run_id: str, status: str, seq: int | None) -> None:
    """Announce a status change; delivered when (and only if) `session` commits."""
    message = payload(tenant_id, run_id, status, seq)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_NOTIFY, {"channel": CHANNEL, "payload": message})
        return

    uri = str(session.get_bind().url)
    if isinstance(session, scoped_session):
        # this thread's session: a listener on the registry would fire on any session's commit
        session = session()

    def after_commit(_session: Any) -> None:
        hub = _LOCAL_HUBS.get((os.getpid(), uri))
        if hub is not None:
            hub.deliver(message)

    sa_event.listen(session, "after_commit", after_commit, once=True)


#: Hubs of this process by database, for databases without LISTEN/NOTIFY.
_LOCAL_HUBS: dict[tuple[int, str], Hub] = {}
_HUBS_LOCK = threading.Lock()


class Hub:
    """The waiters of one process and its listener thread."""

    def __init__(self, app: Flask):
        cfg = app.config
        self.max_waiters: int = cfg["WAIT_MAX_WAITERS"]
        self.ping_seconds: float = cfg["WAIT_LISTENER_PING_SECONDS"]
        self.dsn: str | None = None
        from .extensions import db

        with app.app_context():
            engine_url = db.engine.url
        self.uri = str(engine_url)
        if engine_url.get_backend_name() == "postgresql":
            url = engine_url.set(drivername="postgresql")
            self.dsn = url.render_as_string(hide_password=False)
            self.connect_args = dict(cfg["SQLALCHEMY_ENGINE_OPTIONS"].get("connect_args", {}))
            self.connect_args["application_name"] = "ingress-fanout"
        self._lock = threading.Lock()
        self._waiters: dict[RunKey, set[Waiter]] = {}
        self._count = 0
        self._closing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        self.pid = os.getpid()

    # -- waiters ---------------------------------------------------------------------

    @contextmanager
    def waiter(self, tenant_id: str, run_id: str) -> Iterator[Waiter]:
        """Register a waiter for one run; raises TooManyWaiters over the cap."""
        key = (tenant_id, run_id)
        waiter = Waiter(key)
        with self._lock:
            if self._count >= self.max_waiters:
                WAITERS_REFUSED.inc()
                raise TooManyWaiters(self.max_waiters)
            self._waiters.setdefault(key, set()).add(waiter)
            self._count += 1
            waiter.closing = self._closing
        WAITERS.inc()
        self._ensure_listener()
        try:
            yield waiter
        finally:
            with self._lock:
                group = self._waiters.get(key)
                if group is not None:
                    group.discard(waiter)
                    if not group:
                        del self._waiters[key]
                self._count -= 1
            WAITERS.dec()

    @property
    def count(self) -> int:
        return self._count

    def deliver(self, message: str | object) -> None:
        """Wake the waiters a notification names (all of them for a resync)."""
        if message is _RESYNC:
            with self._lock:
                targets = [w for group in self._waiters.values() for w in group]
        else:
            try:
                data = json.loads(message)  # type: ignore[arg-type]
                key = (data["t"], data["r"])
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a malformed run status notification")
                return
            NOTIFICATIONS.inc()
            with self._lock:
                targets = list(self._waiters.get(key, ()))
        for waiter in targets:
            waiter.woken.set()

    def close_waiters(self) -> None:
        """The worker is stopping: wake every waiter so that it answers now."""
        with self._lock:
            self._closing = True
            targets = [w for group in self._waiters.values() for w in group]
        for waiter in targets:
            waiter.closing = True
            waiter.woken.set()

    @property
    def closing(self) -> bool:
        return self._closing

    # -- listener --------------------------------------------------------------------

    def _ensure_listener(self) -> None:
        if self.dsn is None or self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._listen_forever, name="ingress-fanout", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _listen_forever(self) -> None:
        failures = 0
        while not self._stop.is_set() and not self._idle_exit():
            try:
                with psycopg.connect(self.dsn, autocommit=True, **self.connect_args) as conn:
                    self._execute(conn, f"LISTEN {CHANNEL}")
                    failures = 0
                    self.connected.set()
                    LISTENERS.set(1)
                    # changes committed while nobody listened: every waiter re-reads once
                    self.deliver(_RESYNC)
                    if self._receive(conn):
                        return  # idle: the next waiter starts a listener again
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect
                if self._stop.is_set():
                    break
                log.warning("run status listener disconnected: %s: %s",
                            type(exc).__name__, exc)
            finally:
                self.connected.clear()
                LISTENERS.set(0)
            failures += 1
            # exponential backoff with jitter, at most 10 s between attempts
            self._stop.wait(min(10.0, 0.2 * 2 ** min(failures, 6)) * random.uniform(0.5, 1.0))

    def _receive(self, conn: psycopg.Connection) -> bool:
        """Deliver notifications until the connection fails (raises) or the process has
        had no waiter for `IDLE_SECONDS` (returns True: the listener ends)."""
        idle_since = time.monotonic()
        while not self._stop.is_set():
            received = False
            for note in conn.notifies(timeout=self.ping_seconds):
                received = True
                self.deliver(note.payload)
            if self._count:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= IDLE_SECONDS and self._idle_exit():
                return True
            if not received:
                # an idle connection proves nothing: ask the server
                self._execute(conn, "SELECT 1")
        return True

    def _idle_exit(self) -> bool:
        """With no waiter, this listener ends (under the lock a new waiter takes)."""
        with self._lock:
            if self._count:
                return False
            self._thread = None
            return True

    def _execute(self, conn: psycopg.Connection, sql: str) -> None:
        """Run `sql` with a deadline (`WAIT_LISTENER_PING_SECONDS`): a server that does
        not answer in time (frozen, or a network that swallows packets) has the socket
        shut under the call, which then fails like any lost connection."""
        timer = threading.Timer(self.ping_seconds, _shut, (conn.fileno(),))
        timer.daemon = True
        timer.start()
        try:
            conn.execute(sql)
        finally:
            timer.cancel()


def _shut(fd: int) -> None:
    """Shut a connection's socket down through a duplicate of its descriptor."""
    try:
        dup = os.dup(fd)
    except OSError:
        return
    sock = socket.socket(fileno=dup)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


def close_waiters(app: Any) -> None:
    """Wake every waiter of this process for a stop. The hub is made if it does not exist
    yet, so that a waiter still on its way in (the first of the process) answers at once
    too instead of holding the stop up."""
    if not isinstance(getattr(app, "extensions", None), dict):
        return
    hub = hub_for(app)
    hub.close_waiters()
    hub.stop()


def hub_for(app: Flask) -> Hub:
    """This process's hub for `app` (a forked worker makes its own on first use)."""
    hub = app.extensions.get(EXTENSION)
    if hub is None or hub.pid != os.getpid():
        with _HUBS_LOCK:
            hub = app.extensions.get(EXTENSION)
            if hub is None or hub.pid != os.getpid():
                hub = app.extensions[EXTENSION] = Hub(app)
                _LOCAL_HUBS[(hub.pid, hub.uri)] = hub
    return hub
