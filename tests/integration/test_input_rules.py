"""The built-in `input_rules` policy: an operator refuses card numbers or SSNs in run
input from policies.yaml alone, on API and webhook runs."""

from __future__ import annotations

import pytest

from ingress_app import create_app
from ingress_app.config import ConfigError
from tests.conftest import auth, base_config, sample_flow
from tests.integration.conftest import assert_error, count
from tests.integration.test_webhook_configs import create_webhook, post_standard

POLICIES = r"""
version: 1
policies:
  input_rules:
    deny:
      - path: "customer.notes"
        pattern: '\b(?:\d[ -]?){13,16}\b'
        message: card numbers may not be sent to flows
      - path: "items[*].ssn"
        pattern: '^\d{3}-\d{2}-\d{4}$'
tenants:
  globex:
    policies:
      input_rules: false
"""


@pytest.fixture
def app(make_pg_app, tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_text(POLICIES)
    return make_pg_app(POLICIES_FILE=str(path))


def _run(client, input, tenant="acme"):
    return client.post(
        "/v1/runs", json={"flow_definition": sample_flow(), "input": input}, headers=auth(tenant)
    )


def test_api_runs_with_denied_input_are_403(app, pg):
    client = app.test_client()
    response = _run(client, {"customer": {"notes": "pay with 4111 1111 1111 1111 please"},
                             "items": [{"ssn": "n/a"}, {"ssn": "078-05-1120"}]})
    body = assert_error(response, 403)
    assert body["detail"]["violations"] == [
        {"policy": "input_rules", "task_id": None,
         "message": "card numbers may not be sent to flows"},
        {"policy": "input_rules", "task_id": None,
         "message": "input at items[*].ssn matches a denied pattern"},
    ]
    assert "4111" not in response.get_data(as_text=True)
    assert count(pg, "flow_runs_audit") == 0
    denied = pg.execute("SELECT action FROM audit_events").fetchall()
    assert [row["action"] for row in denied] == ["run.denied"]


def test_clean_input_and_other_tenants_pass(app, pg):
    client = app.test_client()
    assert _run(client, {"customer": {"notes": "call back at 5 pm"}}).status_code == 202
    assert _run(client, {"customer": {"notes": 4111111111111111}}).status_code == 403
    assert _run(client, {"items": [{"ssn": "078-05-1120"}]}, tenant="globex").status_code == 202


def test_validate_reports_the_violation(app):
    response = app.test_client().post(
        "/v1/runs/validate",
        json={"flow_definition": sample_flow(), "input": {"items": [{"ssn": "078-05-1120"}]}},
        headers=auth(),
    )
    assert response.status_code == 200
    assert response.get_json()["valid"] is False
    assert response.get_json()["violations"][0]["policy"] == "input_rules"


def test_webhook_runs_see_the_mapped_input(app, pg):
    client = app.test_client()
    webhook = create_webhook(client, input_mapping={"customer": "payload.contact"})
    response = post_standard(client, webhook, {"contact": {"notes": "4111-1111-1111-1111"}})
    assert assert_error(response, 403)["detail"]["violations"][0]["message"] == (
        "card numbers may not be sent to flows"
    )
    assert count(pg, "flow_runs_audit") == 0
    ok = post_standard(client, webhook, {"contact": {"notes": "no numbers"}})
    assert ok.status_code == 202


def test_flow_registration_is_not_judged_by_input_rules(app):
    response = app.test_client().post("/v1/flows", json=sample_flow(), headers=auth())
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"path": "a[", "pattern": "x"}, "not a JMESPath expression"),
        ({"path": "a", "pattern": "("}, "not a regular expression"),
        ({"path": "a", "pattern": "x" * 501}, "Length must be between 1 and 500"),
        ({"path": "a"}, "Missing data for required field"),
    ],
)
def test_bad_rules_stop_startup(tmp_path, rule, message):
    import json

    path = tmp_path / "policies.yaml"
    path.write_text(f"version: 1\npolicies:\n  input_rules:\n    deny: [{json.dumps(rule)}]\n")
    with pytest.raises(ConfigError) as caught:
        create_app(base_config(POLICIES_FILE=str(path)))
    assert "input_rules" in str(caught.value) and message in str(caught.value)
