"""Limits on runs in flight (`max_active_runs`, `max_active_runs_per_flow`) against
PostgreSQL: exact under concurrency, released by a terminal status, cheap for tenants
without limits."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest

from ingress_app.runs.events import apply_run_event
from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, count

POLICIES = """\
version: 1
policies: {}
max_active_runs: 5
tenants:
  perflow:
    max_active_runs: 10
    max_active_runs_per_flow: 2
  unlimited:
    max_active_runs: null
"""


@pytest.fixture
def limited_app(make_pg_app, tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_text(POLICIES)
    return make_pg_app(POLICIES_FILE=str(path), DB_POOL_SIZE=30, DB_MAX_OVERFLOW=30)


def _post(client, tenant="acme", flow_id="support-triage", **body):
    flow = sample_flow(flow_id)
    return client.post(
        "/v1/runs", json={"flow_definition": flow, **body}, headers=auth(tenant)
    )


def _finish(app, run_id, tenant="acme", status="SUCCEEDED"):
    with app.app_context():
        apply_run_event({
            "event_id": str(uuid.uuid4()), "run_id": run_id, "tenant_id": tenant,
            "status": status, "occurred_at": datetime.now(UTC).isoformat(),
        })


def test_fifty_parallel_creates_against_a_limit_of_five_accept_exactly_five(limited_app, pg):
    n = 50
    start = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        client = limited_app.test_client()
        start.wait()
        try:
            response = _post(client)
            results[i] = (response.status_code, response.get_json(), response.headers)
        except Exception as exc:  # reported by the assertions below
            results[i] = (None, repr(exc), {})

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    statuses = sorted(status for status, _, _ in results)
    assert statuses == [202] * 5 + [429] * 45, results
    refused = [(body, headers) for status, body, headers in results if status == 429]
    for body, headers in refused:
        assert body["detail"] == {"limit": 5, "active": 5, "scope": "tenant"}
        assert headers["Retry-After"] == "5"
    assert count(pg, "flow_runs_audit") == 5
    assert count(pg, "outbox_messages") == 5
    row = pg.execute("SELECT active FROM active_runs WHERE tenant_id = 'acme' AND flow_id = ''")
    assert row.fetchone()["active"] == 5


def test_a_terminal_status_frees_a_place(limited_app, pg):
    client = limited_app.test_client()
    run_ids = [_post(client).get_json()["run_id"] for _ in range(5)]
    assert_error(_post(client), 429)
    _finish(limited_app, run_ids[0], status="RUNNING")  # still in flight
    assert_error(_post(client), 429)
    _finish(limited_app, run_ids[0], status="FAILED")
    assert _post(client).status_code == 202
    assert_error(_post(client), 429)
    # a run cancelled by request is in flight until the orchestrator says CANCELLED
    client.post(f"/v1/runs/{run_ids[1]}/cancel", headers=auth())
    assert_error(_post(client), 429)
    _finish(limited_app, run_ids[1], status="CANCELLED")
    _finish(limited_app, run_ids[1], status="CANCELLED")  # twice: released once
    assert _post(client).status_code == 202
    assert_error(_post(client), 429)


def test_per_flow_limit_and_a_tenant_without_limit(limited_app, pg):
    client = limited_app.test_client()
    assert [_post(client, "perflow", "a").status_code for _ in range(3)] == [202, 202, 429]
    refused = _post(client, "perflow", "a")
    assert refused.get_json()["detail"] == {"limit": 2, "active": 2, "scope": "flow"}
    assert _post(client, "perflow", "b").status_code == 202
    assert [_post(client, "unlimited").status_code for _ in range(8)] == [202] * 8
    assert count(pg, "active_runs WHERE tenant_id = 'unlimited'") == 0


def test_a_retry_of_an_accepted_run_replays_at_the_limit(limited_app):
    client = limited_app.test_client()
    first = _post(client, request_id="order-1")
    for _ in range(4):
        _post(client)
    again = _post(client, request_id="order-1")
    assert again.status_code == 202
    assert again.get_json()["run_id"] == first.get_json()["run_id"]


def test_runs_in_flight_before_the_limit_count(make_pg_app, tmp_path, pg):
    plain = make_pg_app().test_client()
    done = _post(plain).get_json()["run_id"]
    for _ in range(3):
        assert _post(plain).status_code == 202
    path = tmp_path / "policies.yaml"
    path.write_text(POLICIES)
    app = make_pg_app(POLICIES_FILE=str(path))
    _finish(app, done)  # finished before the limit was set: not counted
    client = app.test_client()
    assert [_post(client).status_code for _ in range(3)] == [202, 202, 429]
