"""Helpers shared by the integration tests: the error envelope and row counts."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from flask import request_started
from sqlalchemy.engine import make_url

from ingress_app import create_app
from tests.conftest import (
    TABLES,
    auth,
    base_config,
    key_prefix,
    make_token,
    sample_flow,
    truncate_all,
)

# Where an accepted run leaves its traces; "nothing stored" means all of these are empty.
RUN_TABLES = ("flow_runs_audit", "outbox_messages")


def assert_error(response, status: int, error: str | None = None) -> dict[str, Any]:
    """The response is `status` with the JSON envelope `{"error", "detail"}`; returns the body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error", "detail"}, body
    assert isinstance(body["error"], str) and body["error"]
    if error is not None:  # refusals add their first reason: "Validation failed: x is …"
        assert body["error"] == error or body["error"].startswith(f"{error}: "), body["error"]
    return body


def count(pg, table: str) -> int:
    return pg.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]


def assert_nothing_stored(pg) -> None:
    assert {table: count(pg, table) for table in RUN_TABLES} == {t: 0 for t in RUN_TABLES}


def create_run(client, tenant: str = "acme", user: str = "alice", **body: Any) -> dict:
    """POST a valid run and return the 202 body."""
    body.setdefault("flow_definition", sample_flow())
    response = client.post("/v1/runs", json=body, headers=auth(tenant, user))
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


def url_with_port(url: str, port: int) -> str:
    """The same database URL, reached through another local port (a TcpProxy)."""
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def shared_app(postgres_url, redis_url, front_door):
    """One PostgreSQL + Redis app for a whole module, for requests that store nothing.

    Building an app and emptying every table costs a few hundred milliseconds per test;
    the long rejection matrices (401s, malformed bodies) use this app instead.
    """
    app = create_app(
        base_config(
            DATABASE_URL=postgres_url,
            REDIS_URL=redis_url,
            CACHE_KEY_PREFIX=key_prefix(),
            RUN_FRONT_DOOR=front_door,
        )
    )
    yield app
    with app.app_context():
        from ingress_app.extensions import db

        db.engine.dispose()


@pytest.fixture
def quiet_client(shared_app, postgres_url):
    """A client of `shared_app`; should a test store something after all, the tables
    are emptied so that the next test still starts from nothing."""
    yield shared_app.test_client()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        stored = conn.execute(
            " UNION ALL ".join(f"(SELECT 1 FROM {table} LIMIT 1)" for table in TABLES)
        ).fetchone()
    if stored:
        truncate_all(postgres_url)


@pytest.fixture
def fresh_client(make_pg_app):
    """An app of its own (tables emptied afterwards), in modules that override `client`."""
    return make_pg_app().test_client()


@pytest.fixture
def flask_handled():
    """The names of the apps that handled a request through Flask (`request_started`), in
    order: how the front door's tests tell a request it answered itself."""
    seen: list[str] = []

    def record(sender, **extra):
        seen.append(sender.name)

    request_started.connect(record)
    yield seen
    request_started.disconnect(record)


# Credentials the front door never trusts by itself: each goes to Flask.
UNVERIFIED_CREDENTIALS = ("never-verified-token", "expired-token", "garbage-token", "no-token")


def unverified_credentials(case: str) -> dict[str, str]:
    """The Authorization header (or none) of one of UNVERIFIED_CREDENTIALS."""
    if case == "never-verified-token":
        return {"Authorization": f"Bearer {make_token(expires_in=900)}"}
    if case == "expired-token":
        return {"Authorization": f"Bearer {make_token(expires_in=-3600)}"}
    if case == "garbage-token":
        return {"Authorization": "Bearer not.a.token"}
    assert case == "no-token", case
    return {}
