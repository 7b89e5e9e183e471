"""The outbox relay: publish committed messages to Kafka, never losing one.

A batch is claimed inside one transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
so any number of relays in any number of processes share the work without
publishing a row twice), produced with an idempotent `acks=all` producer, and a
row is marked published only from its own successful delivery report. Rows whose
delivery failed stay pending and go out in a later batch. A relay killed between
produce and mark-published leaves its rows pending: they are published again (same
`message_id`), so delivery is at-least-once and consumers dedupe by `message_id`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import text

from .. import metrics
from ..db_types import utcnow
from ..extensions import db
from .kafka import producer_config
from .messages import signal
from .models import OutboxMessage

log = logging.getLogger(__name__)

_CLAIM = (
    "SELECT id, topic, key, headers, payload FROM outbox_messages "
    "WHERE published_at IS NULL ORDER BY id LIMIT :limit"
)
_MARK_PUBLISHED_PG = text(
    "UPDATE outbox_messages SET published_at = :now, attempts = attempts + 1 "
    "WHERE id = ANY(:ids)"
)
_table = OutboxMessage.__table__


class OutboxRelay:
    """Publishes pending outbox rows; `run_forever` loops, `publish_batch` does one batch."""

    def __init__(self, app: Flask, producer: Any = None):
        self.app = app
        self.config = app.config
        self._producer = producer
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0
        self._fatal = False
        self.published_total = 0
        self.failed_total = 0

    @property
    def producer(self):
        if self._producer is None:
            from confluent_kafka import Producer

            self._fatal = False
            self._producer = Producer(
                {**producer_config(self.config), "error_cb": self._on_client_error}, logger=log
            )
        return self._producer

    def _on_client_error(self, err) -> None:
        if err.fatal():
            self._fatal = True
            log.error("kafka producer fatal error; it will be replaced", extra={"error": str(err)})

    def _claim_sql(self, dialect: str):
        sql = _CLAIM + (" FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else "")
        return text(sql)

    def publish_batch(self, limit: int | None = None) -> int:
        """Publish up to `limit` pending messages; returns how many were delivered."""
        limit = limit or self.config["OUTBOX_BATCH_SIZE"]
        with self.app.app_context():
            engine = db.engine
            with engine.begin() as conn:  # the row locks live as long as this transaction
                rows = conn.execute(self._claim_sql(engine.dialect.name), {"limit": limit}).all()
                if not rows:
                    return 0
                outcomes = self._produce(rows)
                delivered = [row_id for row_id, error in outcomes.items() if error is None]
                failed = {row_id: error for row_id, error in outcomes.items() if error is not None}
                if delivered:
                    self._mark_published(conn, engine.dialect.name, delivered)
                for row_id, error in failed.items():
                    conn.execute(
                        _table.update()
                        .where(_table.c.id == row_id)
                        .values(attempts=_table.c.attempts + 1, last_error=error[:1000])
                    )
        self.published_total += len(delivered)
        metrics.OUTBOX_PUBLISHED.inc(len(delivered))
        if failed:
            self.failed_total += len(failed)
            metrics.OUTBOX_PUBLISH_ERRORS.inc(len(failed))
            log.warning(
                "outbox messages not delivered; they stay pending",
                extra={"failed": len(failed), "first_error": next(iter(failed.values()))},
            )
        return len(delivered)

    @staticmethod
    def _mark_published(conn, dialect: str, ids: list[int]) -> None:
        if dialect == "postgresql":  # one array parameter instead of N bind parameters
            conn.execute(_MARK_PUBLISHED_PG, {"now": utcnow(), "ids": ids})
        else:
            conn.execute(
                _table.update()
                .where(_table.c.id.in_(ids))
                .values(published_at=utcnow(), attempts=_table.c.attempts + 1)
            )

    def _produce(self, rows) -> dict[int, str | None]:
        producer = self.producer
        outcomes: dict[int, str | None] = {}

        def report(row_id: int):
            def on_delivery(err, _msg):
                outcomes[row_id] = None if err is None else str(err)
                if err is not None and err.fatal():
                    self._fatal = True

            return on_delivery

        for row in rows:
            headers = row.headers
            if isinstance(headers, str):
                headers = json.loads(headers)
            while True:
                try:
                    producer.produce(
                        row.topic,
                        value=row.payload.encode(),
                        key=row.key.encode() if row.key else None,
                        headers=[(k, str(v).encode()) for k, v in (headers or {}).items()],
                        on_delivery=report(row.id),
                    )
                    break
                except BufferError:  # local queue full: let deliveries drain first
                    producer.poll(0.05)
        # Every message gets a final report within message.timeout.ms, so this returns
        # with all outcomes known (unless the process is being torn down).
        producer.flush(self.config["OUTBOX_DELIVERY_TIMEOUT_SECONDS"] + 5)
        for row in rows:
            outcomes.setdefault(row.id, "no delivery report before the flush deadline")
        if self._fatal or any(error is not None for error in outcomes.values()):
            # After failed deliveries an idempotent producer may be fenced or in a fatal
            # state (timed-out in-flight batches); a fresh one starts a clean session.
            self._producer = None
        return outcomes

    def prune(self) -> int:
        """Delete published rows older than OUTBOX_RETENTION_HOURS (returns how many), and
        webhook deliveries last seen more than WEBHOOK_DELIVERY_RETENTION_HOURS ago (their
        dedupe window), so neither table needs a cron job."""
        from ..webhooks.service import prune_deliveries

        cutoff = utcnow() - timedelta(hours=self.config["OUTBOX_RETENTION_HOURS"])
        with self.app.app_context():
            with db.engine.begin() as conn:
                deleted = conn.execute(
                    _table.delete().where(
                        _table.c.published_at.is_not(None), _table.c.published_at < cutoff
                    )
                ).rowcount
            forgotten = prune_deliveries()
        if deleted:
            log.info("pruned published outbox messages", extra={"deleted": deleted})
        if forgotten:
            log.info("pruned old webhook deliveries", extra={"deleted": forgotten})
        return deleted

    def run_forever(self) -> None:
        """Publish until `stop()`; woken at once by a local commit, else polls."""
        poll = self.config["OUTBOX_POLL_INTERVAL_SECONDS"]
        batch = self.config["OUTBOX_BATCH_SIZE"]
        spacing = self.config["OUTBOX_BATCH_SPACING_MS"] / 1000
        backoff = 0.5
        last_start = 0.0
        while not self.stop_event.is_set():
            # Under a steady stream of accepts every commit wakes the relay: batches of a
            # few messages, each paying a transaction, two statements, a commit and a
            # broker round trip. Spacing batch starts a few milliseconds apart lets a
            # batch gather what arrived meanwhile; a lone commit after a quiet spell is
            # published at once (its previous batch started long ago).
            wait = last_start + spacing - time.monotonic()
            if wait > 0 and self.stop_event.wait(wait):
                break
            last_start = time.monotonic()
            try:
                delivered = self.publish_batch(batch)
                backoff = 0.5
                if (
                    time.monotonic() - self._last_prune
                    > self.config["OUTBOX_PRUNE_INTERVAL_SECONDS"]
                ):
                    self._last_prune = time.monotonic()
                    self.prune()
            except Exception as exc:  # database or broker trouble: wait and try again
                log.warning(
                    "outbox relay error; retrying",
                    extra={"error": f"{type(exc).__name__}: {exc}"[:500], "retry_in": backoff},
                )
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if delivered < batch:
                signal.wait(poll)
        self.close()

    def start(self) -> OutboxRelay:
        self._thread = threading.Thread(target=self.run_forever, name="outbox-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 25.0) -> None:
        self.stop_event.set()
        signal.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(5)


def relay_wanted(app: Flask) -> bool:
    return bool(app.config.get("KAFKA_BOOTSTRAP_SERVERS")) and bool(
        app.config.get("OUTBOX_RELAY_ENABLED")
    )


def start_background_relay(app: Flask) -> OutboxRelay | None:
    """Start this process's relay thread (gunicorn `post_worker_init`), if Kafka is set."""
    if not relay_wanted(app):
        return None
    relay = OutboxRelay(app).start()
    app.extensions["ingress_outbox_relay"] = relay
    log.info("outbox relay started")
    return relay


def stop_background_relay(app: Flask) -> None:
    """Stop the relay and flush its producer (gunicorn `worker_exit`)."""
    relay = app.extensions.pop("ingress_outbox_relay", None)
    if relay is not None:
        relay.stop()


def outbox_status(app: Flask) -> dict[str, Any]:
    """Pending count and the age of the oldest pending message."""
    with app.app_context():
        with db.engine.connect() as conn:
            pending, oldest = conn.execute(
                text(
                    "SELECT count(*), min(created_at) FROM outbox_messages "
                    "WHERE published_at IS NULL"
                )
            ).one()
    if isinstance(oldest, str):  # SQLite returns text from an aggregate
        oldest = datetime.fromisoformat(oldest)
    age = None
    if oldest is not None:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        age = max(0.0, (utcnow() - oldest).total_seconds())
    return {"pending": int(pending), "oldest_pending_age_seconds": age}
