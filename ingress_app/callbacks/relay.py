"""The callbacks relay: send due deliveries, record each attempt, retry with backoff.

Due rows are leased (their `next_attempt_at` pushed past the attempt's deadline) in a
short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so relays in many processes
share the work), then sent by a small thread pool of its own: a slow receiver holds a
sending thread at most CALLBACK_CONNECT_TIMEOUT_SECONDS + CALLBACK_TIMEOUT_SECONDS, at
most CALLBACK_HOST_CONCURRENCY threads go to one receiver, and Kafka publishing (the
outbox relay) never waits for any of it. A relay that dies mid-send leaves the lease
to expire: the delivery is sent again with the same `webhook-id`.

Outcomes: 2xx delivered; 410 gone (a subscription answering so is deleted); a URL the
SSRF guard refuses now is dead-lettered at once; anything else is retried after
`backoff(...)` until CALLBACK_RETRY_HOURS have passed, then dead-lettered
(`flask callbacks failed` / `callbacks retry`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import insert, select, update

from .. import metrics
from ..db_types import utcnow
from ..extensions import db
from ..state import ingress_state
from .models import (
    DELIVERED,
    FAILED,
    GONE,
    PENDING,
    CallbackAttempt,
    CallbackDelivery,
    Subscription,
)
from .sender import Outcome, Sender, signed_headers
from .ssrf import UnsafeUrl, check_url

log = logging.getLogger(__name__)

#: Set when a delivery is written or requeued in this process: the relay looks at once.
wakeup = threading.Event()
_table = CallbackDelivery.__table__


def backoff(attempts: int, base: float, ceiling: float) -> float:
    """Seconds before the next try after `attempts` failures: exponential, capped, with
    jitter (between half and all of it) so that receivers coming back are not stormed."""
    delay = min(base * 2 ** min(max(attempts - 1, 0), 30), ceiling)
    return delay * random.uniform(0.5, 1.0)


class CallbackRelay:
    """Sends due callbacks; `run_forever` loops, `send_due` leases and sends one round."""

    def __init__(self, app: Flask):
        self.app = app
        cfg = app.config
        self.workers = max(1, int(cfg["CALLBACK_WORKERS"]))
        self.per_host = max(1, int(cfg["CALLBACK_HOST_CONCURRENCY"]))
        self.lease = timedelta(
            seconds=cfg["CALLBACK_CONNECT_TIMEOUT_SECONDS"] + cfg["CALLBACK_TIMEOUT_SECONDS"] + 30
        )
        self.sender = Sender(
            cfg["CALLBACK_CONNECT_TIMEOUT_SECONDS"], cfg["CALLBACK_TIMEOUT_SECONDS"], self.per_host
        )
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="callback-send")
        self.stop_event = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: dict[int, str] = {}  # delivery id -> receiver (host:port)
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0

    # -------------------------------------------------------------- claiming

    def _busy_hosts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for host in self._in_flight.values():
            counts[host] = counts.get(host, 0) + 1
        return counts

    def send_due(self) -> int:
        """Lease due deliveries (as many as there are free sending threads, at most
        CALLBACK_HOST_CONCURRENCY in flight per receiver) and hand them to the pool;
        returns how many were handed over.

        Receivers already at their limit are left out of the query itself, so a dead
        receiver with thousands of due callbacks never hides anyone else's.
        """
        with self._lock:
            free = self.workers - len(self._in_flight)
            busy = list(self._in_flight)
            hosts = self._busy_hosts()
        if free <= 0:
            return 0
        saturated = [host for host, count in hosts.items() if count >= self.per_host]
        now = utcnow()
        taken = []
        with self.app.app_context(), db.engine.begin() as conn:
            stmt = (
                select(_table)
                .where(_table.c.state == PENDING, _table.c.next_attempt_at <= now)
                .order_by(_table.c.next_attempt_at)
                # a few more than needed: some may be for a receiver that fills up now
                .limit(min(free * 4, 200))
                .with_for_update(skip_locked=True)
            )
            if busy:
                stmt = stmt.where(_table.c.id.not_in(busy))
            if saturated:
                stmt = stmt.where(_table.c.target_host.not_in(saturated))
            for row in conn.execute(stmt):
                if len(taken) == free:
                    break
                if hosts.get(row.target_host, 0) >= self.per_host:
                    continue  # left as it is: due again next round
                hosts[row.target_host] = hosts.get(row.target_host, 0) + 1
                taken.append(row)
            if not taken:
                return 0
            conn.execute(
                update(_table)
                .where(_table.c.id.in_([row.id for row in taken]))
                .values(next_attempt_at=now + self.lease)
            )
        with self._lock:
            for row in taken:
                self._in_flight[row.id] = row.target_host
        for row in taken:
            self.pool.submit(self._deliver, row)
        return len(taken)

    # -------------------------------------------------------------- sending

    def _deliver(self, row: Any) -> None:
        try:
            with self.app.app_context():
                self._attempt(row)
        except Exception as exc:  # the lease expires and the delivery is tried again
            log.warning(
                "callback attempt could not be recorded",
                extra={"delivery_id": row.id, "error": f"{type(exc).__name__}: {exc}"[:300]},
            )
        finally:
            with self._lock:
                self._in_flight.pop(row.id, None)
            wakeup.set()

    def _secrets(self, row: Any) -> list[str] | None:
        from ..webhooks.crypto import secret_box
        from .service import signing_secrets

        if row.subscription_id is None:
            return signing_secrets(row.tenant_id)
        sealed = db.session.execute(
            select(Subscription.secret).where(Subscription.subscription_id == row.subscription_id)
        ).scalar_one_or_none()
        db.session.rollback()
        return None if sealed is None else [secret_box().open(sealed)]

    def _attempt(self, row: Any) -> None:
        cfg = self.app.config
        secrets = self._secrets(row)
        if secrets is None:
            self._finish(row, GONE, Outcome(None, "the subscription was deleted", 0.0), send=False)
            return
        try:
            target = check_url(row.url, cfg)
        except UnsafeUrl as exc:
            self._finish(row, FAILED, Outcome(None, f"refused: {exc}", 0.0))
            return
        body = row.payload.encode()
        outcome = self.sender.post(target, signed_headers(secrets, row.message_id, body), body)
        metrics.CALLBACK_SECONDS.observe(outcome.seconds)
        if outcome.ok:
            self._finish(row, DELIVERED, outcome)
        elif outcome.status_code == 410:
            self._finish(row, GONE, outcome)
        else:
            delay = backoff(
                row.attempts + 1, cfg["CALLBACK_RETRY_BASE_SECONDS"], cfg["CALLBACK_RETRY_MAX_SECONDS"]
            )
            retry_at = utcnow() + timedelta(seconds=delay)
            if retry_at > row.expires_at:
                self._finish(row, FAILED, outcome)
            else:
                self._finish(row, PENDING, outcome, retry_at=retry_at)

    def _finish(self, row: Any, state: str, outcome: Outcome, *, retry_at=None,
                send: bool = True) -> None:
        """Record the attempt and the delivery's new state in one transaction."""
        now = utcnow()
        values: dict[str, Any] = {"state": state, "last_error": outcome.error}
        if send:
            values.update(attempts=_table.c.attempts + 1, last_status_code=outcome.status_code)
        if state == PENDING:
            values["next_attempt_at"] = retry_at
        else:
            values["finished_at"] = now
        session = db.session
        try:
            session.execute(
                update(_table).where(_table.c.id == row.id, _table.c.state == PENDING).values(**values)
            )
            if send:
                session.execute(
                    insert(CallbackAttempt).values(
                        delivery_id=row.id,
                        attempt=row.attempts + 1,
                        at=now,
                        status_code=outcome.status_code,
                        error=outcome.error,
                        duration_ms=int(outcome.seconds * 1000),
                        next_attempt_at=retry_at,
                    )
                )
            if state == GONE and send and row.subscription_id is not None:
                # Zapier's convention: 410 means "unsubscribe me"
                from .service import SUBSCRIPTION_GONE, _audit_subscription, _drop_pending

                sub = session.execute(
                    select(Subscription).where(Subscription.subscription_id == row.subscription_id)
                ).scalar_one_or_none()
                if sub is not None:
                    _audit_subscription(sub, "callbacks", SUBSCRIPTION_GONE)
                    session.delete(sub)
                _drop_pending(session, row.subscription_id, "the receiver answered 410 Gone")
            session.commit()
        except Exception:
            session.rollback()
            raise
        self._count(row, state, outcome)

    @staticmethod
    def _count(row: Any, state: str, outcome: Outcome) -> None:
        extra = {"delivery_id": row.id, "run_id": row.run_id, "tenant_id": row.tenant_id,
                 "type": row.event_type, "status_code": outcome.status_code}
        if state == DELIVERED:
            metrics.CALLBACKS_DELIVERED.inc()
            metrics.CALLBACK_DELAY.observe((utcnow() - row.created_at).total_seconds())
            log.info("callback delivered", extra=extra)
            return
        metrics.CALLBACK_FAILURES.labels({PENDING: "retried", FAILED: "dead", GONE: "gone"}[state]).inc()
        extra["error"] = outcome.error
        if state == FAILED:
            log.error("callback dead-lettered (see `flask callbacks failed`)", extra=extra)
        elif state == GONE:
            log.info("callback receiver is gone; not retried", extra=extra)
        else:
            log.warning("callback not delivered; it is retried", extra=extra)

    # -------------------------------------------------------------- running

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until nothing is in flight (tests and `--once`)."""
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.02)

    def run_forever(self) -> None:
        """Send until `stop()`; woken by a local write or a finished send, else polls."""
        from .service import prune_callbacks

        poll = self.app.config["CALLBACK_POLL_INTERVAL_SECONDS"]
        prune_every = self.app.config["OUTBOX_PRUNE_INTERVAL_SECONDS"]
        backoff_seconds = 0.5
        while not self.stop_event.is_set():
            try:
                self.send_due()
                backoff_seconds = 0.5
                if time.monotonic() - self._last_prune > prune_every:
                    self._last_prune = time.monotonic()
                    with self.app.app_context():
                        prune_callbacks()
            except Exception as exc:  # database trouble: wait and try again
                log.warning(
                    "callbacks relay error; retrying",
                    extra={"error": f"{type(exc).__name__}: {exc}"[:500]},
                )
                self.stop_event.wait(backoff_seconds)
                backoff_seconds = min(backoff_seconds * 2, 10.0)
                continue
            wakeup.wait(poll)
            wakeup.clear()
        self.close()

    def start(self) -> CallbackRelay:
        self._thread = threading.Thread(target=self.run_forever, name="callbacks-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 25.0) -> None:
        self.stop_event.set()
        wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self) -> None:
        """Let sends in flight finish (each is bounded by its timeouts) and record their
        outcome, so no attempt is left half-written."""
        self.pool.shutdown(wait=True, cancel_futures=False)
        self.sender.close()


def start_background_callbacks(app: Flask) -> CallbackRelay | None:
    """Start this process's callbacks relay (gunicorn `post_worker_init`), if enabled."""
    if not app.config.get("CALLBACK_RELAY_ENABLED"):
        return None
    relay = CallbackRelay(app).start()
    ingress_state(app).callbacks_relay = relay
    log.info("callbacks relay started")
    return relay


def stop_background_callbacks(app: Flask) -> None:
    state = ingress_state(app)
    relay, state.callbacks_relay = state.callbacks_relay, None
    if relay is not None:
        relay.stop()
