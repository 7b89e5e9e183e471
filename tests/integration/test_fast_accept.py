"""The direct accept path (runs/fastaccept.py) answers exactly as Flask would.

Two apps share the database: one with the direct path (the default), one without
(`RUN_ACCEPT_FAST_PATH=False`). The same request goes to both and the answers must agree:
status, body and headers (but the date), with the new run's id replaced by a
placeholder. `request_started` (a Flask signal) tells which requests Flask handled.
"""

from __future__ import annotations

import json
import logging
import re
import socket

import pytest

from ingress_app.logging import CorrelationIdFilter
from tests.conftest import auth, sample_flow
from tests.integration.conftest import UNVERIFIED_CREDENTIALS, count, unverified_credentials

RUN = {"flow_definition": sample_flow(), "input": {"email": "a@example.com"}}
RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def pair(make_pg_app):
    return make_pg_app(), make_pg_app(RUN_ACCEPT_FAST_PATH=False)


def _verified(apps, headers) -> dict:
    """Let each app verify the token once (through Flask), as a client's first call does."""
    for app in apps:
        app.test_client().get("/v1/runs", headers=headers)
    return headers


def _comparable(response) -> tuple:
    body = RUN_ID.sub("<run>", response.get_data(as_text=True))
    headers = sorted(
        (k, RUN_ID.sub("<run>", v)) for k, v in response.headers.items() if k != "Date"
    )
    return response.status_code, body, headers


def _post(app, headers, *, data=None, json_body=None, path="/v1/runs", content_type=None):
    headers = {"X-Correlation-ID": "same-for-both", **headers}
    kwargs = {"json": json_body} if data is None else {"data": data}
    if data is not None:
        kwargs["content_type"] = content_type or "application/json"
    return app.test_client().post(path, headers=headers, **kwargs)


def _post_both(pair, headers, **kwargs) -> list[tuple]:
    return [_comparable(_post(app, headers, **kwargs)) for app in pair]


def test_a_plain_accept_skips_flask_and_stores_what_the_flask_path_stores(
    pair, flask_handled, pg
):
    fast, plain = pair
    headers = _verified(pair, auth())
    flask_handled.clear()

    fast_response = _post(fast, headers, json_body={**RUN, "request_id": "fast-1"})
    plain_response = _post(plain, headers, json_body={**RUN, "request_id": "plain-1"})

    assert flask_handled == [plain.name]
    assert _comparable(fast_response) == _comparable(plain_response)
    assert fast_response.status_code == 202
    run_id = fast_response.get_json()["run_id"]
    assert fast_response.headers["Location"] == f"/v1/runs/{run_id}"
    assert fast_response.headers["X-Correlation-ID"] == "same-for-both"
    assert fast_response.headers["Cache-Control"] == "no-store"
    assert fast_response.headers["X-Content-Type-Options"] == "nosniff"

    def stored(request_id: str) -> dict:
        run = pg.execute(
            "SELECT * FROM flow_runs_audit WHERE request_id = %s", (request_id,)
        ).fetchone()
        message = pg.execute(
            "SELECT topic, key, headers, payload FROM outbox_messages WHERE key = %s",
            (run["run_id"],),
        ).fetchone()
        event = pg.execute(
            "SELECT actor, action, outcome, resource_id, correlation_id FROM audit_events "
            "WHERE resource_id = %s", (run["run_id"],),
        ).fetchone()
        payload = json.loads(message["payload"])
        for volatile in ("run_id", "message_id", "created_at", "timestamp"):
            payload.pop(volatile, None)
            payload.get("data", {}).pop(volatile, None)
        return {
            "run": {k: run[k] for k in ("tenant_id", "user_id", "status", "flow_id",
                                        "flow_definition", "input_data", "correlation_id",
                                        "flow_origin", "source")},
            "message": {"topic": message["topic"], "headers": sorted(message["headers"])},
            "payload": RUN_ID.sub("<run>", json.dumps(payload, sort_keys=True)),
            "event": {k: event[k] for k in ("actor", "action", "outcome", "correlation_id")},
        }

    fast_rows = stored("fast-1")
    assert fast_rows["run"]["tenant_id"] == "acme"
    assert fast_rows["run"]["status"] == "PENDING"
    assert fast_rows["run"]["correlation_id"] == "same-for-both"
    assert fast_rows["event"]["outcome"] == "accepted"
    plain_rows = stored("plain-1")
    assert fast_rows["payload"].replace("fast-1", "x") == plain_rows["payload"].replace(
        "plain-1", "x"
    )
    assert {k: v for k, v in fast_rows.items() if k != "payload"} == {
        k: v for k, v in plain_rows.items() if k != "payload"
    }


