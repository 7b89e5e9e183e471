"""PostTaskPolicy: a finished task's breach is recorded on the run and in the audit trail."""

from __future__ import annotations

import sys
import types
import uuid

import pytest

from ingress_app.contracts import Decision, PostTaskPolicy
from ingress_app.hookspecs import hookimpl
from ingress_app.runs.events import apply_run_event
from tests.conftest import auth, sample_flow


class OutputSizeLimit(PostTaskPolicy):
    name = "output_size_limit"

    def evaluate(self, task_id, event, ctx):
        if len(str(event.get("output"))) > 10:
            return Decision.deny(f"task {task_id} produced too much output")
        return Decision.allow()


@pytest.fixture
def post_task_plugin(tmp_path):
    module = types.ModuleType("ingress_test_post_task_plugin")
    module.ingress_register_policies = hookimpl(lambda: [OutputSizeLimit])
    sys.modules[module.__name__] = module
    policies = tmp_path / "policies.yaml"
    policies.write_text(
        "version: 1\n"
        f"plugins: [{module.__name__}]\n"
        "tenants:\n"
        "  acme:\n"
        "    policies:\n"
        "      output_size_limit: {}\n"
    )
    yield str(policies)
    sys.modules.pop(module.__name__, None)


def test_finished_task_breach_is_recorded_on_the_run_and_audited(make_pg_app, post_task_plugin, pg):
    app = make_pg_app(POLICIES_FILE=post_task_plugin)
    client = app.test_client()
    run_id = client.post(
        "/v1/runs", json={"flow_definition": sample_flow()}, headers=auth("acme")
    ).get_json()["run_id"]

    with app.app_context():
        outcome = apply_run_event(
            {
                "event_id": str(uuid.uuid4()),
                "run_id": run_id,
                "tenant_id": "acme",
                "task_id": "classify",
                "status": "SUCCEEDED",
                "output": {"text": "a very long answer"},
                "occurred_at": "2026-11-27T10:00:00+00:00",
            }
        )

    assert outcome == "applied"
    task = client.get(f"/v1/runs/{run_id}", headers=auth("acme")).get_json()["tasks"]["classify"]
    assert task["status"] == "SUCCEEDED"
    assert task["policy_violations"] == [
        {"policy": "output_size_limit", "task_id": "classify",
         "message": "task classify produced too much output"}
    ]
    audit = pg.execute(
        "SELECT detail FROM audit_events WHERE action = 'task.policy_violation' AND resource_id = %s",
        (run_id,),
    ).fetchone()
    assert audit["detail"]["task_id"] == "classify"
