"""Rows kept only for a while, and the one function that deletes them all.

Each part owns its rows and says how to prune them (the webhooks their deliveries, the
audit trail its events); this module says what goes when, so no table needs a cron job.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask

from .audit.service import prune_audit_events
from .callbacks.service import prune_callbacks
from .db_types import utcnow
from .extensions import db
from .outbox.models import OutboxMessage
from .runs.service import prune_finished_runs
from .webhooks.service import prune_deliveries

log = logging.getLogger(__name__)

_outbox = OutboxMessage.__table__


def prune_retained(app: Flask) -> dict[str, int]:
    """Delete rows kept only for a while, so no table needs a cron job; the relays call
    this every OUTBOX_PRUNE_INTERVAL_SECONDS (also `flask outbox prune`):

    - published outbox messages older than OUTBOX_RETENTION_HOURS (dead-lettered ones
      stay until an operator retries or deletes them);
    - webhook deliveries last seen more than WEBHOOK_DELIVERY_RETENTION_HOURS ago (their
      dedupe window);
    - audit events older than AUDIT_RETENTION_DAYS (0 keeps them);
    - callbacks delivered (or gone) more than CALLBACK_RETENTION_HOURS ago, with their
      attempts;
    - finished runs created more than RUN_RETENTION_DAYS ago (0 keeps them), with their
      status events.

    Returns how many rows went, per table.
    """
    config = app.config
    cutoff = utcnow() - timedelta(hours=config["OUTBOX_RETENTION_HOURS"])
    with app.app_context():
        with db.engine.begin() as conn:
            deleted = conn.execute(
                _outbox.delete().where(
                    _outbox.c.published_at.is_not(None), _outbox.c.published_at < cutoff
                )
            ).rowcount
        counts = {"outbox_messages": deleted, "webhook_deliveries": prune_deliveries()}
        days = int(config["AUDIT_RETENTION_DAYS"])
        counts["audit_events"] = (
            prune_audit_events(utcnow() - timedelta(days=days)) if days > 0 else 0
        )
        counts["callback_deliveries"] = prune_callbacks()
        days = int(config["RUN_RETENTION_DAYS"])
        counts["flow_runs_audit"], counts["run_events"] = (
            prune_finished_runs(utcnow() - timedelta(days=days)) if days > 0 else (0, 0)
        )
    for table, count in counts.items():
        if count:
            log.info("pruned old rows", extra={"table": table, "deleted": count})
    return counts
