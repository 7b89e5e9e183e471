"""PostgreSQL unreachable (through a TCP proxy the test controls): quick 503, then recovery."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, url_with_port
from tests.support.proxy import TcpProxy

RUN = {"flow_definition": sample_flow()}
QUICK = 2.0  # seconds: an outage is a 503 within 2 s


@pytest.fixture
def proxy():
    with TcpProxy("127.0.0.1", 5432) as proxy:
        yield proxy


@pytest.fixture
def proxied_app(make_pg_app, postgres_url, proxy):
    return make_pg_app(DATABASE_URL=url_with_port(postgres_url, proxy.port))


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_unavailable(response, elapsed: float) -> None:
    assert_error(response, 503)
    assert int(response.headers["Retry-After"]) > 0
    assert elapsed < QUICK, f"took {elapsed:.2f}s"


def test_create_is_503_with_retry_after_while_the_database_is_cut(proxied_app, proxy, pg):
    client = proxied_app.test_client()
    assert client.post("/v1/runs", json=RUN, headers=auth()).status_code == 202  # pool warm
    proxy.cut()

    response, elapsed = timed(lambda: client.post("/v1/runs", json=RUN, headers=auth()))

    assert_unavailable(response, elapsed)
    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 1


def test_create_on_a_cold_pool_is_503_while_the_database_is_cut(proxied_app, proxy):
    proxy.cut()

    response, elapsed = timed(
        lambda: proxied_app.test_client().post("/v1/runs", json=RUN, headers=auth())
    )

    assert_unavailable(response, elapsed)


def test_replayed_request_is_503_while_the_database_is_cut(proxied_app, proxy):
    client = proxied_app.test_client()
    body = {**RUN, "request_id": "outage-replay"}
    assert client.post("/v1/runs", json=body, headers=auth()).status_code == 202
    proxy.cut()

    response, elapsed = timed(lambda: client.post("/v1/runs", json=body, headers=auth()))

    assert_unavailable(response, elapsed)


def test_get_is_503_with_retry_after_while_the_database_is_cut(proxied_app, proxy):
    client = proxied_app.test_client()
    run_id = client.post("/v1/runs", json=RUN, headers=auth()).get_json()["run_id"]
    proxy.cut()

    # never read before, so not cached: the read has to reach PostgreSQL
    response, elapsed = timed(lambda: client.get(f"/v1/runs/{run_id}", headers=auth()))

    assert_unavailable(response, elapsed)


def test_health_is_503_with_database_fail_while_the_database_is_cut(proxied_app, proxy):
    client = proxied_app.test_client()
    assert client.get("/health").status_code == 200
    proxy.cut()

    response, elapsed = timed(lambda: client.get("/health", headers=auth()))

    assert response.status_code == 503
    assert elapsed < QUICK
    report = response.get_json()
    assert report["status"] == "fail"
    assert report["checks"]["database"]["status"] == "fail"
    assert report["checks"]["database"]["output"]


def test_liveness_stays_200_while_the_database_is_cut(proxied_app, proxy):
    proxy.cut()

    assert proxied_app.test_client().get("/health/live").status_code == 200


def test_same_app_recovers_once_the_database_is_back(proxied_app, proxy, pg):
    client = proxied_app.test_client()
    assert client.post("/v1/runs", json=RUN, headers=auth()).status_code == 202
    proxy.cut()
    assert client.post("/v1/runs", json=RUN, headers=auth()).status_code == 503
    assert client.get(f"/v1/runs/{uuid.uuid4()}", headers=auth()).status_code == 503
    assert client.get("/health").status_code == 503

    proxy.restore()

    created = client.post("/v1/runs", json=RUN, headers=auth())
    assert created.status_code == 202
    run_id = created.get_json()["run_id"]
    assert client.get(f"/v1/runs/{run_id}", headers=auth()).status_code == 200
    assert client.get("/health").status_code == 200
    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 2


def test_requests_during_an_outage_leave_no_partial_rows(proxied_app, proxy, pg):
    client = proxied_app.test_client()
    proxy.cut()
    for _ in range(3):
        assert client.post("/v1/runs", json=RUN, headers=auth()).status_code == 503
    proxy.restore()

    counts = {
        table: pg.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]
        for table in ("flow_runs_audit", "outbox_messages", "audit_events")
    }
    assert counts == {"flow_runs_audit": 0, "outbox_messages": 0, "audit_events": 0}
