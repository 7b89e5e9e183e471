"""Built-in policies, registered through the same hook as any plugin's."""

from __future__ import annotations

import re
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Any

import jmespath
import marshmallow as ma
from jmespath.exceptions import JMESPathError
from marshmallow import validate

from ..contracts import Decision, FlowPolicy, PolicyContext, PreTaskPolicy, Violation
from ..flows import Flow, Task
from ..hookspecs import hookimpl

_ON_VIOLATION = ma.fields.String(
    load_default="reject", validate=validate.OneOf(["reject", "clamp"])
)


class TenantIsolation(FlowPolicy):
    """A flow definition may only name the caller's own tenant. Always on."""

    name = "tenant_isolation"
    description = "flow_definition.tenant_id must be the caller's tenant"

    def evaluate(self, flow: Flow, ctx: PolicyContext) -> Decision:
        if flow.tenant_id is not None and flow.tenant_id != ctx.tenant_id:
            return Decision.deny("flow_definition.tenant_id belongs to another tenant")
        return Decision.allow()


class RetryLimit(PreTaskPolicy):
    """No task may retry more than `max_retries` times (reject, or clamp to the limit)."""

    name = "retry_limit"
    description = "caps task retries"

    class Options(PreTaskPolicy.Options):
        max_retries = ma.fields.Integer(load_default=10, validate=validate.Range(min=0))
        on_violation = _ON_VIOLATION

    def evaluate(self, task: Task, ctx: PolicyContext) -> Decision:
        limit = self.options["max_retries"]
        if task.retries <= limit:
            return Decision.allow()
        if self.options["on_violation"] == "clamp":
            return Decision.modify(
                task=_replace(task, retries=limit),
                notes=[f"retries {task.retries} clamped to {limit}"],
            )
        return Decision.deny(f"retries {task.retries} exceed the limit of {limit}", task_id=task.id)


class Timeout(FlowPolicy):
    """Per-task timeouts up to `max_timeout_seconds`; optionally a flow-wide budget.

    The flow-wide figure is the worst case along the DAG's longest path:
    each task counts `timeout_seconds × (retries + 1)`.
    """

    name = "timeout"
    description = "caps task timeouts and the flow's worst-case duration"

    class Options(FlowPolicy.Options):
        max_timeout_seconds = ma.fields.Integer(load_default=7200, validate=validate.Range(min=1))
        max_flow_timeout_seconds = ma.fields.Integer(
            load_default=None, allow_none=True, validate=validate.Range(min=1)
        )
        on_violation = _ON_VIOLATION

    def evaluate(self, flow: Flow, ctx: PolicyContext) -> Decision:
        limit = self.options["max_timeout_seconds"]
        clamp = self.options["on_violation"] == "clamp"
        violations: list[Violation] = []
        notes: list[str] = []
        tasks = list(flow.tasks)
        for index, task in enumerate(tasks):
            if task.timeout_seconds > limit:
                if clamp:
                    tasks[index] = _replace(task, timeout_seconds=limit)
                    notes.append(
                        f"task {task.id}: timeout {task.timeout_seconds}s clamped to {limit}s"
                    )
                else:
                    violations.append(
                        Violation(
                            f"timeout_seconds {task.timeout_seconds} exceeds the limit of {limit}",
                            task_id=task.id,
                        )
                    )
        total_limit = self.options["max_flow_timeout_seconds"]
        if total_limit is not None:
            total = _critical_path_seconds(tasks, flow.topological_order())
            if total > total_limit:
                violations.append(
                    Violation(
                        f"worst-case flow duration {total}s exceeds the limit of {total_limit}s"
                    )
                )
        if violations:
            return Decision(kind="deny", violations=tuple(violations))
        if notes:
            return Decision.modify(flow=flow.with_tasks(tasks), notes=notes)
        return Decision.allow()


