"""The JSON Schemas of docs/schemas/ against real outbox rows, events and docs/messages.md."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ingress_app.runs.events import TASK_STATUSES, InvalidEvent, parse_event
from ingress_app.runs.models import STATUSES
from tests.conftest import auth, sample_flow

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMA_FILES = {
    "flow_run.requested": "flow_run.requested.json",
    "flow_run.cancel_requested": "flow_run.cancel_requested.json",
    "flow_run_event": "flow_run_event.json",
}


def load_schema(name: str) -> dict:
    return json.loads((DOCS / "schemas" / SCHEMA_FILES[name]).read_text())


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        load_schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def problems(name: str, instance) -> list[str]:
    return [error.message for error in validator(name).iter_errors(instance)]


def create_run(client, body: dict | None = None, **headers) -> str:
    body = body if body is not None else {"flow_definition": sample_flow()}
    response = client.post("/v1/runs", json=body, headers={**auth(), **headers})
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["run_id"]


def outbox_rows(pg, run_id: str) -> list[dict]:
    return pg.execute(
        "SELECT * FROM outbox_messages WHERE key = %s ORDER BY id", (run_id,)
    ).fetchall()


def valid_event(**changes) -> dict:
    event = {
        "event_id": str(uuid.uuid4()),
        "run_id": str(uuid.uuid4()),
        "tenant_id": "acme",
        "status": "SUCCEEDED",
        "output": {"answer": 42},
        "occurred_at": "2025-06-01T12:00:00+00:00",
    }
    event.update(changes)
    return event


def doc_json_examples() -> list[dict]:
    text = (DOCS / "messages.md").read_text()
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def schema_for(example: dict) -> str:
    if example.get("type") in ("flow_run.requested", "flow_run.cancel_requested"):
        return example["type"]
    if "event_id" in example:
        return "flow_run_event"
    raise AssertionError(f"a ```json example in docs/messages.md is not a message: {example}")


# --------------------------------------------------------------------------- the schemas


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_schema_file_is_a_valid_draft_2020_12_schema(name):
    schema = load_schema(name)

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_format_checker_checks_every_format_the_schemas_use():
    """jsonschema checks `date-time` only with its format extra installed; without it the
    refusal tests below would pass for the wrong reason or fail for a missing package."""
    checker = Draft202012Validator.FORMAT_CHECKER
    used = set(
        re.findall(
            r'"format":\s*"([^"]+)"',
            "".join((DOCS / "schemas" / file).read_text() for file in SCHEMA_FILES.values()),
        )
    )

    assert used and used <= set(checker.checkers), used - set(checker.checkers)
    assert not checker.conforms("yesterday", "date-time")


def test_event_schema_run_statuses_are_the_apps_statuses():
    run_statuses = load_schema("flow_run_event")["$defs"]["run_status"]["enum"]

    assert set(run_statuses) == set(STATUSES)


def test_event_schema_task_statuses_are_the_apps_task_statuses():
    task_statuses = load_schema("flow_run_event")["$defs"]["task_status"]["enum"]

    assert set(task_statuses) == set(TASK_STATUSES)


# --------------------------------------------------------------------------- flow_runs topic


def test_outbox_message_of_a_created_run_validates(client, pg):
    run_id = create_run(
        client,
        {
            "flow_definition": sample_flow(),
            "input": {"email": "a@example.com"},
            "request_id": "r-1",
        },
        **{"X-Correlation-ID": "corr-schema-1"},
    )

    (row,) = outbox_rows(pg, run_id)

    assert problems("flow_run.requested", json.loads(row["payload"])) == []


def test_outbox_message_of_a_minimal_run_validates(client, pg):
    flow = {"id": "tiny", "tasks": [{"id": "only", "type": "tool"}]}  # no version, defaults
    run_id = create_run(client, {"flow_definition": flow})

    (row,) = outbox_rows(pg, run_id)
    envelope = json.loads(row["payload"])

    assert envelope["flow_version"] is None and envelope["request_id"] is None
    assert problems("flow_run.requested", envelope) == []


def test_outbox_message_with_pass_through_flow_fields_validates(client, pg):
    flow = sample_flow(name="Triage", description="Route support mail", owner={"team": "cx"})
    flow["tasks"][0]["model"] = "small"
    run_id = create_run(client, {"flow_definition": flow, "input": {"nested": {"a": [1, 2]}}})

    (row,) = outbox_rows(pg, run_id)

    assert problems("flow_run.requested", json.loads(row["payload"])) == []


def test_outbox_message_of_a_cancel_validates(client, pg):
    run_id = create_run(client)
    response = client.post(
        f"/v1/runs/{run_id}/cancel", headers={**auth(), "X-Correlation-ID": "corr-cancel"}
    )
    assert response.status_code == 202

    _, cancel = outbox_rows(pg, run_id)

    assert problems("flow_run.cancel_requested", json.loads(cancel["payload"])) == []


def test_headers_repeat_the_envelopes_type_correlation_id_and_tenant(client, pg):
    run_id = create_run(client)
    client.post(f"/v1/runs/{run_id}/cancel", headers=auth())

    for row in outbox_rows(pg, run_id):
        envelope = json.loads(row["payload"])
        assert row["key"] == envelope["run_id"]
        assert row["headers"] == {
            "type": envelope["type"],
            "correlation_id": envelope["correlation_id"],
            "tenant_id": envelope["tenant_id"],
        }


def test_requested_message_does_not_validate_as_a_cancel(client, pg):
    (row,) = outbox_rows(pg, create_run(client))

    assert problems("flow_run.cancel_requested", json.loads(row["payload"])) != []


@pytest.mark.parametrize(
    "change",
    [
        {"schema_version": 2},
        {"message_id": "not-a-uuid"},
        {"created_at": "yesterday"},
        {"flow_definition": {"id": "x", "type": "DAG", "tasks": []}},
        {"policy": {}},
        {"surprise": True},
    ],
    ids=repr,
)
def test_requested_message_with_a_broken_field_does_not_validate(client, pg, change):
    (row,) = outbox_rows(pg, create_run(client))
    envelope = {**json.loads(row["payload"]), **change}

    assert problems("flow_run.requested", envelope) != []


@pytest.mark.parametrize("missing", ["message_id", "run_id", "tenant_id", "flow_definition"])
def test_requested_message_missing_a_field_does_not_validate(client, pg, missing):
    (row,) = outbox_rows(pg, create_run(client))
    envelope = json.loads(row["payload"])
    del envelope[missing]

    assert problems("flow_run.requested", envelope) != []


# --------------------------------------------------------------------------- flow_run_events topic


def test_sample_run_event_validates():
    assert problems("flow_run_event", valid_event()) == []


def test_sample_task_event_validates():
    event = valid_event(task_id="classify", status="SKIPPED", output=None, error=None)

    assert problems("flow_run_event", event) == []


def test_minimal_event_validates():
    event = valid_event(status="RUNNING")
    del event["output"]

    assert problems("flow_run_event", event) == []


@pytest.mark.parametrize(
    "change",
    [
        {"status": "DONE"},
        {"status": "running"},
        {"status": "SKIPPED"},  # a task status on a run-level event
        {"task_id": "classify", "status": "PAUSED"},
        {"occurred_at": "yesterday"},
        {"occurred_at": 1717243200},
        {"event_id": ""},
        {"event_id": 7},
        {"tenant_id": None},
        {"task_id": ""},
        {"error": {"message": "not a string"}},
        {"occured_at": "2025-06-01T12:00:00Z"},  # a misspelt field
    ],
    ids=repr,
)
def test_invalid_event_does_not_validate(change):
    assert problems("flow_run_event", valid_event(**change)) != []


@pytest.mark.parametrize("missing", ["event_id", "run_id", "tenant_id", "status", "occurred_at"])
def test_event_missing_a_required_field_does_not_validate(missing):
    event = valid_event()
    del event[missing]

    assert problems("flow_run_event", event) != []


@pytest.mark.parametrize("not_an_object", [[], "SUCCEEDED", None, 1])
def test_event_that_is_not_an_object_does_not_validate(not_an_object):
    assert problems("flow_run_event", not_an_object) != []


@pytest.mark.parametrize(
    "change",
    [
        {"status": "DONE"},
        {"status": "SKIPPED"},
        {"task_id": "classify", "status": "PAUSED"},
        {"occurred_at": "yesterday"},
        {"event_id": ""},
        {"error": {"message": "x"}},
    ],
    ids=repr,
)
def test_events_the_schema_refuses_are_refused_by_ingress_too(change):
    with pytest.raises(InvalidEvent):
        parse_event(valid_event(**change))


# --------------------------------------------------------------------------- docs/messages.md


def test_docs_have_examples_of_every_message():
    names = [schema_for(example) for example in doc_json_examples()]

    assert {"flow_run.requested", "flow_run.cancel_requested", "flow_run_event"} <= set(names)


@pytest.mark.parametrize("index", range(len(doc_json_examples())))
def test_docs_example_validates_against_its_schema(index):
    example = doc_json_examples()[index]

    assert problems(schema_for(example), example) == []


def test_docs_event_examples_are_accepted_by_ingress():
    events = [e for e in doc_json_examples() if schema_for(e) == "flow_run_event"]

    for event in events:
        parse_event(event)
