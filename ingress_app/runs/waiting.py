"""Wait for a run: the long poll (`GET /v1/runs/{id}?wait=S`) and the event stream (SSE).

Both park on this worker's status fan-out (`ingress_app.fanout`): a waiter reads its run
when it starts, and again only when the fan-out says the run's status changed (or the
listener reconnected), never on a timer. Every status change is a row in `run_events`
(the orchestrator's reports, and cancels made here) whose `id` is the stream's event
sequence and whose `run_body` is the run as `GET` showed it right after that change:
a stream resumed with `Last-Event-ID` replays exactly the changes it missed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from flask import Response, current_app, stream_with_context

from ..errors import BadRequest, NotFound, ServiceUnavailable
from ..extensions import db
from ..fanout import TooManyWaiters, hub_for, notify
from ..ids import new_id
from ..jsonutil import dumps
from .models import TERMINAL_STATUSES, FlowRun, RunEvent

WAIT_MIN, WAIT_MAX = 1, 60
APPLIED = "applied"
#: Waiters of one process read the database through at most this many pooled
#: connections at once: when many runs change together (hundreds of waiters woken), the
#: rest of the pool stays free for ordinary requests; each read takes about a millisecond.
WAITER_READS = 2
_reads = threading.BoundedSemaphore(WAITER_READS)


@contextmanager
def _reading() -> Iterator[None]:
    if not _reads.acquire(timeout=current_app.config["DB_POOL_TIMEOUT_SECONDS"]):
        raise ServiceUnavailable("the database is busy; retry shortly")
    try:
        yield
    finally:
        _reads.release()


def record_status_change(session: Any, run: FlowRun, seq: int | None) -> None:
    """Announce a run's new status to every waiter, when `session` commits."""
    notify(session, run.tenant_id, run.run_id, run.status, seq)


def add_status_event(session: Any, run: FlowRun, body: bytes, now: Any) -> int:
    """Record a status change made here (a cancel) as a run event, and announce it."""
    row = RunEvent(
        event_id=new_id(), run_id=run.run_id, tenant_id=run.tenant_id, task_id=None,
        status=run.status, occurred_at=now, received_at=now, outcome=APPLIED,
        run_body=body.decode(),
    )
    session.add(row)
    session.flush()
    record_status_change(session, run, row.id)
    return row.id


def _fresh(run_id: str, tenant_id: str) -> tuple[str, bytes]:
    """The run's status and body straight from the database (the cache may lag a change
    for a moment after its commit); 404 for another tenant's run."""
    from .service import run_to_dict

    with _reading():
        return _fresh_unguarded(run_id, tenant_id, run_to_dict)


def _fresh_unguarded(run_id: str, tenant_id: str, run_to_dict: Any) -> tuple[str, bytes]:
    run = db.session.execute(
        db.select(FlowRun).where(FlowRun.run_id == run_id, FlowRun.tenant_id == tenant_id)
    ).scalar_one_or_none()
    if run is None:
        db.session.rollback()
        raise NotFound(f"run {run_id!r} not found")
    status, body = run.status, dumps(run_to_dict(run))
    db.session.rollback()  # no connection is held while waiting
    return status, body


def _status_of(body: bytes) -> str | None:
    try:
        return json.loads(body).get("status")
    except (ValueError, AttributeError):
        return None


def _too_many() -> ServiceUnavailable:
    retry = current_app.config["WAIT_RETRY_AFTER_SECONDS"]
    return ServiceUnavailable(
        "this server holds as many waiting requests as it may (WAIT_MAX_WAITERS); "
        "retry shortly, or poll without wait",
        retry_after=retry,
    )


def long_poll(run_id: str, tenant_id: str, wait: int) -> bytes:
    """The run once its status differs from the one it had when the request came, or
    after `wait` seconds (at most `WAIT_MAX_SECONDS`); at once when it is already terminal."""
    from .service import get_run_json

    deadline = time.monotonic() + min(wait, current_app.config["WAIT_MAX_SECONDS"])
    body = get_run_json(run_id, tenant_id)  # tenant rules and the cache, like a plain GET
    baseline = _status_of(body)
    if baseline in TERMINAL_STATUSES:
        return body
    hub = hub_for(current_app._get_current_object())
    stack = ExitStack()
    try:
        waiter = stack.enter_context(hub.waiter(tenant_id, run_id))
    except TooManyWaiters:
        raise _too_many() from None
    with stack:
        while True:
            waiter.arm()
            status, fresh = _fresh(run_id, tenant_id)
            if status != baseline:
                return fresh
            remaining = deadline - time.monotonic()
            if remaining <= 0 or waiter.closing:
                break
            if not waiter.wait(remaining) and time.monotonic() >= deadline:
                break
    return get_run_json(run_id, tenant_id)


