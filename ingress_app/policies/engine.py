"""Policy evaluation for the accept pipeline.

`PolicyEngine` resolves `policies.yaml` against the loaded plugins once (unknown
names and bad options fail here, at startup), giving each tenant a ready chain of
policy instances. `evaluate` runs a flow through the chain: denials are collected
(every violation is listed), modifications are applied in order and recorded, and a
policy that raises fails the request closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import marshmallow as ma

from ..contracts import (
    Decision,
    FlowPolicy,
    PolicyContext,
    PostTaskPolicy,
    PreTaskPolicy,
)
from ..errors import ApiError
from ..flows import Flow, Task
from ..plugin_manager import Plugins
from .config import UNSET, PolicyConfig, PolicyConfigError, format_options_error

log = logging.getLogger(__name__)

ALWAYS_ON = "tenant_isolation"
#: The seed's limits (retries ≤ 10, timeouts ≤ 2 h): on in every scope the file does
#: not switch them off by name (`retry_limit: false`), so a file that omits them, or an
#: emptied one, never lifts them.
ON_UNLESS_DISABLED = ("retry_limit", "timeout")


class PolicyFailure(ApiError):
    """A policy raised while judging a request: the request fails closed."""

    status, error = 500, "Policy evaluation failed"


@dataclass(slots=True)
class PolicyOutcome:
    flow: Flow
    violations: list[dict[str, Any]] = field(default_factory=list)
    modifications: list[dict[str, Any]] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.violations


@dataclass
class PolicyChain:
    """One tenant's effective policies, in evaluation order."""

    flow: list[tuple[str, FlowPolicy]] = field(default_factory=list)
    pre_task: list[tuple[str, PreTaskPolicy]] = field(default_factory=list)
    post_task: list[tuple[str, PostTaskPolicy]] = field(default_factory=list)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    rate_limit: str | None = None
    webhook_sources: frozenset[str] = frozenset()
    #: limits on runs in flight (None: no limit)
    max_active_runs: int | None = None
    max_active_runs_per_flow: int | None = None


