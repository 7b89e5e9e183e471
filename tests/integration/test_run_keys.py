"""A run id from the path can only name a run of the caller's tenant, cached or not."""

from __future__ import annotations

import pytest
import redis as redis_lib

from ingress_app.runs.service import run_cache_key
from tests.conftest import auth
from tests.integration.conftest import assert_error, create_run
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways


@pytest.fixture
def redis_client(redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def cached_app(make_pg_app, redis_client):
    app = make_pg_app()
    yield app
    for key in redis_client.scan_iter(f"{app.config['CACHE_KEY_PREFIX']}*"):
        redis_client.delete(key)


def test_a_tenant_cannot_read_a_cached_run_of_a_tenant_named_after_it(cached_app):
    client = cached_app.test_client()
    run_id = create_run(client, tenant="acme:eu", input={"secret": "eu-only"})["run_id"]
    own = client.get(f"/v1/runs/{run_id}", headers=auth("acme:eu"))
    assert own.status_code == 200 and own.get_json()["input"] == {"secret": "eu-only"}

    for path in (f"/v1/runs/eu:{run_id}", f"/v1/runs/eu%3A{run_id}"):
        response = client.get(path, headers=auth("acme"))
        body = assert_error(response, 404)
        assert "eu-only" not in response.get_data(as_text=True), body
        assert_error(client.post(f"{path}/cancel", headers=auth("acme")), 404)


def test_a_malformed_run_id_is_404_without_a_cache_lookup(cached_app, redis_client):
    client = cached_app.test_client()
    # a value planted under the key such an id would use is never read
    prefix = cached_app.config["CACHE_KEY_PREFIX"]
    with cached_app.app_context():
        redis_client.set(prefix + run_cache_key("acme", "planted"), b'{"run_id": "planted"}')

    response = client.get("/v1/runs/planted", headers=auth("acme"))

    assert_error(response, 404)
    assert b'"run_id": "planted"' not in response.get_data()


def test_a_run_is_still_read_and_cached_under_its_own_id(cached_app, redis_client):
    client = cached_app.test_client()
    run_id = create_run(client, tenant="acme:eu")["run_id"]
    assert client.get(f"/v1/runs/{run_id}", headers=auth("acme:eu")).status_code == 200
    prefix = cached_app.config["CACHE_KEY_PREFIX"]
    assert redis_client.exists(prefix + f"run:acme%3Aeu:{run_id}")
