"""A known idempotency key is answered from the stored run before anything can refuse it."""

from __future__ import annotations

from ingress_app.state import ingress_state
from tests.conftest import auth, sample_flow
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways


def test_retry_of_an_accepted_request_replays_even_if_policies_changed(make_pg_app, tmp_path, pg):
    policies = tmp_path / "policies.yaml"
    policies.write_text("version: 1\npolicies:\n  retry_limit: {max_retries: 10}\n")
    app = make_pg_app(POLICIES_FILE=str(policies), POLICIES_RELOAD_INTERVAL_SECONDS=0)
    client = app.test_client()
    body = {"flow_definition": sample_flow(), "request_id": "order-77"}
    first = client.post("/v1/runs", json=body, headers=auth())
    assert first.status_code == 202

    policies.write_text("version: 1\npolicies:\n  retry_limit: {max_retries: 1}\n")
    assert ingress_state(app).policies.reload()
    retry = client.post("/v1/runs", json=body, headers=auth())

    assert retry.status_code == 202
    assert retry.get_json() == {**first.get_json(), "replayed": True}
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


def _stdlib_fingerprint(body: dict) -> str:
    """The request hash as versions before orjson stored it."""
    import hashlib
    import json

    material = {
        "flow_id": body.get("flow_id"),
        "flow_version": body.get("flow_version"),
        "flow_definition": body.get("flow_definition"),
        "input": body.get("input") or {},
    }
    canonical = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_retry_of_a_run_stored_with_the_pre_orjson_hash_still_replays(client, pg):
    # 1e16 and 1e-05 are spelt "1e+16"/"1e-05" by the standard library and "1e16"/"1e-5"
    # by orjson, so the two hashes of this payload differ.
    body = {
        "flow_definition": sample_flow(),
        "input": {"big": 1e16, "small": 1e-05},
        "request_id": "before-upgrade",
    }
    first = client.post("/v1/runs", json=body, headers=auth())
    assert first.status_code == 202
    legacy = _stdlib_fingerprint(body)
    stored = pg.execute("SELECT request_hash FROM flow_runs_audit").fetchone()["request_hash"]
    assert stored != legacy  # the hashes really differ for this payload
    pg.execute("UPDATE flow_runs_audit SET request_hash = %s", (legacy,))

    retry = client.post("/v1/runs", json=body, headers=auth())
    changed = client.post(
        "/v1/runs", json={**body, "input": {"big": 2e16}}, headers=auth()
    )

    assert retry.status_code == 202
    assert retry.get_json() == {**first.get_json(), "replayed": True}
    assert changed.status_code == 422
    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 1