class PolicyEngine:
    def __init__(self, config: PolicyConfig, plugins: Plugins):
        self.config = config
        self.plugins = plugins
        self._check_sources(config.webhook_sources, ("webhook_sources",))
        self.default_chain = self._resolve(None)
        self.tenant_chains = {tenant: self._resolve(tenant) for tenant in config.tenants}

    # ----------------------------------------------------------------- resolving

    def _check_sources(self, names: list[str], path: tuple) -> None:
        for name in names:
            if name not in self.plugins.adapters:
                raise PolicyConfigError(
                    f"{self.config.line_of(*path)}: {'.'.join(path)}: unknown webhook source "
                    f"{name!r} (available: {', '.join(sorted(self.plugins.adapters))})"
                )

    def _resolve(self, tenant: str | None) -> PolicyChain:
        config = self.config
        merged: dict[str, tuple[dict[str, Any] | None, tuple]] = {
            name: (options, ("policies", name)) for name, options in config.policies.items()
        }
        settings = config.tenants.get(tenant) if tenant else None
        if settings:
            for name, options in settings.policies.items():
                base = merged.get(name, (None, ()))[0]
                path = ("tenants", tenant, "policies", name)
                merged[name] = (None if options is None else {**(base or {}), **options}, path)
        if merged.get(ALWAYS_ON, ({}, ()))[0] is None:
            _, path = merged[ALWAYS_ON]
            scope = f"tenant {tenant!r}" if path[:1] == ("tenants",) else "defaults"
            raise PolicyConfigError(
                f"{config.line_of(*path)}: {scope}: policy {ALWAYS_ON!r} cannot be disabled"
            )
        merged.setdefault(ALWAYS_ON, ({}, ("policies",)))
        for name in ON_UNLESS_DISABLED:
            merged.setdefault(name, ({}, ("policies",)))
        chain = PolicyChain()
        for name, (options, path) in merged.items():
            if options is None:
                continue
            where = config.line_of(*path)
            scope = f"tenant {tenant!r}" if path[:1] == ("tenants",) else "defaults"
            cls = self.plugins.policies.get(name)
            if cls is None:
                raise PolicyConfigError(
                    f"{where}: {scope}: unknown policy {name!r} "
                    f"(available: {', '.join(sorted(self.plugins.policies))})"
                )
            try:
                loaded = cls.load_options(options)
            except ma.ValidationError as exc:
                raise PolicyConfigError(
                    f"{where}: {scope}: policy {name!r}: {format_options_error(exc)}"
                ) from None
            try:
                instance = cls(**loaded)
            except Exception as exc:
                raise PolicyConfigError(
                    f"{where}: {scope}: policy {name!r} failed to start: {exc}"
                ) from exc
            chain.options[name] = loaded
            if isinstance(instance, FlowPolicy):
                chain.flow.append((name, instance))
            elif isinstance(instance, PreTaskPolicy):
                chain.pre_task.append((name, instance))
            else:
                chain.post_task.append((name, instance))
        chain.rate_limit = (settings.rate_limit if settings else None) or config.default_rate_limit
        sources = config.webhook_sources
        if settings and settings.webhook_sources is not None:
            self._check_sources(settings.webhook_sources, ("tenants", tenant, "webhook_sources"))
            sources = settings.webhook_sources
        chain.webhook_sources = frozenset(sources)
        for key in ("max_active_runs", "max_active_runs_per_flow"):
            value = getattr(settings, key) if settings else UNSET
            setattr(chain, key, getattr(config, key) if value is UNSET else value)
        return chain

    def chain(self, tenant_id: str) -> PolicyChain:
        return self.tenant_chains.get(tenant_id, self.default_chain)

    # ----------------------------------------------------------------- evaluating

    def evaluate(self, flow: Flow, ctx: PolicyContext) -> PolicyOutcome:
        """Run the tenant's FlowPolicies, then PreTaskPolicies on every task."""
        chain = self.chain(ctx.tenant_id)
        outcome = PolicyOutcome(flow=flow)
        for name, policy in chain.flow:
            decision = _call(name, policy.evaluate, outcome.flow, ctx)
            self._apply(name, decision, outcome, None)
        if chain.pre_task:
            tasks = list(outcome.flow.tasks)
            changed = False
            for index, task in enumerate(tasks):
                for name, policy in chain.pre_task:
                    decision = _call(name, policy.evaluate, task, ctx)
                    if decision.kind == "modify":
                        task = tasks[index] = decision.task
                        changed = True
                        outcome.modifications.extend(
                            {"policy": name, "task_id": task.id, "note": note}
                            for note in decision.notes or ("modified",)
                        )
                    else:
                        self._apply(name, decision, outcome, task.id)
            if changed:
                outcome.flow = outcome.flow.with_tasks(tasks)
        return outcome

    @staticmethod
    def _apply(name: str, decision: Decision, outcome: PolicyOutcome, task_id: str | None) -> None:
        if decision.kind == "allow":
            return
        if decision.kind == "deny":
            outcome.violations.extend(
                {"policy": name, "task_id": v.task_id or task_id, "message": v.message}
                for v in decision.violations
            )
        elif decision.kind == "modify" and decision.flow is not None:
            outcome.flow = decision.flow
            outcome.modifications.extend(
                {"policy": name, "task_id": task_id, "note": note}
                for note in decision.notes or ("modified",)
            )

    def evaluate_post_task(
        self, task_id: str, event: dict[str, Any], ctx: PolicyContext
    ) -> list[dict]:
        """Judge a finished task; returns violations (recorded, not enforced)."""
        violations: list[dict[str, Any]] = []
        for name, policy in self.chain(ctx.tenant_id).post_task:
            try:
                decision = policy.evaluate(task_id, event, ctx)
                problem = _decision_problem(decision, None)
                if problem:
                    raise TypeError(f"invalid decision: {problem}")
            except Exception:
                log.exception("post-task policy %r raised", name, extra={"policy": name})
                violations.append({"policy": name, "task_id": task_id, "message": "policy failed"})
                continue
            if decision.kind == "deny":
                violations.extend(
                    {"policy": name, "task_id": task_id, "message": v.message}
                    for v in decision.violations
                )
        return violations

    def describe(self, tenant_id: str) -> dict[str, Any]:
        """The effective policies of a tenant (for `policies show` and docs)."""
        chain = self.chain(tenant_id)
        return {
            "tenant": tenant_id,
            "configured": tenant_id in self.tenant_chains,
            "policies": {name: chain.options[name] for name in chain.options},
            "rate_limit": chain.rate_limit,
            "webhook_sources": sorted(chain.webhook_sources),
            "max_active_runs": chain.max_active_runs,
            "max_active_runs_per_flow": chain.max_active_runs_per_flow,
        }


def _call(name: str, func, subject: Flow | Task, ctx: PolicyContext) -> Decision:
    try:
        decision = func(subject, ctx)
    except Exception:
        log.exception("policy %r raised; the request fails closed", name, extra={"policy": name})
        raise PolicyFailure(
            {"policy": name, "message": "the policy failed; nothing was stored"}
        ) from None
    problem = _decision_problem(decision, subject)
    if problem:
        log.error(
            "policy %r returned an invalid decision: %s", name, problem, extra={"policy": name}
        )
        raise PolicyFailure({"policy": name, "message": "the policy returned an invalid decision"})
    return decision


def _decision_problem(decision: Any, subject: Flow | Task | None) -> str | None:
    """Why `decision` cannot be applied to `subject` (None: it can).

    A deny must give reasons (an empty deny would let the flow through); a flow policy
    modifies with `flow=`, a pre-task policy with `task=` keeping the task's id and
    dependencies (the flow's graph is not re-validated per task). `subject` is None
    for post-task policies.
    """
    if not isinstance(decision, Decision):
        return f"{type(decision).__name__} instead of a Decision"
    if decision.kind == "allow":
        return None
    if decision.kind == "deny":
        return None if decision.violations else "a deny without violations"
    if decision.kind != "modify":
        return f"unknown kind {decision.kind!r}"
    if isinstance(subject, Flow):
        return None if isinstance(decision.flow, Flow) else "a flow policy must modify with flow="
    if isinstance(subject, Task):
        if not isinstance(decision.task, Task):
            return "a pre-task policy must modify with task="
        if (decision.task.id, decision.task.depends_on) != (subject.id, subject.depends_on):
            return "a pre-task policy may not change the task's id or depends_on"
        return None
    return None  # a post-task policy's modify has nothing to change: it is ignored
