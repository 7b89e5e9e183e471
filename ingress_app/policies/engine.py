"""Policy evaluation for the accept pipeline (DESIGN §7).

The engine's seam: `evaluate_policies` returns the (possibly modified) flow and the
modifications made; a denial raises `Forbidden` with `detail.violations`. The
pluggable policies of `policies.yaml` plug in here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..flows import Flow


@dataclass(slots=True)
class PolicyOutcome:
    flow: Flow
    modifications: list[dict[str, Any]] = field(default_factory=list)


def evaluate_policies(flow: Flow, *, tenant_id: str, user_id: str) -> PolicyOutcome:
    """Apply the tenant's policies to `flow` (none are configured yet)."""
    return PolicyOutcome(flow=flow)
