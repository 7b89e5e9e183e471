"""Input contracts: a flow's `input_schema` (JSON Schema 2020-12) is checked when the
flow is registered or given, and every run's input against it — API, webhook (the
mapped input) and the dry run alike."""

from __future__ import annotations

from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, assert_nothing_stored, count
from tests.integration.test_webhook_configs import create_webhook, post_standard

SCHEMA = {
    "type": "object",
    "required": ["email"],
    "properties": {
        "email": {"type": "string", "pattern": "@"},
        "priority": {"type": "integer", "minimum": 1, "default": 3},
        "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
    },
}


def flow_with_schema(schema=SCHEMA, flow_id="support-triage"):
    return sample_flow(flow_id, input_schema=schema)


def problems(response) -> list[dict]:
    body = assert_error(response, 400)
    return body["detail"]["problems"]


def test_inline_input_is_checked_against_the_schema(client, pg):
    response = client.post(
        "/v1/runs",
        json={"flow_definition": flow_with_schema(),
              "input": {"priority": 0, "items": [{"sku": "a"}, {}]}},
        headers=auth(),
    )
    found = problems(response)
    assert {"path": "input", "message": "'email' is a required property"} in found
    assert {"path": "input.items[1]", "message": "'sku' is a required property"} in found
    assert {"path": "input.priority", "message": "0 is less than the minimum of 1"} in found
    assert response.get_json()["detail"]["problem_count"] == 3
    assert_nothing_stored(pg)


def test_conforming_input_is_stored_without_defaults(client, pg):
    response = client.post(
        "/v1/runs",
        json={"flow_definition": flow_with_schema(), "input": {"email": "a@example.com"}},
        headers=auth(),
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    row = pg.execute("SELECT input_data FROM flow_runs_audit").fetchone()
    assert row["input_data"] == {"email": "a@example.com"}  # no "priority": 3 injected


def test_an_invalid_inline_schema_is_400(client, pg):
    response = client.post(
        "/v1/runs",
        json={"flow_definition": flow_with_schema({"type": "objekt"}), "input": {}},
        headers=auth(),
    )
    [problem] = problems(response)
    assert problem["path"] == "flow_definition.input_schema.type"
    assert_nothing_stored(pg)


def test_problem_lists_are_capped(client):
    schema = {"type": "object", "additionalProperties": False}
    response = client.post(
        "/v1/runs",
        json={"flow_definition": flow_with_schema(schema),
              "input": {f"k{i}": i for i in range(150)}},
        headers=auth(),
    )
    detail = assert_error(response, 400)["detail"]
    assert len(detail["problems"]) == 1  # one error names every extra property
    schema = {"type": "object", "additionalProperties": {"type": "string"}}
    response = client.post(
        "/v1/runs",
        json={"flow_definition": flow_with_schema(schema),
              "input": {f"k{i}": i for i in range(150)}},
        headers=auth(),
    )
    detail = assert_error(response, 400)["detail"]
    assert len(detail["problems"]) == 100 and detail["problem_count"] == 150


def test_registered_schema_is_checked_at_registration_and_applied_to_runs(client, pg):
    bad = client.post("/v1/flows", json=flow_with_schema({"minimum": "one"}), headers=auth())
    [problem] = problems(bad)
    assert problem["path"] == "input_schema.minimum"
    assert count(pg, "flows") == 0
    registered = client.post("/v1/flows", json=flow_with_schema(), headers=auth())
    assert registered.status_code == 201, registered.get_data(as_text=True)
    refused = client.post(
        "/v1/runs", json={"flow_id": "support-triage", "input": {"email": 5}}, headers=auth()
    )
    assert problems(refused) == [{"path": "input.email", "message": "5 is not of type 'string'"}]
    accepted = client.post(
        "/v1/runs", json={"flow_id": "support-triage", "input": {"email": "a@b"}}, headers=auth()
    )
    assert accepted.status_code == 202


def test_validate_reports_input_problems(client, pg):
    response = client.post(
        "/v1/runs/validate",
        json={"flow_definition": flow_with_schema(), "input": {"email": "nobody"}},
        headers=auth(),
    )
    assert problems(response) == [
        {"path": "input.email", "message": "'nobody' does not match '@'"}
    ]
    ok = client.post(
        "/v1/runs/validate",
        json={"flow_definition": flow_with_schema(), "input": {"email": "a@b"}},
        headers=auth(),
    )
    assert ok.status_code == 200 and ok.get_json()["valid"] is True


def test_webhook_mapped_input_is_checked(client, pg):
    webhook = create_webhook(
        client,
        flow_definition=flow_with_schema(),
        input_mapping={"email": "payload.contact.email"},
    )
    refused = post_standard(client, webhook, {"contact": {"email": 42}})
    assert problems(refused) == [{"path": "input.email", "message": "42 is not of type 'string'"}]
    assert count(pg, "flow_runs_audit") == 0
    accepted = post_standard(client, webhook, {"contact": {"email": "x@y"}})
    assert accepted.status_code == 202, accepted.get_data(as_text=True)


def test_a_webhook_with_an_invalid_inline_schema_is_refused(client, pg):
    response = client.post(
        "/v1/webhook-configs",
        json={"flow_definition": flow_with_schema([1])},
        headers=auth(),
    )
    [problem] = problems(response)
    assert problem["path"] == "flow_definition.input_schema"
    assert count(pg, "webhook_configs") == 0


def test_remote_references_are_not_fetched(client, pg):
    schema = {"$ref": "https://example.invalid/schema.json"}
    response = client.post(
        "/v1/runs", json={"flow_definition": flow_with_schema(schema), "input": {}},
        headers=auth(),
    )
    [problem] = problems(response)
    assert problem["path"] == "input_schema"
    assert "cannot resolve" in problem["message"]
    assert_nothing_stored(pg)
