"""Bad input: every malformed request is a clear 4xx JSON envelope and stores nothing."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, assert_nothing_stored

RUNS = "/v1/runs"


@pytest.fixture
def client(quiet_client):
    """Requests here are refused and store nothing, so one app serves the module."""
    return quiet_client


def post_raw(client, data, content_type="application/json", **kwargs):
    return client.post(RUNS, data=data, content_type=content_type, headers=auth(), **kwargs)


def valid_body(**extra) -> dict:
    return {"flow_definition": sample_flow(), **extra}


def test_malformed_json_is_400(client, pg):
    body = assert_error(post_raw(client, b'{"flow_definition": '), 400)

    assert "JSON" in body["detail"]
    assert_nothing_stored(pg)


def test_empty_body_is_400(client, pg):
    assert_error(post_raw(client, b""), 400)
    assert_nothing_stored(pg)


@pytest.mark.parametrize(
    "raw",
    [b"[]", b'[{"flow_definition": {}}]', b'"a string"', b"42", b"null", b"true"],
    ids=["empty-array", "array", "string", "number", "null", "boolean"],
)
def test_json_that_is_not_an_object_is_400(client, pg, raw):
    assert_error(post_raw(client, raw), 400)
    assert_nothing_stored(pg)


def test_deeply_nested_array_is_400(client, pg):
    body = assert_error(post_raw(client, b"[" * 5000 + b"]" * 5000), 400)

    assert "deep" in body["detail"]
    assert_nothing_stored(pg)


def test_deeply_nested_input_object_is_400(client, pg):
    nested = b'{"a":' * 5000 + b"1" + b"}" * 5000
    raw = b'{"flow_definition": ' + json.dumps(sample_flow()).encode() + b', "input": '
    raw += nested + b"}"

    assert_error(post_raw(client, raw), 400)
    assert_nothing_stored(pg)


def test_text_plain_is_415(client, pg):
    response = post_raw(client, json.dumps(valid_body()), content_type="text/plain")

    assert_error(response, 415)
    assert_nothing_stored(pg)


def test_form_encoded_body_is_415(client, pg):
    response = client.post(RUNS, data={"flow_id": "support-triage"}, headers=auth())

    assert_error(response, 415)
    assert_nothing_stored(pg)


def test_missing_content_type_is_415(client, pg):
    response = client.post(RUNS, data=json.dumps(valid_body()), headers=auth())

    assert_error(response, 415)
    assert_nothing_stored(pg)


def test_json_with_charset_parameter_is_accepted(fresh_client):
    response = post_raw(
        fresh_client, json.dumps(valid_body()), content_type="application/json; charset=utf-8"
    )

    assert response.status_code == 202


def test_body_over_the_default_limit_is_413(client, pg):
    padding = "x" * (1024 * 1024)
    response = post_raw(client, json.dumps(valid_body(input={"pad": padding})))

    assert_error(response, 413)
    assert_nothing_stored(pg)


def test_body_just_under_the_default_limit_is_accepted(make_pg_app):
    # The default KAFKA_MAX_MESSAGE_BYTES (1,000,000) is below the body limit (1 MiB): a
    # broker that takes bigger messages lets the body limit decide.
    client = make_pg_app(KAFKA_MAX_MESSAGE_BYTES=2_000_000).test_client()
    padding = "x" * (1024 * 1024 - 2048)

    response = post_raw(client, json.dumps(valid_body(input={"pad": padding})))

    assert response.status_code == 202


def test_body_under_the_limit_whose_message_is_too_large_is_413(client, pg):
    padding = "x" * (1024 * 1024 - 2048)

    response = post_raw(client, json.dumps(valid_body(input={"pad": padding})))

    assert_error(response, 413)
    assert_nothing_stored(pg)


def test_body_over_a_configured_small_limit_is_413(make_pg_app, pg):
    client = make_pg_app(MAX_CONTENT_LENGTH=1024).test_client()
    raw = json.dumps(valid_body(input={"pad": "x" * 2048}))

    response = client.post(RUNS, data=raw, content_type="application/json", headers=auth())

    assert_error(response, 413)
    assert_nothing_stored(pg)


def test_chunked_body_over_the_limit_is_413(make_pg_app, pg):
    client = make_pg_app(MAX_CONTENT_LENGTH=1024).test_client()
    raw = json.dumps(valid_body(input={"pad": "x" * 4096})).encode()

    # no Content-Length (as gunicorn passes a chunked body): the limit holds while reading
    response = client.post(
        RUNS,
        input_stream=io.BytesIO(raw),
        headers={**auth(), "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert_error(response, 413)
    assert_nothing_stored(pg)


def test_chunked_body_within_the_limit_is_accepted(make_pg_app):
    client = make_pg_app(MAX_CONTENT_LENGTH=4096).test_client()
    raw = json.dumps(valid_body()).encode()

    response = client.post(
        RUNS,
        input_stream=io.BytesIO(raw),
        headers={**auth(), "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code == 202


@pytest.mark.parametrize(
    "raw",
    [
        b'{"flow_definition": FLOW, "input": {"a": "x\x00y"}}',
        b'{"flow_definition": FLOW, "input": {"a": "x\\u0000y"}}',
        b'{"flow_definition": FLOW, "input": {"a\\u0000": "x"}}',
        b'{"flow_definition": FLOW, "input": {"a\x00": "x"}}',
        b'{"flow_definition": FLOW, "request_id": "r\\u0000"}',
    ],
    ids=[
        "raw-nul-in-value",
        "escaped-nul-in-value",
        "escaped-nul-in-key",
        "raw-nul-in-key",
        "escaped-nul-in-request-id",
    ],
)
def test_nul_characters_are_400(client, pg, raw):
    raw = raw.replace(b"FLOW", json.dumps(sample_flow()).encode())

    body = assert_error(post_raw(client, raw), 400)

    assert "NUL" in body["detail"]
    assert_nothing_stored(pg)


def test_escaped_backslash_before_u0000_text_is_not_a_nul(fresh_client, pg):
    # "\\u0000" is a backslash followed by the text u0000, which PostgreSQL stores fine
    raw = b'{"flow_definition": FLOW, "input": {"a": "\\\\u0000"}}'.replace(
        b"FLOW", json.dumps(sample_flow()).encode()
    )

    response = post_raw(fresh_client, raw)

    assert response.status_code == 202
    row = pg.execute("SELECT input_data FROM flow_runs_audit").fetchone()
    assert row["input_data"] == {"a": "\\u0000"}


@pytest.mark.parametrize(
    "value",
    [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400"],
    ids=["nan", "infinity", "minus-infinity", "overflowing-float", "overflowing-negative"],
)
def test_non_finite_numbers_are_400(client, pg, value):
    raw = b'{"flow_definition": FLOW, "input": {"x": VALUE}}'.replace(
        b"FLOW", json.dumps(sample_flow()).encode()
    ).replace(b"VALUE", value)

    assert_error(post_raw(client, raw), 400, "Invalid JSON")
    assert_nothing_stored(pg)


@pytest.mark.parametrize(
    "fragment",
    [b'{"x": "\\ud800"}', b'{"\\udfff": 1}', b'{"x": "\\ude00\\ud83d"}', b'{"x": "\xed\xa0\x80"}'],
    ids=["escaped-in-value", "escaped-in-key", "reversed-pair", "raw-utf8-surrogate"],
)
def test_unpaired_surrogates_are_400(client, pg, fragment):
    raw = b'{"flow_definition": FLOW, "input": INPUT}'.replace(
        b"FLOW", json.dumps(sample_flow()).encode()
    ).replace(b"INPUT", fragment)

    body = assert_error(post_raw(client, raw), 400, "Invalid JSON")

    assert "surrogate" in body["detail"]
    assert_nothing_stored(pg)


def test_escaped_surrogate_pair_is_an_ordinary_character(fresh_client, pg):
    raw = b'{"flow_definition": FLOW, "input": {"x": "\\ud83d\\ude00", "y": 1.5}}'.replace(
        b"FLOW", json.dumps(sample_flow()).encode()
    )

    assert post_raw(fresh_client, raw).status_code == 202
    row = pg.execute("SELECT input_data FROM flow_runs_audit").fetchone()
    assert row["input_data"] == {"x": "\U0001f600", "y": 1.5}


def test_nul_in_the_run_id_path_is_400(client):
    assert_error(client.get("/v1/runs/%00abc", headers=auth()), 400)


def test_nul_in_the_query_string_is_400(client):
    assert_error(client.get("/v1/runs/abc?x=%00", headers=auth()), 400)


def test_unknown_route_is_404(client):
    assert_error(client.get("/v1/nothing-here", headers=auth()), 404)


def test_unknown_route_without_a_token_is_404(client):
    assert_error(client.post("/no/such/route", json={}), 404)


def test_wrong_method_is_405_with_allow(client, pg):
    response = client.delete(RUNS, headers=auth())

    assert_error(response, 405)
    assert "POST" in response.headers["Allow"]
    assert_nothing_stored(pg)


def test_wrong_method_on_a_run_is_405_with_allow(client):
    response = client.put(f"{RUNS}/some-run", json={}, headers=auth())

    assert_error(response, 405)
    assert "GET" in response.headers["Allow"]


def test_input_that_is_a_list_is_400_naming_the_field(client, pg):
    body = assert_error(client.post(RUNS, json=valid_body(input=[1, 2]), headers=auth()), 400)

    assert [p["path"] for p in body["detail"]["problems"]] == ["input"]
    assert_nothing_stored(pg)


def test_overlong_request_id_is_400_naming_the_field(client, pg):
    response = client.post(RUNS, json=valid_body(request_id="r" * 256), headers=auth())

    body = assert_error(response, 400)
    assert [p["path"] for p in body["detail"]["problems"]] == ["request_id"]
    assert_nothing_stored(pg)


@pytest.mark.parametrize(
    "field,value",
    [
        ("request_id", 12),
        ("request_id", ""),
        ("flow_id", ["a"]),
        ("tenant_id", 5),
        ("flow_version", {"v": 1}),
    ],
)
def test_field_of_the_wrong_type_is_400_naming_the_field(client, pg, field, value):
    response = client.post(RUNS, json=valid_body(**{field: value}), headers=auth())

    body = assert_error(response, 400, "Validation failed")
    assert field in [p["path"] for p in body["detail"]["problems"]]
    assert_nothing_stored(pg)


def test_invalid_utf8_is_400(client, pg):
    assert_error(post_raw(client, b'{"input": {"a": "\xff\xfe"}}'), 400)
    assert_nothing_stored(pg)


def test_errors_never_render_html(client):
    for response in (
        client.get("/nope"),
        client.delete(RUNS),
        post_raw(client, b"{"),
        post_raw(client, b"x", content_type="text/html"),
    ):
        assert response.mimetype == "application/json"
        assert b"<html" not in response.data.lower()
