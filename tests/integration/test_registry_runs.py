"""Runs that name a registry flow: latest or pinned, inline override, deprecation, caching."""

from __future__ import annotations

import json
import threading
import time

from jsonschema import Draft202012Validator

from tests.conftest import auth, key_prefix, sample_flow
from tests.integration.conftest import assert_error, assert_nothing_stored
from tests.integration.test_message_schemas import problems
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways

RUNS = "/v1/runs"


def register(client, version: str, tenant: str = "acme", flow_id: str = "support-triage", **f):
    body = {**sample_flow(flow_id), "version": version, **f}
    response = client.post("/v1/flows", json=body, headers=auth(tenant))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def start(client, tenant: str = "acme", **body) -> str:
    response = client.post(RUNS, json=body, headers=auth(tenant))
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["run_id"]


def run_row(pg, run_id: str) -> dict:
    return pg.execute("SELECT * FROM flow_runs_audit WHERE run_id = %s", (run_id,)).fetchone()


def message(pg, run_id: str) -> dict:
    row = pg.execute("SELECT payload FROM outbox_messages WHERE key = %s", (run_id,)).fetchone()
    return json.loads(row["payload"])


def used_version(pg, run_id: str) -> str:
    return run_row(pg, run_id)["flow_version"]


# --------------------------------------------------------------------------- from the registry


def test_a_run_by_flow_id_uses_the_latest_version(client, pg):
    register(client, "1")
    second = register(client, "2", description="second")

    run_id = start(client, flow_id="support-triage", input={"email": "a@example.com"})

    row = run_row(pg, run_id)
    assert row["flow_version"] == "2" and row["flow_origin"] == "registry"
    assert row["flow_definition"] == second["flow_definition"]


def test_a_run_by_flow_id_and_version_uses_that_version(client, pg):
    first = register(client, "1")
    register(client, "2", description="second")

    run_id = start(client, flow_id="support-triage", flow_version="1")

    row = run_row(pg, run_id)
    assert row["flow_version"] == "1" and row["flow_origin"] == "registry"
    assert row["flow_definition"] == first["flow_definition"]


def test_the_message_records_the_registry_version_and_origin(client, pg):
    register(client, "4")

    envelope = message(pg, start(client, flow_id="support-triage"))

    assert envelope["flow_origin"] == "registry"
    assert envelope["flow_version"] == "4" and envelope["flow_definition"]["version"] == "4"
    assert problems("flow_run.requested", envelope) == []


def test_the_run_shows_its_flow_origin(client):
    register(client, "1")
    run_id = start(client, flow_id="support-triage")

    run = client.get(f"{RUNS}/{run_id}", headers=auth()).get_json()

    assert run["flow_origin"] == "registry" and run["flow_version"] == "1"


def test_the_accept_is_audited_with_the_origin(client, pg):
    register(client, "1")
    run_id = start(client, flow_id="support-triage")

    event = pg.execute(
        "SELECT detail FROM audit_events WHERE action = 'run.accepted' AND resource_id = %s",
        (run_id,),
    ).fetchone()

    assert event["detail"]["flow_origin"] == "registry" and event["detail"]["flow_version"] == "1"


