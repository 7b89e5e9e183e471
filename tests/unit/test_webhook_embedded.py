"""Webhooks on the embedded default (SQLite): configs, intake and dedupe work there too."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import auth, sample_flow


def test_webhook_delivery_and_redelivery_on_sqlite(sqlite_app, sqlite_client):
    created = sqlite_client.post(
        "/v1/webhook-configs",
        json={
            "flow_definition": sample_flow(),
            "auth": {"type": "header-token"},
            "input_mapping": {"email": "payload.email"},
        },
        headers=auth(),
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    webhook = created.get_json()
    headers = {"X-Webhook-Token": webhook["secret"], "Idempotency-Key": "d-1"}

    first = sqlite_client.post(
        f"/v1/webhooks/{webhook['webhook_id']}", json={"email": "a@example.com"}, headers=headers
    )
    again = sqlite_client.post(
        f"/v1/webhooks/{webhook['webhook_id']}", json={"email": "a@example.com"}, headers=headers
    )

    assert first.status_code == again.status_code == 202, first.get_data(as_text=True)
    assert again.get_json() == {**first.get_json(), "replayed": True}
    database = sqlite_app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:
        runs = conn.execute("SELECT input_data FROM flow_runs_audit").fetchall()
        deliveries = conn.execute(
            "SELECT delivery_id, attempts, outcome FROM webhook_deliveries"
        ).fetchall()
    assert [json.loads(row[0]) for row in runs] == [{"email": "a@example.com"}]
    assert deliveries == [("d-1", 2, "accepted")]
