"""Tables that grow per request are pruned by the relays: audit events after
AUDIT_RETENTION_DAYS, webhook deliveries after WEBHOOK_DELIVERY_RETENTION_HOURS,
published outbox messages after OUTBOX_RETENTION_HOURS; dead letters stay."""

from __future__ import annotations

import pytest

from ingress_app.audit import service as audit_service
from ingress_app.outbox.relay import OutboxRelay
from tests.integration.conftest import count, create_run
from tests.integration.test_webhook_configs import create_webhook, intake


def age_audit_events(pg, days: int, ids: list[int]) -> None:
    pg.execute(
        "UPDATE audit_events SET occurred_at = now() - make_interval(days => %s) "
        "WHERE id = ANY(%s)",
        (days, ids),
    )


def audit_ids(pg) -> list[int]:
    return [row["id"] for row in pg.execute("SELECT id FROM audit_events ORDER BY id")]


def test_the_relays_prune_deletes_audit_events_older_than_the_retention(make_pg_app, pg):
    app = make_pg_app(AUDIT_RETENTION_DAYS=30)
    client = app.test_client()
    for _ in range(5):
        create_run(client)
    ids = audit_ids(pg)
    age_audit_events(pg, 31, ids[:2])  # past the retention
    age_audit_events(pg, 29, ids[2:3])  # within it

    OutboxRelay(app).prune()

    assert audit_ids(pg) == ids[2:]
    assert count(pg, "flow_runs_audit") == 5  # runs are not audit events


def test_audit_pruning_works_in_chunks(make_pg_app, pg, monkeypatch):
    monkeypatch.setattr(audit_service, "_PRUNE_CHUNK", 2)
    app = make_pg_app(AUDIT_RETENTION_DAYS=1)
    client = app.test_client()
    for _ in range(7):
        create_run(client)
    ids = audit_ids(pg)
    age_audit_events(pg, 2, ids[:5])

    result = app.test_cli_runner().invoke(args=["outbox", "prune"])

    assert result.exit_code == 0, result.output
    assert "deleted audit_events: 5" in result.output
    assert audit_ids(pg) == ids[5:]


def test_zero_days_keeps_audit_events(make_pg_app, pg):
    app = make_pg_app(AUDIT_RETENTION_DAYS=0)
    create_run(app.test_client())
    age_audit_events(pg, 3650, audit_ids(pg))

    OutboxRelay(app).prune()

    assert count(pg, "audit_events") == 1


@pytest.mark.parametrize("hours_ago, kept", [(2, False), (0, True)])
def test_webhook_deliveries_are_pruned_with_them(make_pg_app, pg, hours_ago, kept):
    app = make_pg_app(WEBHOOK_DELIVERY_RETENTION_HOURS=1)
    client = app.test_client()
    webhook = create_webhook(client, auth={"type": "header-token"})
    client.post(intake(webhook), json={"a": 1}, headers={"X-Webhook-Token": webhook["secret"]})
    pg.execute(
        "UPDATE webhook_deliveries SET last_received_at = now() - make_interval(hours => %s)",
        (hours_ago,),
    )

    OutboxRelay(app).prune()

    assert count(pg, "webhook_deliveries") == (1 if kept else 0)


def test_dead_lettered_messages_are_never_pruned(make_pg_app, pg):
    app = make_pg_app(OUTBOX_RETENTION_HOURS=1)
    create_run(app.test_client())
    pg.execute(
        "UPDATE outbox_messages SET failed_at = now() - interval '30 days', "
        "created_at = now() - interval '30 days'"
    )

    assert OutboxRelay(app).prune() == 0

    assert count(pg, "outbox_messages") == 1
