"""Policies in the accept pipeline, on PostgreSQL: POST /v1/runs and its dry run.

Each test's policies come from its own temporary policies.yaml.
"""

from __future__ import annotations

import json
import logging

import pytest

from ingress_app.policies.config import PolicyConfigError
from tests.conftest import TABLES, auth, sample_flow
from tests.integration.conftest import assert_error, assert_nothing_stored, count
from tests.plugins.exploding import SECRET

DEFAULTS = """\
version: 1
policies:
  tenant_isolation: {}
  retry_limit: {max_retries: 10}
  timeout: {max_timeout_seconds: 7200}
"""

ACME_CLAMPS = (
    DEFAULTS
    + """\
tenants:
  acme:
    policies:
      retry_limit: {max_retries: 3, on_violation: clamp}
"""
)


@pytest.fixture(autouse=True)
def instance_path(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESS_INSTANCE_PATH", str(tmp_path / "instance"))


@pytest.fixture
def app_with(make_pg_app, tmp_path):
    """An app on PostgreSQL whose POLICIES_FILE holds `text`."""

    def build(text: str = DEFAULTS):
        path = tmp_path / "policies.yaml"
        path.write_text(text)
        return make_pg_app(POLICIES_FILE=str(path))

    return build


@pytest.fixture
def client_with(app_with):
    return lambda text=DEFAULTS: app_with(text).test_client()


def flow_with(**task_fields):
    """The sample flow with `task_fields` set on its first task (`classify`)."""
    flow = sample_flow()
    flow["tasks"][0].update(task_fields)
    return flow


def post_run(client, flow, tenant="acme"):
    return client.post("/v1/runs", json={"flow_definition": flow}, headers=auth(tenant, "alice"))


def validate(client, flow, tenant="acme"):
    return client.post(
        "/v1/runs/validate", json={"flow_definition": flow}, headers=auth(tenant, "alice")
    )


def stored_run(pg, run_id):
    return pg.execute("SELECT * FROM flow_runs_audit WHERE run_id = %s", (run_id,)).fetchone()


def published_message(pg, run_id):
    row = pg.execute("SELECT payload FROM outbox_messages WHERE key = %s", (run_id,)).fetchone()
    return json.loads(row["payload"])


def table_counts(pg):
    return {table: count(pg, table) for table in TABLES}


# ------------------------------------------------------------------- retry_limit


def test_ten_retries_are_accepted(client_with):
    assert post_run(client_with(), flow_with(retries=10)).status_code == 202


def test_eleven_retries_are_denied_with_the_violation(client_with):
    response = post_run(client_with(), flow_with(retries=11))

    body = assert_error(response, 403, "Forbidden")
    assert body["detail"] == {
        "violations": [
            {
                "policy": "retry_limit",
                "task_id": "classify",
                "message": "retries 11 exceed the limit of 10",
            }
        ],
        "violation_count": 1,
    }


def test_a_denied_run_stores_nothing(client_with, pg):
    post_run(client_with(), flow_with(retries=11))

    assert_nothing_stored(pg)


def test_a_denied_run_is_audited_as_run_denied(client_with, pg):
    post_run(client_with(), flow_with(retries=11))

    (event,) = pg.execute("SELECT * FROM audit_events").fetchall()
    assert (event["action"], event["outcome"], event["tenant_id"], event["actor"]) == (
        "run.denied",
        "denied",
        "acme",
        "alice",
    )
    assert event["resource_id"] == "support-triage"
    assert event["detail"]["reason"]["violations"][0]["policy"] == "retry_limit"


# ------------------------------------------------------------------- timeout


def test_a_timeout_of_7200_seconds_is_accepted(client_with):
    assert post_run(client_with(), flow_with(timeout_seconds=7200)).status_code == 202


def test_a_timeout_of_7201_seconds_is_denied(client_with):
    body = assert_error(post_run(client_with(), flow_with(timeout_seconds=7201)), 403)

    assert body["detail"]["violations"] == [
        {
            "policy": "timeout",
            "task_id": "classify",
            "message": "timeout_seconds 7201 exceeds the limit of 7200",
        }
    ]


FLOW_BUDGET = DEFAULTS.replace(
    "timeout: {max_timeout_seconds: 7200}",
    "timeout: {max_timeout_seconds: 7200, max_flow_timeout_seconds: 150}",
)


def test_a_flow_within_its_worst_case_budget_is_accepted(client_with):
    # classify: 60 s × (2 retries + 1) = 180 s is over budget; with 1 retry 120 s, then route 30 s
    assert post_run(client_with(FLOW_BUDGET), flow_with(retries=1)).status_code == 202


def test_a_flow_whose_critical_path_exceeds_its_budget_is_denied(client_with):
    body = assert_error(post_run(client_with(FLOW_BUDGET), flow_with(retries=2)), 403)

    assert body["detail"]["violations"] == [
        {
            "policy": "timeout",
            "task_id": None,
            "message": "worst-case flow duration 210s exceeds the limit of 150s",
        }
    ]


# ------------------------------------------------------------------- clamp mode and tenants


def test_clamp_mode_accepts_the_run(client_with):
    assert post_run(client_with(ACME_CLAMPS), flow_with(retries=11)).status_code == 202


def test_clamp_mode_stores_the_clamped_flow_and_records_the_change(client_with, pg):
    run_id = post_run(client_with(ACME_CLAMPS), flow_with(retries=11)).get_json()["run_id"]

    run = stored_run(pg, run_id)
    modification = {
        "policy": "retry_limit",
        "task_id": "classify",
        "note": "retries 11 clamped to 3",
    }
    assert run["flow_definition"]["tasks"][0]["retries"] == 3
    assert run["policy_modifications"] == [modification]


def test_clamp_mode_publishes_the_clamped_flow_with_policy_modifications(client_with, pg):
    run_id = post_run(client_with(ACME_CLAMPS), flow_with(retries=11)).get_json()["run_id"]

    message = published_message(pg, run_id)
    assert message["flow_definition"]["tasks"][0]["retries"] == 3
    assert message["policy"] == {
        "modifications": [
            {"policy": "retry_limit", "task_id": "classify", "note": "retries 11 clamped to 3"}
        ]
    }


def test_an_unmodified_run_publishes_no_modifications(client_with, pg):
    run_id = post_run(client_with(ACME_CLAMPS), flow_with(retries=2)).get_json()["run_id"]

    assert published_message(pg, run_id)["policy"] == {"modifications": []}
    assert stored_run(pg, run_id)["policy_modifications"] == []


def test_a_tenant_override_does_not_affect_other_tenants(client_with):
    client = client_with(ACME_CLAMPS)

    assert post_run(client, flow_with(retries=11), tenant="acme").status_code == 202
    body = assert_error(post_run(client, flow_with(retries=11), tenant="globex"), 403)
    assert body["detail"]["violations"][0]["message"] == "retries 11 exceed the limit of 10"


def test_a_tenant_override_leaves_other_tenants_flows_unchanged(client_with, pg):
    run_id = post_run(client_with(ACME_CLAMPS), flow_with(retries=5), tenant="globex").get_json()[
        "run_id"
    ]

    assert stored_run(pg, run_id)["flow_definition"]["tasks"][0]["retries"] == 5


TASK_TYPES = (
    DEFAULTS
    + """\
tenants:
  acme:
    policies:
      task_types: {deny: ["tool"]}
"""
)


def test_a_denied_task_type_is_refused_for_that_tenant(client_with):
    body = assert_error(post_run(client_with(TASK_TYPES), sample_flow()), 403)

    assert body["detail"]["violations"] == [
        {"policy": "task_types", "task_id": "route", "message": "task type 'tool' is not allowed"}
    ]


def test_a_task_type_denied_for_one_tenant_is_allowed_for_others(client_with):
    assert post_run(client_with(TASK_TYPES), sample_flow(), tenant="globex").status_code == 202


def test_every_violation_is_listed_together(client_with):
    flow = flow_with(retries=11, timeout_seconds=7201)

    body = assert_error(post_run(client_with(TASK_TYPES), flow), 403)

    assert [(v["policy"], v["task_id"]) for v in body["detail"]["violations"]] == [
        ("timeout", "classify"),
        ("retry_limit", "classify"),
        ("task_types", "route"),
    ]


def test_a_flow_naming_another_tenant_is_denied_by_tenant_isolation(client_with):
    body = assert_error(post_run(client_with(), sample_flow(tenant_id="globex")), 403)

    assert body["detail"]["violations"] == [
        {
            "policy": "tenant_isolation",
            "task_id": None,
            "message": "flow_definition.tenant_id belongs to another tenant",
        }
    ]


def test_tenant_isolation_cannot_be_disabled(app_with):
    with pytest.raises(
        PolicyConfigError, match="tenant 'acme': policy 'tenant_isolation' cannot be disabled"
    ):
        app_with(DEFAULTS + "tenants:\n  acme:\n    policies:\n      tenant_isolation: false\n")


# ------------------------------------------------------------------- a plugin failing at request time

EXPLODING_FOR_ACME = (
    DEFAULTS
    + """\
plugins: [tests.plugins.exploding]
tenants:
  acme:
    policies:
      exploding: {}
"""
)


def test_a_policy_that_raises_answers_500_without_a_traceback(client_with):
    response = post_run(client_with(EXPLODING_FOR_ACME), sample_flow())

    body = assert_error(response, 500, "Policy evaluation failed")
    assert body["detail"] == {
        "policy": "exploding",
        "message": "the policy failed; nothing was stored",
    }
    text = response.get_data(as_text=True)
    assert SECRET not in text and "Traceback" not in text and "RuntimeError" not in text


def test_a_policy_that_raises_stores_nothing(client_with, pg):
    post_run(client_with(EXPLODING_FOR_ACME), sample_flow())

    assert table_counts(pg) == {table: 0 for table in TABLES}


def test_a_policy_that_raises_is_logged_with_its_name(client_with, caplog):
    client = client_with(EXPLODING_FOR_ACME)

    with caplog.at_level(logging.ERROR):
        post_run(client, sample_flow())

    (record,) = [r for r in caplog.records if r.name == "ingress_app.policies.engine"]
    assert "'exploding'" in record.getMessage()
    assert record.exc_info is not None and SECRET in str(record.exc_info[1])


def test_a_policy_that_raises_for_one_tenant_does_not_affect_others(client_with):
    assert (
        post_run(client_with(EXPLODING_FOR_ACME), sample_flow(), tenant="globex").status_code == 202
    )


def test_the_dry_run_of_a_policy_that_raises_is_500_too(client_with):
    assert_error(
        validate(client_with(EXPLODING_FOR_ACME), sample_flow()), 500, "Policy evaluation failed"
    )


# ------------------------------------------------------------------- POST /v1/runs/validate


def test_validate_a_valid_flow_answers_valid_with_the_normalised_flow(client_with):
    response = validate(client_with(), sample_flow())

    assert response.status_code == 200
    body = response.get_json()
    assert body["valid"] is True
    assert body["violations"] == [] and body["modifications"] == []
    assert body["flow_definition"]["id"] == "support-triage"
    assert body["flow_definition"]["tasks"][1]["retries"] == 0  # defaults filled in


def test_validate_a_violating_flow_answers_200_not_valid_with_the_violations(client_with):
    response = validate(client_with(), flow_with(retries=11))

    assert response.status_code == 200
    body = response.get_json()
    assert body["valid"] is False
    assert body["violations"] == [
        {
            "policy": "retry_limit",
            "task_id": "classify",
            "message": "retries 11 exceed the limit of 10",
        }
    ]


def test_validate_in_clamp_mode_returns_the_modifications_and_the_modified_flow(client_with):
    body = validate(client_with(ACME_CLAMPS), flow_with(retries=11)).get_json()

    assert body["valid"] is True
    assert body["modifications"] == [
        {"policy": "retry_limit", "task_id": "classify", "note": "retries 11 clamped to 3"}
    ]
    assert body["flow_definition"]["tasks"][0]["retries"] == 3


def test_validate_stores_nothing_in_any_table(client_with, pg):
    client = client_with(ACME_CLAMPS)

    validate(client, sample_flow())
    validate(client, flow_with(retries=11))
    validate(client, flow_with(retries=11), tenant="globex")

    assert table_counts(pg) == {table: 0 for table in TABLES}


def test_validate_a_flow_with_a_cycle_is_400(client_with):
    flow = sample_flow()
    flow["tasks"][0]["depends_on"] = ["route"]

    body = assert_error(validate(client_with(), flow), 400, "Validation failed")
    assert body["detail"]["problems"]


def test_validate_a_foreign_tenant_id_is_403_as_for_runs(client_with):
    response = client_with().post(
        "/v1/runs/validate",
        json={"flow_definition": sample_flow(), "tenant_id": "globex"},
        headers=auth("acme"),
    )

    assert_error(response, 403)
