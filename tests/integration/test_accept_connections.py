"""The accept statement's own connections (runs/store.py AutocommitConnections).

Each serving thread keeps one autocommit connection with the accept statement prepared
on it and runs it through libpq directly; these tests break that connection in the ways
production does and check the API answers sanely and recovers by itself.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from ingress_app.runs import store
from ingress_app.runs.store import _Statement, _text_param, _text_params, autocommit_connections
from tests.conftest import auth, sample_flow

RUN = {"flow_definition": sample_flow()}


def test_named_parameters_become_numbered_ones_repeated_names_sharing_a_number():
    statement = _Statement("SELECT %(a)s, %(b)s, %(a)s, CAST(%(c)s AS JSONB)")

    assert statement.sql == b"SELECT $1, $2, $1, CAST($3 AS JSONB)"
    assert statement.order == ("a", "b", "c")


def test_text_parameters_are_utf8_and_refuse_what_postgresql_cannot_store():
    when = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    assert _text_param("é") == "é".encode()
    assert _text_param(None) is None
    assert _text_param(when) == b"2026-11-27T12:00:00+00:00"
    assert _text_param(True) == b"t"
    assert _text_param(7) == b"7"
    with pytest.raises(psycopg.DataError):
        _text_param("a\x00b")
    with pytest.raises(psycopg.DataError):
        _text_param("\ud800")


def test_a_statements_parameters_are_converted_in_its_order_with_the_same_rules():
    when = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    params = {"b": when, "a": "é", "c": None, "d": 7, "unused": object()}

    assert _text_params(params, ("a", "b", "c", "d")) == [
        "é".encode(), b"2026-11-27T12:00:00+00:00", None, b"7"
    ]
    for bad in ("a\x00b", "\ud800"):
        with pytest.raises(psycopg.DataError):
            _text_params({"a": "ok", "b": bad}, ("a", "b"))


def _thread_connection(app):
    with app.app_context():
        return autocommit_connections()._local.holder.conn


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
