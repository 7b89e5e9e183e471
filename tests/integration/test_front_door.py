"""Which requests the front door (ingress_app/frontdoor.py) answers itself, and when it
stays out of the way.

Whether both ways give the same answers is shown by the runs, registry and webhook
suites, which run every test with and without the front door (`front_door_both_ways`).
`request_started` (a Flask signal) tells which requests Flask handled.
"""

from __future__ import annotations

import json
import logging
import re
import socket

import pytest
from flask import g

from ingress_app.logging import CorrelationIdFilter
from tests.conftest import auth, sample_flow
from tests.integration.conftest import UNVERIFIED_CREDENTIALS, count, unverified_credentials

RUN = {"flow_definition": sample_flow(), "input": {"email": "a@example.com"}}


def _verified(app, headers) -> dict:
    """Let the app verify the token once (through Flask), as a client's first call does."""
    app.test_client().get("/v1/runs", headers=headers)
    return headers


def _post(app, headers, *, data=None, json_body=None, path="/v1/runs", content_type=None):
    kwargs = {"json": json_body} if data is None else {"data": data}
    if data is not None:
        kwargs["content_type"] = content_type or "application/json"
    return app.test_client().post(path, headers=headers, **kwargs)


def test_a_plain_accept_and_a_plain_read_skip_flask(make_pg_app, flask_handled, pg):
    app = make_pg_app()
    headers = _verified(app, auth())
    flask_handled.clear()

    accepted = _post(app, {**headers, "X-Correlation-ID": "cid-1"}, json_body=RUN)
    run_id = accepted.get_json()["run_id"]
    first_read = app.test_client().get(f"/v1/runs/{run_id}", headers=headers)  # a miss
    cached_read = app.test_client().get(f"/v1/runs/{run_id}", headers=headers)

    assert flask_handled == []
    assert accepted.status_code == 202
    assert accepted.headers["Location"] == f"/v1/runs/{run_id}"
    assert accepted.headers["X-Correlation-ID"] == "cid-1"
    assert accepted.headers["Cache-Control"] == "no-store"
    assert accepted.headers["X-Content-Type-Options"] == "nosniff"
    assert first_read.status_code == cached_read.status_code == 200
    assert first_read.get_data() == cached_read.get_data()
    assert cached_read.get_json()["correlation_id"] == "cid-1"
    assert count(pg, "flow_runs_audit") == 1 and count(pg, "outbox_messages") == 1


def test_with_the_front_door_off_every_request_goes_through_flask(make_pg_app, flask_handled):
    app = make_pg_app(RUN_FRONT_DOOR=False)
    headers = _verified(app, auth())
    flask_handled.clear()

    run_id = _post(app, headers, json_body=RUN).get_json()["run_id"]
    app.test_client().get(f"/v1/runs/{run_id}", headers=headers)

    assert flask_handled == [app.name, app.name]


def test_an_unknown_before_request_hook_turns_the_front_door_off(
    make_pg_app, flask_handled, caplog
):
    app = make_pg_app()
    seen = []

    @app.before_request
    def suspended_tenants():  # e.g. a tenant suspension check added later
        seen.append(g.get("correlation_id"))

    headers = auth()
    caplog.set_level(logging.WARNING, logger="ingress_app.frontdoor")
    _verified(app, headers)
    flask_handled.clear()

    run_id = _post(app, headers, json_body=RUN).get_json()["run_id"]
    app.test_client().get(f"/v1/runs/{run_id}", headers=headers)

    assert flask_handled == [app.name, app.name]
    assert len(seen) == 3  # the hook ran for every request
    (line,) = [r for r in caplog.records if r.name == "ingress_app.frontdoor"]
    assert "front door off" in line.getMessage()
    assert "test_front_door" in line.getMessage() and "suspended_tenants" in line.getMessage()


def test_an_unknown_extension_turns_the_front_door_off(make_pg_app, flask_handled):
    app = make_pg_app()
    app.extensions["opentelemetry"] = object()  # an instrumenting extension
    headers = _verified(app, auth())
    flask_handled.clear()

    assert _post(app, headers, json_body=RUN).status_code == 202
    assert flask_handled == [app.name]


