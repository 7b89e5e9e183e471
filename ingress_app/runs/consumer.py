"""`flask --app wsgi events consume`: apply the orchestrator's status events.

A consumer-group member on `KAFKA_TOPIC_RUN_EVENTS`. Each message is applied in one
database transaction and its offset committed only afterwards, so a crash re-reads
it (and `event_id` dedupe makes that harmless). Malformed events and events for
unknown runs are logged and committed past: they never stop the partition. When the
database is down the same message is retried with backoff, nothing is skipped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from flask import Flask
from sqlalchemy import exc as sa_exc

from .. import metrics
from ..outbox.kafka import consumer_config
from .events import UNKNOWN_RUN, InvalidEvent, apply_run_event

log = logging.getLogger(__name__)

INVALID = "invalid"


class RunEventConsumer:
    def __init__(self, app: Flask, consumer: Any = None):
        self.app = app
        self._consumer = consumer
        self.stop_event = threading.Event()
        self.counts: dict[str, int] = {}

    @property
    def consumer(self):
        if self._consumer is None:
            from confluent_kafka import Consumer

            self._consumer = Consumer(consumer_config(self.app.config), logger=log)
        return self._consumer

    def handle(self, value: bytes | None) -> str:
        """Apply one message's event; malformed input is reported, never raised."""
        try:
            event = json.loads(value) if value else None
        except (ValueError, UnicodeDecodeError):
            log.warning("run event is not JSON; skipped")
            return INVALID
        try:
            with self.app.app_context():
                outcome = apply_run_event(event)
        except InvalidEvent as exc:
            log.warning("run event rejected; skipped", extra={"reason": str(exc)})
            return INVALID
        if outcome == UNKNOWN_RUN:
            log.warning(
                "run event for an unknown run; skipped", extra={"run_id": event.get("run_id")}
            )
        return outcome

    def _handle_with_retry(self, value: bytes | None) -> str | None:
        backoff = 0.5
        while not self.stop_event.is_set():
            try:
                return self.handle(value)
            except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
                log.warning(
                    "database unavailable while applying a run event; retrying",
                    extra={"error": str(exc).splitlines()[0][:300], "retry_in": backoff},
                )
            except sa_exc.DBAPIError as exc:
                if not exc.connection_invalidated:
                    log.exception("run event could not be stored; skipped")
                    return INVALID
            self.stop_event.wait(backoff)
            backoff = min(backoff * 2, 10.0)
        return None

    def run(self, *, max_messages: int | None = None, poll_timeout: float = 1.0) -> dict[str, int]:
        """Consume until `stop()` (or `max_messages` handled); returns outcome counts."""
        topic = self.app.config["KAFKA_TOPIC_RUN_EVENTS"]
        consumer = self.consumer
        consumer.subscribe([topic])
        handled = 0
        next_lag_report = 0.0
        try:
            while not self.stop_event.is_set():
                if time.monotonic() >= next_lag_report:
                    next_lag_report = time.monotonic() + 10.0
                    self._report_lag(consumer)
                msg = consumer.poll(poll_timeout)
                if msg is None:
                    continue
                if msg.error():
                    log.warning("consumer error", extra={"error": str(msg.error())})
                    continue
                outcome = self._handle_with_retry(msg.value())
                if outcome is None:  # stopping before the event was stored: do not commit
                    break
                self.counts[outcome] = self.counts.get(outcome, 0) + 1
                metrics.EVENTS_CONSUMED.labels(outcome).inc()
                consumer.commit(message=msg, asynchronous=False)
                handled += 1
                if max_messages is not None and handled >= max_messages:
                    break
        finally:
            consumer.close()
        return self.counts

    @staticmethod
    def _report_lag(consumer) -> None:
        """Messages between our position and each partition's end (metric only)."""
        try:
            lag = 0
            for tp in consumer.position(consumer.assignment()):
                _low, high = consumer.get_watermark_offsets(tp, timeout=1.0, cached=False)
                if tp.offset >= 0 and high >= 0:
                    lag += max(0, high - tp.offset)
            metrics.CONSUMER_LAG.set(lag)
        except Exception:  # lag is advisory; never disturb consuming
            log.debug("could not compute consumer lag", exc_info=True)

    def stop(self) -> None:
        self.stop_event.set()
