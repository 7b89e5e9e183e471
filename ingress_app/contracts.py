"""The classes a plugin author subclasses: policies, source adapters, and `Decision`.

Plugins decide *what exists* (they register classes through the hooks in
`hookspecs.py`); `policies.yaml` decides *who gets what* (which policies, with which
options, for which tenant). Every class has a unique `name` (the key used in
`policies.yaml`) and an optional marshmallow `Options` schema that validates its
options at startup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import marshmallow as ma

from .flows import Flow, Task

__all__ = [
    "Decision",
    "FlowPolicy",
    "PolicyContext",
    "PostTaskPolicy",
    "PreTaskPolicy",
    "SourceAdapter",
    "Violation",
    "WebhookDelivery",
]


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """Who asks, for which tenant, through which door."""

    tenant_id: str
    user_id: str
    source: str = "api"  # "api", "webhook", "registry", "validate", "orchestrator"
    correlation_id: str | None = None
    #: the run's `input` as the caller sent it (None for a flow registration, where
    #: there is no run); read-only
    input: Any = None


@dataclass(frozen=True, slots=True)
class Violation:
    """Why a policy denies: shown to the client as `{policy, task_id, message}`."""

    message: str
    task_id: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """A policy's answer: allow, deny (with reasons) or modify (a new flow/task, with notes).

    Build one with `Decision.allow()`, `Decision.deny(...)` or `Decision.modify(...)`.
    """

    kind: str  # "allow" | "deny" | "modify"
    violations: tuple[Violation, ...] = ()
    flow: Flow | None = None
    task: Task | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def allow(cls) -> Decision:
        return _ALLOW

    @classmethod
    def deny(cls, *reasons: str | Violation, task_id: str | None = None) -> Decision:
        violations = tuple(
            r if isinstance(r, Violation) else Violation(message=str(r), task_id=task_id)
            for r in reasons
        )
        if not violations:
            raise ValueError("Decision.deny needs at least one reason")
        return cls("deny", violations=violations)

    @classmethod
    def modify(
        cls, *, flow: Flow | None = None, task: Task | None = None, notes: list[str] | tuple = ()
    ) -> Decision:
        if (flow is None) == (task is None):
            raise ValueError("Decision.modify takes exactly one of flow= or task=")
        return cls("modify", flow=flow, task=task, notes=tuple(notes))

    @property
    def allowed(self) -> bool:
        return self.kind != "deny"


_ALLOW = Decision("allow")


class _Configurable:
    """Shared by policies and adapters: a name, options validated by `Options`."""

    #: The key in policies.yaml. Lower-case, unique across all plugins.
    name: ClassVar[str] = ""
    #: One line for `policies show` and the docs.
    description: ClassVar[str] = ""

    class Options(ma.Schema):
        """No options by default; subclasses declare theirs as marshmallow fields."""

        class Meta:
            unknown = ma.RAISE

    def __init__(self, **options: Any):
        self.options = options

    @classmethod
    def load_options(cls, raw: dict[str, Any] | None) -> dict[str, Any]:
        """Validate options from policies.yaml; raises `marshmallow.ValidationError`."""
        return cls.Options().load(raw or {})


class FlowPolicy(_Configurable):
    """Judges a whole flow before a run is accepted (or a flow version registered)."""

    def evaluate(self, flow: Flow, ctx: PolicyContext) -> Decision:
        raise NotImplementedError


class PreTaskPolicy(_Configurable):
    """Judges each task of a flow at ingress, one call per task."""

    def evaluate(self, task: Task, ctx: PolicyContext) -> Decision:
        raise NotImplementedError


class PostTaskPolicy(_Configurable):
    """Reacts to a task's completion event from the orchestrator.

    A deny is recorded on the run's task state and in the audit trail (the task has
    already run; ingress cannot undo it, but it makes the breach visible).
    """

    def evaluate(self, task_id: str, event: dict[str, Any], ctx: PolicyContext) -> Decision:
        raise NotImplementedError


@dataclass(slots=True)
class WebhookDelivery:
    """A webhook request as a source adapter sees it."""

    payload: Any
    headers: dict[str, str]
    query: dict[str, str]
    raw_body: bytes
    content_type: str
    delivery_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class SourceAdapter(_Configurable):
    """Knows one webhook sender's quirks (n8n, Zapier, GitHub, ...).

    `delivery_id` finds the sender's own delivery id for dedupe; `normalise` turns the
    sender's body into the payload that input mapping sees.
    """

    def delivery_id(self, delivery: WebhookDelivery) -> str | None:
        return None

    def normalise(self, delivery: WebhookDelivery) -> Any:
        return delivery.payload

    def verify(self, delivery: WebhookDelivery, secret: str) -> bool | None:
        """Adapter-specific signature check; None means "use the config's auth method"."""
        return None
