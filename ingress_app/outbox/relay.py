"""The outbox relay: publish committed messages to Kafka, never losing one.

A batch is claimed inside one transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
so any number of relays in any number of processes share the work without
publishing a row twice), produced with an idempotent `acks=all` producer, and a
row is marked published only from its own successful delivery report. Every row of a
batch gets its own outcome, so one message never holds the others back:

- delivered: marked published, whatever happened to the rest of the batch;
- refused for good (too large, invalid, not authorized: `PERMANENT_ERRORS`):
  dead-lettered (`failed_at`, `last_error`), counted, shown by `/health` and
  `flask outbox failed`; `flask outbox retry` requeues it after a fix;
- failed for a passing reason (timeout, broker away, anything else): retried after
  a per-row backoff (`next_attempt_at`, doubling up to OUTBOX_RETRY_MAX_SECONDS).

A relay killed between produce and mark-published leaves its rows pending: they are
published again (same `message_id`), so delivery is at-least-once and consumers
dedupe by `message_id`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import bindparam, text

from .. import metrics
from ..db_types import UtcDateTime, utcnow
from ..extensions import db
from .kafka import producer_config
from .messages import signal
from .models import PENDING, OutboxMessage

log = logging.getLogger(__name__)

_CLAIM = (
    "SELECT id, topic, key, headers, payload, attempts FROM outbox_messages "
    f"WHERE {PENDING} AND (next_attempt_at IS NULL OR next_attempt_at <= :now) "
    "ORDER BY id LIMIT :limit"
)
_MARK_PUBLISHED_PG = text(
    "UPDATE outbox_messages SET published_at = :now, attempts = attempts + 1 "
    "WHERE id = ANY(:ids)"
)
_table = OutboxMessage.__table__

#: librdkafka error names that no retry can cure: the message itself (size, format) or
#: the topic's permission is wrong. Anything else is retried with backoff, so a code
#: missing here delays its message but never loses it or holds others back.
PERMANENT_ERRORS = frozenset(
    {
        "MSG_SIZE_TOO_LARGE",
        "INVALID_MSG",
        "INVALID_MSG_SIZE",
        "INVALID_RECORD",
        "RECORD_LIST_TOO_LARGE",
        "UNSUPPORTED_FOR_MESSAGE_FORMAT",
        "POLICY_VIOLATION",
        "TOPIC_AUTHORIZATION_FAILED",
        "TOPIC_EXCEPTION",
        "_INVALID_ARG",
    }
)
_FIRST_RETRY_SECONDS = 0.5
_LAST_ERROR_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Failure:
    """Why one message was not delivered, and whether retrying can help."""

    error: str  # for `last_error` and the logs
    code: str  # a librdkafka error name or an exception type: a bounded metric label
    permanent: bool

    @classmethod
    def from_kafka(cls, err: Any) -> Failure:
        """From a librdkafka `KafkaError` (a delivery report's or a `produce()` call's)."""
        name = err.name()
        # A fatal error is the producer's (it is replaced), not this message's.
        return cls(f"{name}: {err.str()}", name, name in PERMANENT_ERRORS and not err.fatal())


_NO_REPORT = Failure("no delivery report before the flush deadline", "NO_REPORT", False)


def retry_delay(attempts: int, ceiling: float) -> float:
    """Seconds before the next try of a message that has failed `attempts` times."""
    return min(_FIRST_RETRY_SECONDS * 2 ** min(max(attempts - 1, 0), 16), ceiling)


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
        self.failed_total = 0  # passing failures (retried)
        self.dead_total = 0  # dead-lettered
        self.last_claimed = 0  # rows the last batch claimed
        self.last_retried = 0  # of those, failed for a passing reason

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
        # typed, so SQLite compares it in the same text form the column is stored in
        return text(sql).bindparams(bindparam("now", type_=UtcDateTime))

    def publish_batch(self, limit: int | None = None) -> int:
        """Publish up to `limit` due messages; returns how many were delivered."""
        limit = limit or self.config["OUTBOX_BATCH_SIZE"]
        self.last_claimed = self.last_retried = 0
        with self.app.app_context():
            engine = db.engine
            with engine.begin() as conn:  # the row locks live as long as this transaction
                rows = conn.execute(
                    self._claim_sql(engine.dialect.name), {"limit": limit, "now": utcnow()}
                ).all()
                self.last_claimed = len(rows)
                if not rows:
                    return 0
                outcomes = self._produce(rows)
                delivered = [row.id for row in rows if outcomes[row.id] is None]
                failed = [row for row in rows if outcomes[row.id] is not None]
                retried = [row for row in failed if not outcomes[row.id].permanent]
                dead = [row for row in failed if outcomes[row.id].permanent]
                self.last_retried = len(retried)
                if delivered:
                    self._mark_published(conn, engine.dialect.name, delivered)
                now = utcnow()
                ceiling = float(self.config["OUTBOX_RETRY_MAX_SECONDS"])
                for row in retried:
                    delay = timedelta(seconds=retry_delay(row.attempts + 1, ceiling))
                    self._mark_failed(conn, row.id, outcomes[row.id], next_attempt_at=now + delay)
                for row in dead:
                    self._mark_failed(conn, row.id, outcomes[row.id], failed_at=now)
        self.published_total += len(delivered)
        metrics.OUTBOX_PUBLISHED.inc(len(delivered))
        if retried:
            self.failed_total += len(retried)
            metrics.OUTBOX_PUBLISH_ERRORS.inc(len(retried))
            log.warning(
                "outbox messages not delivered; they are retried",
                extra={"failed": len(retried), "first_error": outcomes[retried[0].id].error},
            )
        for row in dead:
            failure = outcomes[row.id]
            self.dead_total += 1
            metrics.OUTBOX_DEAD_LETTERED.labels(failure.code).inc()
            log.error(
                "outbox message refused by Kafka for good; dead-lettered "
                "(see `flask outbox failed`), publishing goes on",
                extra={"outbox_id": row.id, "run_id": row.key, "error": failure.error},
            )
        return len(delivered)

    @staticmethod
    def _mark_failed(conn, row_id: int, failure: Failure, **values: Any) -> None:
        conn.execute(
            _table.update()
            .where(_table.c.id == row_id)
            .values(
                attempts=_table.c.attempts + 1,
                last_error=failure.error[:_LAST_ERROR_CHARS],
                **values,
            )
        )

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

    def _produce(self, rows) -> dict[int, Failure | None]:
        """Produce every row; each row's outcome: None (delivered) or its `Failure`."""
        from confluent_kafka import KafkaException

        producer = self.producer
        outcomes: dict[int, Failure | None] = {}

        def report(row_id: int):
            def on_delivery(err, _msg):
                outcomes[row_id] = None if err is None else Failure.from_kafka(err)
                if err is not None and err.fatal():
                    self._fatal = True

            return on_delivery

        for row in rows:
            try:
                self._produce_one(producer, row, report(row.id))
            except KafkaException as exc:  # refused before sending (e.g. too large)
                err = exc.args[0] if exc.args else None
                outcomes[row.id] = (
                    Failure.from_kafka(err)
                    if hasattr(err, "name")
                    else Failure(str(exc), "KafkaException", False)
                )
            except (TypeError, ValueError) as exc:  # a row no client could send as it is
                outcomes[row.id] = Failure(f"{type(exc).__name__}: {exc}", type(exc).__name__, True)
        # Every message gets a final report within message.timeout.ms, so this returns
        # with all outcomes known (unless the process is being torn down).
        producer.flush(self.config["OUTBOX_DELIVERY_TIMEOUT_SECONDS"] + 5)
        for row in rows:
            outcomes.setdefault(row.id, _NO_REPORT)
        if self._fatal or any(f is not None and not f.permanent for f in outcomes.values()):
            # After failed deliveries an idempotent producer may be fenced or in a fatal
            # state (timed-out in-flight batches); a fresh one starts a clean session.
            self._producer = None
        return outcomes

    @staticmethod
    def _produce_one(producer, row, on_delivery) -> None:
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
                    on_delivery=on_delivery,
                )
                return
            except BufferError:  # local queue full: let deliveries drain first
                producer.poll(0.05)

    def prune(self) -> int:
        """Delete what is kept only for a while (see `prune_retained`); returns how many
        published outbox messages were deleted."""
        return prune_retained(self.app)["outbox_messages"]

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
                self.publish_batch(batch)
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
            if self.last_claimed < batch:  # nothing more is due now
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


