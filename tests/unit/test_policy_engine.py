"""The policy engine with fake policies: resolving per tenant, and judging flows and tasks."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from ingress_app.contracts import (
    Decision,
    FlowPolicy,
    PolicyContext,
    PostTaskPolicy,
    PreTaskPolicy,
    Violation,
)
from ingress_app.flows import parse_flow
from ingress_app.plugin_manager import load_plugins
from ingress_app.policies.config import PolicyConfigError, parse_policy_text
from ingress_app.policies.engine import PolicyEngine, PolicyFailure

CTX = PolicyContext(tenant_id="acme", user_id="alice")


def flow(*tasks: dict, **extra):
    return parse_flow({"id": "f", "tasks": list(tasks) or [{"id": "a", "type": "llm"}], **extra})


# ------------------------------------------------------------------- fake policies

SEEN: dict[str, list] = {}


class DenyFlow(FlowPolicy):
    name = "deny_flow"

    def evaluate(self, flow, ctx):
        return Decision.deny("flow is too big", "flow is too late")


class DenyEachTask(PreTaskPolicy):
    name = "deny_each_task"

    def evaluate(self, task, ctx):
        return Decision.deny(f"{task.id} is not welcome", task_id=task.id)


class RenameFlow(FlowPolicy):
    """Modifies the flow: every task's timeout becomes 42."""

    name = "rename_flow"

    def evaluate(self, flow, ctx):
        tasks = [replace(t, timeout_seconds=42) for t in flow.tasks]
        return Decision.modify(flow=flow.with_tasks(tasks), notes=["timeouts set to 42"])


class RecordFlow(FlowPolicy):
    name = "record_flow"

    def evaluate(self, flow, ctx):
        SEEN.setdefault(self.name, []).append(flow)
        return Decision.allow()


class ClampRetries(PreTaskPolicy):
    name = "clamp_retries"

    def evaluate(self, task, ctx):
        if task.retries > 1:
            return Decision.modify(
                task=replace(task, retries=1), notes=[f"{task.id}: retries to 1"]
            )
        return Decision.allow()


class RecordTask(PreTaskPolicy):
    name = "record_task"

    def evaluate(self, task, ctx):
        SEEN.setdefault(self.name, []).append(task)
        return Decision.allow()


class ReturnsTrue(FlowPolicy):
    name = "returns_true"

    def evaluate(self, flow, ctx):
        return True


class EmptyDeny(FlowPolicy):
    name = "empty_deny"

    def evaluate(self, flow, ctx):
        return Decision("deny")


class FlowPolicyModifiesTask(FlowPolicy):
    name = "flow_policy_modifies_task"

    def evaluate(self, flow, ctx):
        return Decision.modify(task=flow.tasks[0])


class RenamesTask(PreTaskPolicy):
    name = "renames_task"

    def evaluate(self, task, ctx):
        return Decision.modify(task=replace(task, id=task.id + "-x"))


class Raises(PreTaskPolicy):
    name = "raises"

    def evaluate(self, task, ctx):
        raise KeyError("config")


class CostCheck(PostTaskPolicy):
    name = "cost_check"

    class Options(PostTaskPolicy.Options):
        pass

    def evaluate(self, task_id, event, ctx):
        if event.get("cost", 0) > 10:
            return Decision.deny(f"cost {event['cost']} over budget")
        return Decision.allow()


class PostAllows(PostTaskPolicy):
    name = "post_allows"

    def evaluate(self, task_id, event, ctx):
        return Decision.allow()


class PostRaises(PostTaskPolicy):
    name = "post_raises"

    def evaluate(self, task_id, event, ctx):
        raise RuntimeError("metrics backend down")


class PostReturnsNone(PostTaskPolicy):
    name = "post_returns_none"

    def evaluate(self, task_id, event, ctx):
        return None


FAKES = [
    DenyFlow,
    DenyEachTask,
    RenameFlow,
    RecordFlow,
    ClampRetries,
    RecordTask,
    ReturnsTrue,
    EmptyDeny,
    FlowPolicyModifiesTask,
    RenamesTask,
    Raises,
    CostCheck,
    PostAllows,
    PostRaises,
    PostReturnsNone,
]


@pytest.fixture(autouse=True)
def fresh_records():
    SEEN.clear()


@pytest.fixture(scope="module")
def plugins():
    loaded = load_plugins(load_entry_points=False)
    loaded.policies.update({cls.name: cls for cls in FAKES})
    return loaded


@pytest.fixture
def engine(plugins):
    def build(text: str) -> PolicyEngine:
        return PolicyEngine(parse_policy_text(text, source="p.yaml"), plugins)

    return build


