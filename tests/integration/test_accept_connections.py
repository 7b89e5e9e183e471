"""The accept statement's own connections (runs/store.py AutocommitConnections).

Each serving thread keeps one autocommit connection with the accept statement prepared
on it (psycopg's `prepare=True`); these tests break that connection in the ways
production does and check the API answers sanely and recovers by itself.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from ingress_app.runs import store
from ingress_app.runs.store import autocommit_connections
from tests.conftest import auth, sample_flow

RUN = {"flow_definition": sample_flow()}


def _thread_connection(app):
    with app.app_context():
        return autocommit_connections().connection()[0]


def test_a_killed_connection_is_replaced_before_the_accept_is_sent(app, client, pg):
    assert client.post("/v1/runs", json=RUN, headers=auth()).status_code == 202
    pid = _thread_connection(app).pgconn.backend_pid
    pg.execute("SELECT pg_terminate_backend(%s)", (pid,))

    during = client.post("/v1/runs", json=RUN, headers=auth())
    after = client.post("/v1/runs", json=RUN, headers=auth())

    assert during.status_code == 202
    assert after.status_code == 202
    assert _thread_connection(app).pgconn.backend_pid != pid
    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 3


def test_a_connection_found_dead_in_use_is_replaced_and_the_accept_sent_once_more(
    app, client, pg, monkeypatch
):
    # the check before use misses it (the server's goodbye is still on its way)
    monkeypatch.setattr(store, "looks_dead", lambda conn: conn.closed)
    body = {**RUN, "request_id": "sent-twice"}
    assert client.post("/v1/runs", json=RUN, headers=auth()).status_code == 202
    pid = _thread_connection(app).pgconn.backend_pid
    pg.execute("SELECT pg_terminate_backend(%s)", (pid,))

    response = client.post("/v1/runs", json=body, headers=auth())

    assert response.status_code == 202
    assert _thread_connection(app).pgconn.backend_pid != pid
    rows = pg.execute(
        "SELECT count(*) AS n FROM flow_runs_audit WHERE request_id = 'sent-twice'"
    ).fetchone()
    assert rows["n"] == 1


def test_a_database_that_stays_down_is_one_quick_503_per_accept(app, client, pg, monkeypatch):
    assert client.post("/v1/runs", json=RUN, headers=auth()).status_code == 202
    pid = _thread_connection(app).pgconn.backend_pid
    with app.app_context():
        conns = autocommit_connections()
    monkeypatch.setattr(
        conns, "_connect", lambda: (_ for _ in ()).throw(psycopg.OperationalError("refused"))
    )
    pg.execute("SELECT pg_terminate_backend(%s)", (pid,))

    response = client.post("/v1/runs", json=RUN, headers=auth())

    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 1


def test_a_statement_the_server_forgot_is_prepared_again(app, client, pg):
    assert client.post("/v1/runs", json=RUN, headers=auth()).status_code == 202
    _thread_connection(app).pgconn.exec_(b"DEALLOCATE ALL")  # what a pooler's reset does

    response = client.post("/v1/runs", json=RUN, headers=auth())

    assert response.status_code == 202
    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 2


def test_the_stored_row_keeps_every_value_sent_as_text(client, pg):
    body = {
        "flow_definition": sample_flow(),
        "input": {"text": "héllo ✓", "n": 2**70, "f": 1.5e-7, "nested": {"a": [1, None]}},
        "request_id": "key:~!#$%&'*+/=?^_`{|}",  # any visible ASCII
    }

    run_id = client.post("/v1/runs", json=body, headers=auth()).get_json()["run_id"]

    row = pg.execute(
        "SELECT input_data, request_id, created_at, status FROM flow_runs_audit WHERE run_id = %s",
        (run_id,),
    ).fetchone()
    assert row["input_data"] == body["input"]
    assert row["request_id"] == body["request_id"]
    assert row["status"] == "PENDING"
    assert abs((datetime.now(UTC) - row["created_at"]).total_seconds()) < 60