def prune_retained(app: Flask) -> dict[str, int]:
    """Delete rows kept only for a while, so no table needs a cron job; the relays call
    this every OUTBOX_PRUNE_INTERVAL_SECONDS (also `flask outbox prune`):

    - published outbox messages older than OUTBOX_RETENTION_HOURS (dead-lettered ones
      stay until an operator retries or deletes them);
    - webhook deliveries last seen more than WEBHOOK_DELIVERY_RETENTION_HOURS ago (their
      dedupe window);
    - audit events older than AUDIT_RETENTION_DAYS (0 keeps them);
    - callbacks delivered (or gone) more than CALLBACK_RETENTION_HOURS ago, with their
      attempts.

    Returns how many rows went, per table.
    """
    from ..audit.service import prune_audit_events
    from ..callbacks.service import prune_callbacks
    from ..webhooks.service import prune_deliveries

    config = app.config
    cutoff = utcnow() - timedelta(hours=config["OUTBOX_RETENTION_HOURS"])
    with app.app_context():
        with db.engine.begin() as conn:
            deleted = conn.execute(
                _table.delete().where(
                    _table.c.published_at.is_not(None), _table.c.published_at < cutoff
                )
            ).rowcount
        counts = {"outbox_messages": deleted, "webhook_deliveries": prune_deliveries()}
        days = int(config["AUDIT_RETENTION_DAYS"])
        counts["audit_events"] = (
            prune_audit_events(utcnow() - timedelta(days=days)) if days > 0 else 0
        )
        counts["callback_deliveries"] = prune_callbacks()
    for table, count in counts.items():
        if count:
            log.info("pruned old rows", extra={"table": table, "deleted": count})
    return counts


def outbox_status(app: Flask) -> dict[str, Any]:
    """Pending count, the age of the oldest pending message, and the dead-lettered count."""
    with app.app_context():
        with db.engine.connect() as conn:
            pending, oldest, failed = conn.execute(
                text(
                    "SELECT count(*), min(created_at), (SELECT count(*) FROM outbox_messages "
                    f"WHERE failed_at IS NOT NULL) FROM outbox_messages WHERE {PENDING}"
                )
            ).one()
    if isinstance(oldest, str):  # SQLite returns text from an aggregate
        oldest = datetime.fromisoformat(oldest)
    age = None
    if oldest is not None:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        age = max(0.0, (utcnow() - oldest).total_seconds())
    return {"pending": int(pending), "oldest_pending_age_seconds": age, "failed": int(failed)}