def only(*names: str) -> str:
    """A policies file enabling `names` (plus the always-on tenant_isolation) for everyone."""
    return "policies:\n" + "".join(f"  {name}: {{}}\n" for name in names)


# ------------------------------------------------------------------- flow and task policies


def test_every_violation_of_every_policy_is_listed(engine):
    outcome = engine(only("deny_flow", "deny_each_task")).evaluate(
        flow({"id": "a", "type": "llm"}, {"id": "b", "type": "tool"}), CTX
    )

    assert not outcome.allowed
    assert outcome.violations == [
        {"policy": "deny_flow", "task_id": None, "message": "flow is too big"},
        {"policy": "deny_flow", "task_id": None, "message": "flow is too late"},
        {"policy": "deny_each_task", "task_id": "a", "message": "a is not welcome"},
        {"policy": "deny_each_task", "task_id": "b", "message": "b is not welcome"},
    ]


def test_a_flow_without_violations_is_allowed_unchanged(engine):
    original = flow()

    outcome = engine(only("record_flow")).evaluate(original, CTX)

    assert outcome.allowed
    assert outcome.flow is original
    assert outcome.modifications == []


def test_a_later_flow_policy_sees_the_flow_an_earlier_one_modified(engine):
    outcome = engine(only("rename_flow", "record_flow")).evaluate(flow(), CTX)

    (seen,) = SEEN["record_flow"]
    assert seen.tasks[0].timeout_seconds == 42
    assert outcome.flow.tasks[0].timeout_seconds == 42
    assert outcome.modifications == [
        {"policy": "rename_flow", "task_id": None, "note": "timeouts set to 42"}
    ]


def test_pre_task_policies_see_the_flow_after_flow_policies_modified_it(engine):
    engine(only("rename_flow", "record_task")).evaluate(flow(), CTX)

    assert [t.timeout_seconds for t in SEEN["record_task"]] == [42]


def test_a_pre_task_modification_replaces_the_task_in_the_flow(engine):
    original = flow(
        {"id": "a", "type": "llm", "retries": 5},
        {"id": "b", "type": "tool", "retries": 0, "depends_on": ["a"]},
    )

    outcome = engine(only("clamp_retries")).evaluate(original, CTX)

    assert outcome.allowed
    assert [(t.id, t.retries) for t in outcome.flow.tasks] == [("a", 1), ("b", 0)]
    assert outcome.flow.tasks[1].depends_on == ("a",)
    assert outcome.modifications == [
        {"policy": "clamp_retries", "task_id": "a", "note": "a: retries to 1"}
    ]
    assert original.tasks[0].retries == 5  # the caller's flow is not mutated


def test_a_later_pre_task_policy_sees_the_modified_task(engine):
    engine(only("clamp_retries", "record_task")).evaluate(
        flow({"id": "a", "type": "llm", "retries": 5}), CTX
    )

    assert [t.retries for t in SEEN["record_task"]] == [1]


def test_policies_run_in_file_order_with_tenant_additions_last(engine):
    eng = engine(
        "policies:\n  tenant_isolation: {}\n  record_task: {}\n  clamp_retries: {}\n"
        "tenants:\n  acme:\n    policies:\n      deny_flow: {}\n      deny_each_task: {}\n"
    )

    chain = eng.chain("acme")

    # the seed's limits the file leaves out come last
    assert [name for name, _ in chain.flow] == ["tenant_isolation", "deny_flow", "timeout"]
    assert [name for name, _ in chain.pre_task] == [
        "record_task",
        "clamp_retries",
        "deny_each_task",
        "retry_limit",
    ]


# ------------------------------------------------------------------- failing closed


def test_a_policy_returning_something_other_than_a_decision_fails_closed(engine, caplog):
    with pytest.raises(PolicyFailure) as raised:
        engine(only("returns_true")).evaluate(flow(), CTX)

    assert raised.value.status == 500
    assert raised.value.detail["policy"] == "returns_true"
    assert "returns_true" in caplog.text and "bool instead of a Decision" in caplog.text


def test_a_deny_without_violations_fails_closed_rather_than_allowing(engine):
    with pytest.raises(PolicyFailure) as raised:
        engine(only("empty_deny")).evaluate(flow(), CTX)

    assert raised.value.detail["policy"] == "empty_deny"


def test_a_flow_policy_modifying_a_task_instead_of_the_flow_fails_closed(engine):
    with pytest.raises(PolicyFailure) as raised:
        engine(only("flow_policy_modifies_task")).evaluate(flow(), CTX)

    assert raised.value.detail["policy"] == "flow_policy_modifies_task"