def _cycle() -> dict:
    flow = sample_flow()
    flow["tasks"][0]["depends_on"] = ["route"]
    return {"flow_definition": flow}


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return {**RUN, "input": value}


ERROR_CASES = {
    "malformed-json": ({"data": b'{"flow_definition": '}, 400),
    "not-an-object": ({"data": b"[1, 2]"}, 400),
    "null-body": ({"data": b"null"}, 400),
    "escaped-nul": ({"data": b'{"input": {"a": "\\u0000"}}'}, 400),
    "nan": ({"data": b'{"input": {"a": NaN}}'}, 400),
    "too-deep": ({"json_body": _nested(150)}, 400),
    "wrong-types": ({"json_body": {"flow_id": 7, "input": [1]}}, 400),
    "no-flow": ({"json_body": {"input": {}}}, 400),
    "dag-cycle": ({"json_body": _cycle()}, 400),
    "unknown-registry-flow": ({"json_body": {"flow_id": "never-registered"}}, 404),
    "policy-denial": (
        {"json_body": {"flow_definition": sample_flow(tasks=[{"id": "a", "type": "llm",
                                                             "retries": 50}])}}, 403),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_a_refused_request_gets_the_same_envelope_without_flask(pair, flask_handled, pg, case):
    fast, plain = pair
    headers = _verified(pair, auth())
    kwargs, status = ERROR_CASES[case]
    flask_handled.clear()

    fast_answer, plain_answer = _post_both(pair, headers, **kwargs)

    assert fast_answer == plain_answer
    assert fast_answer[0] == status
    assert set(json.loads(fast_answer[1])) == {"error", "detail"}
    assert flask_handled == [plain.name]
    assert count(pg, "flow_runs_audit") == 0 and count(pg, "outbox_messages") == 0


def test_a_foreign_tenant_is_refused_and_audited_once_per_request(pair, flask_handled, pg):
    fast, plain = pair
    headers = _verified(pair, auth())
    flask_handled.clear()

    fast_answer, plain_answer = _post_both(pair, headers, json_body={**RUN, "tenant_id": "globex"})

    assert fast_answer == plain_answer and fast_answer[0] == 403
    assert flask_handled == [plain.name]
    denied = pg.execute(
        "SELECT count(*) AS n FROM audit_events WHERE outcome = 'denied'"
    ).fetchone()["n"]
    assert denied == 2  # one per request: the direct path records it once too


@pytest.mark.parametrize(
    "header, status",
    [("", 400), ("k" * 256, 400), ("other-key", 400), ("key-1", 202)],
    ids=["empty", "too-long", "disagrees-with-body", "agrees-with-body"],
)
def test_the_idempotency_key_header_is_checked_the_same_way(pair, flask_handled, header, status):
    fast, plain = pair
    headers = _verified(pair, auth())
    body = {**RUN, "request_id": "key-1"}

    fast_answer = _comparable(_post(fast, {**headers, "Idempotency-Key": header}, json_body=body))
    plain_answer = _comparable(
        _post(plain, {**headers, "Idempotency-Key": header}, json_body=body)
    )

    assert fast_answer[0] == status
    if status == 202:  # the second request (plain) replays the first: same run
        def sized(headers):  # a replay's body says "replayed": true, one byte shorter
            return [h for h in headers if h[0] != "Content-Length"]

        assert sized(plain_answer[2]) == sized(
            sorted(fast_answer[2] + [("Idempotent-Replayed", "true")])
        )
    else:
        assert fast_answer == plain_answer


def test_replays_and_mismatches_answer_the_same_on_both_paths(pair, flask_handled, pg):
    fast, plain = pair
    headers = _verified(pair, auth())
    first = _post(fast, headers, json_body={**RUN, "request_id": "order-1"})
    assert first.status_code == 202
    flask_handled.clear()

    replay_fast, replay_plain = _post_both(pair, headers, json_body={**RUN, "request_id": "order-1"})
    changed = {**RUN, "request_id": "order-1", "input": {"email": "b@example.com"}}
    mismatch_fast, mismatch_plain = _post_both(pair, headers, json_body=changed)
    by_header = _post(fast, {**headers, "Idempotency-Key": "order-1"}, json_body=RUN)

    assert replay_fast == replay_plain and replay_fast[0] == 202
    assert ("Idempotent-Replayed", "true") in replay_fast[2]
    assert _post(fast, headers, json_body={**RUN, "request_id": "order-1"}).get_json() == (
        {**first.get_json(), "replayed": True}
    )
    assert mismatch_fast == mismatch_plain and mismatch_fast[0] == 422
    assert by_header.status_code == 202
    assert by_header.get_json() == {**first.get_json(), "replayed": True}
    assert flask_handled == [plain.name, plain.name]
    assert count(pg, "flow_runs_audit") == 1


FALL_THROUGH = {
    "latin-1-charset": {"content_type": "application/json; charset=latin-1"},
    "vendor-json-type": {"content_type": "application/vnd.api+json"},
    "text-plain": {"content_type": "text/plain"},
    "query-string": {"path": "/v1/runs?dry=1"},
    "empty-body": {"data": b""},
    "over-the-size-limit": {"json_body": {**RUN, "input": {"big": "x" * (1024 * 1024)}}},
    **{case: {} for case in UNVERIFIED_CREDENTIALS},
}


@pytest.mark.parametrize("case", sorted(FALL_THROUGH))
def test_everything_but_a_plain_request_goes_to_flask_and_answers_the_same(
    pair, flask_handled, case
):
    fast, plain = pair
    headers = _verified(pair, auth())
    kwargs = {"json_body": RUN, **FALL_THROUGH[case]}
    if case in UNVERIFIED_CREDENTIALS:
        headers = unverified_credentials(case)
    if "content_type" in kwargs and "data" not in kwargs:
        kwargs["data"] = json.dumps(kwargs.pop("json_body")).encode()
    flask_handled.clear()

    fast_answer, plain_answer = _post_both(pair, headers, **kwargs)

    assert fast_answer == plain_answer
    assert flask_handled == [fast.name, plain.name]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8",
                                          "Application/JSON;charset=UTF-8"])
