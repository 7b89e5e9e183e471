import marshmallow as ma
import pytest
from ingress_example_policies import MaxTasks

from ingress_app.contracts import PolicyContext
from ingress_app.flows import parse_flow

CTX = PolicyContext(tenant_id="acme", user_id="alice")


def flow_with(n: int):
    return parse_flow({"id": "f", "tasks": [{"id": f"t{i}", "type": "llm"} for i in range(n)]})


def policy(**options) -> MaxTasks:
    return MaxTasks(**MaxTasks.load_options(options))


def test_default_limit_is_20():
    assert MaxTasks.load_options({}) == {"max_tasks": 20}
    assert policy().evaluate(flow_with(20), CTX).kind == "allow"
    assert policy().evaluate(flow_with(21), CTX).kind == "deny"


def test_a_flow_at_the_limit_is_allowed():
    assert policy(max_tasks=2).evaluate(flow_with(2), CTX).kind == "allow"


def test_a_flow_over_the_limit_is_denied_with_a_clear_message():
    decision = policy(max_tasks=2).evaluate(flow_with(3), CTX)

    assert decision.kind == "deny"
    [violation] = decision.violations
    assert violation.message == "the flow has 3 tasks; at most 2 are allowed"
    assert violation.task_id is None


@pytest.mark.parametrize("bad", [0, -1, "many", None])
def test_the_limit_must_be_a_positive_integer(bad):
    with pytest.raises(ma.ValidationError) as exc:
        MaxTasks.load_options({"max_tasks": bad})
    assert "max_tasks" in exc.value.messages


def test_unknown_options_are_rejected():
    with pytest.raises(ma.ValidationError) as exc:
        MaxTasks.load_options({"max_task": 2})
    assert "max_task" in exc.value.messages