def test_a_pre_task_policy_changing_the_task_id_fails_closed(engine, caplog):
    with pytest.raises(PolicyFailure) as raised:
        engine(only("renames_task")).evaluate(flow(), CTX)

    assert raised.value.detail["policy"] == "renames_task"
    assert "may not change the task's id" in caplog.text


def test_a_policy_that_raises_fails_closed_and_is_logged_by_name(engine, caplog):
    with caplog.at_level(logging.ERROR, logger="ingress_app.policies.engine"):
        with pytest.raises(PolicyFailure) as raised:
            engine(only("raises")).evaluate(flow(), CTX)

    assert raised.value.detail == {
        "policy": "raises",
        "message": "the policy failed; nothing was stored",
    }
    (record,) = caplog.records
    assert "'raises'" in record.getMessage()
    assert record.policy == "raises"
    assert record.exc_info is not None  # the traceback goes to the log, not the client


# ------------------------------------------------------------------- post-task policies


def test_post_task_policies_collect_violations(engine):
    eng = engine(only("post_allows", "cost_check"))

    assert eng.evaluate_post_task("a", {"cost": 11}, CTX) == [
        {"policy": "cost_check", "task_id": "a", "message": "cost 11 over budget"}
    ]


def test_post_task_policies_allowing_report_nothing(engine):
    assert engine(only("post_allows", "cost_check")).evaluate_post_task("a", {"cost": 3}, CTX) == []


def test_a_post_task_policy_that_raises_is_reported_as_a_violation(engine, caplog):
    violations = engine(only("post_raises", "cost_check")).evaluate_post_task(
        "a", {"cost": 11}, CTX
    )

    assert violations == [
        {"policy": "post_raises", "task_id": "a", "message": "policy failed"},
        {"policy": "cost_check", "task_id": "a", "message": "cost 11 over budget"},
    ]
    assert "'post_raises'" in caplog.text


def test_a_post_task_policy_returning_no_decision_is_reported_as_a_violation(engine):
    violations = engine(only("post_returns_none")).evaluate_post_task("a", {}, CTX)

    assert violations == [
        {"policy": "post_returns_none", "task_id": "a", "message": "policy failed"}
    ]


def test_post_task_policies_do_not_run_at_ingress(engine):
    outcome = engine(only("post_raises")).evaluate(flow(), CTX)

    assert outcome.allowed


# ------------------------------------------------------------------- per-tenant resolution


def test_tenant_options_are_merged_over_the_defaults(engine):
    eng = engine(
        "policies:\n  retry_limit: {max_retries: 5, on_violation: clamp}\n"
        "tenants:\n  acme:\n    policies:\n      retry_limit: {max_retries: 2}\n"
    )

    assert eng.describe("acme")["policies"]["retry_limit"] == {
        "max_retries": 2,
        "on_violation": "clamp",
    }
    assert eng.describe("globex")["policies"]["retry_limit"] == {
        "max_retries": 5,
        "on_violation": "clamp",
    }


def test_a_tenant_may_disable_a_default_policy(engine):
    eng = engine(
        "policies:\n  deny_flow: {}\ntenants:\n  acme:\n    policies:\n      deny_flow: false\n"
    )

    assert eng.evaluate(flow(), CTX).allowed
    assert not eng.evaluate(flow(), replace(CTX, tenant_id="globex")).allowed


def test_tenant_isolation_is_on_even_when_the_file_omits_it(engine):
    eng = engine("policies: {}\n")

    assert [name for name, _ in eng.chain("acme").flow] == ["tenant_isolation", "timeout"]
    assert not eng.evaluate(flow(tenant_id="globex"), CTX).allowed


def test_tenant_isolation_cannot_be_disabled_for_a_tenant(engine):
    with pytest.raises(
        PolicyConfigError,
        match=r"^p.yaml:6: tenant 'acme': policy 'tenant_isolation' cannot be disabled",
    ):
        engine(
            "policies:\n  tenant_isolation: {}\ntenants:\n  acme:\n    policies:\n"
            "      tenant_isolation: false\n"
        )


def test_rate_limit_of_a_tenant_overrides_the_default(engine):
    eng = engine(
        "default_rate_limit: 10/minute\ntenants:\n  acme:\n    rate_limit: 3/second\n  globex: {}\n"
    )

    assert eng.chain("acme").rate_limit == "3/second"
    assert eng.chain("globex").rate_limit == "10/minute"
    assert eng.chain("initech").rate_limit == "10/minute"


def test_without_any_rate_limit_there_is_no_limit(engine):
    assert engine("tenants:\n  acme: {}\n").chain("acme").rate_limit is None