class TaskTypes(PreTaskPolicy):
    """Allow or deny task types by name or glob pattern (`llm`, `tool:*`)."""

    name = "task_types"
    description = "allow/deny lists of task types"

    class Options(PreTaskPolicy.Options):
        allow = ma.fields.List(ma.fields.String(), load_default=None, allow_none=True)
        deny = ma.fields.List(ma.fields.String(), load_default=list)

    def evaluate(self, task: Task, ctx: PolicyContext) -> Decision:
        if any(fnmatchcase(task.type, pattern) for pattern in self.options["deny"]):
            return Decision.deny(f"task type {task.type!r} is not allowed", task_id=task.id)
        allow = self.options["allow"]
        if allow is not None and not any(fnmatchcase(task.type, p) for p in allow):
            return Decision.deny(
                f"task type {task.type!r} is not in the allowed list", task_id=task.id
            )
        return Decision.allow()


#: Longest regular expression an input rule may use (a bound on what one rule costs).
MAX_PATTERN_LENGTH = 500
#: Strings longer than this are checked on their first this-many characters.
MAX_CHECKED_LENGTH = 100_000
_MAX_DEPTH = 32


def _jmespath(value: str) -> Any:
    try:
        return jmespath.compile(value)
    except JMESPathError as exc:
        raise ma.ValidationError(f"not a JMESPath expression: {exc}") from None


def _regex(value: str) -> re.Pattern:
    try:
        return re.compile(value)
    except re.error as exc:
        raise ma.ValidationError(f"not a regular expression: {exc}") from None


class _InputRule(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    path = ma.fields.String(
        required=True, validate=[validate.Length(min=1, max=1000), _jmespath]
    )
    pattern = ma.fields.String(
        required=True, validate=[validate.Length(min=1, max=MAX_PATTERN_LENGTH), _regex]
    )
    message = ma.fields.String(load_default=None, validate=validate.Length(max=300))


def _texts(value: Any, depth: int = 0):
    """The strings (and numbers, as text) in a JMESPath result, nested lists and
    objects included."""
    if isinstance(value, str):
        yield value[:MAX_CHECKED_LENGTH]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)
    elif depth < _MAX_DEPTH and isinstance(value, list):
        for item in value:
            yield from _texts(item, depth + 1)
    elif depth < _MAX_DEPTH and isinstance(value, dict):
        for item in value.values():
            yield from _texts(item, depth + 1)


class InputRules(FlowPolicy):
    """Refuse runs whose input matches a pattern: `deny: [{path, pattern, message}]`.

    `path` is a JMESPath expression over the run's input; every string (or number)
    it selects is searched with the regular expression `pattern` (Python syntax, at
    most 500 characters). A match denies the run with `message`; the matched value is
    never echoed (it is what the rule keeps out). Flow registrations have no input and
    are not judged.
    """

    name = "input_rules"
    description = "deny runs whose input matches patterns (card numbers, SSNs, ...)"

    class Options(FlowPolicy.Options):
        deny = ma.fields.List(
            ma.fields.Nested(_InputRule), required=True, validate=validate.Length(max=100)
        )

    def __init__(self, **options: Any):
        super().__init__(**options)
        self._rules = [
            (
                jmespath.compile(rule["path"]),
                re.compile(rule["pattern"]),
                rule["message"] or f"input at {rule['path']} matches a denied pattern",
            )
            for rule in options["deny"]
        ]

    def evaluate(self, flow: Flow, ctx: PolicyContext) -> Decision:
        if ctx.input is None:
            return Decision.allow()
        violations = [
            Violation(message)
            for expression, regex, message in self._rules
            if any(regex.search(text) for text in _texts(expression.search(ctx.input)))
        ]
        return Decision(kind="deny", violations=tuple(violations)) if violations else Decision.allow()


def _replace(task: Task, **changes) -> Task:
    return replace(task, **changes)


def _critical_path_seconds(tasks: list[Task], order: list[str]) -> int:
    """Worst-case duration along the longest dependency path (order: topological)."""
    by_id = {t.id: t for t in tasks}
    finish: dict[str, int] = {}
    for task_id in order:
        task = by_id[task_id]
        start = max((finish[d] for d in task.depends_on), default=0)
        finish[task_id] = start + task.timeout_seconds * (task.retries + 1)
    return max(finish.values(), default=0)


BUILTIN_POLICIES = [TenantIsolation, RetryLimit, Timeout, TaskTypes, InputRules]


@hookimpl
def ingress_register_policies():
    return BUILTIN_POLICIES