def _cycle() -> dict:
    flow = sample_flow()
    flow["tasks"][0]["depends_on"] = ["route"]
    return {"flow_definition": flow}


REFUSED = {
    "malformed-json": ({"data": b'{"flow_definition": '}, 400),
    "escaped-nul": ({"data": b'{"input": {"a": "\\u0000"}}'}, 400),
    "wrong-types": ({"json_body": {"flow_id": 7, "input": [1]}}, 400),
    "dag-cycle": ({"json_body": _cycle()}, 400),
    "unknown-registry-flow": ({"json_body": {"flow_id": "never-registered"}}, 404),
    "foreign-tenant": ({"json_body": {**RUN, "tenant_id": "globex"}}, 403),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_refusal_is_answered_by_the_front_door_with_the_envelope(
    make_pg_app, flask_handled, pg, case
):
    app = make_pg_app()
    headers = _verified(app, auth())
    kwargs, status = REFUSED[case]
    flask_handled.clear()

    response = _post(app, headers, **kwargs)

    assert response.status_code == status
    assert set(response.get_json()) == {"error", "detail"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert flask_handled == []
    assert count(pg, "flow_runs_audit") == 0 and count(pg, "outbox_messages") == 0


FALL_THROUGH = {
    "text-plain": {"content_type": "text/plain"},
    "query-string": {"path": "/v1/runs?dry=1"},
    "empty-body": {"data": b""},
    "over-the-size-limit": {"json_body": {**RUN, "input": {"big": "x" * (1024 * 1024)}}},
    "validate": {"path": "/v1/runs/validate"},
    **{case: {} for case in UNVERIFIED_CREDENTIALS},
}


@pytest.mark.parametrize("case", sorted(FALL_THROUGH))
def test_everything_but_a_plain_request_goes_to_flask(make_pg_app, flask_handled, case):
    app = make_pg_app()
    headers = _verified(app, auth())
    kwargs = {"json_body": RUN, **FALL_THROUGH[case]}
    if case in UNVERIFIED_CREDENTIALS:
        headers = unverified_credentials(case)
    if "content_type" in kwargs and "data" not in kwargs:
        kwargs["data"] = json.dumps(kwargs.pop("json_body")).encode()
    flask_handled.clear()

    _post(app, headers, **kwargs)

    assert flask_handled == [app.name]


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
     "application/vnd.api+json"],
)
def test_any_json_content_type_is_a_plain_request(make_pg_app, flask_handled, content_type):
    app = make_pg_app()
    headers = _verified(app, auth())
    flask_handled.clear()

    response = _post(app, headers, data=json.dumps(RUN).encode(), content_type=content_type)

    assert response.status_code == 202 and flask_handled == []


def test_a_rate_limited_tenant_and_a_cors_request_go_to_flask(make_pg_app, tmp_path, flask_handled):
    policies = tmp_path / "policies.yaml"
    policies.write_text("version: 1\ntenants:\n  acme:\n    rate_limit: 2/minute\n")
    limited = make_pg_app(POLICIES_FILE=str(policies))
    cors = make_pg_app(CORS_ORIGINS="https://ui.example.com")
    headers = _verified(limited, _verified(cors, auth()))
    flask_handled.clear()

    answers = [_post(limited, headers, json_body=RUN).status_code for _ in range(3)]
    cross_origin = _post(cors, {**headers, "Origin": "https://ui.example.com"}, json_body=RUN)
    same_site = _post(cors, headers, json_body=RUN)

    assert answers == [202, 202, 429]
    assert cross_origin.status_code == 202
    assert cross_origin.headers["Access-Control-Allow-Origin"] == "https://ui.example.com"
    assert same_site.status_code == 202 and "Access-Control-Allow-Origin" not in same_site.headers
    assert flask_handled == [limited.name] * 3 + [cors.name]  # the same-site one: front door


