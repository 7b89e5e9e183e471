"""Per-tenant rate limits from policies.yaml, counted in Redis: 429 for that tenant only."""

from __future__ import annotations

import pytest
import redis as redis_lib

from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error

LIMITS = """\
version: 1
default_rate_limit: 5/minute
tenants:
  acme:
    rate_limit: 3/minute
  globex:
    rate_limit: 10/minute
"""


@pytest.fixture(autouse=True)
def instance_path(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESS_INSTANCE_PATH", str(tmp_path / "instance"))


@pytest.fixture
def limited_app(make_pg_app, tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_text(LIMITS)
    return make_pg_app(POLICIES_FILE=str(path))


@pytest.fixture
def client(limited_app):
    return limited_app.test_client()


def start_runs(client, tenant: str, times: int) -> list:
    return [
        client.post("/v1/runs", json={"flow_definition": sample_flow()}, headers=auth(tenant))
        for _ in range(times)
    ]


def test_a_tenant_within_its_limit_is_accepted(client):
    assert [r.status_code for r in start_runs(client, "acme", 3)] == [202, 202, 202]


def test_the_request_over_a_tenants_limit_is_429_with_retry_after(client):
    *_, fourth = start_runs(client, "acme", 4)

    body = assert_error(fourth, 429, "Too Many Requests")
    assert body["detail"]
    assert 0 < int(fourth.headers["Retry-After"]) <= 60


def test_a_request_over_the_limit_stores_nothing(client, pg):
    start_runs(client, "acme", 4)

    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 3


def test_another_tenant_is_unaffected_by_one_tenants_limit(client):
    start_runs(client, "acme", 4)

    assert [r.status_code for r in start_runs(client, "globex", 4)] == [202] * 4


def test_the_default_rate_limit_applies_to_unlisted_tenants(client):
    responses = start_runs(client, "initech", 6)

    assert [r.status_code for r in responses] == [202] * 5 + [429]


def test_each_unlisted_tenant_has_its_own_counter(client):
    start_runs(client, "initech", 6)

    assert start_runs(client, "umbrella", 1)[0].status_code == 202


def test_without_any_rate_limit_there_is_no_limit(make_pg_app, tmp_path):
    path = tmp_path / "none.yaml"
    path.write_text("version: 1\npolicies: {}\n")
    client = make_pg_app(POLICIES_FILE=str(path)).test_client()

    assert {r.status_code for r in start_runs(client, "acme", 12)} == {202}


def test_reading_runs_is_not_rate_limited(client):
    start_runs(client, "acme", 4)

    assert client.get("/v1/runs", headers=auth("acme")).status_code == 200


def test_counters_live_in_redis_under_the_apps_key_prefix(limited_app, client, redis_url):
    start_runs(client, "acme", 1)

    prefix = limited_app.config["CACHE_KEY_PREFIX"] + "ratelimit"
    keys = redis_lib.Redis.from_url(redis_url).keys(f"*{prefix}*")
    assert keys and all(b"tenant:acme" in key for key in keys)


def test_two_apps_count_in_their_own_key_spaces(make_pg_app, tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_text(LIMITS)
    first = make_pg_app(POLICIES_FILE=str(path)).test_client()
    second = make_pg_app(POLICIES_FILE=str(path)).test_client()

    start_runs(first, "acme", 4)

    assert start_runs(second, "acme", 1)[0].status_code == 202
