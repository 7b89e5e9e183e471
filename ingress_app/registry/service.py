"""The flow registry: tenant-scoped, versioned flow definitions.

Until the registry's tables and API exist, nothing is registered, so a run that names
a flow without an inline definition is a 404.
"""

from __future__ import annotations

from typing import Any


def resolve_registered_flow(
    tenant_id: str, flow_id: str, version: str | None = None
) -> tuple[dict[str, Any], str] | None:
    """Return `(definition, version)` of the tenant's flow (latest when no version), or None."""
    return None
