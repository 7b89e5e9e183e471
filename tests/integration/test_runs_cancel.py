"""POST /v1/runs/{run_id}/cancel on PostgreSQL + Redis: status, outbox, audit, cache."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from tests.conftest import auth, sample_flow
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways

ERROR_KEYS = {"error", "detail"}
CANCEL_TYPE = "flow_run.cancel_requested"


def create_run(client, tenant: str = "acme", correlation_id: str | None = None) -> str:
    headers = auth(tenant)
    if correlation_id:
        headers["X-Correlation-ID"] = correlation_id
    response = client.post("/v1/runs", json={"flow_definition": sample_flow()}, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["run_id"]


def cancel(client, run_id: str, tenant: str = "acme", user: str = "alice", **headers):
    return client.post(f"/v1/runs/{run_id}/cancel", headers={**auth(tenant, user), **headers})


def cancel_messages(pg, run_id: str) -> list[dict]:
    return pg.execute(
        "SELECT * FROM outbox_messages WHERE key = %s AND headers->>'type' = %s ORDER BY id",
        (run_id, CANCEL_TYPE),
    ).fetchall()


def run_row(pg, run_id: str) -> dict:
    return pg.execute("SELECT * FROM flow_runs_audit WHERE run_id = %s", (run_id,)).fetchone()


def apply_event(app, run_id: str, status: str, tenant: str = "acme") -> str:
    from ingress_app.runs.events import apply_run_event

    with app.app_context():
        return apply_run_event(
            {
                "event_id": str(uuid.uuid4()),
                "run_id": run_id,
                "tenant_id": tenant,
                "status": status,
                "occurred_at": datetime.now(UTC).isoformat(),
            }
        )


def assert_error_envelope(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ERROR_KEYS
    return body


# --------------------------------------------------------------------------- the happy path


def test_cancel_answers_202_with_status_cancel_requested(client):
    run_id = create_run(client)

    response = cancel(client, run_id)

    assert response.status_code == 202
    body = response.get_json()
    assert body["run_id"] == run_id
    assert body["status"] == "CANCEL_REQUESTED"
    assert body["tenant_id"] == "acme"


def test_cancel_stores_status_cancel_requested_and_moves_updated_at(client, pg):
    run_id = create_run(client)
    before = run_row(pg, run_id)

    cancel(client, run_id)

    after = run_row(pg, run_id)
    assert after["status"] == "CANCEL_REQUESTED"
    assert after["updated_at"] > before["updated_at"]


def test_cancel_writes_one_cancel_requested_outbox_message(client, pg):
    run_id = create_run(client, correlation_id="run-corr-1")

    cancel(client, run_id, **{"X-Correlation-ID": "cancel-corr-1"})

    (message,) = cancel_messages(pg, run_id)
    assert message["published_at"] is None
    assert message["topic"] == "flow_runs"
    assert message["headers"] == {
        "correlation_id": "run-corr-1",
        "tenant_id": "acme",
        "type": CANCEL_TYPE,
    }
    envelope = json.loads(message["payload"])
    assert envelope["type"] == CANCEL_TYPE
    assert envelope["schema_version"] == 1
    assert envelope["message_id"] == message["message_id"]
    assert envelope["run_id"] == run_id
    assert envelope["tenant_id"] == "acme"
    assert envelope["user_id"] == "alice"
    assert envelope["flow_id"] == "support-triage"
    assert envelope["correlation_id"] == "run-corr-1"
    assert envelope["request_correlation_id"] == "cancel-corr-1"


def test_cancel_of_a_running_run_is_accepted(client, app, pg):
    run_id = create_run(client)
    assert apply_event(app, run_id, "RUNNING") == "applied"

    response = cancel(client, run_id)

    assert response.status_code == 202
    assert run_row(pg, run_id)["status"] == "CANCEL_REQUESTED"


def test_cancel_records_a_run_cancel_requested_audit_event(client, pg):
    run_id = create_run(client)

    cancel(client, run_id, user="bob", **{"X-Correlation-ID": "cancel-corr-2"})

    events = pg.execute(
        "SELECT * FROM audit_events WHERE resource_id = %s AND action = 'run.cancel_requested'",
        (run_id,),
    ).fetchall()
    assert [(e["tenant_id"], e["actor"], e["outcome"]) for e in events] == [
        ("acme", "bob", "accepted")
    ]
    assert events[0]["correlation_id"] == "cancel-corr-2"
    assert events[0]["resource_type"] == "run"


# --------------------------------------------------------------------------- idempotency


def test_repeated_cancel_answers_202_again(client):
    run_id = create_run(client)
    cancel(client, run_id)

    response = cancel(client, run_id)

    assert response.status_code == 202
    assert response.get_json()["status"] == "CANCEL_REQUESTED"


def test_repeated_cancel_writes_no_second_outbox_message(client, pg):
    run_id = create_run(client)

    cancel(client, run_id)
    cancel(client, run_id)

    assert len(cancel_messages(pg, run_id)) == 1


def test_repeated_cancel_records_no_second_audit_event(client, pg):
    run_id = create_run(client)

    cancel(client, run_id)
    cancel(client, run_id)

    count = pg.execute(
        "SELECT count(*) AS n FROM audit_events WHERE action = 'run.cancel_requested'"
    ).fetchone()["n"]
    assert count == 1


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("terminal", ["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"])
def test_cancel_of_a_terminal_run_is_409(client, app, terminal):
    run_id = create_run(client)
    assert apply_event(app, run_id, terminal) == "applied"

    body = assert_error_envelope(cancel(client, run_id), 409)

    assert terminal in body["detail"]


def test_cancel_of_a_terminal_run_changes_nothing(client, pg):
    run_id = create_run(client)
    pg.execute("UPDATE flow_runs_audit SET status = 'SUCCEEDED' WHERE run_id = %s", (run_id,))

    cancel(client, run_id)

    assert run_row(pg, run_id)["status"] == "SUCCEEDED"
    assert cancel_messages(pg, run_id) == []


def test_cancel_of_another_tenants_run_is_404(client):
    run_id = create_run(client, tenant="globex")

    assert_error_envelope(cancel(client, run_id, tenant="acme"), 404)


def test_cancel_of_another_tenants_run_changes_nothing(client, pg):
    run_id = create_run(client, tenant="globex")

    cancel(client, run_id, tenant="acme")

    assert run_row(pg, run_id)["status"] == "PENDING"
    assert cancel_messages(pg, run_id) == []


def test_cancel_of_an_unknown_run_is_404(client):
    assert_error_envelope(cancel(client, str(uuid.uuid4())), 404)


def test_cancel_without_a_token_is_401(client):
    run_id = create_run(client)

    assert_error_envelope(client.post(f"/v1/runs/{run_id}/cancel"), 401)


# --------------------------------------------------------------------------- cache


def test_get_after_cancel_shows_cancel_requested_although_it_was_cached(client, pg):
    run_id = create_run(client)
    assert client.get(f"/v1/runs/{run_id}", headers=auth()).get_json()["status"] == "PENDING"
    # Prove the GET is served from the cache: a change behind its back is not seen.
    pg.execute("UPDATE flow_runs_audit SET error_message = 'hidden' WHERE run_id = %s", (run_id,))
    assert client.get(f"/v1/runs/{run_id}", headers=auth()).get_json()["error"] is None

    cancel(client, run_id)

    shown = client.get(f"/v1/runs/{run_id}", headers=auth()).get_json()
    assert shown["status"] == "CANCEL_REQUESTED"
    assert shown["error"] == "hidden"
