"""n8n as integrators use it: the exact bodies and headers its HTTP Request node sends.

n8n 2.x posts `Content-Type: application/json` (no charset) with axios, lower-cases the
header names of a Header Auth credential, and, with `JSON.stringify($input.all())`,
sends items that carry bookkeeping (`pairedItem`, ...) beside their `json`. It shows a
response's body but not its headers, and shows the `error` text of a refusal.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, count
from tests.integration.test_webhook_configs import CONFIGS, create_webhook, intake

N8N_HEADERS = {
    "user-agent": "axios/1.12.0",
    "accept": "application/json,text/html,application/xhtml+xml,application/xml,text/*;q=0.9, "
    "image/*;q=0.8, */*;q=0.7",
    "content-type": "application/json",
}


def n8n_webhook(client, **body) -> dict:
    return create_webhook(client, source="n8n", auth={"type": "header-token"}, **body)


def n8n_post(client, webhook: dict, payload, **headers):
    """What the HTTP Request node sends with a Header Auth credential (lower-cased)."""
    return client.post(
        intake(webhook),
        data=json.dumps(payload).encode(),
        headers={**N8N_HEADERS, "x-webhook-token": webhook["secret"], **headers},
    )


def item(data: dict, index: int) -> dict:
    """One element of `$input.all()`, as JSON.stringify writes it."""
    return {"json": data, "pairedItem": {"item": index}}


def inputs(pg) -> list:
    rows = pg.execute("SELECT input_data FROM flow_runs_audit ORDER BY created_at, run_id")
    return [row["input_data"] for row in rows.fetchall()]


def run_input(pg, run_id: str):
    return pg.execute(
        "SELECT input_data FROM flow_runs_audit WHERE run_id = %s", (run_id,)
    ).fetchone()["input_data"]


def test_an_item_with_bookkeeping_is_unwrapped(client, pg):
    webhook = n8n_webhook(client)
    payload = [{"json": {"email": "a@example.com"}, "pairedItem": {"item": 0}, "binary": {}}]

    response = n8n_post(client, webhook, payload)

    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["replayed"] is False
    assert run_input(pg, body["run_id"]) == {"email": "a@example.com"}


def test_an_object_with_a_json_key_among_business_keys_is_not_an_item(client, pg):
    webhook = n8n_webhook(client)

    response = n8n_post(client, webhook, {"json": {"a": 1}, "customer": "x"})

    assert response.status_code == 202
    assert run_input(pg, response.get_json()["run_id"]) == {"json": {"a": 1}, "customer": "x"}


def test_several_items_with_a_mapping_lose_their_wrappers(client, pg):
    webhook = n8n_webhook(client, input_mapping={"orders": "payload"})

    response = n8n_post(client, webhook, [item({"order": 1}, 0), item({"order": 2}, 1)])

    assert response.status_code == 202
    assert run_input(pg, response.get_json()["run_id"]) == {"orders": [{"order": 1}, {"order": 2}]}


@pytest.mark.parametrize("n", [1, 3])
def test_items_each_starts_one_run_per_item_whatever_the_count(client, pg, n):
    webhook = n8n_webhook(client, items="each")
    payload = [item({"order": i}, i) for i in range(n)]

    response = n8n_post(client, webhook, payload, **{"idempotency-key": f"wf-7-exec-{n}"})

    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"runs", "replayed"} and body["replayed"] is False
    assert [run_input(pg, run["run_id"]) for run in body["runs"]] == [
        {"order": i} for i in range(n)
    ]
    assert all(run["replayed"] is False for run in body["runs"])
    assert count(pg, "outbox_messages") == n

    retry = n8n_post(client, webhook, payload, **{"idempotency-key": f"wf-7-exec-{n}"})

    assert retry.status_code == 202
    assert retry.get_json()["replayed"] is True
    assert [run["run_id"] for run in retry.get_json()["runs"]] == [
        run["run_id"] for run in body["runs"]
    ]
    assert count(pg, "flow_runs_audit") == n


def test_items_each_refuses_the_whole_delivery_if_one_item_is_refused(client, pg):
    webhook = n8n_webhook(client, items="each", input_mapping={"email": "payload.email"})
    payload = [item({"email": "a@example.com"}, 0), item({"name": "no email"}, 1)]

    response = n8n_post(client, webhook, payload)

    body = assert_error(response, 400, "Input mapping failed")
    assert body["detail"]["item"] == 1
    assert body["error"] == (
        "Input mapping failed: input_mapping.email 'payload.email' matched nothing in the delivery"
    )
    assert count(pg, "flow_runs_audit") == 0 and count(pg, "outbox_messages") == 0


def test_items_each_has_a_bound(client, pg):
    webhook = n8n_webhook(client, items="each")

    response = n8n_post(client, webhook, [item({"i": i}, i) for i in range(101)])

    assert_error(response, 400, "Validation failed")
    assert count(pg, "flow_runs_audit") == 0


@pytest.mark.parametrize("n", [1, 3])
def test_items_list_is_always_a_list(client, pg, n):
    webhook = n8n_webhook(client, items="list")

    response = n8n_post(client, webhook, [item({"order": i}, i) for i in range(n)])

    assert response.status_code == 202, response.get_data(as_text=True)
    assert run_input(pg, response.get_json()["run_id"]) == {
        "items": [{"order": i} for i in range(n)]
    }


def test_items_list_with_a_mapping_sees_the_list_as_payload(client, pg):
    webhook = n8n_webhook(client, items="list", input_mapping={"first": "payload[0].order"})

    response = n8n_post(client, webhook, item({"order": 5}, 0))  # one item, not even an array

    assert response.status_code == 202
    assert run_input(pg, response.get_json()["run_id"]) == {"first": 5}


def test_a_replay_says_so_in_the_body(client, pg):
    webhook = n8n_webhook(client)
    key = {"idempotency-key": "wf-Zq3-1-0"}

    first = n8n_post(client, webhook, [item({"order": 1}, 0)], **key)
    again = n8n_post(client, webhook, [item({"order": 1}, 0)], **key)
    other_instance = n8n_post(client, webhook, [item({"order": 1}, 0)], **{
        "idempotency-key": "wf-Ab9-1-0"  # same execution id, another instance's workflow
    })

    assert first.get_json()["replayed"] is False
    assert again.get_json() == {**first.get_json(), "replayed": True}
    assert other_instance.get_json()["replayed"] is False
    assert other_instance.get_json()["run_id"] != first.get_json()["run_id"]
    assert count(pg, "flow_runs_audit") == 2


def test_require_delivery_id_refuses_a_delivery_without_one(client, pg):
    webhook = n8n_webhook(client, require_delivery_id=True)
    assert webhook["require_delivery_id"] is True

    response = n8n_post(client, webhook, {"order": 1})

    body = assert_error(response, 400, "Delivery id required")
    assert body["error"].startswith("Delivery id required: headers.Idempotency-Key is required")
    assert body["detail"]["problems"][0]["path"] == "headers.Idempotency-Key"
    assert count(pg, "flow_runs_audit") == 0

    accepted = n8n_post(client, webhook, {"order": 1}, **{"idempotency-key": "wf-1-2-0"})
    retried = n8n_post(client, webhook, {"order": 1}, **{"idempotency-key": "wf-1-2-0"})
    assert accepted.status_code == 202 and retried.get_json()["replayed"] is True
    assert count(pg, "flow_runs_audit") == 1


def test_webhook_settings_round_trip(client):
    webhook = n8n_webhook(client)
    assert webhook["items"] is None and webhook["require_delivery_id"] is False

    changed = client.patch(
        f"{CONFIGS}/{webhook['webhook_id']}",
        json={"items": "each", "require_delivery_id": True}, headers=auth(),
    )
    assert changed.status_code == 200
    assert changed.get_json()["items"] == "each"
    assert changed.get_json()["require_delivery_id"] is True

    bad = client.patch(
        f"{CONFIGS}/{webhook['webhook_id']}", json={"items": "some"}, headers=auth()
    )
    assert_error(bad, 400, "Validation failed")


# --------------------------------------------------------------- readable error texts


def test_validation_error_text_names_the_first_problem_and_the_count(client):
    flow = sample_flow()
    flow["tasks"] = [{"id": "a", "type": "llm", "depends_on": ["x", "y", "z"]}]

    response = client.post(
        "/v1/runs", data=json.dumps({"flow_definition": flow}).encode(),
        headers={**auth(), **N8N_HEADERS},
    )

    body = assert_error(response, 400, "Validation failed")
    problems = body["detail"]["problems"]
    first = problems[0]
    assert body["error"] == (
        f"Validation failed: {first['path']} {first['message']} (and {len(problems) - 1} more)"
    )


def test_policy_denial_text_names_the_violation(make_pg_app, tmp_path):
    from tests.integration.test_webhook_configs import policies_file

    app = make_pg_app(POLICIES_FILE=policies_file(tmp_path, """