#: The largest `run_events.id` (an INTEGER sequence).
MAX_EVENT_ID = 2**31 - 1


def parse_last_event_id(raw: str | None) -> int | None:
    """The `Last-Event-ID` header as a sequence; None when absent or empty; 400 else."""
    if raw is None or raw.strip() == "":
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise BadRequest("Last-Event-ID must be an event id this stream sent (a number)")
    # Event ids are a 32-bit sequence: a larger id is after every stored event.
    return min(int(raw), MAX_EVENT_ID)


def _sse(seq: int, body: bytes | str) -> bytes:
    data = body.encode() if isinstance(body, str) else body
    return b"id: %d\nevent: status\ndata: %s\n\n" % (seq, data)


def _changes_after(run_id: str, tenant_id: str, cursor: int) -> tuple[list[Any], str, bytes]:
    """Status changes of the run after `cursor` (oldest first, at most 100) and the run."""
    from .service import run_to_dict

    with _reading():
        return _changes_unguarded(run_id, tenant_id, cursor, run_to_dict)


def _changes_unguarded(run_id: str, tenant_id: str, cursor: int, run_to_dict: Any):
    rows = db.session.execute(
        db.select(RunEvent.id, RunEvent.status, RunEvent.run_body)
        .where(
            RunEvent.run_id == run_id,
            RunEvent.tenant_id == tenant_id,
            RunEvent.task_id.is_(None),
            RunEvent.outcome == APPLIED,
            RunEvent.id > cursor,
        )
        .order_by(RunEvent.id)
        .limit(100)
    ).all()
    status, body = _fresh_unguarded(run_id, tenant_id, run_to_dict)
    return rows, status, body


def _latest_seq(run_id: str, tenant_id: str) -> int:
    with _reading():
        seq = db.session.execute(
            db.select(db.func.max(RunEvent.id)).where(
                RunEvent.run_id == run_id,
                RunEvent.tenant_id == tenant_id,
                RunEvent.task_id.is_(None),
                RunEvent.outcome == APPLIED,
            )
        ).scalar()
        db.session.rollback()
    return int(seq or 0)


def event_stream(run_id: str, tenant_id: str, last_event_id: int | None) -> Response:
    """The run's status changes as Server-Sent Events, until a terminal status.

    Without `Last-Event-ID` the stream opens with the run as it is now (its `id` is the
    latest change's sequence, 0 before any); with it, every change after that id is
    replayed first. Comments (`: heartbeat`) keep idle connections open through
    proxies; the stream ends after a terminal status, when the server stops, or after
    `SSE_MAX_STREAM_SECONDS` (the client reconnects with `Last-Event-ID`).
    """
    cfg = current_app.config
    heartbeat = float(cfg["SSE_HEARTBEAT_SECONDS"])
    lifetime = float(cfg["SSE_MAX_STREAM_SECONDS"])
    status, body = _fresh(run_id, tenant_id)  # 404 before the stream starts
    hub = hub_for(current_app._get_current_object())
    stack = ExitStack()
    try:
        waiter = stack.enter_context(hub.waiter(tenant_id, run_id))
    except TooManyWaiters:
        raise _too_many() from None

    def events() -> Iterator[bytes]:
        with stack:
            ends = time.monotonic() + lifetime
            yield b"retry: 2000\n\n"
            cursor = last_event_id
            if cursor is None:
                waiter.arm()
                cursor = _latest_seq(run_id, tenant_id)
                current_status, current = _fresh(run_id, tenant_id)
                yield _sse(cursor, current)
                if current_status in TERMINAL_STATUSES:
                    return
            while True:
                waiter.arm()
                rows, now_status, now_body = _changes_after(run_id, tenant_id, cursor)
                for seq, row_status, row_body in rows:
                    cursor = seq
                    # rows stored before bodies were kept carry none: show the run as now
                    yield _sse(seq, row_body if row_body is not None else now_body)
                    if row_status in TERMINAL_STATUSES:
                        return
                if len(rows) == 100:
                    continue  # more to replay
                if now_status in TERMINAL_STATUSES:
                    return  # the client had seen the end already
                while True:
                    remaining = ends - time.monotonic()
                    if remaining <= 0 or waiter.closing:
                        return
                    if waiter.wait(min(heartbeat, remaining)):
                        break
                    yield b": heartbeat\n\n"

    response = Response(stream_with_context(events()), mimetype="text/event-stream")
    response.call_on_close(stack.close)  # also when the stream never started
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