def test_policies_of_the_day_apply_to_a_registry_flow(make_pg_app, tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESS_INSTANCE_PATH", str(tmp_path / "instance"))
    policies = tmp_path / "policies.yaml"
    policies.write_text("version: 1\npolicies:\n  retry_limit: {max_retries: 10}\n")
    app = make_pg_app(POLICIES_FILE=str(policies))
    client = app.test_client()
    register(client, "1")  # classify has retries: 2
    strict = tmp_path / "strict.yaml"
    strict.write_text("version: 1\npolicies:\n  retry_limit: {max_retries: 1}\n")
    strict_client = make_pg_app(POLICIES_FILE=str(strict)).test_client()

    response = strict_client.post(RUNS, json={"flow_id": "support-triage"}, headers=auth())

    violations = assert_error(response, 403)["detail"]["violations"]
    assert violations[0]["policy"] == "retry_limit"


def test_the_dry_run_resolves_registry_flows_too(client):
    register(client, "1")

    response = client.post(f"{RUNS}/validate", json={"flow_id": "support-triage"}, headers=auth())

    assert response.status_code == 200
    assert response.get_json()["flow_definition"]["version"] == "1"


# --------------------------------------------------------------------------- inline wins


def test_an_inline_definition_wins_over_the_registry(client, pg):
    register(client, "1", description="registered")
    inline = {**sample_flow(), "version": "inline-9"}

    run_id = start(client, flow_id="support-triage", flow_definition=inline)

    row = run_row(pg, run_id)
    assert row["flow_origin"] == "inline" and row["flow_version"] == "inline-9"
    assert "description" not in row["flow_definition"]
    assert message(pg, run_id)["flow_origin"] == "inline"


def test_an_inline_run_of_an_unregistered_flow_is_inline(client, pg):
    run_id = start(client, flow_definition=sample_flow())

    assert run_row(pg, run_id)["flow_origin"] == "inline"
    assert message(pg, run_id)["flow_origin"] == "inline"


# --------------------------------------------------------------------------- not found


def test_an_unknown_flow_is_404(client, pg):
    body = assert_error(client.post(RUNS, json={"flow_id": "nope"}, headers=auth()), 404)

    assert "nope" in body["detail"]
    assert_nothing_stored(pg)


def test_an_unknown_version_is_404(client, pg):
    register(client, "1")

    response = client.post(
        RUNS, json={"flow_id": "support-triage", "flow_version": "9"}, headers=auth()
    )

    assert "'9'" in assert_error(response, 404)["detail"]
    assert_nothing_stored(pg)


def test_another_tenants_registry_flow_is_404(client, pg):
    register(client, "1", tenant="acme")

    for body in ({"flow_id": "support-triage"}, {"flow_id": "support-triage", "flow_version": "1"}):
        assert_error(client.post(RUNS, json=body, headers=auth("globex")), 404)
    assert_nothing_stored(pg)


def test_each_tenant_runs_its_own_flow_of_the_same_id(client, pg):
    register(client, "1", tenant="acme", description="acme's")
    register(client, "1", tenant="globex", description="globex's")

    acme = start(client, "acme", flow_id="support-triage")
    globex = start(client, "globex", flow_id="support-triage")

    assert run_row(pg, acme)["flow_definition"]["description"] == "acme's"
    assert run_row(pg, globex)["flow_definition"]["description"] == "globex's"


# --------------------------------------------------------------------------- deprecation


def test_a_deprecated_latest_version_is_skipped(client, pg):
    register(client, "1")
    register(client, "2")
    client.delete("/v1/flows/support-triage/versions/2", headers=auth())

    assert used_version(pg, start(client, flow_id="support-triage")) == "1"


def test_a_deprecated_version_named_explicitly_still_runs(client, pg):
    register(client, "1")
    client.delete("/v1/flows/support-triage/versions/1", headers=auth())

    run_id = start(client, flow_id="support-triage", flow_version="1")

    assert used_version(pg, run_id) == "1"


def test_a_flow_whose_every_version_is_deprecated_cannot_run_by_latest(client):
    register(client, "1")
    client.delete("/v1/flows/support-triage/versions/1", headers=auth())

    assert_error(client.post(RUNS, json={"flow_id": "support-triage"}, headers=auth()), 404)


def test_runs_keep_their_copy_of_a_later_deprecated_version(client, pg):
    register(client, "1")
    run_id = start(client, flow_id="support-triage")

    client.delete("/v1/flows/support-triage/versions/1", headers=auth())

    run = client.get(f"{RUNS}/{run_id}", headers=auth()).get_json()
    assert run["flow_version"] == "1"
    assert run_row(pg, run_id)["flow_definition"]["version"] == "1"


# --------------------------------------------------------------------------- the cache


def test_registering_a_new_version_invalidates_the_cached_latest(client, pg):
    register(client, "1")
    assert used_version(pg, start(client, flow_id="support-triage")) == "1"

    register(client, "2")

    assert used_version(pg, start(client, flow_id="support-triage")) == "2"


def test_deprecating_the_latest_invalidates_the_cached_latest(client, pg):
    register(client, "1")
    register(client, "2")
    assert used_version(pg, start(client, flow_id="support-triage")) == "2"

    client.delete("/v1/flows/support-triage/versions/2", headers=auth())

    assert used_version(pg, start(client, flow_id="support-triage")) == "1"


def test_registering_a_flow_invalidates_a_cached_not_found(client, pg):
    assert_error(client.post(RUNS, json={"flow_id": "support-triage"}, headers=auth()), 404)
    pinned = {"flow_id": "support-triage", "flow_version": "1"}
    assert_error(client.post(RUNS, json=pinned, headers=auth()), 404)

    register(client, "1")

    assert used_version(pg, start(client, flow_id="support-triage")) == "1"
    assert used_version(pg, start(client, **pinned)) == "1"


def test_the_latest_lookup_is_served_from_the_cache(client, pg):
    register(client, "1")
    start(client, flow_id="support-triage")  # fills the cache

    pg.execute("DELETE FROM flows")  # behind the service's back

    assert used_version(pg, start(client, flow_id="support-triage")) == "1"


def test_without_the_workers_copy_redis_serves_the_lookup(make_pg_app, pg):
    client = make_pg_app(REGISTRY_LOCAL_CACHE_SECONDS=0).test_client()
    register(client, "1")
    start(client, flow_id="support-triage")

    pg.execute("DELETE FROM flows")

    assert used_version(pg, start(client, flow_id="support-triage")) == "1"


def test_the_cache_is_per_tenant(client, pg):
    register(client, "1", tenant="acme")
    start(client, "acme", flow_id="support-triage")  # acme's lookup is cached

    response = client.post(RUNS, json={"flow_id": "support-triage"}, headers=auth("globex"))

    assert_error(response, 404)


def two_workers(make_pg_app, **config):
    """Two app instances (gunicorn workers) sharing one Redis."""
    prefix = key_prefix()
    return [make_pg_app(CACHE_KEY_PREFIX=prefix, **config).test_client() for _ in range(2)]


def test_a_registration_through_one_worker_evicts_what_another_cached(make_pg_app, pg):
    worker_a, worker_b = two_workers(make_pg_app, REGISTRY_LOCAL_CACHE_SECONDS=0)
    register(worker_a, "1")
    assert used_version(pg, start(worker_b, flow_id="support-triage")) == "1"

    register(worker_a, "2")

    assert used_version(pg, start(worker_b, flow_id="support-triage")) == "2"


def test_another_workers_own_copy_expires_after_its_lifetime(make_pg_app, pg):
    worker_a, worker_b = two_workers(make_pg_app, REGISTRY_LOCAL_CACHE_SECONDS=0.3)
    register(worker_a, "1")
    assert used_version(pg, start(worker_b, flow_id="support-triage")) == "1"
    register(worker_a, "2")

    time.sleep(0.35)

    assert used_version(pg, start(worker_b, flow_id="support-triage")) == "2"


def test_the_worker_that_registers_sees_the_new_version_at_once(make_pg_app, pg):
    client = make_pg_app(REGISTRY_LOCAL_CACHE_SECONDS=3600).test_client()
    register(client, "1")
    assert used_version(pg, start(client, flow_id="support-triage")) == "1"

    register(client, "2")

    assert used_version(pg, start(client, flow_id="support-triage")) == "2"


def test_a_lookup_racing_a_registration_cannot_cache_the_old_latest(make_pg_app, pg, monkeypatch):
    from ingress_app.extensions import cache
    from ingress_app.registry import service as registry

    app = make_pg_app(REGISTRY_LOCAL_CACHE_SECONDS=0)
    client = app.test_client()
    register(client, "1")
    with app.app_context():
        cache.delete(registry._cache_key("acme", "support-triage", None))
    read_from_database = registry._read
    raced = []

    def read_then_a_registration_commits(tenant_id, flow_id, version):
        found = read_from_database(tenant_id, flow_id, version)
        if not raced:  # the lookup has read v1; now v2 is registered before it caches v1
            raced.append(True)
            writer = threading.Thread(target=register, args=(app.test_client(), "2"))
            writer.start()
            writer.join(10)
        return found

    monkeypatch.setattr(registry, "_read", read_then_a_registration_commits)

    assert used_version(pg, start(client, flow_id="support-triage")) == "1"
    assert used_version(pg, start(client, flow_id="support-triage")) == "2"


def test_the_registry_path_works_without_redis(make_pg_app, pg):
    client = make_pg_app(
        REDIS_URL="redis://127.0.0.1:1/0", CACHE_RETRY_AFTER_SECONDS=60
    ).test_client()
    register(client, "1")

    assert used_version(pg, start(client, flow_id="support-triage")) == "1"
    register(client, "2")
    assert used_version(pg, start(client, flow_id="support-triage")) == "2"


# --------------------------------------------------------------------------- embedded default


def test_registry_runs_work_on_sqlite(sqlite_client):
    body = {**sample_flow(), "version": "1", "tags": ["support"], "name": "Triage"}
    assert sqlite_client.post("/v1/flows", json=body, headers=auth()).status_code == 201

    listing = sqlite_client.get("/v1/flows?tag=support&q=TRI", headers=auth()).get_json()
    assert [item["flow_id"] for item in listing["items"]] == ["support-triage"]
    assert sqlite_client.get("/v1/flows?tag=supp", headers=auth()).get_json()["items"] == []

    response = sqlite_client.post(RUNS, json={"flow_id": "support-triage"}, headers=auth())
    assert response.status_code == 202
    run = sqlite_client.get(f"{RUNS}/{response.get_json()['run_id']}", headers=auth()).get_json()
    assert run["flow_origin"] == "registry" and run["flow_version"] == "1"


def test_the_message_schema_knows_flow_origin():
    from tests.integration.test_message_schemas import load_schema

    schema = load_schema("flow_run.requested")
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["flow_origin"]["enum"] == ["registry", "inline"]
