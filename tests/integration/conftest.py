"""Helpers shared by the integration tests: the error envelope and row counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url

from tests.conftest import auth, sample_flow

# Where an accepted run leaves its traces; "nothing stored" means all of these are empty.
RUN_TABLES = ("flow_runs_audit", "outbox_messages")


def assert_error(response, status: int, error: str | None = None) -> dict[str, Any]:
    """The response is `status` with the JSON envelope `{"error", "detail"}`; returns the body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error", "detail"}, body
    assert isinstance(body["error"], str) and body["error"]
    if error is not None:
        assert body["error"] == error
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
