"""X-Correlation-ID: honoured, generated when absent, echoed everywhere, carried along."""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest

from ingress_app.logging import CorrelationIdFilter, make_formatter
from ingress_app.runs import service
from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error

HEADER = "X-Correlation-ID"
RUN = {"flow_definition": sample_flow()}


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError):
        return False
    return True


def test_supplied_id_is_echoed_on_accept(client):
    response = client.post("/v1/runs", json=RUN, headers={**auth(), HEADER: "corr-accept"})

    assert response.status_code == 202
    assert response.headers[HEADER] == "corr-accept"
    assert response.get_json()["correlation_id"] == "corr-accept"


@pytest.mark.parametrize(
    "call,status",
    [
        (lambda c, h: c.get("/no/such/route", headers=h), 404),
        (lambda c, h: c.get(f"/v1/runs/{uuid.uuid4()}", headers={**h, **auth()}), 404),
        (lambda c, h: c.post("/v1/runs", json=RUN, headers=h), 401),
        (lambda c, h: c.delete("/v1/runs", headers=h), 405),
        (
            lambda c, h: c.post(
                "/v1/runs", data="{", content_type="application/json", headers={**h, **auth()}
            ),
            400,
        ),
        (
            lambda c, h: c.post(
                "/v1/runs", data="x", content_type="text/plain", headers={**h, **auth()}
            ),
            415,
        ),
    ],
    ids=["unknown-route", "unknown-run", "no-token", "wrong-method", "bad-json", "not-json"],
)
def test_supplied_id_is_echoed_on_errors(quiet_client, call, status):
    response = call(quiet_client, {HEADER: "corr-error"})

    assert_error(response, status)
    assert response.headers[HEADER] == "corr-error"


def test_supplied_id_is_echoed_on_health(quiet_client):
    response = quiet_client.get("/health/live", headers={HEADER: "corr-health"})

    assert response.headers[HEADER] == "corr-health"


def test_supplied_id_is_echoed_on_an_unexpected_500(client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "accept_run", boom)

    response = client.post("/v1/runs", json=RUN, headers={**auth(), HEADER: "corr-500"})

    body = assert_error(response, 500)
    assert response.headers[HEADER] == "corr-500"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert body["detail"] is None or isinstance(body["detail"], str)


def test_id_is_generated_when_absent(client):
    response = client.post("/v1/runs", json=RUN, headers=auth())

    generated = response.headers[HEADER]
    assert is_uuid(generated)
    assert response.get_json()["correlation_id"] == generated


def test_id_is_generated_for_errors_when_absent(quiet_client):
    response = quiet_client.get("/no/such/route")

    assert is_uuid(response.headers[HEADER])


def test_each_request_gets_its_own_generated_id(quiet_client):
    first = quiet_client.get("/health/live").headers[HEADER]
    second = quiet_client.get("/health/live").headers[HEADER]

    assert first != second


@pytest.mark.parametrize(
    "bad",
    ["x" * 129, "has spaces", "semi;colon", "new\u00e9"],
    ids=["too-long", "spaces", "semicolon", "non-ascii"],
)
def test_unusable_supplied_id_is_replaced_with_a_generated_one(client, bad):
    response = client.post(
        "/v1/runs", json=RUN, headers={**auth(), HEADER: bad.encode("utf-8").decode("latin-1")}
    )

    assert response.status_code == 202
    assert is_uuid(response.headers[HEADER])
    assert response.get_json()["correlation_id"] == response.headers[HEADER]


def test_supplied_id_is_stored_on_the_run_and_its_outbox_message(client, pg):
    run_id = client.post(
        "/v1/runs", json=RUN, headers={**auth(), HEADER: "corr-stored"}
    ).get_json()["run_id"]

    run = pg.execute(
        "SELECT correlation_id FROM flow_runs_audit WHERE run_id = %s", (run_id,)
    ).fetchone()
    message = pg.execute(
        "SELECT headers, payload FROM outbox_messages WHERE key = %s", (run_id,)
    ).fetchone()
    assert run["correlation_id"] == "corr-stored"
    assert message["headers"]["correlation_id"] == "corr-stored"
    assert json.loads(message["payload"])["correlation_id"] == "corr-stored"


def test_generated_id_is_stored_on_the_run_and_its_outbox_message(client, pg):
    response = client.post("/v1/runs", json=RUN, headers=auth())
    generated, run_id = response.headers[HEADER], response.get_json()["run_id"]

    run = pg.execute(
        "SELECT correlation_id FROM flow_runs_audit WHERE run_id = %s", (run_id,)
    ).fetchone()
    message = pg.execute("SELECT headers FROM outbox_messages WHERE key = %s", (run_id,)).fetchone()
    assert run["correlation_id"] == generated
    assert message["headers"]["correlation_id"] == generated


def test_get_run_shows_the_correlation_id(client):
    run_id = client.post("/v1/runs", json=RUN, headers={**auth(), HEADER: "corr-get"}).get_json()[
        "run_id"
    ]

    run = client.get(f"/v1/runs/{run_id}", headers=auth()).get_json()

    assert run["correlation_id"] == "corr-get"


def test_log_records_of_a_request_carry_its_id(client, caplog):
    caplog.handler.addFilter(CorrelationIdFilter())
    caplog.set_level(logging.INFO)  # "run accepted" is an INFO line

    client.post("/v1/runs", json=RUN, headers={**auth(), HEADER: "corr-log"})

    records = [r for r in caplog.records if r.name.startswith("ingress_app")]
    assert any(r.getMessage() == "run accepted" for r in records)
    assert {r.correlation_id for r in records} == {"corr-log"}


def test_json_log_lines_of_a_request_carry_its_id(client):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(CorrelationIdFilter())
    handler.setFormatter(make_formatter("json"))
    logger = logging.getLogger("ingress_app")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        client.post("/v1/runs", json=RUN, headers={**auth(), HEADER: "corr-json"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any(line["message"] == "run accepted" for line in lines)
    assert {line["correlation_id"] for line in lines} == {"corr-json"}
    assert all(line["level"] for line in lines)


def test_log_records_outside_a_request_carry_a_placeholder():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)

    CorrelationIdFilter().filter(record)

    assert record.correlation_id == "-"