def test_a_utf8_charset_parameter_is_still_a_plain_request(pair, flask_handled, content_type):
    fast, plain = pair
    headers = _verified(pair, auth())
    data = json.dumps(RUN).encode()
    flask_handled.clear()

    fast_answer, plain_answer = _post_both(pair, headers, data=data, content_type=content_type)

    assert fast_answer == plain_answer and fast_answer[0] == 202
    assert flask_handled == [plain.name]


def test_a_rate_limited_tenant_and_a_cors_request_go_to_flask(make_pg_app, tmp_path, flask_handled):
    policies = tmp_path / "policies.yaml"
    policies.write_text("version: 1\ntenants:\n  acme:\n    rate_limit: 2/minute\n")
    limited = make_pg_app(POLICIES_FILE=str(policies))
    cors = make_pg_app(CORS_ORIGINS="https://ui.example.com")
    headers = _verified([limited, cors], auth())
    flask_handled.clear()

    answers = [_post(limited, headers, json_body=RUN).status_code for _ in range(3)]
    cross_origin = _post(cors, {**headers, "Origin": "https://ui.example.com"}, json_body=RUN)
    same_site = _post(cors, headers, json_body=RUN)

    assert answers == [202, 202, 429]
    assert cross_origin.status_code == 202
    assert cross_origin.headers["Access-Control-Allow-Origin"] == "https://ui.example.com"
    assert same_site.status_code == 202 and "Access-Control-Allow-Origin" not in same_site.headers
    assert flask_handled == [limited.name] * 3 + [cors.name]  # the same-site one went direct