# ------------------------------------------------------------------- built-in policies


def test_retry_limit_allows_the_limit_and_denies_one_more(engine):
    eng = engine("policies:\n  retry_limit: {max_retries: 10}\n")

    assert eng.evaluate(flow({"id": "a", "type": "llm", "retries": 10}), CTX).allowed
    assert eng.evaluate(flow({"id": "a", "type": "llm", "retries": 11}), CTX).violations == [
        {"policy": "retry_limit", "task_id": "a", "message": "retries 11 exceed the limit of 10"}
    ]


def test_timeout_clamp_mode_lowers_each_task_to_the_limit(engine):
    eng = engine("policies:\n  timeout: {max_timeout_seconds: 100, on_violation: clamp}\n")

    outcome = eng.evaluate(flow({"id": "a", "type": "llm", "timeout_seconds": 500}), CTX)

    assert outcome.allowed
    assert outcome.flow.tasks[0].timeout_seconds == 100
    assert outcome.modifications == [
        {"policy": "timeout", "task_id": None, "note": "task a: timeout 500s clamped to 100s"}
    ]


def critical_path_flow():
    """a (100 s × 2 tries) → b (50 s) is 250 s; c alone is 240 s."""
    return flow(
        {"id": "a", "type": "llm", "timeout_seconds": 100, "retries": 1},
        {"id": "b", "type": "tool", "timeout_seconds": 50, "depends_on": ["a"]},
        {"id": "c", "type": "tool", "timeout_seconds": 240},
    )


def test_flow_timeout_counts_the_longest_dependency_path_with_retries(engine):
    eng = engine("policies:\n  timeout: {max_flow_timeout_seconds: 250}\n")

    assert eng.evaluate(critical_path_flow(), CTX).allowed


def test_flow_timeout_denies_a_flow_whose_longest_path_exceeds_it(engine):
    eng = engine("policies:\n  timeout: {max_flow_timeout_seconds: 249}\n")

    assert eng.evaluate(critical_path_flow(), CTX).violations == [
        {
            "policy": "timeout",
            "task_id": None,
            "message": "worst-case flow duration 250s exceeds the limit of 249s",
        }
    ]


def test_task_types_deny_list_matches_globs(engine):
    eng = engine('policies:\n  task_types: {deny: ["tool:exec*"]}\n')

    outcome = eng.evaluate(
        flow({"id": "a", "type": "tool:exec_shell"}, {"id": "b", "type": "tool:http"}), CTX
    )

    assert outcome.violations == [
        {
            "policy": "task_types",
            "task_id": "a",
            "message": "task type 'tool:exec_shell' is not allowed",
        }
    ]


def test_task_types_allow_list_denies_everything_else(engine):
    eng = engine("policies:\n  task_types: {allow: [llm]}\n")

    outcome = eng.evaluate(flow({"id": "a", "type": "llm"}, {"id": "b", "type": "tool"}), CTX)

    assert [v["task_id"] for v in outcome.violations] == ["b"]


def test_deny_with_a_violation_object_keeps_its_task_id():
    decision = Decision.deny(Violation("too slow", task_id="t1"))

    assert decision.violations == (Violation("too slow", task_id="t1"),)
    assert not decision.allowed


# ------------------------------------------------------------------- the seed's limits


@pytest.mark.parametrize(
    "text",
    ["policies: {}\n", "policies:\n", "tenants: {acme: {}}\n", "webhook_sources: [generic]\n"],
)
def test_the_seed_limits_hold_when_the_file_leaves_them_out(engine, text):
    eng = engine(text)

    assert not eng.evaluate(flow({"id": "a", "type": "llm", "retries": 1_000_000}), CTX).allowed
    assert not eng.evaluate(flow({"id": "a", "type": "llm", "timeout_seconds": 10**9}), CTX).allowed
    assert eng.evaluate(
        flow({"id": "a", "type": "llm", "retries": 10, "timeout_seconds": 7200}), CTX
    ).allowed


def test_a_seed_limit_is_lifted_only_by_name(engine):
    eng = engine(
        "policies:\n  retry_limit: false\ntenants:\n  acme:\n    policies:\n      timeout: false\n"
    )
    many_retries = flow({"id": "a", "type": "llm", "retries": 50})
    long_timeout = flow({"id": "a", "type": "llm", "timeout_seconds": 10**6})
    other = PolicyContext(tenant_id="globex", user_id="bob")

    assert eng.evaluate(many_retries, CTX).allowed and eng.evaluate(many_retries, other).allowed
    assert eng.evaluate(long_timeout, CTX).allowed
    assert not eng.evaluate(long_timeout, other).allowed
