"""A plugin that implements every hook (after Datasette's "everything" test plugin).

It registers one class of each kind, records its calls in `CALLS`, and wraps
`ingress_startup` with a `wrapper=True` hook wrapper, so the tests can see pluggy's
calling conventions at work. `tests/test_plugin_contract.py` fails when a hook is added
to `ingress_app/hookspecs.py` without an implementation here.
"""

from __future__ import annotations

from ingress_app.contracts import (
    Decision,
    FlowPolicy,
    PostTaskPolicy,
    PreTaskPolicy,
    SourceAdapter,
)
from ingress_app.hookspecs import hookimpl

#: What the hooks saw, in call order: ("startup", source), ("wrapper", "before"), ...
CALLS: list[tuple[str, str]] = []


class InputGate(FlowPolicy):
    """Denies a run whose `input` carries `{"deny": reason}`: a policy reading the input."""

    name = "everything_input_gate"
    description = "denies runs whose input asks for a denial"

    def evaluate(self, flow, ctx):
        if isinstance(ctx.input, dict) and ctx.input.get("deny"):
            return Decision.deny(f"the run's input asks for a denial: {ctx.input['deny']}")
        return Decision.allow()


class TaskNoop(PreTaskPolicy):
    name = "everything_task_noop"
    description = "allows every task"

    def evaluate(self, task, ctx):
        return Decision.allow()


class AfterTaskNoop(PostTaskPolicy):
    name = "everything_after_task_noop"
    description = "allows every finished task"

    def evaluate(self, task_id, event, ctx):
        return Decision.allow()


class EverythingSource(SourceAdapter):
    name = "everything"
    description = "a webhook source with the default behaviour"


@hookimpl
def ingress_register_policies():
    return [InputGate, TaskNoop, AfterTaskNoop]


@hookimpl
def ingress_register_source_adapters():
    return [EverythingSource]


@hookimpl
def ingress_startup(app, policies):
    CALLS.append(("startup", policies.source))


@hookimpl(wrapper=True, specname="ingress_startup")
def around_startup(policies):
    CALLS.append(("wrapper", "before"))
    try:
        return (yield)
    finally:
        CALLS.append(("wrapper", "after"))
