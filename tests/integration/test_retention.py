"""Tables that grow per request are pruned by the relays: audit events after
AUDIT_RETENTION_DAYS, webhook deliveries after WEBHOOK_DELIVERY_RETENTION_HOURS,
published outbox messages after OUTBOX_RETENTION_HOURS, finished runs and their status
events after RUN_RETENTION_DAYS; dead letters and runs in flight stay."""

from __future__ import annotations

import pytest

from ingress_app.audit import service as audit_service
from ingress_app.outbox.relay import OutboxRelay
from ingress_app.runs import service as run_service
from tests.conftest import auth
from tests.integration.conftest import count, create_run
from tests.integration.test_audit_api import apply_status
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


def age_runs(pg, days: int, run_ids: list[str]) -> None:
    pg.execute(
        "UPDATE flow_runs_audit SET created_at = now() - make_interval(days => %s) "
        "WHERE run_id = ANY(%s)",
        (days, run_ids),
    )


def run_ids(pg) -> list[str]:
    return [row["run_id"] for row in pg.execute("SELECT run_id FROM flow_runs_audit ORDER BY id")]


def events_of(pg) -> list[str]:
    return sorted({row["run_id"] for row in pg.execute("SELECT run_id FROM run_events")})


@pytest.mark.parametrize("chunk", [2_000, 2])
def test_finished_runs_past_the_retention_go_with_their_events(
    make_pg_app, pg, monkeypatch, chunk
):
    monkeypatch.setattr(run_service, "_PRUNE_CHUNK", chunk)
    app = make_pg_app(RUN_RETENTION_DAYS=30)
    client = app.test_client()
    old_done, old_failed, old_running, old_pending, recent_done = (
        create_run(client)["run_id"] for _ in range(5)
    )
    for run_id in (old_done, recent_done):
        apply_status(app, run_id, "RUNNING")
        apply_status(app, run_id, "SUCCEEDED")
    apply_status(app, old_failed, "FAILED")
    apply_status(app, old_running, "RUNNING")
    age_runs(pg, 31, [old_done, old_failed, old_running, old_pending])
    age_runs(pg, 29, [recent_done])

    OutboxRelay(app).prune()

    # in flight (however old) and recent ones stay; their events too
    assert run_ids(pg) == [old_running, old_pending, recent_done]
    assert events_of(pg) == sorted([old_running, recent_done])
    gone = client.get(f"/v1/runs/{old_failed}", headers=auth())
    assert gone.status_code == 404, gone.get_data(as_text=True)


def test_zero_days_keeps_every_run_and_the_cli_reports_what_went(make_pg_app, pg):
    app = make_pg_app(RUN_RETENTION_DAYS=0)
    run_id = create_run(app.test_client())["run_id"]
    apply_status(app, run_id, "SUCCEEDED")
    age_runs(pg, 3650, [run_id])

    result = app.test_cli_runner().invoke(args=["outbox", "prune"])

    assert result.exit_code == 0, result.output
    assert count(pg, "flow_runs_audit") == 1 and count(pg, "run_events") == 1

    app = make_pg_app(RUN_RETENTION_DAYS=1)
    result = app.test_cli_runner().invoke(args=["outbox", "prune"])

    assert result.exit_code == 0, result.output
    assert "deleted flow_runs_audit: 1" in result.output
    assert "deleted run_events: 1" in result.output
    assert count(pg, "flow_runs_audit") == 0 and count(pg, "run_events") == 0
