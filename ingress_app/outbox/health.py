"""Health checks for delivery: Kafka reachability, the outbox backlog, dead letters.

All report `warn`, never `fail`: while Kafka is away the outbox buffers and runs are
still accepted, and a dead-lettered message holds no other back, so the service stays
ready.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import text

from ..db_types import utcnow
from ..extensions import db
from ..state import ingress_state
from .kafka import client_config
from .models import PENDING

_KAFKA_CACHE_SECONDS = 5.0
_lock = threading.Lock()
_last: dict[str, object] = {"at": 0.0, "result": None, "servers": None}


def _probe_kafka(config) -> dict:
    from confluent_kafka.admin import AdminClient

    try:
        admin = AdminClient({**client_config(config), "socket.connection.setup.timeout.ms": 1500})
        metadata = admin.list_topics(timeout=1.5)
        return {
            "status": "pass",
            "componentType": "kafka",
            "observedValue": len(metadata.brokers),
            "observedUnit": "brokers",
        }
    except Exception as exc:
        return {
            "status": "warn",
            "componentType": "kafka",
            "output": f"unreachable ({type(exc).__name__}); messages wait in the outbox",
        }


def kafka_check() -> dict:
    config = current_app.config
    servers = config.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        return {
            "kafka": {
                "status": "warn",
                "componentType": "kafka",
                "output": "not configured; messages wait in the outbox",
            }
        }
    with _lock:
        fresh = (
            time.monotonic() - _last["at"] < _KAFKA_CACHE_SECONDS and _last["servers"] == servers
        )
        if not fresh:
            _last.update(at=time.monotonic(), result=_probe_kafka(config), servers=servers)
        return {"kafka": dict(_last["result"])}


def outbox_check() -> dict:
    app = current_app._get_current_object()
    try:
        status = outbox_status(app)
    except Exception as exc:
        return {"outbox": {"status": "warn", "output": f"unknown ({type(exc).__name__})"}}
    age = status["oldest_pending_age_seconds"]
    stale = age is not None and age > app.config["OUTBOX_BACKLOG_WARN_SECONDS"]
    failed = status["failed"]
    check = {
        "status": "warn" if stale or failed else "pass",
        "pending": status["pending"],
        "oldest_pending_age_seconds": None if age is None else round(age, 3),
        "failed": failed,
    }
    problems = []
    if stale:
        problems.append("messages are waiting longer than OUTBOX_BACKLOG_WARN_SECONDS")
    if failed:
        problems.append(
            f"{failed} message(s) refused by Kafka and dead-lettered: see `outbox failed`"
        )
    if problems:
        check["output"] = "; ".join(problems)
    return {"outbox": check}


def register_health_checks(app) -> None:
    ingress_state(app).health_checks.extend([kafka_check, outbox_check])


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
