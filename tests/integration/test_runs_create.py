"""POST /v1/runs on PostgreSQL: what a client sees and what lands in the tables."""

from __future__ import annotations

import json

from tests.conftest import auth, sample_flow
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways


def test_create_run_returns_202_with_ids_and_stores_run_outbox_and_audit(client, pg):
    response = client.post(
        "/v1/runs",
        json={"flow_definition": sample_flow(), "input": {"email": "a@example.com"}},
        headers={**auth("acme", "alice"), "X-Correlation-ID": "corr-123"},
    )

    assert response.status_code == 202
    body = response.get_json()
    assert set(body) == {"run_id", "correlation_id", "replayed"} and body["replayed"] is False
    assert body["correlation_id"] == "corr-123"
    assert response.headers["X-Correlation-ID"] == "corr-123"

    run = pg.execute(
        "SELECT * FROM flow_runs_audit WHERE run_id = %s", (body["run_id"],)
    ).fetchone()
    assert run["tenant_id"] == "acme"
    assert run["user_id"] == "alice"
    assert run["flow_id"] == "support-triage"
    assert run["status"] == "PENDING"
    assert run["input_data"] == {"email": "a@example.com"}
    assert run["flow_definition"]["tasks"][1]["depends_on"] == ["classify"]

    message = pg.execute(
        "SELECT * FROM outbox_messages WHERE key = %s", (body["run_id"],)
    ).fetchone()
    assert message["published_at"] is None
    assert message["headers"] == {
        "correlation_id": "corr-123",
        "tenant_id": "acme",
        "type": "flow_run.requested",
    }
    envelope = json.loads(message["payload"])
    assert envelope["type"] == "flow_run.requested"
    assert envelope["schema_version"] == 1
    assert envelope["run_id"] == body["run_id"]
    assert envelope["message_id"] == message["message_id"]
    assert envelope["tenant_id"] == "acme" and envelope["user_id"] == "alice"
    assert envelope["input"] == {"email": "a@example.com"}

    audit = pg.execute(
        "SELECT * FROM audit_events WHERE resource_id = %s", (body["run_id"],)
    ).fetchall()
    assert [(a["action"], a["actor"], a["outcome"]) for a in audit] == [
        ("run.accepted", "alice", "accepted")
    ]


def test_get_run_shows_the_seed_fields(client):
    created = client.post(
        "/v1/runs", json={"flow_definition": sample_flow(), "input": {"n": 1}}, headers=auth()
    ).get_json()

    response = client.get(f"/v1/runs/{created['run_id']}", headers=auth())

    assert response.status_code == 200
    run = response.get_json()
    for field in (
        "run_id",
        "status",
        "created_at",
        "updated_at",
        "tenant_id",
        "flow_id",
        "input",
        "output",
        "error",
    ):
        assert field in run
    assert run["status"] == "PENDING"
    assert run["input"] == {"n": 1}
    assert run["output"] is None and run["error"] is None
