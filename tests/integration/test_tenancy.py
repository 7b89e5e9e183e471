"""Tenant rules: the token's tenant owns everything a request touches."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, assert_nothing_stored, create_run


def test_omitted_body_tenant_defaults_to_the_tokens_tenant(client, pg):
    created = create_run(client, tenant="acme")

    row = pg.execute(
        "SELECT tenant_id FROM flow_runs_audit WHERE run_id = %s", (created["run_id"],)
    ).fetchone()
    assert row["tenant_id"] == "acme"


def test_body_tenant_equal_to_the_tokens_tenant_is_accepted(client, pg):
    response = client.post(
        "/v1/runs",
        json={"flow_definition": sample_flow(), "tenant_id": "acme"},
        headers=auth("acme"),
    )

    assert response.status_code == 202


def test_body_tenant_different_from_the_tokens_is_403_and_nothing_stored(client, pg):
    response = client.post(
        "/v1/runs",
        json={"flow_definition": sample_flow(), "tenant_id": "globex"},
        headers=auth("acme"),
    )

    body = assert_error(response, 403, "Forbidden")
    assert "tenant" in json.dumps(body["detail"])
    assert_nothing_stored(pg)


def test_flow_definition_of_another_tenant_is_403_with_violations(client, pg):
    response = client.post(
        "/v1/runs",
        json={"flow_definition": sample_flow(tenant_id="globex")},
        headers=auth("acme"),
    )

    body = assert_error(response, 403, "Forbidden")
    violations = body["detail"]["violations"]
    assert len(violations) == 1
    assert violations[0]["policy"] == "tenant_isolation"
    assert violations[0]["task_id"] is None
    assert violations[0]["message"]
    assert_nothing_stored(pg)


def test_flow_definition_of_the_callers_tenant_is_accepted(client):
    response = client.post(
        "/v1/runs", json={"flow_definition": sample_flow(tenant_id="acme")}, headers=auth("acme")
    )

    assert response.status_code == 202


def test_other_tenants_run_is_404_like_an_unknown_run(client):
    created = create_run(client, tenant="acme")
    unknown = str(uuid.uuid4())

    foreign = client.get(f"/v1/runs/{created['run_id']}", headers=auth("globex", "bob"))
    missing = client.get(f"/v1/runs/{unknown}", headers=auth("globex", "bob"))

    foreign_body = assert_error(foreign, 404)
    missing_body = assert_error(missing, 404)
    # identical apart from the id the caller sent: nothing tells "exists elsewhere"
    assert json.dumps(foreign_body).replace(created["run_id"], "ID") == json.dumps(
        missing_body
    ).replace(unknown, "ID")
    assert "acme" not in json.dumps(foreign_body)


def test_other_tenants_run_stays_404_after_its_owner_read_it(client):
    created = create_run(client, tenant="acme")
    assert client.get(f"/v1/runs/{created['run_id']}", headers=auth("acme")).status_code == 200

    response = client.get(f"/v1/runs/{created['run_id']}", headers=auth("globex", "bob"))

    assert_error(response, 404)


def test_unknown_run_is_404_with_the_envelope(client):
    response = client.get(f"/v1/runs/{uuid.uuid4()}", headers=auth())

    assert_error(response, 404, "Not found")


def test_client_supplied_server_fields_are_ignored(client, pg):
    response = client.post(
        "/v1/runs",
        json={
            "flow_definition": sample_flow(),
            "run_id": "chosen-by-client",
            "status": "SUCCEEDED",
            "user_id": "mallory",
            "created_at": "2000-01-01T00:00:00Z",
            "output_data": {"forged": True},
            "error_message": "forged",
        },
        headers=auth("acme", "alice"),
    )

    assert response.status_code == 202
    run_id = response.get_json()["run_id"]
    assert run_id != "chosen-by-client"
    uuid.UUID(run_id)
    row = pg.execute("SELECT * FROM flow_runs_audit").fetchone()
    assert row["run_id"] == run_id
    assert row["status"] == "PENDING"
    assert row["user_id"] == "alice"
    assert row["created_at"].year > 2000
    assert row["output_data"] is None
    assert row["error_message"] is None


@pytest.mark.parametrize("flow_id", ["x" * 300, {"nested": "object"}], ids=["too-long", "object"])
def test_other_tenant_with_an_odd_flow_id_is_still_403(client, pg, flow_id):
    response = client.post(
        "/v1/runs",
        json={"flow_definition": {"id": flow_id, "tasks": []}, "tenant_id": "globex"},
        headers=auth("acme"),
    )

    assert_error(response, 403)
    assert_nothing_stored(pg)
