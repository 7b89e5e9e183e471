"""A known idempotency key is answered from the stored run before anything can refuse it."""

from __future__ import annotations

from tests.conftest import auth, sample_flow


def test_retry_of_an_accepted_request_replays_even_if_policies_changed(make_pg_app, tmp_path, pg):
    policies = tmp_path / "policies.yaml"
    policies.write_text("version: 1\npolicies:\n  retry_limit: {max_retries: 10}\n")
    app = make_pg_app(POLICIES_FILE=str(policies), POLICIES_RELOAD_INTERVAL_SECONDS=0)
    client = app.test_client()
    body = {"flow_definition": sample_flow(), "request_id": "order-77"}
    first = client.post("/v1/runs", json=body, headers=auth())
    assert first.status_code == 202

    policies.write_text("version: 1\npolicies:\n  retry_limit: {max_retries: 1}\n")
    assert app.extensions["ingress_policies"].reload()
    retry = client.post("/v1/runs", json=body, headers=auth())

    assert retry.status_code == 202
    assert retry.get_json() == first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 1


def test_reused_key_with_a_different_invalid_payload_is_422_not_400(client):
    assert client.post(
        "/v1/runs", json={"flow_definition": sample_flow(), "request_id": "k-9"}, headers=auth()
    ).status_code == 202

    response = client.post(
        "/v1/runs",
        json={"flow_definition": {"id": "broken", "tasks": []}, "request_id": "k-9"},
        headers=auth(),
    )

    assert response.status_code == 422
