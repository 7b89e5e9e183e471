"""The embedded default (SQLite, in-process cache, no Kafka): the runs API works alike."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.conftest import auth, sample_flow

RUN = {"flow_definition": sample_flow(), "input": {"email": "a@example.com"}}


def db_path(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///") :]


def rows(app, sql: str, *params) -> list[sqlite3.Row]:
    with sqlite3.connect(db_path(app)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()


def count(app, table: str) -> int:
    return rows(app, f"SELECT count(*) AS n FROM {table}")[0]["n"]


def test_create_run_stores_the_run_its_message_and_audit_event(sqlite_app, sqlite_client):
    response = sqlite_client.post(
        "/v1/runs", json=RUN, headers={**auth("acme", "alice"), "X-Correlation-ID": "c-1"}
    )

    assert response.status_code == 202
    run_id = response.get_json()["run_id"]
    (run,) = rows(sqlite_app, "SELECT * FROM flow_runs_audit")
    assert (run["run_id"], run["tenant_id"], run["user_id"], run["status"]) == (
        run_id,
        "acme",
        "alice",
        "PENDING",
    )
    assert json.loads(run["input_data"]) == {"email": "a@example.com"}
    (message,) = rows(sqlite_app, "SELECT * FROM outbox_messages")
    assert message["key"] == run_id and message["published_at"] is None
    assert json.loads(message["headers"])["correlation_id"] == "c-1"
    assert count(sqlite_app, "audit_events") == 1


def test_get_run_returns_the_stored_run(sqlite_client):
    run_id = sqlite_client.post("/v1/runs", json=RUN, headers=auth()).get_json()["run_id"]

    response = sqlite_client.get(f"/v1/runs/{run_id}", headers=auth())

    assert response.status_code == 200
    run = response.get_json()
    assert run["run_id"] == run_id
    assert run["status"] == "PENDING"
    assert run["input"] == {"email": "a@example.com"}
    assert run["created_at"] and run["updated_at"]


def test_get_run_of_another_tenant_is_404(sqlite_client):
    run_id = sqlite_client.post("/v1/runs", json=RUN, headers=auth("acme")).get_json()["run_id"]

    response = sqlite_client.get(f"/v1/runs/{run_id}", headers=auth("globex"))

    assert response.status_code == 404
    assert set(response.get_json()) == {"error", "detail"}


def test_idempotent_replay_returns_the_original_run(sqlite_app, sqlite_client):
    body = {**RUN, "request_id": "req-1"}

    first = sqlite_client.post("/v1/runs", json=body, headers=auth())
    second = sqlite_client.post("/v1/runs", json=body, headers=auth())

    assert first.status_code == second.status_code == 202
    assert second.get_json() == {**first.get_json(), "replayed": True}
    assert count(sqlite_app, "flow_runs_audit") == 1
    assert count(sqlite_app, "outbox_messages") == 1


def test_idempotency_key_header_replays(sqlite_app, sqlite_client):
    headers = {**auth(), "Idempotency-Key": "key-1"}

    first = sqlite_client.post("/v1/runs", json=RUN, headers=headers)
    second = sqlite_client.post("/v1/runs", json=RUN, headers=headers)

    assert second.get_json() == {**first.get_json(), "replayed": True}
    assert count(sqlite_app, "flow_runs_audit") == 1


def test_reused_key_with_a_different_payload_is_422(sqlite_app, sqlite_client):
    sqlite_client.post("/v1/runs", json={**RUN, "request_id": "req-1"}, headers=auth())

    response = sqlite_client.post(
        "/v1/runs", json={**RUN, "input": {"other": 1}, "request_id": "req-1"}, headers=auth()
    )

    assert response.status_code == 422
    assert set(response.get_json()) == {"error", "detail"}
    assert count(sqlite_app, "flow_runs_audit") == 1


def test_invalid_flow_is_400_and_stores_nothing(sqlite_app, sqlite_client):
    response = sqlite_client.post(
        "/v1/runs", json={"flow_definition": {"id": "f", "tasks": []}}, headers=auth()
    )

    assert response.status_code == 400
    assert count(sqlite_app, "flow_runs_audit") == 0
    assert count(sqlite_app, "outbox_messages") == 0


def test_get_run_is_cached_in_process(sqlite_app, sqlite_client):
    run_id = sqlite_client.post("/v1/runs", json=RUN, headers=auth()).get_json()["run_id"]
    sqlite_client.get(f"/v1/runs/{run_id}", headers=auth())
    with sqlite3.connect(db_path(sqlite_app)) as conn:
        conn.execute("UPDATE flow_runs_audit SET status = 'RUNNING'")

    run = sqlite_client.get(f"/v1/runs/{run_id}", headers=auth()).get_json()

    assert sqlite_app.config["CACHE_TYPE"] == "SimpleCache"
    assert run["status"] == "PENDING"


def test_health_passes_database_and_in_process_cache(sqlite_client):
    response = sqlite_client.get("/health", headers=auth())

    assert response.status_code == 200
    checks = response.get_json()["checks"]
    assert checks["database"]["status"] == "pass"
    assert checks["cache"] == {"status": "pass", "componentType": "in-process"}


def test_without_a_secret_a_development_secret_is_generated_and_kept(tmp_path, monkeypatch):
    from ingress_app import create_app

    monkeypatch.setenv("INGRESS_INSTANCE_PATH", str(tmp_path / "instance"))
    config = {"TESTING": True, "JWT_SECRET_KEY": "", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}

    first = create_app(dict(config))
    second = create_app(dict(config))

    assert first.config["JWT_SECRET_KEY"]
    assert first.config["JWT_SECRET_KEY"] == second.config["JWT_SECRET_KEY"]
    assert (tmp_path / "instance" / "dev-jwt-secret").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db"])
def test_postgresql_urls_use_psycopg3(url):
    from ingress_app.config import normalise_database_url

    assert normalise_database_url(url) == "postgresql+psycopg://u@h/db"


def test_runs_in_flight_are_limited_and_released_on_the_embedded_default(tmp_path):
    """`max_active_runs` counts on SQLite too: the third run is 429 until one finishes, and
    a refused run leaves nothing behind."""
    import uuid
    from datetime import UTC, datetime

    from ingress_app import create_app
    from ingress_app.extensions import db
    from ingress_app.runs.events import apply_run_event
    from tests.conftest import base_config, migrate

    policies = tmp_path / "policies.yaml"
    policies.write_text("version: 1\npolicies: {}\nmax_active_runs: 2\n")
    app = create_app(base_config(DATABASE_URL=f"sqlite:///{tmp_path / 'limits.db'}",
                                 POLICIES_FILE=str(policies)))
    migrate(app)
    client = app.test_client()
    try:
        first, second, third = (client.post("/v1/runs", json=RUN, headers=auth())
                                for _ in range(3))
        assert [first.status_code, second.status_code, third.status_code] == [202, 202, 429]
        assert third.get_json()["detail"] == {"limit": 2, "active": 2, "scope": "tenant"}
        assert count(app, "flow_runs_audit") == 2 and count(app, "outbox_messages") == 2
        with app.app_context():
            apply_run_event({"event_id": str(uuid.uuid4()), "run_id": first.get_json()["run_id"],
                             "tenant_id": "acme", "status": "SUCCEEDED",
                             "occurred_at": datetime.now(UTC).isoformat()})
        again = client.post("/v1/runs", json=RUN, headers=auth())
        assert again.status_code == 202, again.get_json()
        assert rows(app, "SELECT active FROM active_runs WHERE flow_id = ''")[0]["active"] == 2
    finally:
        with app.app_context():
            db.engine.dispose()
