"""Idempotency: (tenant, request_id | Idempotency-Key) names one run, even under races."""

from __future__ import annotations

import threading

from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, count
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways


def body(request_id: str | None = "req-1", **extra) -> dict:
    data = {"flow_definition": sample_flow(), "input": {"email": "a@example.com"}, **extra}
    if request_id is not None:
        data["request_id"] = request_id
    return data


def post(client, data: dict, tenant: str = "acme", **headers):
    return client.post("/v1/runs", json=data, headers={**auth(tenant), **headers})


def test_same_request_id_and_payload_returns_the_original_run(client, pg):
    first = post(client, body(), **{"X-Correlation-ID": "first-call"})
    second = post(client, body(), **{"X-Correlation-ID": "second-call"})

    assert first.status_code == second.status_code == 202
    assert second.get_json() == {**first.get_json(), "replayed": True}
    assert second.get_json()["correlation_id"] == "first-call"
    assert count(pg, "flow_runs_audit") == 1
    assert count(pg, "outbox_messages") == 1
    assert count(pg, "audit_events") == 1


def test_idempotency_key_header_replays_like_request_id(client, pg):
    first = post(client, body(None), **{"Idempotency-Key": "key-1"})
    second = post(client, body(None), **{"Idempotency-Key": "key-1"})

    assert first.status_code == second.status_code == 202
    assert second.get_json() == {**first.get_json(), "replayed": True}
    assert count(pg, "flow_runs_audit") == 1
    assert count(pg, "outbox_messages") == 1
    row = pg.execute("SELECT request_id FROM flow_runs_audit").fetchone()
    assert row["request_id"] == "key-1"


def test_header_and_body_with_the_same_key_are_one_run(client, pg):
    first = post(client, body("key-1"))
    second = post(client, body(None), **{"Idempotency-Key": "key-1"})

    assert second.get_json() == {**first.get_json(), "replayed": True}
    assert count(pg, "flow_runs_audit") == 1


def test_same_key_with_a_different_payload_is_422(client, pg):
    first = post(client, body())

    second = post(client, body(input={"email": "b@example.com"}))

    error = assert_error(second, 422)
    assert "req-1" in error["detail"]
    assert first.status_code == 202
    assert count(pg, "flow_runs_audit") == 1
    assert count(pg, "outbox_messages") == 1


def test_same_key_with_a_different_flow_is_422(client, pg):
    post(client, body())

    second = post(client, {**body(), "flow_definition": sample_flow("other-flow")})

    assert_error(second, 422)
    assert count(pg, "flow_runs_audit") == 1


def test_same_key_in_two_tenants_makes_two_runs(client, pg):
    acme = post(client, body(), tenant="acme")
    globex = post(client, body(), tenant="globex")

    assert acme.status_code == globex.status_code == 202
    assert acme.get_json()["run_id"] != globex.get_json()["run_id"]
    rows = pg.execute("SELECT tenant_id, request_id FROM flow_runs_audit ORDER BY tenant_id")
    assert rows.fetchall() == [
        {"tenant_id": "acme", "request_id": "req-1"},
        {"tenant_id": "globex", "request_id": "req-1"},
    ]
    assert count(pg, "outbox_messages") == 2


def test_requests_without_a_key_each_make_a_run(client, pg):
    first = post(client, body(None))
    second = post(client, body(None))

    assert first.get_json()["run_id"] != second.get_json()["run_id"]
    assert count(pg, "flow_runs_audit") == 2


def test_header_and_body_keys_that_disagree_are_400(client, pg):
    response = post(client, body("body-key"), **{"Idempotency-Key": "header-key"})

    assert_error(response, 400)
    assert count(pg, "flow_runs_audit") == 0


def test_blank_idempotency_key_header_is_400(client, pg):
    response = post(client, body(None), **{"Idempotency-Key": "  "})

    assert_error(response, 400)
    assert count(pg, "flow_runs_audit") == 0


def test_overlong_idempotency_key_header_is_400(client, pg):
    response = post(client, body(None), **{"Idempotency-Key": "k" * 256})

    assert_error(response, 400)
    assert count(pg, "flow_runs_audit") == 0


def test_twenty_concurrent_identical_requests_make_exactly_one_run(app, pg):
    n = 20
    start = threading.Barrier(n)
    headers = auth()
    results: list = [None] * n

    def worker(i: int) -> None:
        client = app.test_client()
        start.wait()
        try:
            response = client.post("/v1/runs", json=body("race-1"), headers=headers)
            results[i] = (response.status_code, response.get_json())
        except Exception as exc:  # reported by the assertions below
            results[i] = (None, repr(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert [status for status, _ in results] == [202] * n, results
    assert len({payload["run_id"] for _, payload in results}) == 1
    assert len({payload["correlation_id"] for _, payload in results}) == 1
    assert count(pg, "flow_runs_audit") == 1
    assert count(pg, "outbox_messages") == 1
    assert count(pg, "audit_events") == 1
