"""`parse_run_body` (the hot path's hand-written check) agrees with `RunCreateSchema`."""

from __future__ import annotations

import marshmallow as ma
import pytest

from ingress_app.errors import ValidationFailed
from ingress_app.runs.schemas import RunCreateSchema, parse_run_body

BODIES = [
    {},
    {"flow_id": "f"},
    {"flow_id": ""},
    {"flow_id": "x" * 255},
    {"flow_id": "x" * 256},
    {"flow_id": 3},
    {"flow_id": None},
    {"flow_version": "v" * 64},
    {"flow_version": "v" * 65},
    {"flow_version": 2},
    {"flow_definition": {"id": "f", "tasks": []}},
    {"flow_definition": []},
    {"flow_definition": None},
    {"input": {"a": [1, 2]}},
    {"input": "text"},
    {"input": None},
    {"tenant_id": "acme"},
    {"tenant_id": ["acme"]},
    {"request_id": "r" * 256},
    {"request_id": "a b"},
    {"request_id": "caf\u00e9"},
    {"request_id": "ok", "status": "SUCCEEDED", "run_id": "mine"},  # server-owned: ignored
    {"flow_id": 1, "input": [], "tenant_id": ""},
]


def schema_verdict(body):
    try:
        return True, RunCreateSchema().load(body)
    except ma.ValidationError as exc:
        return False, sorted(exc.messages)


def fast_verdict(body):
    try:
        return True, parse_run_body(body)
    except ValidationFailed as exc:
        return False, sorted({p["path"] for p in exc.detail["problems"]})


@pytest.mark.parametrize("body", BODIES, ids=[str(i) for i in range(len(BODIES))])
def test_fast_parser_accepts_and_rejects_what_the_schema_does(body):
    assert fast_verdict(body) == schema_verdict(body)


@pytest.mark.parametrize("body", [[], "text", 3, None])
def test_a_body_that_is_not_an_object_is_rejected(body):
    with pytest.raises(ValidationFailed) as info:
        parse_run_body(body)
    assert info.value.detail == {
        "problems": [{"path": "body", "message": "Invalid input type."}],
        "problem_count": 1,
    }


CALLBACK_BODIES = [
    {"callback_url": "https://example.com/hook"},
    {"callback_url": ""},
    {"callback_url": "x" * 2049},
    {"callback_url": 5},
    {"callback_url": None},
    {"callback_events": ["run.finished"]},
    {"callback_events": ["run.finished", "run.status_changed"]},
    {"callback_events": []},
    {"callback_events": ["run.exploded"]},
    {"callback_events": "run.finished"},
    {"callback_events": [3]},
    {"callback_events": None},
    {"callback_events": ["run.finished", "run.finished", "run.finished"]},
]


@pytest.mark.parametrize("body", CALLBACK_BODIES, ids=[str(i) for i in range(len(CALLBACK_BODIES))])
def test_fast_parser_checks_callbacks_as_the_schema_does(body):
    fast_ok, fast = fast_verdict(body)
    schema_ok, schema = schema_verdict(body)
    assert fast_ok == schema_ok
    assert (fast if not fast_ok else sorted(fast)) == (schema if not schema_ok else sorted(schema))