def test_the_direct_path_counts_requests_and_accepted_runs_like_flask(pair):
    fast, _ = pair
    headers = _verified(pair, auth())
    client = fast.test_client()

    def counts() -> tuple[float, float]:
        text = client.get("/metrics").get_data(as_text=True)
        found = [
            re.search(r'^ingress_http_requests_total\{method="POST",route="/v1/runs",'
                      r'status="202"\} (\S+)$', text, re.M),
            re.search(r'^ingress_runs_accepted_total\{source="api"\} (\S+)$', text, re.M),
        ]
        return tuple(float(m.group(1)) if m else 0.0 for m in found)

    before = counts()
    for _ in range(3):
        assert _post(fast, headers, json_body=RUN).status_code == 202
    after = counts()

    assert (after[0] - before[0], after[1] - before[1]) == (3, 3)


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_down_is_the_same_503_and_its_log_line_carries_the_correlation_id(
    make_pg_app, flask_handled
):
    url = f"postgresql://postgres@127.0.0.1:{_unused_port()}/test"
    pair = make_pg_app(DATABASE_URL=url), make_pg_app(DATABASE_URL=url, RUN_ACCEPT_FAST_PATH=False)
    headers = _verified(pair, auth())  # the token is verified before the database is asked
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    handler.addFilter(CorrelationIdFilter())
    logger = logging.getLogger("ingress_app.errors")
    logger.addHandler(handler)
    flask_handled.clear()
    try:
        fast_answer, plain_answer = _post_both(pair, headers, json_body=RUN)
    finally:
        logger.removeHandler(handler)

    assert fast_answer == plain_answer
    assert fast_answer[0] == 503
    assert ("Retry-After", "2") in fast_answer[2]
    assert flask_handled == [pair[1].name]
    assert [r.correlation_id for r in records] == ["same-for-both", "same-for-both"]


# ------------------------------------------------------------------ one INFO line per run


def _run_lines(caplog) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records
        if r.name == "ingress_app.runs.service" and r.getMessage() in ("run accepted", "run denied")
    ]


@pytest.mark.parametrize("path", ["direct", "flask"])
def test_accepted_and_denied_runs_log_one_info_line_each_on_both_paths(
    pair, path, flask_handled, caplog
):
    app = pair[0] if path == "direct" else pair[1]
    headers = _verified([app], auth())
    denied_flow = sample_flow()
    denied_flow["tasks"][0]["timeout_seconds"] = 10**6  # over the default timeout policy
    flask_handled.clear()
    caplog.set_level(logging.INFO)

    accepted = _post(app, headers, json_body=RUN)
    denied = _post(app, headers, json_body={"flow_definition": denied_flow})

    assert (accepted.status_code, denied.status_code) == (202, 403)
    assert flask_handled == ([] if path == "direct" else [app.name, app.name])
    accepted_line, denied_line = _run_lines(caplog)
    assert accepted_line.levelno == denied_line.levelno == logging.INFO
    assert accepted_line.getMessage() == "run accepted"
    assert accepted_line.run_id == accepted.get_json()["run_id"]
    assert (accepted_line.tenant_id, accepted_line.flow_id) == ("acme", "support-triage")
    assert accepted_line.policy_modifications == []
    assert denied_line.getMessage() == "run denied"
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