def test_the_front_door_counts_requests_accepted_runs_and_cache_hits(make_pg_app, flask_handled):
    app = make_pg_app()
    headers = _verified(app, auth())
    client = app.test_client()
    run_id = _post(app, headers, json_body=RUN).get_json()["run_id"]
    client.get(f"/v1/runs/{run_id}", headers=headers)  # fills the cache

    def counts() -> list[float]:
        text = client.get("/metrics").get_data(as_text=True)
        found = [
            re.search(r'^ingress_http_requests_total\{method="POST",route="/v1/runs",'
                      r'status="202"\} (\S+)$', text, re.M),
            re.search(r'^ingress_runs_accepted_total\{source="api"\} (\S+)$', text, re.M),
            re.search(r'^ingress_http_requests_total\{method="GET",'
                      r'route="/v1/runs/<string:run_id>",status="200"\} (\S+)$', text, re.M),
            re.search(r'^ingress_cache_lookups_total\{result="hit"\} (\S+)$', text, re.M),
        ]
        return [float(m.group(1)) if m else 0.0 for m in found]

    before = counts()
    flask_handled.clear()
    for _ in range(3):
        assert _post(app, headers, json_body=RUN).status_code == 202
        assert client.get(f"/v1/runs/{run_id}", headers=headers).status_code == 200
    after = counts()

    assert flask_handled == [app.name]  # only the /metrics scrape
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 3, 3, 3]


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_down_is_a_503_whose_log_line_carries_the_correlation_id(
    make_pg_app, flask_handled
):
    app = make_pg_app(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{_unused_port()}/test")
    headers = _verified(app, auth())  # the token is verified before the database is asked
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    handler.addFilter(CorrelationIdFilter())
    logger = logging.getLogger("ingress_app.errors")
    logger.addHandler(handler)
    flask_handled.clear()
    try:
        response = _post(app, {**headers, "X-Correlation-ID": "cid-down"}, json_body=RUN)
    finally:
        logger.removeHandler(handler)

    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert flask_handled == []
    assert [r.correlation_id for r in records] == ["cid-down"]


def _run_lines(caplog) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records
        if r.name == "ingress_app.runs.service" and r.getMessage() in ("run accepted", "run denied")
    ]


@pytest.mark.parametrize("front_door", [True, False], ids=["front-door", "flask-only"])
def test_accepted_and_denied_runs_log_one_info_line_each(make_pg_app, front_door, caplog):
    app = make_pg_app(RUN_FRONT_DOOR=front_door)
    headers = _verified(app, auth())
    denied_flow = sample_flow()
    denied_flow["tasks"][0]["timeout_seconds"] = 10**6  # over the default timeout policy
    caplog.set_level(logging.INFO)

    accepted = _post(app, headers, json_body=RUN)
    denied = _post(app, headers, json_body={"flow_definition": denied_flow})

    assert (accepted.status_code, denied.status_code) == (202, 403)
    accepted_line, denied_line = _run_lines(caplog)
    assert accepted_line.levelno == denied_line.levelno == logging.INFO
    assert accepted_line.run_id == accepted.get_json()["run_id"]
    assert (accepted_line.tenant_id, accepted_line.flow_id) == ("acme", "support-triage")
    assert accepted_line.policy_modifications == []
    assert denied_line.tenant_id == "acme" and denied_line.violation_count >= 1
    assert {"policy": "timeout", "task_id": "classify"} in denied_line.violations


def test_policy_modifications_are_in_the_accepted_line(make_pg_app, tmp_path, caplog):
    policies = tmp_path / "policies.yaml"
    policies.write_text(
        "policies:\n  tenant_isolation: {}\n"
        "  retry_limit: {max_retries: 1, on_violation: clamp}\n"
    )
    app = make_pg_app(POLICIES_FILE=str(policies))
    caplog.set_level(logging.INFO)

    response = _post(app, auth(), json_body=RUN)  # the flow asks for 2 retries

    assert response.status_code == 202, response.get_data(as_text=True)
    (line,) = _run_lines(caplog)
    assert [m["policy"] for m in line.policy_modifications] == ["retry_limit"]
