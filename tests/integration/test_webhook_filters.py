"""Webhook filters: a config's `filter` (JMESPath over `{payload, headers, query}`)
decides which deliveries start runs; the others answer 200 `{ignored: true}`, are
recorded as `filtered`, start no run and do not count against the rate limit."""

from __future__ import annotations

import json

import pytest

from tests.conftest import auth
from tests.integration.conftest import assert_error, count
from tests.integration.test_webhook_configs import (
    CONFIGS,
    create_webhook,
    post_standard,
    standard_headers,
)

OPENED = "payload.action == 'opened' && headers.\"x-event\" != 'test'"


def deliveries(client, webhook):
    response = client.get(f"{CONFIGS}/{webhook['webhook_id']}/deliveries", headers=auth())
    return response.get_json()["items"]


def test_a_delivery_the_filter_leaves_out_starts_no_run(client, pg):
    webhook = create_webhook(client, filter=OPENED)
    assert webhook["filter"] == OPENED

    body = json.dumps({"action": "closed"}).encode()
    ignored = client.post(
        f"/v1/webhooks/{webhook['webhook_id']}", data=body, content_type="application/json",
        headers=standard_headers(webhook["secret"], body, msg_id="msg_1"),
    )
    assert ignored.status_code == 200, ignored.get_data(as_text=True)
    assert ignored.get_json() == {"ignored": True, "delivery_id": "msg_1"}
    assert count(pg, "flow_runs_audit") == 0
    assert count(pg, "outbox_messages") == 0

    test_event = post_standard(client, webhook, {"action": "opened"}, **{"X-Event": "test"})
    assert test_event.get_json()["ignored"] is True

    accepted = post_standard(client, webhook, {"action": "opened"})
    assert accepted.status_code == 202
    assert count(pg, "flow_runs_audit") == 1

    outcomes = [d["outcome"] for d in deliveries(client, webhook)]
    assert outcomes == ["accepted", "filtered", "filtered"]
    ignored_row = deliveries(client, webhook)[-1]
    assert ignored_row["delivery_id"] == "msg_1" and ignored_row["run_id"] is None


@pytest.mark.parametrize(
    ("expression", "payload", "ignored"),
    [
        ("payload.items", {"items": []}, True),
        ("payload.items", {"items": [1]}, False),
        ("payload.count", {"count": 0}, False),  # JMESPath: numbers are true
        ("payload.missing", {}, True),
        ("abs(payload.name)", {"name": "x"}, True),  # fails on this data: left out
    ],
)
def test_jmespath_truth_decides(client, pg, expression, payload, ignored):
    webhook = create_webhook(client, filter=expression)
    response = post_standard(client, webhook, payload)
    assert (response.status_code == 200) is ignored, response.get_data(as_text=True)


def test_a_bad_filter_is_400_and_can_be_changed_or_cleared(client, pg):
    response = client.post(
        CONFIGS, json={"flow_definition": {"id": "f", "tasks": [{"id": "a", "type": "llm"}]},
                       "filter": "payload.["},
        headers=auth(),
    )
    problem = assert_error(response, 400)["detail"]["problems"][0]
    assert problem["path"] == "filter"
    assert count(pg, "webhook_configs") == 0
    webhook = create_webhook(client, filter="payload.go")
    path = f"{CONFIGS}/{webhook['webhook_id']}"
    assert client.patch(path, json={"filter": "payload.["}, headers=auth()).status_code == 400
    assert post_standard(client, webhook, {"go": False}).status_code == 200
    cleared = client.patch(path, json={"filter": None}, headers=auth())
    assert cleared.status_code == 200 and cleared.get_json()["filter"] is None
    assert post_standard(client, webhook, {"go": False}).status_code == 202


def test_filtered_deliveries_are_not_rate_limited_as_runs(make_pg_app, tmp_path, pg):
    path = tmp_path / "policies.yaml"
    path.write_text("version: 1\npolicies: {}\ndefault_rate_limit: 2/minute\n")
    client = make_pg_app(POLICIES_FILE=str(path)).test_client()
    webhook = create_webhook(client, filter="payload.run")
    for _ in range(5):
        assert post_standard(client, webhook, {"run": False}).status_code == 200
    assert post_standard(client, webhook, {"run": True}).status_code == 202
    assert post_standard(client, webhook, {"run": True}).status_code == 202
    assert post_standard(client, webhook, {"run": True}).status_code == 429
