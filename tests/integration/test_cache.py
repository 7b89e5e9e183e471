"""GET /v1/runs/{id} is cached in Redis per tenant; a Redis outage is never an error."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis as redis_lib

from ingress_app import create_app
from ingress_app.extensions import db
from tests.conftest import auth, base_config, key_prefix, truncate_all
from tests.integration.conftest import create_run
from tests.support.proxy import TcpProxy


@pytest.fixture
def redis_client(redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def cached_app(make_pg_app, redis_client):
    app = make_pg_app()
    yield app
    prefix = app.config["CACHE_KEY_PREFIX"]
    for key in redis_client.scan_iter(f"{prefix}*"):
        redis_client.delete(key)


def set_status(pg, run_id: str, status: str) -> None:
    pg.execute("UPDATE flow_runs_audit SET status = %s WHERE run_id = %s", (status, run_id))


def get_status(client, run_id: str, tenant: str = "acme") -> str:
    response = client.get(f"/v1/runs/{run_id}", headers=auth(tenant))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["status"]


def cache_warnings(caplog) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "ingress_app.cache" and r.levelno == logging.WARNING
    ]


def test_second_get_is_served_from_redis(cached_app, pg):
    client = cached_app.test_client()
    run_id = create_run(client)["run_id"]
    assert get_status(client, run_id) == "PENDING"

    set_status(pg, run_id, "RUNNING")  # behind the service's back

    assert get_status(client, run_id) == "PENDING"


def test_cached_run_is_stored_under_a_key_naming_its_tenant(cached_app, redis_client):
    client = cached_app.test_client()
    run_id = create_run(client)["run_id"]

    get_status(client, run_id)

    prefix = cached_app.config["CACHE_KEY_PREFIX"]
    keys = [k.decode() for k in redis_client.scan_iter(f"{prefix}*{run_id}*")]
    assert len(keys) == 1
    assert "acme" in keys[0]


def test_evicted_entry_is_read_again_from_the_database(cached_app, pg, redis_client):
    client = cached_app.test_client()
    run_id = create_run(client)["run_id"]
    get_status(client, run_id)
    set_status(pg, run_id, "RUNNING")

    prefix = cached_app.config["CACHE_KEY_PREFIX"]
    for key in redis_client.scan_iter(f"{prefix}*{run_id}*"):
        redis_client.delete(key)

    assert get_status(client, run_id) == "RUNNING"


def test_cached_run_is_not_served_to_another_tenant(cached_app):
    client = cached_app.test_client()
    run_id = create_run(client, tenant="acme")["run_id"]
    get_status(client, run_id, tenant="acme")

    response = client.get(f"/v1/runs/{run_id}", headers=auth("globex"))

    assert response.status_code == 404


def test_unknown_run_is_not_cached(cached_app, redis_client):
    client = cached_app.test_client()

    client.get("/v1/runs/nope", headers=auth())

    prefix = cached_app.config["CACHE_KEY_PREFIX"]
    assert not list(redis_client.scan_iter(f"{prefix}*nope*"))


def test_health_reports_redis_cache_pass(cached_app):
    response = cached_app.test_client().get("/health", headers=auth())

    assert response.status_code == 200
    assert response.get_json()["checks"]["cache"] == {"status": "pass", "componentType": "redis"}


# --------------------------------------------------------------------------- Redis down


@pytest.fixture
def no_redis_client(make_pg_app):
    return make_pg_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()


def test_get_is_served_from_the_database_when_redis_is_unreachable(no_redis_client, pg, caplog):
    caplog.set_level(logging.WARNING)
    run_id = create_run(no_redis_client)["run_id"]
    set_status(pg, run_id, "RUNNING")

    started = time.monotonic()
    assert get_status(no_redis_client, run_id) == "RUNNING"
    assert time.monotonic() - started < 2

    assert len(cache_warnings(caplog)) >= 1


def test_redis_outage_warning_is_logged_once_not_per_request(no_redis_client, caplog):
    caplog.set_level(logging.WARNING)
    run_id = create_run(no_redis_client)["run_id"]

    for _ in range(5):
        get_status(no_redis_client, run_id)

    assert len(cache_warnings(caplog)) == 1


def test_accept_works_when_redis_is_unreachable(no_redis_client, pg):
    create_run(no_redis_client)

    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 1


def test_health_is_200_with_cache_warn_when_redis_is_unreachable(no_redis_client):
    response = no_redis_client.get("/health", headers=auth())

    assert response.status_code == 200
    report = response.get_json()
    assert report["status"] == "warn"  # degraded, still ready
    assert report["checks"]["cache"]["status"] == "warn"
    assert report["checks"]["cache"]["output"]
    assert report["checks"]["database"]["status"] == "pass"


def test_redis_cut_mid_flight_falls_back_and_recovers(
    make_pg_app, pg, redis_url, redis_client, caplog
):
    caplog.set_level(logging.WARNING)
    target = urlsplit(redis_url)
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        # the test server's database and credentials, reached through the proxy
        credentials, at, _ = target.netloc.rpartition("@")
        through_proxy = urlunsplit(
            target._replace(netloc=f"{credentials}{at}127.0.0.1:{proxy.port}")
        )
        app = make_pg_app(REDIS_URL=through_proxy, CACHE_RETRY_AFTER_SECONDS=0.2)
        client = app.test_client()
        run_id = create_run(client)["run_id"]
        assert get_status(client, run_id) == "PENDING"  # now cached

        proxy.cut()
        set_status(pg, run_id, "RUNNING")
        started = time.monotonic()
        assert get_status(client, run_id) == "RUNNING"  # from PostgreSQL
        assert time.monotonic() - started < 2
        assert cache_warnings(caplog)
        health = client.get("/health")
        assert health.status_code == 200
        assert health.get_json()["checks"]["cache"]["status"] == "warn"

        proxy.restore()
        time.sleep(0.3)  # the breaker's pause
        get_status(client, run_id)
        assert client.get("/health").get_json()["checks"]["cache"]["status"] == "pass"
        prefix = app.config["CACHE_KEY_PREFIX"]
        assert list(redis_client.scan_iter(f"{prefix}*{run_id}*"))
        for key in redis_client.scan_iter(f"{prefix}*"):
            redis_client.delete(key)


def test_the_key_prefix_comes_from_the_environment(
    postgres_url, redis_url, redis_client, monkeypatch
):
    prefix = key_prefix()
    monkeypatch.setenv("CACHE_KEY_PREFIX", prefix)
    app = create_app(base_config(DATABASE_URL=postgres_url, REDIS_URL=redis_url))
    try:
        client = app.test_client()
        run_id = create_run(client)["run_id"]
        get_status(client, run_id)

        assert app.config["CACHE_KEY_PREFIX"] == prefix
        assert [k.decode() for k in redis_client.scan_iter(f"{prefix}*{run_id}*")]
    finally:
        for key in redis_client.scan_iter(f"{prefix}*"):
            redis_client.delete(key)
        with app.app_context():
            db.engine.dispose()
        truncate_all(postgres_url)