version: 1
policies:
  tenant_isolation: {}
  retry_limit: {max_retries: 1, on_violation: reject}
"""))
    client = app.test_client()

    response = client.post("/v1/runs", json={"flow_definition": sample_flow()}, headers=auth())

    body = assert_error(response, 403, "Forbidden")
    violation = body["detail"]["violations"][0]
    assert body["error"] == f"Forbidden: {violation['task_id']} {violation['message']}"


def test_a_string_detail_is_named_too(client):
    response = client.post(
        "/v1/runs", json={"flow_definition": sample_flow(), "tenant_id": "globex"},
        headers=auth("acme"),
    )

    body = assert_error(response, 403)
    assert body["error"] == f"Forbidden: {body['detail']}"


# --------------------------------------------------------------- Webhooks by Zapier


def zapier_webhook(client, **body) -> dict:
    return create_webhook(client, source="zapier", auth={"type": "header-token"}, **body)


def zapier_post(client, webhook: dict, **kwargs):
    headers = {"User-Agent": "Zapier", "X-Webhook-Token": webhook["secret"],
               **kwargs.pop("headers", {})}
    return client.post(intake(webhook), headers=headers, **kwargs)


def test_zapier_form_with_double_underscores_is_nested(client, pg):
    webhook = zapier_webhook(client)

    response = zapier_post(client, webhook, data={"customer__email": "a@example.com", "id": "7"})

    assert response.status_code == 202
    assert run_input(pg, response.get_json()["run_id"]) == {
        "customer": {"email": "a@example.com"}, "id": "7"
    }


def test_zapier_json_unflattened_by_zapier_stays_as_sent(client, pg):
    webhook = zapier_webhook(client)

    response = zapier_post(client, webhook, json={"customer": {"email": "a@example.com"}})

    assert response.status_code == 202
    assert run_input(pg, response.get_json()["run_id"]) == {"customer": {"email": "a@example.com"}}


def test_zapier_wrap_request_in_array_is_one_payload(client, pg):
    webhook = zapier_webhook(client)

    response = zapier_post(client, webhook, json=[{"ticket__id": 42}])

    assert response.status_code == 202, response.get_data(as_text=True)
    assert run_input(pg, response.get_json()["run_id"]) == {"ticket": {"id": 42}}


def test_zapier_replays_with_an_idempotency_key_say_so(client, pg):
    webhook = zapier_webhook(client, require_delivery_id=True)
    headers = {"Idempotency-Key": "ticket-42"}

    first = zapier_post(client, webhook, data={"id": "42"}, headers=headers)
    replay = zapier_post(client, webhook, data={"id": "42"}, headers=headers)
    missing = zapier_post(client, webhook, data={"id": "42"})

    assert first.get_json()["replayed"] is False and replay.get_json()["replayed"] is True
    assert_error(missing, 400, "Delivery id required")
    assert count(pg, "flow_runs_audit") == 1


def test_the_importable_workflow_is_the_documented_recipe():
    """docs/examples/n8n-start-run.json: HTTP Request with Header Auth, the cross-instance
    idempotency key and Retry On Fail, then a node that reads the run back."""
    from pathlib import Path

    workflow = json.loads(
        (Path(__file__).resolve().parents[2] / "docs/examples/n8n-start-run.json").read_text()
    )
    nodes = {node["name"]: node for node in workflow["nodes"]}
    start, read = nodes["Start run"], nodes["Read run"]
    assert start["parameters"]["genericAuthType"] == "httpHeaderAuth"
    headers = start["parameters"]["headerParameters"]["parameters"]
    assert {"name": "Idempotency-Key",
            "value": "={{ $workflow.id }}-{{ $execution.id }}-{{ $itemIndex }}"} in headers
    assert start["retryOnFail"] is True
    assert read["parameters"]["url"].endswith("/v1/runs/{{ $json.run_id }}")
    assert workflow["connections"]["Start run"]["main"][0][0]["node"] == "Read run"


def test_items_each_refuses_all_if_one_item_would_be_too_large(make_pg_app, pg):
    client = make_pg_app(KAFKA_MAX_MESSAGE_BYTES=4000).test_client()
    webhook = n8n_webhook(client, items="each")
    payload = [item({"note": "short"}, 0), item({"note": "x" * 5000}, 1)]

    response = n8n_post(client, webhook, payload)

    assert_error(response, 413)
    assert count(pg, "flow_runs_audit") == 0 and count(pg, "outbox_messages") == 0
